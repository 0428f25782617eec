"""API tables: integration clients and the records behind Idempotency-Key."""

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from dms.accounts.models import Role
from dms.core.time import utcnow
from dms.extensions import db


class ApiClient(db.Model):
    """An integration (mini-program, ERP) that an admin registered; it logs in by client credentials."""

    __tablename__ = "api_clients"

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    secret_hash: Mapped[str] = mapped_column(String(255))
    role_id: Mapped[int] = mapped_column(ForeignKey("roles.id"), index=True)
    # A distributor's own client sees that distributor's rows only.
    distributor_id: Mapped[int | None] = mapped_column(
        ForeignKey("distributors.id", ondelete="SET NULL"), index=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Bumped when the secret is rotated or the client disabled: tokens issued before stop working.
    auth_version: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    last_used_at: Mapped[datetime | None]
    role: Mapped[Role] = relationship(lazy="joined")

    @property
    def permissions(self) -> set[str]:
        return set(self.role.permissions) if self.role else set()


class IdempotencyRecord(db.Model):
    """One Idempotency-Key of one caller: in progress, then the response it produced."""

    __tablename__ = "idempotency_records"
    __table_args__ = (UniqueConstraint("subject", "key", name="uq_idempotency_records_subject_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    subject: Mapped[str] = mapped_column(String(80))
    key: Mapped[str] = mapped_column(String(255))
    method: Mapped[str] = mapped_column(String(8))
    path: Mapped[str] = mapped_column(String(500))
    request_hash: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="in_progress")  # in_progress | done
    response_status: Mapped[int | None]
    response_body: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
