"""Stock: batches, serial units, the append-only movement ledger and the balances it keeps."""

from datetime import date, datetime

from sqlalchemy import CheckConstraint, Date, ForeignKey, Index, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from dms.catalog.models import Product
from dms.core.time import utcnow
from dms.distributors.models import Warehouse
from dms.extensions import db

# Signed effects on (on_hand, reserved) are given per movement; the kind says why.
MOVEMENT_KINDS = ("receipt", "reserve", "release", "issue", "transfer_out", "transfer_in", "count",
                  "write_off", "return")
SERIAL_STATES = ("in_stock", "reserved", "in_transit", "sold", "written_off")
# The batch of products that are not batch-tracked: every balance has a batch, this one has no expiry.
DEFAULT_BATCH = ""


class Batch(db.Model):
    """A lot of one product (batch code, expiry date), wherever its stock lies."""

    __tablename__ = "batches"
    __table_args__ = (UniqueConstraint("product_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(64))
    expiry_date: Mapped[date | None] = mapped_column(Date, index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    product: Mapped[Product] = relationship()


class StockBalance(db.Model):
    """On hand and reserved of one product batch in one warehouse: a cache of the ledger's sums.

    The checks make negative stock impossible whatever the code does; services change these rows only
    with conditional atomic updates (DESIGN.md §7).
    """

    __tablename__ = "stock_balances"
    __table_args__ = (
        UniqueConstraint("warehouse_id", "product_id", "batch_id"),
        CheckConstraint("on_hand >= 0", name="on_hand_not_negative"),
        CheckConstraint("reserved >= 0 AND reserved <= on_hand", name="reserved_within_on_hand"),
        Index("ix_stock_balances_product", "product_id", "warehouse_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    warehouse_id: Mapped[int] = mapped_column(ForeignKey("warehouses.id", ondelete="CASCADE"))
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"))
    batch_id: Mapped[int] = mapped_column(ForeignKey("batches.id", ondelete="CASCADE"))
    on_hand: Mapped[int] = mapped_column(default=0)
    reserved: Mapped[int] = mapped_column(default=0)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    warehouse: Mapped[Warehouse] = relationship()
    product: Mapped[Product] = relationship()
    batch: Mapped[Batch] = relationship(lazy="joined")

    @property
    def available(self) -> int:
        return self.on_hand - self.reserved


class SerialUnit(db.Model):
    """One individually tracked unit (a vehicle by VIN): where it is and in what state."""

    __tablename__ = "serial_units"
    __table_args__ = (UniqueConstraint("product_id", "serial"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"))
    serial: Mapped[str] = mapped_column(String(64))
    batch_id: Mapped[int] = mapped_column(ForeignKey("batches.id"))
    warehouse_id: Mapped[int | None] = mapped_column(ForeignKey("warehouses.id"), index=True)
    state: Mapped[str] = mapped_column(String(12), default="in_stock", index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    product: Mapped[Product] = relationship()
    batch: Mapped[Batch] = relationship()
    warehouse: Mapped[Warehouse | None] = relationship()


class StockMovement(db.Model):
    """One immutable change of stock: who, when, why, from which document, and its effect.

    `on_hand_delta` and `reserved_delta` are what it did to the balance; summing them per warehouse,
    product and batch gives the balances back (`flask dms check`).
    """

    __tablename__ = "stock_movements"
    __table_args__ = (
        Index("ix_stock_movements_balance", "warehouse_id", "product_id", "batch_id"),
        Index("ix_stock_movements_source", "source_type", "source_id"),
        # A warehouse's ledger newest first, by seek at any depth (the movements list's keyset pagination).
        Index("ix_stock_movements_warehouse_recent", "warehouse_id", "id"),
        # The source types of a warehouse's movements (the list's filter), by loose index scan.
        Index("ix_stock_movements_warehouse_source", "warehouse_id", "source_type"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    warehouse_id: Mapped[int] = mapped_column(ForeignKey("warehouses.id"))
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"), index=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("batches.id"))
    serial_unit_id: Mapped[int | None] = mapped_column(ForeignKey("serial_units.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    on_hand_delta: Mapped[int] = mapped_column(default=0)
    reserved_delta: Mapped[int] = mapped_column(default=0)
    reason: Mapped[str] = mapped_column(String(255), default="")
    # The document that caused it: ("order", "17"), ("transfer", "3"), ("stocktake", "5"), ("api", key)...
    source_type: Mapped[str] = mapped_column(String(32), default="")
    source_id: Mapped[str | None] = mapped_column(String(64))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    actor_label: Mapped[str] = mapped_column(String(120), default="")

    warehouse: Mapped[Warehouse] = relationship()
    product: Mapped[Product] = relationship()
    batch: Mapped[Batch] = relationship(lazy="joined")
    serial_unit: Mapped[SerialUnit | None] = relationship()


class WarehouseThreshold(db.Model):
    """A low-stock threshold for one product in one warehouse, overriding the product's own."""

    __tablename__ = "warehouse_thresholds"
    __table_args__ = (UniqueConstraint("warehouse_id", "product_id"),
                      CheckConstraint("threshold >= 0", name="threshold_not_negative"))

    id: Mapped[int] = mapped_column(primary_key=True)
    warehouse_id: Mapped[int] = mapped_column(ForeignKey("warehouses.id", ondelete="CASCADE"))
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"), index=True)
    threshold: Mapped[int] = mapped_column(default=0)

    warehouse: Mapped[Warehouse] = relationship()
    product: Mapped[Product] = relationship()


# --- stocktaking (盘点) ---------------------------------------------------------------------------

STOCKTAKE_STATES = ("open", "posted", "cancelled")


class Stocktake(db.Model):
    """A count of one warehouse: expected quantities snapshotted at opening, counted ones entered, then posted."""

    __tablename__ = "stocktakes"
    # One open count per warehouse, kept by the database so two people opening at once cannot both win.
    __table_args__ = (Index("ix_stocktakes_one_open", "warehouse_id", unique=True,
                            sqlite_where=text("status = 'open'"), postgresql_where=text("status = 'open'")),)

    id: Mapped[int] = mapped_column(primary_key=True)
    warehouse_id: Mapped[int] = mapped_column(ForeignKey("warehouses.id"), index=True)
    status: Mapped[str] = mapped_column(String(12), default="open", index=True)
    note: Mapped[str] = mapped_column(String(255), default="")
    opened_at: Mapped[datetime] = mapped_column(default=utcnow)
    opened_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    closed_at: Mapped[datetime | None] = mapped_column()
    closed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    warehouse: Mapped[Warehouse] = relationship()
    lines: Mapped[list["StocktakeLine"]] = relationship(back_populates="stocktake", cascade="all, delete-orphan",
                                                        order_by="StocktakeLine.id")


class StocktakeLine(db.Model):
    """One product batch of a stocktake: what the books said at opening and what was counted."""

    __tablename__ = "stocktake_lines"
    __table_args__ = (UniqueConstraint("stocktake_id", "product_id", "batch_id"),
                      CheckConstraint("expected >= 0", name="expected_not_negative"),
                      CheckConstraint("counted IS NULL OR counted >= 0", name="counted_not_negative"))

    id: Mapped[int] = mapped_column(primary_key=True)
    stocktake_id: Mapped[int] = mapped_column(ForeignKey("stocktakes.id", ondelete="CASCADE"), index=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    batch_id: Mapped[int] = mapped_column(ForeignKey("batches.id"))
    expected: Mapped[int] = mapped_column(default=0)
    counted: Mapped[int | None] = mapped_column()
    # The count movement posted for this line (None while open, or when there was no difference).
    movement_id: Mapped[int | None] = mapped_column(ForeignKey("stock_movements.id"))

    stocktake: Mapped[Stocktake] = relationship(back_populates="lines")
    product: Mapped[Product] = relationship()
    batch: Mapped[Batch] = relationship()


# --- transfers (调拨) ------------------------------------------------------------------------------

TRANSFER_STATES = ("in_transit", "received", "cancelled")


class Transfer(db.Model):
    """Stock sent from one warehouse to another: issued FEFO (in transit), then confirmed by the receiver."""

    __tablename__ = "transfers"
    __table_args__ = (CheckConstraint("from_warehouse_id <> to_warehouse_id", name="two_warehouses"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    from_warehouse_id: Mapped[int] = mapped_column(ForeignKey("warehouses.id"), index=True)
    to_warehouse_id: Mapped[int] = mapped_column(ForeignKey("warehouses.id"), index=True)
    status: Mapped[str] = mapped_column(String(12), default="in_transit", index=True)
    note: Mapped[str] = mapped_column(String(255), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    received_at: Mapped[datetime | None] = mapped_column()
    received_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    from_warehouse: Mapped[Warehouse] = relationship(foreign_keys=[from_warehouse_id])
    to_warehouse: Mapped[Warehouse] = relationship(foreign_keys=[to_warehouse_id])
    items: Mapped[list["TransferItem"]] = relationship(back_populates="transfer", cascade="all, delete-orphan",
                                                       order_by="TransferItem.id")


class TransferItem(db.Model):
    """What one batch (or one serial unit) of a transfer carried: sent, and received once confirmed."""

    __tablename__ = "transfer_items"
    __table_args__ = (CheckConstraint("quantity_sent > 0", name="sent_positive"),
                      CheckConstraint("quantity_received IS NULL OR "
                                      "(quantity_received >= 0 AND quantity_received <= quantity_sent)",
                                      name="received_within_sent"))

    id: Mapped[int] = mapped_column(primary_key=True)
    transfer_id: Mapped[int] = mapped_column(ForeignKey("transfers.id", ondelete="CASCADE"), index=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    batch_id: Mapped[int] = mapped_column(ForeignKey("batches.id"))
    serial_unit_id: Mapped[int | None] = mapped_column(ForeignKey("serial_units.id"))
    quantity_sent: Mapped[int] = mapped_column()
    quantity_received: Mapped[int | None] = mapped_column()

    transfer: Mapped[Transfer] = relationship(back_populates="items")
    product: Mapped[Product] = relationship()
    batch: Mapped[Batch] = relationship()
    serial_unit: Mapped[SerialUnit | None] = relationship()

    @property
    def difference(self) -> int | None:
        """Received minus sent once confirmed (negative: short), None while in transit."""
        return None if self.quantity_received is None else self.quantity_received - self.quantity_sent


# --- replenishment requests (补货申请) --------------------------------------------------------------

REPLENISHMENT_STATES = ("submitted", "approved", "partially_approved", "rejected", "cancelled")


class ReplenishmentRequest(db.Model):
    """A distributor asks HQ for stock; HQ approves in full or in part (creating a transfer) or rejects."""

    __tablename__ = "replenishment_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    warehouse_id: Mapped[int] = mapped_column(ForeignKey("warehouses.id"), index=True)
    status: Mapped[str] = mapped_column(String(20), default="submitted", index=True)
    note: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    decided_at: Mapped[datetime | None] = mapped_column()
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    decision_reason: Mapped[str] = mapped_column(String(500), default="")
    transfer_id: Mapped[int | None] = mapped_column(ForeignKey("transfers.id"), unique=True)

    warehouse: Mapped[Warehouse] = relationship()
    transfer: Mapped[Transfer | None] = relationship()
    lines: Mapped[list["ReplenishmentLine"]] = relationship(back_populates="request", cascade="all, delete-orphan",
                                                            order_by="ReplenishmentLine.id")


class ReplenishmentLine(db.Model):
    """One product of a replenishment request: how many were asked for and how many HQ approved."""

    __tablename__ = "replenishment_lines"
    __table_args__ = (UniqueConstraint("request_id", "product_id"),
                      CheckConstraint("quantity_requested > 0", name="requested_positive"),
                      CheckConstraint("quantity_approved IS NULL OR quantity_approved >= 0",
                                      name="approved_not_negative"))

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("replenishment_requests.id", ondelete="CASCADE"), index=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    quantity_requested: Mapped[int] = mapped_column()
    quantity_approved: Mapped[int | None] = mapped_column()

    request: Mapped[ReplenishmentRequest] = relationship(back_populates="lines")
    product: Mapped[Product] = relationship()


# --- alerts (库存预警) -----------------------------------------------------------------------------

ALERT_KINDS = ("low_stock", "near_expiry")


class StockAlert(db.Model):
    """A low-stock or near-expiry condition of one product in one warehouse, raised at most once a day.

    The unique key (warehouse, product, kind, day) is what makes a retried or repeated check raise and
    notify nothing new; the alert closes when a later check finds the stock recovered.
    """

    __tablename__ = "stock_alerts"
    __table_args__ = (UniqueConstraint("warehouse_id", "product_id", "kind", "day"),
                      Index("ix_stock_alerts_open", "status", "warehouse_id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    warehouse_id: Mapped[int] = mapped_column(ForeignKey("warehouses.id", ondelete="CASCADE"))
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(12))
    day: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(8), default="open")
    # What was seen when raised: available vs threshold, or the quantity expiring and the first expiry date.
    quantity: Mapped[int] = mapped_column(default=0)
    threshold: Mapped[int | None] = mapped_column()
    expiry_date: Mapped[date | None] = mapped_column(Date)
    opened_at: Mapped[datetime] = mapped_column(default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column()

    warehouse: Mapped[Warehouse] = relationship()
    product: Mapped[Product] = relationship()
