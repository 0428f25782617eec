"""Commission rules (versioned), the commission ledger, settlement runs and statements.

Money is Numeric(14, 2); rates are percentages with three places (Numeric(7, 3)).
"""

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Boolean, CheckConstraint, Date, ForeignKey, Index, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from dms.catalog.models import Category, Product
from dms.core.time import utcnow
from dms.distributors.models import Distributor
from dms.extensions import db

MODES = ("single", "multi")
BASES = ("net", "margin")
VERSION_STATES = ("draft", "published")
OVERRIDE_SCOPES = ("product", "category", "distributor_level")
REWARD_KINDS = ("sales_target", "team_growth")
REWARD_PERIODS = ("month", "quarter")
ENTRY_KINDS = ("accrual", "clawback", "reward", "adjustment")
ENTRY_STATES = ("accrued", "held", "payable", "paid")
RUN_STATES = ("queued", "running", "finished", "failed")
STATEMENT_STATES = ("draft", "confirmed", "paid")
MAX_LEVELS = 10


class RuleVersion(db.Model):
    """One version of the commission rules. Published versions never change; edits go to a new draft.

    The version in force at a moment is the published one with the latest `effective_from` not after
    it; an order's commission uses the version in force when the order completed.
    """

    __tablename__ = "commission_rule_versions"
    __table_args__ = (CheckConstraint("max_levels BETWEEN 1 AND 10", name="levels_range"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[int] = mapped_column(unique=True)
    name: Mapped[str] = mapped_column(String(120), default="")
    status: Mapped[str] = mapped_column(String(12), default="draft", index=True)
    mode: Mapped[str] = mapped_column(String(8), default="multi")
    max_levels: Mapped[int] = mapped_column(default=3)
    base: Mapped[str] = mapped_column(String(8), default="net")
    compression: Mapped[bool] = mapped_column(Boolean, default=False)
    cap_per_order: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    hold_days: Mapped[int] = mapped_column(default=7)
    effective_from: Mapped[datetime | None] = mapped_column(index=True)
    note: Mapped[str] = mapped_column(Text, default="")
    based_on_id: Mapped[int | None] = mapped_column(ForeignKey("commission_rule_versions.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    published_at: Mapped[datetime | None] = mapped_column()
    published_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    levels: Mapped[list["RuleLevel"]] = relationship(back_populates="version", cascade="all, delete-orphan",
                                                     order_by="RuleLevel.level", lazy="selectin")
    overrides: Mapped[list["RuleOverride"]] = relationship(back_populates="version", cascade="all, delete-orphan",
                                                           order_by="RuleOverride.id", lazy="selectin")
    rewards: Mapped[list["RewardRule"]] = relationship(back_populates="version", cascade="all, delete-orphan",
                                                       order_by="RewardRule.id", lazy="selectin")

    @property
    def paid_levels(self) -> int:
        """How many levels this version pays: one in single-level mode."""
        return 1 if self.mode == "single" else self.max_levels

    def __str__(self) -> str:
        return f"v{self.number}" + (f" {self.name}" if self.name else "")


class RuleLevel(db.Model):
    """The rate of one level (1 = the selling distributor, 2 = its upline, ...) and its qualification."""

    __tablename__ = "commission_rule_levels"
    __table_args__ = (UniqueConstraint("version_id", "level"),
                      CheckConstraint("rate >= 0 AND rate <= 100", name="rate_range"))

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("commission_rule_versions.id", ondelete="CASCADE"))
    level: Mapped[int] = mapped_column()
    rate: Mapped[Decimal] = mapped_column(Numeric(7, 3))
    # The beneficiary's own personal volume in the order's month, up to the order, must reach this.
    min_personal_volume: Mapped[Decimal] = mapped_column(Numeric(14, 2), default=Decimal("0.00"))

    version: Mapped[RuleVersion] = relationship(back_populates="levels")


class RuleOverride(db.Model):
    """A rate replacing the level's rate for a product, a category or a beneficiary's distributor level.

    Precedence: product, then category, then distributor level; `level` None applies to every level.
    """

    __tablename__ = "commission_rule_overrides"
    __table_args__ = (CheckConstraint("rate >= 0 AND rate <= 100", name="override_rate_range"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("commission_rule_versions.id", ondelete="CASCADE"),
                                            index=True)
    scope: Mapped[str] = mapped_column(String(20))
    product_id: Mapped[int | None] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"))
    category_id: Mapped[int | None] = mapped_column(ForeignKey("categories.id", ondelete="CASCADE"))
    distributor_level: Mapped[str | None] = mapped_column(String(8))
    level: Mapped[int | None] = mapped_column()
    rate: Mapped[Decimal] = mapped_column(Numeric(7, 3))

    version: Mapped[RuleVersion] = relationship(back_populates="overrides")
    product: Mapped[Product | None] = relationship(lazy="joined")
    category: Mapped[Category | None] = relationship(lazy="joined")


class RewardRule(db.Model):
    """A reward of the version: reaching the monthly/quarterly sales target, or N new active downlines.

    Pays a fixed `amount` or a `percent` of the period's personal volume (sales target only).
    """

    __tablename__ = "commission_reward_rules"

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("commission_rule_versions.id", ondelete="CASCADE"),
                                            index=True)
    kind: Mapped[str] = mapped_column(String(16))
    period: Mapped[str] = mapped_column(String(8), default="month")
    name: Mapped[str] = mapped_column(String(120), default="")
    amount: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    percent: Mapped[Decimal | None] = mapped_column(Numeric(7, 3))
    min_new_downlines: Mapped[int | None] = mapped_column()

    version: Mapped[RuleVersion] = relationship(back_populates="rewards")


class CommissionEntry(db.Model):
    """One line of the commission ledger. Its amount, beneficiary, kind and source never change.

    Only the workflow columns move: `status` accrued (the hold period runs) -> payable -> paid, or
    held by HQ and released again; `statement_id` once a settlement takes it. One entry per
    (order, beneficiary, level, kind), so a retried accrual or clawback job adds nothing; rewards are
    unique by `key`. Clawbacks are negative.
    """

    __tablename__ = "commission_entries"
    __table_args__ = (
        UniqueConstraint("order_id", "beneficiary_id", "level", "kind", name="uq_commission_entry"),
        Index("ix_commission_entries_open", "beneficiary_id", "statement_id", "available_on"),
        Index("ix_commission_entries_period", "period", "beneficiary_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id", ondelete="RESTRICT"), index=True)
    beneficiary_id: Mapped[int] = mapped_column(ForeignKey("distributors.id"))
    level: Mapped[int] = mapped_column(default=0)
    kind: Mapped[str] = mapped_column(String(12))
    amount: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    base: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    rate: Mapped[Decimal | None] = mapped_column(Numeric(7, 3))
    rule_version_id: Mapped[int | None] = mapped_column(
        ForeignKey("commission_rule_versions.id", ondelete="SET NULL"))
    reward_rule_id: Mapped[int | None] = mapped_column(ForeignKey("commission_reward_rules.id", ondelete="SET NULL"))
    period: Mapped[str] = mapped_column(String(7))
    status: Mapped[str] = mapped_column(String(8), default="accrued", index=True)
    available_on: Mapped[date] = mapped_column(Date)
    statement_id: Mapped[int | None] = mapped_column(ForeignKey("commission_statements.id", ondelete="RESTRICT"),
                                                     index=True)
    key: Mapped[str | None] = mapped_column(String(120), unique=True)
    reason: Mapped[str] = mapped_column(String(500), default="")
    hold_reason: Mapped[str] = mapped_column(String(255), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    beneficiary: Mapped[Distributor] = relationship(lazy="joined")
    statement: Mapped["Statement | None"] = relationship(back_populates="entries")


class SettlementRun(db.Model):
    """The settlement of one month: run by the schedule or by HQ, re-runnable; statements are its result."""

    __tablename__ = "commission_settlement_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    period: Mapped[str] = mapped_column(String(7), unique=True)
    status: Mapped[str] = mapped_column(String(12), default="queued")
    attempts: Mapped[int] = mapped_column(default=0)
    job_id: Mapped[int | None] = mapped_column(ForeignKey("jobs.id", ondelete="SET NULL"))
    distributors_total: Mapped[int] = mapped_column(default=0)
    distributors_done: Mapped[int] = mapped_column(default=0)
    statements_created: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    started_at: Mapped[datetime | None] = mapped_column()
    finished_at: Mapped[datetime | None] = mapped_column()


class Statement(db.Model):
    """A distributor's statement (对账单) for a month: its entries, rewards, carry-in and totals.

    total = accruals + clawbacks + rewards + adjustments + carried_in; payout = max(total, 0);
    a negative total is carried out into the distributor's next statement. draft -> confirmed -> paid.
    """

    __tablename__ = "commission_statements"
    __table_args__ = (UniqueConstraint("distributor_id", "period", name="uq_statement_period"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)
    distributor_id: Mapped[int] = mapped_column(ForeignKey("distributors.id"), index=True)
    period: Mapped[str] = mapped_column(String(7), index=True)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("commission_settlement_runs.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(String(12), default="draft", index=True)
    entry_count: Mapped[int] = mapped_column(default=0)
    accruals: Mapped[Decimal] = mapped_column(Numeric(14, 2), default=Decimal("0.00"))
    clawbacks: Mapped[Decimal] = mapped_column(Numeric(14, 2), default=Decimal("0.00"))
    rewards: Mapped[Decimal] = mapped_column(Numeric(14, 2), default=Decimal("0.00"))
    adjustments: Mapped[Decimal] = mapped_column(Numeric(14, 2), default=Decimal("0.00"))
    carried_in: Mapped[Decimal] = mapped_column(Numeric(14, 2), default=Decimal("0.00"))
    total: Mapped[Decimal] = mapped_column(Numeric(14, 2), default=Decimal("0.00"))
    payout: Mapped[Decimal] = mapped_column(Numeric(14, 2), default=Decimal("0.00"))
    carried_out: Mapped[Decimal] = mapped_column(Numeric(14, 2), default=Decimal("0.00"))
    carried_into_id: Mapped[int | None] = mapped_column(ForeignKey("commission_statements.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    confirmed_at: Mapped[datetime | None] = mapped_column()
    confirmed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    paid_on: Mapped[date | None] = mapped_column(Date)
    payment_reference: Mapped[str] = mapped_column(String(64), default="")
    paid_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    distributor: Mapped[Distributor] = relationship(lazy="joined")
    entries: Mapped[list[CommissionEntry]] = relationship(back_populates="statement", viewonly=True,
                                                          order_by="CommissionEntry.id", lazy="raise_on_sql")
