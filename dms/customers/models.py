"""Customers: who a distributor sells and delivers to — addresses, phones, tags, tiers — and the visits,
calls and messages with them."""

from datetime import date, datetime

from sqlalchemy import Boolean, Column, Date, ForeignKey, Index, String, Table, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from dms.accounts.models import User
from dms.core.time import utcnow
from dms.distributors.models import Distributor
from dms.extensions import db
from dms.territories.models import Region


class Customer(db.Model):
    """A customer of one distributor (none while an order routed to no territory awaits HQ)."""

    __tablename__ = "customers"
    __table_args__ = (
        Index("ix_customers_distributor_phone", "distributor_id", "phone"),
        # A distributor's customers newest first, by seek at any depth (the list's keyset pagination).
        Index("ix_customers_distributor_recent", "distributor_id", "id"),
        # HQ dashboard's "new customers this month" (created_at within the month over every customer).
        Index("ix_customers_created_at", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    distributor_id: Mapped[int | None] = mapped_column(ForeignKey("distributors.id"), index=True)
    kind: Mapped[str] = mapped_column(String(8), default="person")
    name: Mapped[str] = mapped_column(String(120))
    phone: Mapped[str] = mapped_column(String(32), default="")
    # The default address, copied from its CustomerAddress row so that lists filter and orders route by it
    # without a join; services that change addresses keep the two in step.
    region_code: Mapped[str | None] = mapped_column(ForeignKey("regions.code"), index=True)
    # The street or community (街道 / 小区) dispatch groups deliveries by, and the rest of the address.
    street: Mapped[str] = mapped_column(String(100), default="")
    address: Mapped[str] = mapped_column(String(255), default="")
    source: Mapped[str] = mapped_column(String(16), default="other")
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    # The integration client (the ordering mini-program) that registered the customer, which may see it.
    api_client_id: Mapped[int | None] = mapped_column(ForeignKey("api_clients.id", ondelete="SET NULL"), index=True)
    note: Mapped[str] = mapped_column(Text, default="")
    # Derived by the scoring job from the customer's orders (never typed in): RFM parts 1-5, their sum,
    # and the tier its rules give; a manual override wins over the computed tier and is recorded.
    rfm_recency: Mapped[int | None] = mapped_column()
    rfm_frequency: Mapped[int | None] = mapped_column()
    rfm_monetary: Mapped[int | None] = mapped_column()
    rfm_score: Mapped[int | None] = mapped_column(index=True)
    # The customer's latest order (not cancelled or refunded) as of `scored_at`, for the list's filter.
    last_order_at: Mapped[datetime | None] = mapped_column(index=True)
    scored_at: Mapped[datetime | None] = mapped_column()
    tier: Mapped[str | None] = mapped_column(String(8), index=True)
    tier_override: Mapped[str | None] = mapped_column(String(8))
    tier_override_reason: Mapped[str] = mapped_column(String(255), default="")
    tier_overridden_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    tier_overridden_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    distributor: Mapped[Distributor | None] = relationship()
    region: Mapped[Region | None] = relationship(lazy="joined")
    owner: Mapped[User | None] = relationship(foreign_keys=[owner_id])
    phones: Mapped[list["CustomerPhone"]] = relationship(cascade="all, delete-orphan", order_by="CustomerPhone.id")
    addresses: Mapped[list["CustomerAddress"]] = relationship(cascade="all, delete-orphan",
                                                              order_by="CustomerAddress.id")
    tags: Mapped[list["CustomerTag"]] = relationship(secondary="customer_tags", lazy="selectin",
                                                         order_by="CustomerTag.name")
    interactions: Mapped[list["Interaction"]] = relationship(back_populates="customer", cascade="all, delete-orphan",
                                                             order_by="Interaction.id.desc()")

    @property
    def effective_tier(self) -> str | None:
        """The tier in force: the manual override when there is one, else the computed tier."""
        return self.tier_override or self.tier


CUSTOMER_KINDS = ("person", "business")
CUSTOMER_SOURCES = ("walk_in", "phone", "mini_program", "referral", "campaign", "import", "other")

customer_tags = Table(
    "customer_tags", db.metadata,
    Column("customer_id", ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True),
    Column("tag_id", ForeignKey("customer_tag_names.id", ondelete="CASCADE"), primary_key=True, index=True),
)


class CustomerTag(db.Model):
    """A tag customers can carry (VIP, 学校, 写字楼 ...); one list for the whole network."""

    __tablename__ = "customer_tag_names"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(32), unique=True)


class CustomerPhone(db.Model):
    """Another phone number of a customer (the first one is `Customer.phone`)."""

    __tablename__ = "customer_phones"
    __table_args__ = (UniqueConstraint("customer_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    number: Mapped[str] = mapped_column(String(32), index=True)
    label: Mapped[str] = mapped_column(String(32), default="")


class CustomerAddress(db.Model):
    """One delivery address of a customer; exactly one is the default (copied onto the customer)."""

    __tablename__ = "customer_addresses"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    label: Mapped[str] = mapped_column(String(32), default="")
    region_code: Mapped[str] = mapped_column(ForeignKey("regions.code"))
    street: Mapped[str] = mapped_column(String(100), default="")
    address: Mapped[str] = mapped_column(String(255), default="")
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)

    region: Mapped[Region] = relationship(lazy="joined")


class CustomerTierRule(db.Model):
    """A tier (A, B, C ...) and the lowest RFM score that earns it; HQ edits them, the job applies them."""

    __tablename__ = "customer_tier_rules"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(8), unique=True)
    name: Mapped[str] = mapped_column(String(64), default="")
    min_score: Mapped[int] = mapped_column(default=0)


# --- visits and communications (拜访、沟通) ---------------------------------------------------------

INTERACTION_KINDS = ("visit", "call", "message")
INTERACTION_STATES = ("planned", "done", "cancelled")


class Interaction(db.Model):
    """A visit, call or message with a customer: planned for a day, or done, with its outcome and follow-up.

    A follow-up is the next contact due (`follow_up_on`) by its owner; it is open until done (logging the
    next interaction closes it) and its reminder is sent once (`reminded_at`).
    """

    __tablename__ = "customer_interactions"
    __table_args__ = (
        Index("ix_interactions_follow_up", "follow_up_on", "follow_up_done_at"),
        Index("ix_interactions_distributor_status", "distributor_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    distributor_id: Mapped[int | None] = mapped_column(ForeignKey("distributors.id"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    kind: Mapped[str] = mapped_column(String(8), default="visit")
    status: Mapped[str] = mapped_column(String(10), default="done")
    planned_on: Mapped[date | None] = mapped_column(Date)
    happened_at: Mapped[datetime | None] = mapped_column()
    contact_person: Mapped[str] = mapped_column(String(120), default="")
    outcome: Mapped[str] = mapped_column(String(255), default="")
    notes: Mapped[str] = mapped_column(Text, default="")
    follow_up_on: Mapped[date | None] = mapped_column(Date)
    follow_up_done_at: Mapped[datetime | None] = mapped_column()
    reminded_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    customer: Mapped[Customer] = relationship(back_populates="interactions")
    user: Mapped[User | None] = relationship(foreign_keys=[user_id])
