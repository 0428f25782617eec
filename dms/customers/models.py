"""Customers: who a distributor sells and delivers to, with a delivery address in a region."""

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from dms.core.time import utcnow
from dms.distributors.models import Distributor
from dms.extensions import db
from dms.territories.models import Region


class Customer(db.Model):
    """A customer of one distributor (none while an order routed to no territory awaits HQ)."""

    __tablename__ = "customers"
    __table_args__ = (Index("ix_customers_distributor_phone", "distributor_id", "phone"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    distributor_id: Mapped[int | None] = mapped_column(ForeignKey("distributors.id"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    phone: Mapped[str] = mapped_column(String(32), default="")
    region_code: Mapped[str | None] = mapped_column(ForeignKey("regions.code"), index=True)
    # The street or community (街道 / 小区) dispatch groups deliveries by, and the rest of the address.
    street: Mapped[str] = mapped_column(String(100), default="")
    address: Mapped[str] = mapped_column(String(255), default="")
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    distributor: Mapped[Distributor | None] = relationship()
    region: Mapped[Region | None] = relationship(lazy="joined")
