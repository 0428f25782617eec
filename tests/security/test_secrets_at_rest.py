"""Encrypted fields (national ID numbers, bank account numbers) never appear in clear text at rest.

The values are entered the way users enter them (web forms, the public API), pushed through
validation errors, a duplicate, a reveal and the audit log; then the whole database is dumped
(pg_dump on PostgreSQL, iterdump on SQLite) and searched, with the captured logs and every error
page, for the plaintext and its digits-only form. Customers' phone numbers are not encrypted (they
are masked on screen for those without customers.reveal_phone), so they are not searched for.
"""

import logging
import os
import re
import sqlite3
import subprocess
from urllib.parse import urlparse

from sqlalchemy import select

from dms.core.models import AuditLog
from dms.distributors.models import Distributor
from dms.extensions import db
from tests.distributors.applying import application_data, id_number_with_x
from tests.factories import id_number

BANK = "6222 0212 3456 7890 123"


def dump_database(database_url: str) -> str:
    """The whole database as SQL text: pg_dump for PostgreSQL, sqlite3's iterdump for SQLite."""
    if database_url.startswith("postgresql"):
        parsed = urlparse(database_url.replace("+psycopg", ""))
        env = dict(os.environ, PGPASSWORD=parsed.password or "")
        result = subprocess.run(["pg_dump", "--data-only", "-h", parsed.hostname or "127.0.0.1",
                                 "-p", str(parsed.port or 5432), "-U", parsed.username or "postgres",
                                 parsed.path.lstrip("/")], capture_output=True, text=True, env=env, check=True)
        return result.stdout
    connection = sqlite3.connect(database_url.removeprefix("sqlite:///"))
    try:
        return "\n".join(connection.iterdump())
    finally:
        connection.close()


def forms_of(secret: str) -> set[str]:
    """The secret as typed, without spaces, and digits only (a search must not miss a reformatted copy)."""
    compact = re.sub(r"\s", "", secret)
    return {secret, compact, compact.upper(), compact.lower(), re.sub(r"\D", "", compact)}


def assert_absent(haystack: str, secrets: list[str], where: str):
    for secret in secrets:
        for form in forms_of(secret):
            assert form not in haystack, f"{form!r} found in clear text in {where}"


def _distributor_form(**fields) -> dict:
    data = {"kind": "person", "name": "王五", "phone": "13912345678", "id_number": "", "level": "county",
            "region_code": "110105", "upline_id": "", "exclusive": "y", "profit_share": "10",
            "bank_name": "工商银行北京朝阳支行", "bank_account_name": "王五", "bank_account": BANK}
    data.update(fields)
    return data


def _verbose_logging(monkeypatch):
    """Every log on: the app's loggers (alembic's fileConfig disables them) and every SQL statement with its
    parameters (what a DBA turns on when debugging), so a value sent in clear to the database would show."""
    for name, logger in logging.Logger.manager.loggerDict.items():
        if isinstance(logger, logging.Logger) and name.startswith(("dms", "sqlalchemy", "werkzeug", "flask")):
            monkeypatch.setattr(logger, "disabled", False)
    engine_log = logging.getLogger("sqlalchemy.engine")
    monkeypatch.setattr(engine_log, "disabled", False)
    engine_log.setLevel(logging.INFO)
    monkeypatch.setattr(engine_log, "level", logging.INFO)


def _fail_after_insert(monkeypatch):
    """Make creating a distributor fail after its row is written (an unexpected error: a 500 and a log entry)."""
    from dms.distributors import services

    real = services.create_distributor

    def create_then_fail(actor, data):
        distributor = real(actor, data)
        db.session.flush()
        raise RuntimeError(f"injected fault after inserting distributor {distributor.id}")

    monkeypatch.setattr(services, "create_distributor", create_then_fail)
    return lambda: monkeypatch.setattr(services, "create_distributor", real)


def test_encrypted_fields_stay_out_of_the_dump_logs_and_error_pages(app, database_url, client, login_as, caplog,
                                                                   capfd, monkeypatch):
    caplog.set_level(logging.DEBUG)
    _verbose_logging(monkeypatch)
    person, applicant, api_applicant = id_number(), id_number_with_x(birth="19750505"), id_number(birth="19900909")
    secrets = [person, applicant, api_applicant, BANK]
    pages = []
    login_as("admin")

    client.get("/distributors/new")
    invalid = client.post("/distributors/new", _distributor_form(id_number=person, phone="12"))
    assert invalid.status_code in (400, 422)  # a validation error with the secrets in the submitted form
    pages.append(invalid)
    restore = _fail_after_insert(monkeypatch)
    crashed = client.post("/distributors/new", _distributor_form(id_number=person))
    assert crashed.status_code == 500
    pages.append(crashed)
    restore()
    assert "injected fault" in caplog.text and "INSERT INTO distributors" in caplog.text
    created = client.post("/distributors/new", _distributor_form(id_number=person))
    assert created.status_code in (200, 302), created.get_data(as_text=True)[:2000]
    distributor = db.session.scalar(select(Distributor).where(Distributor.name == "王五"))
    assert distributor.id_number == person and distributor.bank_account == re.sub(r"\s", "", BANK)
    duplicate = client.post("/distributors/new", _distributor_form(id_number=person.lower(), name="王六"))
    assert duplicate.status_code == 409  # the duplicate ID number is named as a field error, not echoed
    pages.append(duplicate)
    edit = client.get(f"/distributors/{distributor.id}/edit")
    pages.append(edit)
    # The detail page shows the account number to an admin (distributors.reveal_id), the ID number masked.
    assert_absent(client.get(f"/distributors/{distributor.id}").get_data(as_text=True), [person], "the detail page")

    reveal = client.post(f"/distributors/{distributor.id}/reveal-id", htmx=True)
    assert reveal.status_code == 200 and person in reveal.get_data(as_text=True)  # shown once, to its holder

    public = type(client)(app, app.test_client())
    public.get("/apply")
    bad_apply = public.post("/apply", {**application_data(id_number=applicant), "email": "not-an-email",
                                       "phone": "1"})
    assert bad_apply.status_code in (400, 422)
    pages.append(bad_apply)
    applied = public.post("/apply", application_data(id_number=applicant))
    assert applied.status_code == 303
    pages.append(public.get(applied.headers["Location"]))  # the applicant's private status page

    api = app.test_client()
    bad_api = api.post("/api/distributor-applications", json=application_data(id_number=api_applicant, phone="x"))
    assert bad_api.status_code == 422
    pages.append(bad_api)
    assert api.post("/api/distributor-applications", json=application_data(id_number=api_applicant)).status_code \
        == 201
    duplicate_api = api.post("/api/distributor-applications", json=application_data(id_number=api_applicant))
    assert duplicate_api.status_code == 409
    pages.append(duplicate_api)

    for page in pages:
        assert_absent(page.get_data(as_text=True), secrets, f"the page of {page.request.path} ({page.status_code})")
    audit = "\n".join(f"{e.action} {e.summary} {e.changes}" for e in db.session.scalars(select(AuditLog)))
    assert "distributor.reveal_id" in audit or "reveal" in audit
    assert_absent(audit, secrets, "the audit log")
    captured = capfd.readouterr()
    logs = caplog.text + "\n".join(str(r.__dict__) for r in caplog.records) + captured.out + captured.err
    assert logs.strip(), "nothing was logged: the search would prove nothing"
    assert_absent(logs, secrets, "the logs")
    dump = dump_database(database_url)
    assert "王五" in dump, "the dump does not hold the rows just written"
    assert_absent(dump, secrets, "the database dump")
