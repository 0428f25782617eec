"""Chinese identity numbers and contact details: validate and normalise, with clear field messages.

National ID numbers follow GB 11643 (18 characters, ISO 7064 MOD 11-2 check character, which may be
X) and unified social credit codes GB 32100 (18 characters, MOD 31 check). The checksums come from
python-stdnum; this module turns its exceptions into our ValidationError messages.
"""

import re

from email_validator import EmailNotValidError
from email_validator import validate_email as _validate_email
from flask_babel import gettext as _
from stdnum.cn import ric, uscc
from stdnum.exceptions import InvalidChecksum, InvalidComponent, InvalidFormat, InvalidLength
from stdnum.exceptions import ValidationError as _Bad

from dms.core.errors import ValidationError

MOBILE_RE = re.compile(r"^1[3-9]\d{9}$")
ID_RE = re.compile(r"^\d{17}[\dX]$")


def _fail(field: str, message: str):
    raise ValidationError(fields={field: [message]})


def normalise_id_number(value: str, field: str = "id_number") -> str:
    """A valid 18-character national ID number in canonical form (upper-case X), else ValidationError."""
    number = re.sub(r"[\s\-]", "", value or "").upper()
    if len(number) != 18:  # stdnum also accepts the obsolete 15-digit form; we do not
        _fail(field, _("An ID number has 18 characters."))
    if not ID_RE.match(number):
        _fail(field, _("An ID number is 17 digits followed by a digit or X."))
    try:
        ric.get_birth_date(number)
    except _Bad:
        _fail(field, _("The ID number holds an impossible birth date."))
    try:
        return ric.validate(number)
    except InvalidChecksum:
        _fail(field, _("The ID number's check character is wrong: please check every digit."))
    except InvalidComponent:
        # stdnum also wants the region code to have existed in the birth year; but a number is assigned
        # where one is registered, possibly years after birth and under a newer code: any known code will do.
        if not _known_region_code(number[:6]):
            _fail(field, _("The first six digits of the ID number are not a region code."))
        return number
    except _Bad:
        _fail(field, _("This is not a valid ID number."))


def _known_region_code(code: str) -> bool:
    """Whether GB/T 2260 has (or had) this six-digit region code, per stdnum's table."""
    from stdnum import numdb

    return any(props for _part, props in numdb.get("cn/loc").info(code))


def normalise_credit_code(value: str, field: str = "credit_code") -> str:
    """A valid 18-character unified social credit code (upper case), else ValidationError."""
    try:
        return uscc.validate(value or "")
    except InvalidLength:
        _fail(field, _("A unified social credit code has 18 characters."))
    except InvalidChecksum:
        _fail(field, _("The credit code's check character is wrong: please check every character."))
    except (InvalidFormat, InvalidComponent, _Bad):
        _fail(field, _("This is not a unified social credit code."))


def normalise_mobile(value: str, field: str = "phone") -> str:
    """A mainland mobile number as 11 digits (spaces, dashes and a +86 prefix removed)."""
    digits = re.sub(r"[\s\-]", "", value or "")
    if digits.startswith("+86"):
        digits = digits[3:]
    elif digits.startswith("0086"):
        digits = digits[4:]
    if not MOBILE_RE.match(digits):
        _fail(field, _("Enter an 11-digit mainland mobile number starting with 1."))
    return digits


def normalise_email(value: str, field: str = "email") -> str:
    """A syntactically valid email address (domain lower-cased); no DNS lookup."""
    try:
        return _validate_email(value or "", check_deliverability=False).normalized
    except EmailNotValidError:
        _fail(field, _("Enter a valid email address."))
