"""The payout bank account on the distributor form: round trip, encrypted at rest, masked unless
distributors.reveal_id, never sent back to the form, all three fields or none."""

import pytest
from sqlalchemy import select, text

from dms.core.errors import ValidationError
from dms.core.models import AuditLog
from dms.distributors import services
from dms.distributors.models import Distributor
from dms.extensions import db
from tests.distributors.test_views import admin, body, english, person  # noqa: F401 - fixtures

ACCOUNT = "6222 0212 3456 7890 123"
DIGITS = "6222021234567890123"
BANK = {"bank_name": "中国工商银行北京朝阳支行", "bank_account_name": "王五", "bank_account": ACCOUNT}


def raw_account(distributor_id: int) -> str | None:
    """The account column as the database holds it (no decryption)."""
    return db.session.execute(text("SELECT bank_account FROM distributors WHERE id = :id"),
                              {"id": distributor_id}).scalar()


def test_bank_fields_round_trip_through_the_form_encrypted_at_rest(client, admin):  # noqa: F811
    client.get("/distributors/new")
    response = client.post("/distributors/new", person(**BANK))
    assert response.status_code == 302, body(response)[:2000]
    d = db.session.scalar(select(Distributor).where(Distributor.name == "王五"))
    assert (d.bank_name, d.bank_account_name, d.bank_account) == (BANK["bank_name"], "王五", DIGITS)
    stored = raw_account(d.id)
    assert stored and DIGITS not in stored and "6222" not in stored and "7890123" not in stored
    page = body(client.get(f"/distributors/{d.id}"))
    assert BANK["bank_name"] in page and DIGITS in page  # admin holds distributors.reveal_id
    audit = db.session.scalar(select(AuditLog).where(AuditLog.action == "distributor.create"))
    assert DIGITS not in str(audit.changes) and audit.changes["bank_account"] == ["***", "***"]


def test_the_edit_form_never_sends_the_number_back_and_empty_keeps_it(client, admin, make_distributor):  # noqa: F811
    d = make_distributor("110105", name="王五", **BANK)
    form = body(client.get(f"/distributors/{d.id}/edit"))
    assert DIGITS not in form and "6222***********0123" in form and BANK["bank_name"] in form
    response = client.post(f"/distributors/{d.id}/edit", person(id_number="", bank_name="中国银行",
                                                                bank_account_name="王五", bank_account=""))
    assert response.status_code == 302, body(response)[:2000]
    db.session.refresh(d)
    assert d.bank_name == "中国银行" and d.bank_account == DIGITS
    response = client.post(f"/distributors/{d.id}/edit", person(id_number="", bank_name="中国银行",
                                                                bank_account_name="王五",
                                                                bank_account="6217-0000-1111-2222"))
    assert response.status_code == 302
    db.session.refresh(d)
    assert d.bank_account == "6217000011112222" and "6217" not in raw_account(d.id)


def test_emptying_all_three_removes_the_account(client, admin, make_distributor):  # noqa: F811
    d = make_distributor("110105", **BANK)
    response = client.post(f"/distributors/{d.id}/edit", person(id_number="", bank_name="", bank_account_name="",
                                                                bank_account=""))
    assert response.status_code == 302
    db.session.refresh(d)
    assert (d.bank_name, d.bank_account_name, d.bank_account) == ("", "", None)
    assert raw_account(d.id) is None


def test_bad_or_partial_accounts_are_shown_in_place(client, admin):  # noqa: F811
    client.get("/distributors/new")
    response = client.post("/distributors/new", person(bank_name="工商银行", bank_account_name="",
                                                       bank_account="12ab"))
    assert response.status_code == 422
    page = body(response)
    assert 'id="bank_account-errors"' in page and "8 to 32 digits" in page
    assert 'id="bank_account_name-errors"' in page and "Enter the account holder" in page
    assert db.session.scalar(select(Distributor.id)) is None


def test_clean_bank(app):
    assert services.clean_bank({}) == {"bank_name": "", "bank_account_name": "", "bank_account": None}
    assert services.clean_bank(BANK)["bank_account"] == DIGITS
    for data, field in (({**BANK, "bank_account": "1234567"}, "bank_account"),
                        ({**BANK, "bank_account": "1" * 33}, "bank_account"),
                        ({**BANK, "bank_name": "x" * 121}, "bank_name"),
                        ({"bank_account": DIGITS}, "bank_name")):
        with pytest.raises(ValidationError) as caught:
            services.clean_bank(data)
        assert field in caught.value.fields


def test_masked_for_those_without_reveal_id(client, login_as, login_distributor, make_distributor):
    d = make_distributor("110105", **BANK)
    login_as("reviewer")
    page = body(client.get(f"/distributors/{d.id}"))
    assert DIGITS not in page and "6222***********0123" in page
    login_distributor(d)  # the distributor sees its own account masked too
    page = body(client.get(f"/distributors/{d.id}"))
    assert DIGITS not in page and "6222***********0123" in page and BANK["bank_name"] in page
