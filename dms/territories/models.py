"""Regions: China's administrative divisions by GB/T 2260 code, loaded from data/regions.csv by a migration."""

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from dms.extensions import db

LEVELS = ("province", "city", "county")


class Region(db.Model):
    """A province, city or county; read-only reference data (the migration that loads it owns it)."""

    __tablename__ = "regions"

    code: Mapped[str] = mapped_column(String(6), primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    level: Mapped[str] = mapped_column(String(8))
    parent_code: Mapped[str | None] = mapped_column(ForeignKey("regions.code"), index=True)
