"""Distributor applications, the services: validation, duplicates, checks, review, approval, password links."""

import hashlib
import logging
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from dms.core.errors import Conflict, Forbidden, InvalidTransition, NotFound, ValidationError
from dms.core.jobs import commit
from dms.distributors import applications as apps
from dms.distributors.grants import TerritoryTaken
from dms.extensions import db
from tests.distributors.applying import (
    application_data,
    company_data,
    counts,
    every_stored_text,
    id_number_with_x,
    submit,
)
from tests.distributors.conftest import credit_code, id_number


def errors_of(data) -> dict:
    with pytest.raises(ValidationError) as err:
        apps.submit_application(data)
    db.session.rollback()
    return err.value.fields


def test_valid_application_is_submitted_with_its_checks(make_user):
    from dms.accounts.models import User
    from dms.core.models import AuditLog, Notification

    reviewer, admin = make_user("reviewer"), make_user("admin")
    make_user("distributor")
    gone = make_user("reviewer")
    gone.active = False
    commit()
    data = application_data()
    application, token = submit(data)
    assert application.state == "submitted" and application.reference == f"SQ{application.id:06d}"
    assert application.id_number == data["id_number"] and application.id_number_masked.count("*") == 8
    assert application.status_token_hash == hashlib.sha256(token.encode()).hexdigest() and len(token) >= 40
    assert [c.code for c in application.checks] == ["completeness", "id_number", "phone", "email", "region",
                                                    "territory", "duplicates"]
    assert all(c.passed and c.detail for c in application.checks)
    notified = set(db.session.scalars(select(Notification.user_id)))
    assert notified == {reviewer.id, admin.id}
    note = db.session.scalar(select(Notification).where(Notification.user_id == reviewer.id))
    assert application.reference in note.title and note.link == f"/applications/{application.id}"
    entry = db.session.scalar(select(AuditLog).where(AuditLog.action == "application.submit"))
    assert entry.record_type == "application" and entry.record_id == str(application.id)
    assert entry.actor_label == "applicant (web)" and entry.changes["state"] == [None, "submitted"]
    assert db.session.get(User, gone.id).active is False


@pytest.mark.parametrize("value,ok", [
    ("11010519491231002X", True),  # API.md's example
    ("11010519491231002x", True),  # a lower-case x is the same number
    ("110105 19491231 002X", True),
    ("110105194912310021", False),  # wrong check character
    ("11010519491331002X", False),  # month 13
    ("1101051949123100", False),  # too short
    ("11010519491231002Y", False),
])
def test_id_number_checksum(value, ok):
    data = application_data(id_number=value)
    if ok:
        application, _token = submit(data)
        assert application.id_number == "11010519491231002X"
        assert application.id_number_masked == "110105********002X"
    else:
        assert list(errors_of(data)) == ["id_number"]


def test_every_bad_field_is_named_at_once():
    fields = errors_of({"applicant_type": "company", "name": "", "id_number": "110105194912310021",
                        "company_name": "", "credit_code": "91110105MA0000000X", "phone": "12345",
                        "email": "not-an-email", "region_code": "999999", "level": "county", "message": "x" * 2001})
    assert set(fields) == {"name", "id_number", "company_name", "credit_code", "phone", "email", "region_code",
                           "message"}
    assert set(errors_of({})) == {"applicant_type", "name", "id_number", "phone", "region_code", "level"}
    assert set(errors_of(application_data(region_code="110000", level="county"))) == {"region_code"}  # a province
    assert set(errors_of(application_data(level="district"))) == {"level"}
    assert set(errors_of(application_data(name=["x"], phone=13800138000))) == {"name"}  # numbers ok for phone


def test_company_needs_its_name_and_credit_code_but_no_id_number():
    application, _token = submit(company_data())
    assert application.id_number is None and application.id_number_index is None
    assert "credit_code" in [c.code for c in application.checks]
    assert set(errors_of(company_data(company_name="", credit_code=""))) == {"company_name", "credit_code"}
    assert set(errors_of(company_data(credit_code="91110105MA0000000A"))) == {"credit_code"}


def test_duplicates_open_application_or_distributor(make_distributor, app):
    number = id_number_with_x()
    first, _token = submit(application_data(id_number=number))
    for variant in (number, number.lower(), number[:6] + " " + number[6:]):  # the blind index normalises
        with pytest.raises(Conflict) as err:
            apps.submit_application(application_data(id_number=variant))
        db.session.rollback()
        assert err.value.code == "duplicate" and err.value.status == 409 and list(err.value.fields) == ["id_number"]
        assert number not in err.value.message
    apps.withdraw(first)
    commit()
    submit(application_data(id_number=number))  # a withdrawn one no longer counts

    distributor = make_distributor(id_number=(taken := id_number()))
    with pytest.raises(Conflict) as err:
        apps.submit_application(application_data(id_number=taken))
    db.session.rollback()
    assert err.value.code == "duplicate" and distributor.display_name not in err.value.message

    code = credit_code()
    submit(company_data(credit_code=code))
    with pytest.raises(Conflict) as err:
        apps.submit_application(company_data(credit_code=code))
    db.session.rollback()
    assert list(err.value.fields) == ["credit_code"]


def test_terminated_distributor_does_not_block(make_distributor):
    from dms.distributors.services import set_status

    number = id_number()
    distributor = make_distributor(id_number=number)
    set_status(None, distributor, "terminated", "contract ended")
    commit()
    application, _token = submit(application_data(id_number=number))
    assert application.state == "submitted"


@pytest.mark.parametrize("granted,start,exclusive,flagged", [
    ("110000", date(2026, 1, 1), True, True),  # the province around the county, exclusively
    ("110105", date(2099, 1, 1), True, True),  # the same county, from a future date
    ("110000", date(2026, 1, 1), False, False),  # a non-exclusive grant leaves room
    ("110108", date(2026, 1, 1), True, False),  # a neighbouring county
])
def test_territory_check(make_distributor, grant, granted, start, exclusive, flagged):
    holder = make_distributor(granted, company_name=None, name="王老板")
    grant(holder, granted, exclusive=exclusive, start=start)
    application, _token = submit()
    territory = next(c for c in application.checks if c.code == "territory")
    assert territory.passed is not flagged
    assert application.state == ("needs_review" if flagged else "submitted")
    if flagged:
        assert "王老板" in territory.detail


def test_status_token_and_withdraw():
    application, token = submit()
    assert apps.get_by_token(token).id == application.id
    for junk in ("", "nope", token + "x", "x" * 500):
        with pytest.raises(NotFound):
            apps.get_by_token(junk)
    apps.withdraw(application)
    commit()
    assert application.state == "withdrawn" and application.withdrawn_at is not None
    with pytest.raises(InvalidTransition):
        apps.withdraw(application)


def test_review_and_reject(make_user):
    reviewer, distributor_user = make_user("reviewer"), make_user("distributor")
    application, _token = submit()
    with pytest.raises(Forbidden):
        apps.get_application(distributor_user, application.id)
    with pytest.raises(Forbidden):
        apps.start_review(distributor_user, application)
    with pytest.raises(NotFound):
        apps.get_application(reviewer, application.id + 100)
    apps.start_review(reviewer, application)
    commit()
    assert application.state == "under_review" and application.reviewer_id == reviewer.id
    with pytest.raises(InvalidTransition):
        apps.start_review(reviewer, application)
    with pytest.raises(ValidationError) as err:
        apps.reject(reviewer, application, "   ")
    assert list(err.value.fields) == ["reason"]
    apps.reject(reviewer, application, "区域已有合作伙伴")
    commit()
    assert application.state == "rejected" and application.decision_reason == "区域已有合作伙伴"
    with pytest.raises(InvalidTransition):
        apps.reject(reviewer, application, "again")
    with pytest.raises(InvalidTransition):
        apps.approve(reviewer, application)


def test_approve_creates_everything_in_one_go(make_user):
    from dms.accounts.services import password_token_user
    from dms.core.models import AuditLog

    reviewer = make_user("reviewer")
    data = application_data()
    application, _token = submit(data)
    before = counts()
    distributor, user, token = apps.approve(reviewer, application, reason="欢迎", exclusive=True,
                                            effective_from=date(2026, 7, 1), profit_share="12.5")
    commit()
    after = counts()
    assert {k: after[k] - before[k] for k in after} == {
        "Distributor": 1, "TerritoryGrant": 1, "Warehouse": 1, "User": 1, "PasswordToken": 1}
    assert application.state == "approved" and application.distributor_id == distributor.id
    assert application.decided_at is not None and application.decision_reason == "欢迎"
    assert application.reviewer_id == reviewer.id
    assert (distributor.kind, distributor.name, distributor.id_number, distributor.phone, distributor.level,
            distributor.region_code, str(distributor.profit_share)) == (
        "person", "张三", data["id_number"], data["phone"], "county", "110105", "12.50")
    assert distributor.warehouse is not None and distributor.status == "active"
    [grant] = distributor.grants
    assert (grant.region_code, grant.exclusive, grant.effective_from) == ("110105", True, date(2026, 7, 1))
    assert user.username == data["phone"] and user.distributor_id == distributor.id
    assert [r.code for r in user.roles] == ["distributor"] and user.email == data["email"]
    assert password_token_user(token).id == user.id
    for action in ("application.start_review", "distributor.create", "territory.grant", "user.create",
                   "user.password_link", "application.approve"):
        entry = db.session.scalars(select(AuditLog).where(AuditLog.action == action)
                                   .order_by(AuditLog.id.desc())).first()
        assert entry is not None and entry.actor_id == reviewer.id, action


def test_company_approval_and_username_when_the_phone_is_taken(make_user):
    reviewer = make_user("reviewer")
    data = company_data()
    make_user("courier", username=data["phone"])
    make_user("courier", username=data["phone"] + "-2")
    application, _token = submit(data)
    distributor, user, _link = apps.approve(reviewer, application, exclusive=False)
    commit()
    assert user.username == data["phone"] + "-3"
    assert (distributor.kind, distributor.company_name, distributor.credit_code) == (
        "company", "广州水业有限公司", data["credit_code"])
    assert distributor.grants[0].exclusive is False and distributor.exclusive is False


def test_approval_when_the_territory_was_taken_meanwhile_creates_nothing(make_user, make_distributor, grant):
    reviewer = make_user("reviewer")
    application, _token = submit()
    assert application.state == "submitted"
    grant(make_distributor("110105"), "110105", start=date(2026, 1, 1))  # granted after the submission
    before = counts()
    with pytest.raises(TerritoryTaken) as err:
        apps.approve(reviewer, application)
    db.session.rollback()
    assert err.value.status == 409 and err.value.code == "territory_taken"
    assert counts() == before
    db.session.refresh(application)
    assert application.state == "submitted" and application.distributor_id is None


def test_approval_with_a_taken_username_creates_nothing(make_user):
    reviewer = make_user("reviewer")
    make_user("courier", username="taken_name")
    application, _token = submit()
    before = counts()
    with pytest.raises(Conflict):
        apps.approve(reviewer, application, username="taken_name")
    db.session.rollback()
    assert counts() == before


def test_set_password_link_works_once(make_user):
    from dms.accounts.passwords import verify_password
    from dms.accounts.services import PasswordLinkGone, PasswordLinkInvalid, set_password_with_token

    reviewer = make_user("reviewer")
    application, _token = submit()
    _distributor, user, token = apps.approve(reviewer, application)
    commit()
    with pytest.raises(ValidationError):
        set_password_with_token(token, "short")
    db.session.rollback()
    set_password_with_token(token, "a-brand-new-passphrase")
    commit()
    assert verify_password(user.password_hash, "a-brand-new-passphrase")
    with pytest.raises(PasswordLinkGone):
        set_password_with_token(token, "another-passphrase")
    db.session.rollback()
    with pytest.raises(PasswordLinkInvalid):
        set_password_with_token("no-such-token", "another-passphrase")
    db.session.rollback()
    with pytest.raises(Conflict):  # the user has set a password: no new link from the reviewer
        apps.reissue_password_link(reviewer, application)


def test_expired_link_fails_and_a_new_one_replaces_it(make_user):
    from dms.accounts.models import PasswordToken
    from dms.accounts.services import PasswordLinkGone, set_password_with_token

    reviewer = make_user("reviewer")
    application, _token = submit()
    _distributor, user, token = apps.approve(reviewer, application)
    commit()
    for row in db.session.scalars(select(PasswordToken)):
        row.expires_at = row.created_at - timedelta(seconds=1)
    commit()
    with pytest.raises(PasswordLinkGone):
        set_password_with_token(token, "a-brand-new-passphrase")
    db.session.rollback()
    reissued_user, fresh = apps.reissue_password_link(reviewer, application)
    commit()
    assert reissued_user.id == user.id
    set_password_with_token(fresh, "a-brand-new-passphrase")
    commit()


def test_the_national_id_number_is_never_stored_in_clear(app, make_user, caplog):
    caplog.set_level(logging.DEBUG)
    reviewer = make_user("reviewer")
    number = id_number(birth="19770523")
    application, _token = submit(application_data(id_number=number, email=None))
    apps.approve(reviewer, application)
    commit()
    stored = every_stored_text(app)
    assert application.id_number == number  # it is there, encrypted
    for secret in (number, number.lower(), number[6:-4]):
        assert secret not in stored
        assert secret not in caplog.text


def test_password_link_is_mailed_when_mail_is_configured(app, make_user, monkeypatch):
    import smtplib

    from dms.accounts.services import set_password_with_token
    from dms.core.models import Job

    sent = []

    class FakeSMTP:
        def __init__(self, host, port, timeout=None):
            assert host == "mail.example.com"

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def send_message(self, message):
            sent.append(message)

    monkeypatch.setattr(smtplib, "SMTP", FakeSMTP)
    monkeypatch.setitem(app.config, "MAIL_SERVER", "mail.example.com")
    monkeypatch.setitem(app.config, "DMS_BASE_URL", "https://dms.example.com")
    reviewer = make_user("reviewer")
    application, _token = submit(application_data(email="new.agent@example.com"))
    _distributor, user, shown = apps.approve(reviewer, application)
    commit()  # the job runs in-process after the commit (no Redis in tests)
    [job] = db.session.scalars(select(Job))
    assert job.status == "finished" and job.args == [user.id, "https://dms.example.com"]
    [message] = sent
    assert message["To"] == "new.agent@example.com"
    body = message.get_content()
    link = next(word for word in body.split() if word.startswith("https://dms.example.com/account/set-password/"))
    mailed = link.rsplit("/", 1)[1]
    assert mailed != shown
    set_password_with_token(mailed, "a-brand-new-passphrase")
    commit()


def test_no_mail_without_mail_server(make_user):
    from dms.core.models import Job

    application, _token = submit()
    apps.approve(make_user("reviewer"), application)
    commit()
    assert db.session.scalars(select(Job)).all() == []


def _in_thread(app, work, results, name, started=None, hold=None, wait_before=None):
    """Run `work()` in its own app context and transaction; record "won" or the domain error's code."""
    from dms.core.errors import DomainError

    with app.app_context():
        try:
            if wait_before is not None:
                wait_before.wait(5)
            work()
            if started is not None:
                started.set()
                hold.wait(5)  # keep the transaction open while the other one tries
            db.session.commit()
            results[name] = "won"
        except DomainError as exc:
            db.session.rollback()
            results[name] = exc.code
        except Exception as exc:  # noqa: BLE001 - the test reports whatever went wrong
            db.session.rollback()
            results[name] = repr(exc)
        finally:
            db.session.remove()


def _race(app, first, second):
    """Start `first`, hold its transaction open, start `second`; `second` must wait. Return the results."""
    import threading

    started, release, results = threading.Event(), threading.Event(), {}
    one = threading.Thread(target=_in_thread, args=(app, first, results, "first"),
                           kwargs={"started": started, "hold": release})
    two = threading.Thread(target=_in_thread, args=(app, second, results, "second"), kwargs={"wait_before": started})
    one.start()
    two.start()
    two.join(1.0)
    assert two.is_alive(), f"the second did not wait for the first: {results}"
    release.set()
    one.join(10)
    two.join(10)
    return results


def test_two_approvals_at_once_only_one_wins(app, make_user):
    from dms.accounts.models import User

    reviewer_id = make_user("reviewer").id
    application_id = submit()[0].id

    def approve_it():
        from dms.distributors.models import Application

        apps.approve(db.session.get(User, reviewer_id), db.session.get(Application, application_id),
                     exclusive=False, username=None)

    before = counts()
    assert _race(app, approve_it, approve_it) == {"first": "won", "second": "invalid_transition"}
    assert counts()["Distributor"] == before["Distributor"] + 1


def test_two_submissions_of_one_id_number_at_once_only_one_wins(app):
    number = id_number()

    def submit_it():
        apps.submit_application(application_data(id_number=number))

    assert _race(app, submit_it, submit_it) == {"first": "won", "second": "duplicate"}
