"""Distributors, their warehouses, targets and territory grants, and the applications that make them."""

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Boolean, CheckConstraint, Date, ForeignKey, Index, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from dms.core.crypto import EncryptedText, mask
from dms.core.time import utcnow
from dms.extensions import db
from dms.territories.models import LEVELS, Region

KINDS = ("person", "company")
STATUSES = ("active", "suspended", "terminated")
PERIODS = ("month", "quarter")
# submitted / needs_review (an automatic check flagged it) -> under_review -> approved | rejected;
# withdrawn by the applicant while still open.
APPLICATION_STATES = ("submitted", "needs_review", "under_review", "approved", "rejected", "withdrawn")
OPEN_STATES = ("submitted", "needs_review", "under_review")

__all__ = ["KINDS", "LEVELS", "STATUSES", "PERIODS", "APPLICATION_STATES", "OPEN_STATES", "Distributor",
           "Warehouse", "DistributorTarget", "UplineLink", "TerritoryGrant", "Application", "ApplicationCheck"]


class Distributor(db.Model):
    """A regional agent (经销商 / 代理商): a person or a company with a level, a status and territories."""

    __tablename__ = "distributors"
    __table_args__ = (
        CheckConstraint("profit_share >= 0 AND profit_share <= 100", name="profit_share_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(8), default="person")
    name: Mapped[str] = mapped_column(String(120))
    company_name: Mapped[str | None] = mapped_column(String(200))
    credit_code: Mapped[str | None] = mapped_column(String(18), index=True)
    phone: Mapped[str | None] = mapped_column(String(32))
    email: Mapped[str | None] = mapped_column(String(254))
    # Stored encrypted; found through its blind index, shown masked (DESIGN: never in clear text).
    id_number: Mapped[str | None] = mapped_column(EncryptedText(blind_index="id_number_index"))
    id_number_index: Mapped[str | None] = mapped_column(String(64), index=True)
    level: Mapped[str] = mapped_column(String(8))
    region_code: Mapped[str | None] = mapped_column(ForeignKey("regions.code"), index=True)
    status: Mapped[str] = mapped_column(String(12), default="active", index=True)
    status_reason: Mapped[str] = mapped_column(String(255), default="")
    status_changed_on: Mapped[date | None] = mapped_column(Date)
    upline_id: Mapped[int | None] = mapped_column(ForeignKey("distributors.id"), index=True)
    # Rights and obligations (代理权益与义务).
    exclusive: Mapped[bool] = mapped_column(Boolean, default=True)
    profit_share: Mapped[Decimal] = mapped_column(Numeric(5, 2), default=Decimal("0.00"))
    # Where commission payouts go (the bank file of a settlement); the account number is encrypted.
    bank_name: Mapped[str] = mapped_column(String(120), default="")
    bank_account_name: Mapped[str] = mapped_column(String(120), default="")
    bank_account: Mapped[str | None] = mapped_column(EncryptedText())
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    region: Mapped[Region | None] = relationship(lazy="joined")
    upline: Mapped["Distributor | None"] = relationship(remote_side=[id], lazy="joined", join_depth=1)
    warehouse: Mapped["Warehouse | None"] = relationship(back_populates="distributor", uselist=False)
    grants: Mapped[list["TerritoryGrant"]] = relationship(
        back_populates="distributor", order_by="TerritoryGrant.effective_from.desc()")
    targets: Mapped[list["DistributorTarget"]] = relationship(
        back_populates="distributor", cascade="all, delete-orphan",
        order_by="(DistributorTarget.period_start.desc(), DistributorTarget.period)")
    users: Mapped[list["User"]] = relationship(  # noqa: F821 - accounts.User, by name (lower area)
        "User", primaryjoin="Distributor.id == foreign(User.distributor_id)", viewonly=True,
        order_by="User.username")

    @property
    def display_name(self) -> str:
        """The company's name for a company, the person's name otherwise."""
        return self.company_name or self.name if self.kind == "company" else self.name

    @property
    def id_number_masked(self) -> str:
        """The national ID number with its middle hidden (110105********002X)."""
        return mask(self.id_number)

    def __str__(self) -> str:
        return self.display_name


class Warehouse(db.Model):
    """A stock location: each distributor has its own (created with it); HQ's has no distributor."""

    __tablename__ = "warehouses"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    distributor_id: Mapped[int | None] = mapped_column(
        ForeignKey("distributors.id", ondelete="CASCADE"), unique=True)
    region_code: Mapped[str | None] = mapped_column(ForeignKey("regions.code"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    distributor: Mapped[Distributor | None] = relationship(back_populates="warehouse")


class DistributorTarget(db.Model):
    """A sales target for one month or quarter: an amount, a quantity, or both."""

    __tablename__ = "distributor_targets"
    __table_args__ = (
        UniqueConstraint("distributor_id", "period", "period_start"),
        CheckConstraint("amount IS NOT NULL OR quantity IS NOT NULL", name="amount_or_quantity"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    distributor_id: Mapped[int] = mapped_column(ForeignKey("distributors.id", ondelete="CASCADE"))
    period: Mapped[str] = mapped_column(String(8))
    # The first day of the month or quarter.
    period_start: Mapped[date] = mapped_column(Date)
    amount: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    quantity: Mapped[int | None]

    distributor: Mapped[Distributor] = relationship(back_populates="targets")


class UplineLink(db.Model):
    """Who a distributor's upline was from when until when: the network tree, effective-dated.

    `Distributor.upline_id` caches the link in force now; commissions read the link in force when an
    order completed. Links are never edited after they start: a move ends the open link and opens a
    new one (an upline of None makes the distributor a root from then on).
    """

    __tablename__ = "upline_links"
    __table_args__ = (Index("ix_upline_links_at", "distributor_id", "effective_from"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    distributor_id: Mapped[int] = mapped_column(ForeignKey("distributors.id", ondelete="CASCADE"))
    upline_id: Mapped[int | None] = mapped_column(ForeignKey("distributors.id", ondelete="SET NULL"), index=True)
    effective_from: Mapped[datetime] = mapped_column()
    effective_to: Mapped[datetime | None] = mapped_column()
    note: Mapped[str] = mapped_column(String(255), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    distributor: Mapped[Distributor] = relationship(foreign_keys=[distributor_id])
    upline: Mapped[Distributor | None] = relationship(foreign_keys=[upline_id])


class TerritoryGrant(db.Model):
    """A distributor's right to a region from a date to a date (inclusive; open-ended when None)."""

    __tablename__ = "territory_grants"
    __table_args__ = (
        CheckConstraint("effective_to IS NULL OR effective_to >= effective_from", name="dates_in_order"),
        Index("ix_territory_grants_region_dates", "region_code", "effective_from"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    distributor_id: Mapped[int] = mapped_column(ForeignKey("distributors.id", ondelete="CASCADE"), index=True)
    region_code: Mapped[str] = mapped_column(ForeignKey("regions.code"))
    exclusive: Mapped[bool] = mapped_column(Boolean, default=True)
    effective_from: Mapped[date] = mapped_column(Date)
    effective_to: Mapped[date | None] = mapped_column(Date)
    note: Mapped[str] = mapped_column(String(255), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    distributor: Mapped[Distributor] = relationship(back_populates="grants", lazy="joined")
    region: Mapped[Region] = relationship(lazy="joined")

    def in_force(self, on: date) -> bool:
        """True when the grant covers the date `on`."""
        return self.effective_from <= on and (self.effective_to is None or on <= self.effective_to)


class Application(db.Model):
    """An application to become a distributor (代理申请), from the public form or the API."""

    __tablename__ = "distributor_applications"

    id: Mapped[int] = mapped_column(primary_key=True)
    applicant_type: Mapped[str] = mapped_column(String(8))
    name: Mapped[str] = mapped_column(String(120))
    id_number: Mapped[str | None] = mapped_column(EncryptedText(blind_index="id_number_index"))
    id_number_index: Mapped[str | None] = mapped_column(String(64), index=True)
    company_name: Mapped[str | None] = mapped_column(String(200))
    credit_code: Mapped[str | None] = mapped_column(String(18), index=True)
    phone: Mapped[str] = mapped_column(String(32))
    email: Mapped[str | None] = mapped_column(String(254))
    region_code: Mapped[str] = mapped_column(ForeignKey("regions.code"), index=True)
    level: Mapped[str] = mapped_column(String(8))
    message: Mapped[str] = mapped_column(Text, default="")
    source: Mapped[str] = mapped_column(String(8), default="web")
    state: Mapped[str] = mapped_column(String(16), default="submitted", index=True)
    # SHA-256 of the private status link's token: the link itself is only ever given to the applicant.
    status_token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    submitted_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    reviewer_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    review_started_at: Mapped[datetime | None]
    decided_at: Mapped[datetime | None]
    decision_reason: Mapped[str] = mapped_column(String(500), default="")
    withdrawn_at: Mapped[datetime | None]
    distributor_id: Mapped[int | None] = mapped_column(ForeignKey("distributors.id", ondelete="SET NULL"))

    region: Mapped[Region] = relationship(lazy="joined")
    checks: Mapped[list["ApplicationCheck"]] = relationship(
        back_populates="application", cascade="all, delete-orphan", order_by="ApplicationCheck.id",
        lazy="selectin")
    distributor: Mapped[Distributor | None] = relationship()

    @property
    def reference(self) -> str:
        """The reference the applicant quotes: SQ followed by the zero-padded id."""
        return f"SQ{self.id:06d}"

    @property
    def id_number_masked(self) -> str:
        """The national ID number with its middle hidden."""
        return mask(self.id_number)

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES

    @property
    def display_name(self) -> str:
        return self.company_name or self.name if self.applicant_type == "company" else self.name


class ApplicationCheck(db.Model):
    """The result of one automatic check run when the application was submitted."""

    __tablename__ = "distributor_application_checks"

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(
        ForeignKey("distributor_applications.id", ondelete="CASCADE"), index=True)
    code: Mapped[str] = mapped_column(String(32))
    passed: Mapped[bool] = mapped_column(Boolean)
    detail: Mapped[str] = mapped_column(String(255), default="")

    application: Mapped[Application] = relationship(back_populates="checks")
