"""The catalog: categories (a tree), tags, products with their images and effective-dated prices."""

from datetime import datetime
from decimal import Decimal

from sqlalchemy import (
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from dms.core.time import utcnow
from dms.extensions import db

STATUSES = ("available", "unavailable", "pending")
TRACKING = ("none", "batch", "serial")
PRICE_KINDS = ("retail", "distributor")

product_tags = Table(
    "product_tags",
    db.metadata,
    Column("product_id", ForeignKey("products.id", ondelete="CASCADE"), primary_key=True),
    Column("tag_id", ForeignKey("tags.id", ondelete="CASCADE"), primary_key=True),
)


class Category(db.Model):
    """A node of the category tree (HQ manages it); names are unique among siblings."""

    __tablename__ = "categories"
    __table_args__ = (UniqueConstraint("parent_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("categories.id"), index=True)
    position: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    parent: Mapped["Category | None"] = relationship(remote_side=[id])


class Tag(db.Model):
    """A free label on products (热销, 食品, ...); unknown tags given through the API are created."""

    __tablename__ = "tags"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(32), unique=True)


class Product(db.Model):
    """Something HQ sells through the channel; `status` is pending while it has no retail price."""

    __tablename__ = "products"

    id: Mapped[int] = mapped_column(primary_key=True)
    sku: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200), index=True)
    description: Mapped[str] = mapped_column(Text, default="")
    category_id: Mapped[int | None] = mapped_column(ForeignKey("categories.id", ondelete="SET NULL"), index=True)
    unit: Mapped[str] = mapped_column(String(16), default="件")
    status: Mapped[str] = mapped_column(String(12), default="pending", index=True)
    tracking: Mapped[str] = mapped_column(String(8), default="none")
    low_stock_threshold: Mapped[int] = mapped_column(default=0)
    # An image given by address (the API's image_url); uploaded images are ProductImage rows.
    image_url: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    category: Mapped[Category | None] = relationship(lazy="joined")
    tags: Mapped[list[Tag]] = relationship(secondary=product_tags, lazy="selectin", order_by=Tag.name)
    images: Mapped[list["ProductImage"]] = relationship(
        back_populates="product", cascade="all, delete-orphan", order_by="ProductImage.position")
    prices: Mapped[list["Price"]] = relationship(
        back_populates="product", order_by="(Price.effective_from.desc(), Price.id.desc())")

    def __str__(self) -> str:
        return self.name


class ProductImage(db.Model):
    """An uploaded image, stored by the storage interface under `storage_key`."""

    __tablename__ = "product_images"

    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"), index=True)
    storage_key: Mapped[str] = mapped_column(String(255), unique=True)
    content_type: Mapped[str] = mapped_column(String(32))
    size: Mapped[int] = mapped_column(Integer)
    position: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    product: Mapped[Product] = relationship(back_populates="images")


class Price(db.Model):
    """One price from a moment on: retail, or the distributor price of one level. Append-only history.

    The price in force at a moment is the row with the latest `effective_from` not after it; orders
    copy the amount, so a later change never alters them.
    """

    __tablename__ = "prices"
    __table_args__ = (
        CheckConstraint("amount >= 0", name="amount_not_negative"),
        CheckConstraint("(kind = 'retail' AND level IS NULL) OR (kind = 'distributor' AND level IS NOT NULL)",
                        name="level_matches_kind"),
        Index("ix_prices_lookup", "product_id", "kind", "level", "effective_from"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(12))
    level: Mapped[str | None] = mapped_column(String(8))
    amount: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    effective_from: Mapped[datetime] = mapped_column(default=utcnow)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    product: Mapped[Product] = relationship(back_populates="prices")
