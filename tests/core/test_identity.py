"""ID numbers (GB 11643), credit codes (GB 32100), mobile numbers and email addresses."""

import pytest

from dms.core.errors import ValidationError
from dms.core.identity import normalise_credit_code, normalise_email, normalise_id_number, normalise_mobile


@pytest.mark.parametrize("value", ["11010519491231002X", "11010519491231002x", " 110105194912310 02X "])
def test_valid_id_numbers_are_normalised(value):
    assert normalise_id_number(value) == "11010519491231002X"


@pytest.mark.parametrize("value,fragment", [
    ("110105194912310021", "check"),           # wrong check character
    ("110105194913310023", "birth"),           # month 13 (with a correct check character)
    ("1101051949123100", "18"),                # too short
    ("110105491231002", "18"),                 # the obsolete 15-digit form
    ("11010519491231002Y", "17 digits"),       # not a digit or X
    ("999999199001010016", "region code"),     # no such region (correct check character)
])
def test_invalid_id_numbers_say_why(app, value, fragment):
    with app.test_request_context(headers={"Cookie": "dms_locale=en"}):
        with pytest.raises(ValidationError) as err:
            normalise_id_number(value)
    assert fragment in err.value.fields["id_number"][0]


def test_a_region_code_younger_than_its_holder_is_accepted():
    # 440106 exists since 1985; someone born in 1980 may be registered there under it (numbers are assigned
    # where one is registered). stdnum alone refuses it, which read as "the check character is wrong".
    assert normalise_id_number("440106198001010019") == "440106198001010019"


def test_credit_codes(app):
    assert normalise_credit_code("9111 0000 6000 3734 1l") == "91110000600037341L"
    with app.test_request_context():
        with pytest.raises(ValidationError) as err:
            normalise_credit_code("91110000600037341A")
        assert "credit_code" in err.value.fields
        with pytest.raises(ValidationError):
            normalise_credit_code("9111000060003734")


@pytest.mark.parametrize("value", ["13800138000", "138 0013 8000", "+86 138-0013-8000", "008613800138000"])
def test_mobile_numbers(value):
    assert normalise_mobile(value) == "13800138000"


@pytest.mark.parametrize("value", ["12800138000", "1380013800", "010-12345678", ""])
def test_bad_mobile_numbers(app, value):
    with app.test_request_context():
        with pytest.raises(ValidationError) as err:
            normalise_mobile(value)
    assert "phone" in err.value.fields


def test_email(app):
    assert normalise_email("zs@Example.COM") == "zs@example.com"
    with app.test_request_context():
        with pytest.raises(ValidationError):
            normalise_email("not-an-email")
