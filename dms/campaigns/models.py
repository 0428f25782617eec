"""Marketing campaigns (市场活动): what is promoted, where and when, by which mechanism, at what cost."""

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, Column, Date, ForeignKey, Numeric, String, Table, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from dms.catalog.models import Product
from dms.core.time import utcnow
from dms.extensions import db
from dms.territories.models import Region

CAMPAIGN_STATES = ("draft", "approved", "running", "ended", "cancelled")
MECHANISMS = ("percent", "fixed_price", "buy_n_get_m")
REGION_ROLES = ("target", "control")

campaign_products = Table(
    "campaign_products", db.metadata,
    Column("campaign_id", ForeignKey("campaigns.id", ondelete="CASCADE"), primary_key=True),
    Column("product_id", ForeignKey("products.id", ondelete="CASCADE"), primary_key=True, index=True),
)


class Campaign(db.Model):
    """A campaign: name, objective, period, regions, products, a price mechanism, budget and cost, a code.

    draft -> approved (by HQ) -> running -> ended; cancelled from draft or approved. While running, order
    lines in scope (product, the order's region within a target region, the day within the period, and
    the code when one is set) are priced by the mechanism and remember the campaign.
    """

    __tablename__ = "campaigns"
    __table_args__ = (
        CheckConstraint("ends_on >= starts_on", name="period_in_order"),
        CheckConstraint("budget >= 0 AND cost >= 0", name="money_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    objective: Mapped[str] = mapped_column(Text, default="")
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date] = mapped_column(Date)
    mechanism: Mapped[str] = mapped_column(String(12))
    percent_off: Mapped[Decimal | None] = mapped_column(Numeric(5, 2))
    fixed_price: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    buy_n: Mapped[int | None] = mapped_column()
    get_m: Mapped[int | None] = mapped_column()
    budget: Mapped[Decimal] = mapped_column(Numeric(14, 2), default=Decimal("0.00"))
    cost: Mapped[Decimal] = mapped_column(Numeric(14, 2), default=Decimal("0.00"))
    code: Mapped[str | None] = mapped_column(String(32), unique=True)
    status: Mapped[str] = mapped_column(String(10), default="draft", index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    approved_at: Mapped[datetime | None] = mapped_column()
    approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    started_at: Mapped[datetime | None] = mapped_column()
    ended_at: Mapped[datetime | None] = mapped_column()

    products: Mapped[list[Product]] = relationship(secondary=campaign_products, lazy="selectin", order_by=Product.name)
    regions: Mapped[list["CampaignRegion"]] = relationship(back_populates="campaign", cascade="all, delete-orphan",
                                                           lazy="selectin", order_by="CampaignRegion.region_code")


class CampaignRegion(db.Model):
    """A region of a campaign: a target (where it runs) or a control (compared against, not in the campaign)."""

    __tablename__ = "campaign_regions"
    __table_args__ = (UniqueConstraint("campaign_id", "region_code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"), index=True)
    region_code: Mapped[str] = mapped_column(ForeignKey("regions.code"))
    role: Mapped[str] = mapped_column(String(8), default="target")

    campaign: Mapped[Campaign] = relationship(back_populates="regions")
    region: Mapped[Region] = relationship(lazy="joined")
