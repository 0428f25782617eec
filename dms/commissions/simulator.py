"""The commission simulator: who would earn what on a sample order, under the version in force or another one.

The sample lines are priced as an order is (`dms.orders.pricing.price_lines`: the products' retail prices
in force now, less a discount per line), then shared out by the calculator exactly as an order completing
at that moment would be: the sample order counts towards its seller's personal volume, as a completed order
would, though it is never in the database. Nothing is written.

HQ (scope.all_distributors) previews any version, drafts included, for any seller; a distributor previews
its own sales under the version in force only.
"""

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from flask_babel import gettext as _
from sqlalchemy import select

from dms.catalog.models import Product
from dms.commissions import rules
from dms.commissions.calculator import Distribution, Sale, SaleLine, distribute
from dms.commissions.models import RuleVersion
from dms.core.errors import Forbidden, NotFound, ValidationError
from dms.core.scope import HQ_SCOPE
from dms.core.time import utcnow
from dms.distributors.models import Distributor
from dms.extensions import db
from dms.orders.pricing import PricedLine, price_lines, totals

ZERO = Decimal("0.00")


@dataclass
class Simulation(Distribution):
    """A Distribution of a sample order, with the order itself: seller, moment, priced lines and total."""

    seller: Distributor | None = None
    at: datetime | None = None
    lines: list[PricedLine] = field(default_factory=list)
    amount: Decimal = ZERO

    @property
    def cap_reached(self) -> bool:
        """True when the cap per order limited what was paid (the levels above it got nothing)."""
        cap = self.version.cap_per_order
        return cap is not None and (any(share.capped for share in self.shares) or self.total >= cap)


def _hq(actor) -> bool:
    return actor is not None and actor.can(HQ_SCOPE)


def _version(actor, version_id, at: datetime) -> RuleVersion:
    current = rules.version_at(at)
    if version_id in (None, ""):
        if current is None:
            raise ValidationError(fields={"version_id": [
                _("No version is in force yet: choose a draft to preview.")]})
        return current
    number = version_id if isinstance(version_id, int) and not isinstance(version_id, bool) else None
    version = db.session.get(RuleVersion, number) if number is not None else None
    if version is None:
        raise ValidationError(fields={"version_id": [_("Choose a version from the list.")]})
    if not _hq(actor) and (current is None or version.id != current.id):
        raise NotFound()  # a distributor sees the version in force only
    return version


def _seller(actor, seller_id) -> Distributor:
    number = seller_id if isinstance(seller_id, int) and not isinstance(seller_id, bool) else None
    if not _hq(actor):
        if number is None or number != getattr(actor, "distributor_id", None):
            raise NotFound()  # another distributor's sales are not a distributor's to preview
    seller = db.session.get(Distributor, number) if number is not None else None
    if seller is None:
        raise ValidationError(fields={"seller_id": [_("Choose the selling distributor.")]})
    return seller


def simulate(actor, seller_id, lines, version_id=None, at: datetime | None = None) -> Simulation:
    """The distribution of a sample order by `seller_id` at `at` (now) under a version (the current one by default).

    `lines` are [{"product_id", "quantity", "discount"?}]; raises ValidationError naming each bad field
    ("seller_id", "version_id", "lines.0.quantity", ...), NotFound for a distributor asking about another
    seller or another version than the one in force, Forbidden without commissions.view. Writes nothing.
    """
    if actor is not None and not actor.can("commissions.view"):
        raise Forbidden()
    at = at or utcnow()
    errors: dict = {}
    version = seller = None
    try:
        version = _version(actor, version_id, at)
    except ValidationError as exc:
        errors.update(exc.fields)
    try:
        seller = _seller(actor, seller_id)
    except ValidationError as exc:
        errors.update(exc.fields)
    priced: list[PricedLine] = []
    try:
        priced = price_lines(lines, allow_discount=True)
    except ValidationError as exc:
        errors.update(exc.fields)
    if errors:
        raise ValidationError(fields=errors)
    sale = Sale(seller_id=seller.id, at=at, lines=[SaleLine(line.product, line.quantity, line.amount)
                                                   for line in priced], recorded=False)
    result = distribute(sale, version)
    return Simulation(version=result.version, shares=result.shares, skipped=result.skipped, base=result.base,
                      seller=seller, at=at, lines=priced, amount=totals(priced)[2])


def version_choices(actor) -> list[RuleVersion]:
    """The versions the actor may preview besides the current one: every version for HQ, none for a distributor."""
    return rules.versions() if _hq(actor) else []


def seller_choices(actor) -> list[tuple[int, str]]:
    """(id, name) of the distributors the actor may preview as the seller: any for HQ, itself for a distributor."""
    stmt = select(Distributor).where(Distributor.status != "terminated").order_by(Distributor.name, Distributor.id)
    if not _hq(actor):
        stmt = select(Distributor).where(Distributor.id == getattr(actor, "distributor_id", None))
    return [(d.id, d.display_name) for d in db.session.scalars(stmt)]


def product_choices() -> list[Product]:
    """The products on sale, by name: what a sample order may contain."""
    return list(db.session.scalars(select(Product).where(Product.status == "available")
                                   .order_by(Product.name, Product.id)))
