"""Orders: lines priced on the server, payments, the state machine's timeline, satisfaction ratings."""

from datetime import datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, ForeignKey, Index, Numeric, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from dms.accounts.models import User
from dms.catalog.models import Product
from dms.core.time import utcnow
from dms.customers.models import Customer
from dms.distributors.models import Distributor, Warehouse
from dms.extensions import db

ORDER_STATES = ("pending", "paid", "assigned", "shipped", "delivered", "completed", "cancelled", "refunded")
OPEN_STATES = ("pending", "paid", "assigned", "shipped")
PAYMENT_METHODS = ("cash", "wechat", "alipay", "bank_transfer", "card", "other")


class Order(db.Model):
    """A sale to a customer, credited to a distributor and fulfilled from a warehouse.

    `distributor_id` is None while an order that no territory covers waits in HQ's unassigned queue;
    it then has no warehouse and reserves nothing until HQ assigns it.
    """

    __tablename__ = "orders"
    __table_args__ = (
        CheckConstraint("total >= 0", name="total_not_negative"),
        Index("ix_orders_distributor_status", "distributor_id", "status"),
        Index("ix_orders_courier_status", "courier_id", "status"),
        # A distributor's orders newest first, by seek at any depth (the list's keyset pagination).
        Index("ix_orders_distributor_recent", "distributor_id", "id"),
        # A distributor's volume in a month (dashboards, network volumes): completed_at within the month.
        Index("ix_orders_distributor_completed", "distributor_id", "completed_at"),
        # Every sales report dates a sale by coalesce(delivered_at, completed_at) (reports.sales.sale_moment).
        Index("ix_orders_sale_moment", text("coalesce(delivered_at, completed_at)")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    status: Mapped[str] = mapped_column(String(12), default="pending", index=True)
    distributor_id: Mapped[int | None] = mapped_column(ForeignKey("distributors.id"))
    warehouse_id: Mapped[int | None] = mapped_column(ForeignKey("warehouses.id"), index=True)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"), index=True)
    courier_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # The delivery address as it was when ordered (a customer's later move does not rewrite history).
    ship_name: Mapped[str] = mapped_column(String(120), default="")
    ship_phone: Mapped[str] = mapped_column(String(32), default="")
    ship_region_code: Mapped[str | None] = mapped_column(ForeignKey("regions.code"), index=True)
    ship_street: Mapped[str] = mapped_column(String(100), default="")
    ship_address: Mapped[str] = mapped_column(String(255), default="")
    subtotal: Mapped[Decimal] = mapped_column(Numeric(14, 2), default=Decimal("0.00"))
    discount: Mapped[Decimal] = mapped_column(Numeric(14, 2), default=Decimal("0.00"))
    total: Mapped[Decimal] = mapped_column(Numeric(14, 2), default=Decimal("0.00"))
    currency: Mapped[str] = mapped_column(String(3), default="CNY")
    # What the customer is owed back after a paid order was cancelled or a delivered one refunded.
    refund_due: Mapped[Decimal] = mapped_column(Numeric(14, 2), default=Decimal("0.00"))
    source: Mapped[str] = mapped_column(String(8), default="web")  # web | api
    api_client_id: Mapped[int | None] = mapped_column(ForeignKey("api_clients.id", ondelete="SET NULL"))
    campaign_code: Mapped[str | None] = mapped_column(String(32))
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    paid_at: Mapped[datetime | None] = mapped_column()
    assigned_at: Mapped[datetime | None] = mapped_column()
    shipped_at: Mapped[datetime | None] = mapped_column()
    delivered_at: Mapped[datetime | None] = mapped_column(index=True)
    completed_at: Mapped[datetime | None] = mapped_column()
    cancelled_at: Mapped[datetime | None] = mapped_column()
    refunded_at: Mapped[datetime | None] = mapped_column()

    distributor: Mapped[Distributor | None] = relationship()
    warehouse: Mapped[Warehouse | None] = relationship()
    customer: Mapped[Customer | None] = relationship()
    courier: Mapped[User | None] = relationship(foreign_keys=[courier_id])
    lines: Mapped[list["OrderLine"]] = relationship(back_populates="order", cascade="all, delete-orphan",
                                                    order_by="OrderLine.id")
    payments: Mapped[list["OrderPayment"]] = relationship(back_populates="order", cascade="all, delete-orphan",
                                                          order_by="OrderPayment.id")
    events: Mapped[list["OrderEvent"]] = relationship(back_populates="order", cascade="all, delete-orphan",
                                                      order_by="OrderEvent.id")
    rating: Mapped["OrderRating | None"] = relationship(back_populates="order", uselist=False,
                                                        cascade="all, delete-orphan")

    @property
    def reference(self) -> str:
        """The number people quote: DD000017."""
        return f"DD{self.id:06d}"


class OrderLine(db.Model):
    """One product of an order: quantity, the unit price in force when placed, a discount, the amount."""

    __tablename__ = "order_lines"
    __table_args__ = (
        UniqueConstraint("order_id", "product_id"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("discount >= 0 AND amount >= 0", name="money_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"), index=True)
    quantity: Mapped[int] = mapped_column()
    unit_price: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    discount: Mapped[Decimal] = mapped_column(Numeric(14, 2), default=Decimal("0.00"))
    amount: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    # The campaign that priced this line (its unit price or free units), if one did.
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id", ondelete="SET NULL"), index=True)

    order: Mapped[Order] = relationship(back_populates="lines")
    product: Mapped[Product] = relationship(lazy="joined")


class OrderPayment(db.Model):
    """Money received for an order (kind payment) or paid back (kind refund); append-only."""

    __tablename__ = "order_payments"
    __table_args__ = (CheckConstraint("amount > 0", name="amount_positive"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(8), default="payment")  # payment | refund
    method: Mapped[str] = mapped_column(String(16))
    reference: Mapped[str] = mapped_column(String(64), default="")
    amount: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    order: Mapped[Order] = relationship(back_populates="payments")


class OrderEvent(db.Model):
    """One entry of an order's timeline: placed, edited, a transition, a courier (re)assigned, rated."""

    __tablename__ = "order_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    kind: Mapped[str] = mapped_column(String(16))  # placed | edited | transition | courier | routed | rated
    from_status: Mapped[str | None] = mapped_column(String(12))
    to_status: Mapped[str | None] = mapped_column(String(12))
    note: Mapped[str] = mapped_column(String(500), default="")
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    actor_label: Mapped[str] = mapped_column(String(120), default="")

    order: Mapped[Order] = relationship(back_populates="events")


class OrderRating(db.Model):
    """The customer's satisfaction with a delivered order (1-5), recorded once, with a comment."""

    __tablename__ = "order_ratings"
    __table_args__ = (CheckConstraint("score BETWEEN 1 AND 5", name="score_1_to_5"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), unique=True)
    score: Mapped[int] = mapped_column()
    comment: Mapped[str] = mapped_column(String(500), default="")
    source: Mapped[str] = mapped_column(String(12), default="web")  # web (on the customer's behalf) | api
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    actor_label: Mapped[str] = mapped_column(String(120), default="")

    order: Mapped[Order] = relationship(back_populates="rating")
