"""Transaction-scoped locks for invariants no single row can hold (DESIGN.md convention 7).

Some rules span rows that do not exist yet: "no two exclusive grants may overlap" is broken by two
inserts, and a row lock cannot guard a row that is not there. Such services take a lock on the
*subject* (for grants: the province) before they check and insert, so two concurrent transactions
serialise and the second one sees what the first committed.
"""

import zlib

from sqlalchemy import column, false, table, text, update

from dms.extensions import db


def lock_subject(table_name: str, key: int) -> None:
    """Hold a lock on (`table_name`, `key`) until the transaction ends; raise nothing, wait if held.

    PostgreSQL: a transaction-level advisory lock (released at commit or rollback).
    SQLite: one writer at a time, so a no-op write on `table_name` starts the write transaction now,
    keeping other writers out until commit and making the checks that follow see their commits.
    """
    dialect = db.session.get_bind().dialect.name
    if dialect == "postgresql":
        namespace = zlib.crc32(table_name.encode()) & 0x7FFFFFFF  # advisory locks take two int4 keys
        db.session.execute(text("SELECT pg_advisory_xact_lock(:ns, :key)"), {"ns": namespace, "key": key})
    elif dialect == "sqlite":
        subject = table(table_name, column("id"))
        db.session.execute(update(subject).where(false()).values(id=subject.c.id))
