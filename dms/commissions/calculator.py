"""Who earns what on one sale under one rule version: the N-level distribution, worked out line by line.

Level 1 is the selling distributor, level 2 its upline, and so on up the tree as it stood at the
moment of the sale (the order's completion). For each level:
- qualification: the beneficiary's own personal volume in the sale's month, up to and including the
  sale, must reach the level's minimum. An unqualified beneficiary is skipped and its level is not
  paid (the next upline earns the next level) — unless compression is on, when the next qualified
  upline earns the skipped level instead and the levels above move down with it;
- the rate of each line: a product override, else a category override (the nearest category up the
  tree), else a distributor-level override (the beneficiary's level), else the level's rate;
- the base of a line: its amount net of discounts, or its gross margin (amount less the seller's
  distributor price of the product at the time times the quantity; no price known counts as no margin);
- the amount: sum of base x rate / 100 over the lines, rounded half up to the cent once per level;
- the cap per order: levels are paid from level 1 up until the cap is reached; the level that crosses
  it gets the rest, the levels above nothing.
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from dms.catalog import services as catalog
from dms.catalog.models import Category, Product
from dms.commissions.models import RuleVersion
from dms.core.periods import month_bounds_utc, month_of
from dms.distributors.models import Distributor
from dms.distributors.upline_history import upline_chain
from dms.extensions import db
from dms.network.volumes import personal_volume

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
HUNDRED = Decimal(100)
CHAIN_LIMIT = 60  # compression may climb past skipped uplines; the tree refuses loops anyway


@dataclass
class SaleLine:
    """One line of a sale: product, quantity and amount net of discounts."""

    product: Product
    quantity: int
    amount: Decimal


@dataclass
class Sale:
    """What the calculator needs to know of an order (or of a simulated one)."""

    seller_id: int
    at: datetime
    lines: list[SaleLine]
    order_id: int | None = None
    recorded: bool = True  # False for a simulated sale: not in the database, so added to the seller's volume


@dataclass
class Share:
    """One beneficiary's commission at one level, with how it was reached."""

    level: int
    beneficiary: Distributor
    base: Decimal
    rate: Decimal | None  # the rate when every line had the same one, else None (mixed overrides)
    amount: Decimal
    personal_volume: Decimal
    capped: bool = False


@dataclass
class Skip:
    """A beneficiary passed over: unqualified (volume below the minimum)."""

    level: int
    beneficiary: Distributor
    personal_volume: Decimal
    minimum: Decimal


@dataclass
class Distribution:
    """The result: the shares to pay, the skipped beneficiaries, and the base of the whole sale."""

    version: RuleVersion
    shares: list[Share] = field(default_factory=list)
    skipped: list[Skip] = field(default_factory=list)
    base: Decimal = ZERO

    @property
    def total(self) -> Decimal:
        return sum((share.amount for share in self.shares), ZERO)


def sale_of(order) -> Sale:
    """The sale an order stands for, at its completion."""
    return Sale(seller_id=order.distributor_id, at=order.completed_at, order_id=order.id,
                lines=[SaleLine(line.product, line.quantity, line.amount) for line in order.lines])


def _line_base(version: RuleVersion, line: SaleLine, seller: Distributor, at: datetime) -> Decimal:
    if version.base == "net":
        return line.amount
    cost = catalog.price_for_distributor(line.product, seller.level, at=at)
    if cost is None:
        return ZERO
    return line.amount - cost * line.quantity


def _category_chain(category_id: int | None) -> list[int]:
    chain = []
    while category_id is not None and category_id not in chain:
        chain.append(category_id)
        category_id = db.session.scalar(db.select(Category.parent_id).where(Category.id == category_id))
    return chain


class _Rates:
    """The rate lookup of one version, with overrides indexed once."""

    def __init__(self, version: RuleVersion):
        self.levels = {rule.level: rule for rule in version.levels}
        self.by_product, self.by_category, self.by_level = {}, {}, {}
        for o in version.overrides:
            table, key = {"product": (self.by_product, o.product_id), "category": (self.by_category, o.category_id),
                          "distributor_level": (self.by_level, o.distributor_level)}[o.scope]
            # A level-specific override beats one for every level of the same target.
            table[(key, o.level)] = o.rate
        self._categories: dict[int | None, list[int]] = {}

    def _find(self, table, key, level):
        for candidate in ((key, level), (key, None)):
            if candidate in table:
                return table[candidate]
        return None

    def rate(self, line: SaleLine, level: int, beneficiary: Distributor) -> Decimal:
        found = self._find(self.by_product, line.product.id, level)
        if found is None:
            category_id = line.product.category_id
            if category_id not in self._categories:
                self._categories[category_id] = _category_chain(category_id)
            for cid in self._categories[category_id]:
                found = self._find(self.by_category, cid, level)
                if found is not None:
                    break
        if found is None:
            found = self._find(self.by_level, beneficiary.level, level)
        return found if found is not None else self.levels[level].rate


def distribute(sale: Sale, version: RuleVersion) -> Distribution:
    """The commission distribution of a sale under a version (reads the tree and volumes; writes nothing)."""
    result = Distribution(version=version)
    seller = db.session.get(Distributor, sale.seller_id)
    if seller is None:
        return result
    rates = _Rates(version)
    bases = [_line_base(version, line, seller, sale.at) for line in sale.lines]
    result.base = sum(bases, ZERO)
    month_start, _ = month_bounds_utc(month_of(sale.at))
    up_to = sale.at + timedelta(microseconds=1)  # the sale itself counts towards its month
    remaining = version.cap_per_order
    level = 1
    for beneficiary_id in upline_chain(sale.seller_id, sale.at, CHAIN_LIMIT):
        if level > version.paid_levels or level not in rates.levels:
            break
        beneficiary = seller if beneficiary_id == seller.id else db.session.get(Distributor, beneficiary_id)
        minimum = rates.levels[level].min_personal_volume or ZERO
        volume = personal_volume(beneficiary_id, month_start, up_to, as_of=sale.at)
        if not sale.recorded and beneficiary_id == seller.id:
            volume += sum((line.amount for line in sale.lines), ZERO)
        if volume < minimum:
            result.skipped.append(Skip(level, beneficiary, volume, minimum))
            if not version.compression:
                level += 1
            continue
        line_rates = [rates.rate(line, level, beneficiary) for line in sale.lines]
        raw = sum((base * rate / HUNDRED for base, rate in zip(bases, line_rates, strict=True)), ZERO)
        # A level at a loss (margin base, negative margin) earns nothing; a negative amount would free cap for the next.
        amount = max(raw.quantize(CENT, rounding=ROUND_HALF_UP), ZERO)
        capped = False
        if remaining is not None and amount > remaining:
            amount, capped = max(remaining, ZERO), True
        if remaining is not None:
            remaining -= amount
        rate = line_rates[0] if line_rates and len(set(line_rates)) == 1 else None
        if amount > 0:
            result.shares.append(Share(level, beneficiary, result.base, rate, amount, volume, capped))
        level += 1
    return result
