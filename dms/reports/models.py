"""Reports area records: generated report files, scorecard weights and scores, sales forecasts."""

from datetime import datetime
from decimal import Decimal

from sqlalchemy import JSON, ForeignKey, Index, Numeric, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from dms.core.models import Job
from dms.core.time import utcnow
from dms.distributors.models import Distributor
from dms.extensions import db

ORIENTATIONS = ("portrait", "landscape")


class ReportFile(db.Model):
    """A PDF report someone asked for: what (kind + parameters), for whom, its job and its file.

    `key` is the report's identity (kind, parameters, scope, language): asking again for the same report
    finds this row, and its file name is derived from the id, so a retried job rewrites the same file.
    """

    __tablename__ = "report_files"
    __table_args__ = (Index("ix_report_files_owner_created", "owner_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(40))
    title: Mapped[str] = mapped_column(String(200), default="")
    params: Mapped[dict] = mapped_column(JSON, default=dict)
    locale: Mapped[str] = mapped_column(String(10), default="zh_CN")
    orientation: Mapped[str] = mapped_column(String(10), default="portrait")
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    distributor_id: Mapped[int | None] = mapped_column(ForeignKey("distributors.id", ondelete="CASCADE"),
                                                       index=True)
    job_id: Mapped[int | None] = mapped_column(ForeignKey("jobs.id", ondelete="SET NULL"))
    filename: Mapped[str | None] = mapped_column(String(255))
    pages: Mapped[int | None] = mapped_column()
    size: Mapped[int | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column()

    job: Mapped[Job | None] = relationship(lazy="joined")
    distributor: Mapped[Distributor | None] = relationship()


class ScorecardWeight(db.Model):
    """HQ's weight of one scorecard criterion (0-100; the weights are normalised by their sum)."""

    __tablename__ = "scorecard_weights"

    criterion: Mapped[str] = mapped_column(String(32), primary_key=True)
    weight: Mapped[Decimal] = mapped_column(Numeric(6, 2))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


class ScorecardScore(db.Model):
    """A distributor's composite score for one month, with each criterion's value and points kept."""

    __tablename__ = "scorecard_scores"
    __table_args__ = (UniqueConstraint("distributor_id", "period"), Index("ix_scorecard_scores_period", "period"))

    id: Mapped[int] = mapped_column(primary_key=True)
    distributor_id: Mapped[int] = mapped_column(ForeignKey("distributors.id", ondelete="CASCADE"))
    period: Mapped[str] = mapped_column(String(7))
    score: Mapped[Decimal] = mapped_column(Numeric(6, 2))
    components: Mapped[dict] = mapped_column(JSON, default=dict)
    weights: Mapped[dict] = mapped_column(JSON, default=dict)
    computed_at: Mapped[datetime] = mapped_column(default=utcnow)

    distributor: Mapped[Distributor] = relationship(lazy="joined")


class SalesForecast(db.Model):
    """Weekly demand forecast of one product, overall or for one distributor or region, with its backtest.

    `weeks` holds [{"week": "2026-12-07", "units": "12.40"}, ...]; `method` is the one used (the one
    with the lower backtest WAPE), the other method's accuracy is kept beside it.
    """

    __tablename__ = "sales_forecasts"
    __table_args__ = (UniqueConstraint("product_id", "scope", "scope_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"), index=True)
    scope: Mapped[str] = mapped_column(String(12), default="all")  # all | distributor | region
    scope_key: Mapped[str] = mapped_column(String(20), default="")
    method: Mapped[str] = mapped_column(String(20))
    weeks: Mapped[list] = mapped_column(JSON, default=list)
    history_weeks: Mapped[int] = mapped_column(default=0)
    mape: Mapped[Decimal | None] = mapped_column(Numeric(8, 2))
    wape: Mapped[Decimal | None] = mapped_column(Numeric(8, 2))
    baseline_mape: Mapped[Decimal | None] = mapped_column(Numeric(8, 2))
    baseline_wape: Mapped[Decimal | None] = mapped_column(Numeric(8, 2))
    computed_at: Mapped[datetime] = mapped_column(default=utcnow)
