"""What text input may hold: the one definition of the control characters the app refuses, used by the
form guard (`dms.core.forms`) and the spreadsheet imports (`dms.core.spreadsheets`)."""

import re

from flask_babel import lazy_gettext as _l

# Characters no one types: C0 controls (PostgreSQL refuses NUL in text outright), DEL, and the
# bidirectional embedding/override/isolate controls that make text display other than it reads ("Trojan
# source"). Tab is allowed everywhere; line breaks only where text may span lines (a one-line input cannot
# hold them, so one there was sent by hand, e.g. to inject a header line into a CSV or mail).
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u202a-\u202e\u2066-\u2069]")
_LINE_BREAK = re.compile("[\r\n\x85\u2028\u2029]")

CONTROL_MESSAGE = _l("Remove the control characters (invisible characters) from this text.")


def has_control_characters(text: str, multiline: bool = False) -> bool:
    """True when `text` holds a character the guard refuses (line breaks too, unless `multiline`)."""
    return bool(_CONTROL.search(text) or (not multiline and _LINE_BREAK.search(text)))
