"""The large dataset (`flask dms seed-demo --scale large`, `bench/generate.py`): a network at production size.

Thousands of distributors in a five-level tree, each with its own exclusive county, warehouse, login and
customers; hundreds of products with prices and batches; a million orders over two years with weekly and
yearly seasonality, in every state their age gives them, with their lines, timeline, payments, ratings and
stock movements; the stock balances those movements add up to; the commission ledger of the last months
under a published rule version, and two of them settled by the application's own settlement.

Rows are written in bulk (COPY on PostgreSQL, executemany elsewhere) with ids assigned here, so nothing
is read back; the result satisfies every `flask dms check` invariant, and each order's commission entries
are the ones the application's calculator gives (tests/reports/test_scale_data.py recomputes them).
"""

import gc
import math
import random
import time
from bisect import bisect_right
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from itertools import accumulate

from sqlalchemy import func, select, text

from dms.core.cli import SCALES
from dms.core.periods import business_date, month_name, month_of, previous_month, utc_start
from dms.core.time import business_today, utcnow
from dms.extensions import db

CENT = Decimal("0.01")
LEVEL_RATES = (Decimal("6.000"), Decimal("3.000"), Decimal("1.500"))  # the bench rule version: three levels
HOLD_DAYS = 7
TREE_SHARES = (0.005, 0.02, 0.075, 0.25)  # of the distributors at depths 1-4; the rest are at depth 5
DEPTH_LEVEL = {1: "province", 2: "city"}  # deeper ones are county agents
PASSWORD = "bench-demo-2026"  # noqa: S105 - documented demo password; every generated login's password (one argon2 hash, computed once)
NOTE = "scale"  # marks generated orders (their note) and tells a second run that the data is there
CHUNK = 20_000  # orders generated, then written, at a time: memory stays flat in the number of orders
SCORES = (1, 2, 3, 4, 5)
SCORE_WEIGHTS = tuple(accumulate((2, 3, 10, 35, 50)))  # cumulative, as random.choices takes them fastest
LINE_COUNTS = tuple(accumulate((60, 28, 12)))  # orders of 1, 2 and 3 lines
QUANTITIES = (1, 2, 3, 4, 5)
QUANTITY_WEIGHTS = tuple(accumulate((55, 25, 12, 5, 3)))


@dataclass
class Sizes:
    """How much to make."""

    orders: int = 1_000_000
    distributors: int = 2_000
    products: int = 300
    customers: int = 200_000
    days: int = 730
    seed: int = 2026


@dataclass
class Seller:
    """A generated distributor as the order generator needs it."""

    id: int
    warehouse_id: int
    region_code: str
    chain: tuple  # itself and its uplines, nearest first
    products: list  # product ids it stocks
    product_weights: list
    customers: list = field(default_factory=list)  # (created_at, id, name, phone, street, address)
    customer_times: list = field(default_factory=list)


class Ids:
    """The next free id of each table, read once: rows get their ids here, so nothing is read back."""

    def __init__(self):
        self._next = {}

    def take(self, table: str, count: int = 1) -> int:
        if table not in self._next:
            ids = db.metadata.tables[table].c.id
            self._next[table] = (db.session.scalar(select(func.max(ids))) or 0) + 1
        first = self._next[table]
        self._next[table] = first + count
        return first


class Writer:
    """Writes rows to a table in bulk: COPY on PostgreSQL, executemany elsewhere; counts what it wrote."""

    def __init__(self):
        self.connection = db.session.connection()
        self.postgresql = self.connection.dialect.name == "postgresql"
        self.counts: dict[str, int] = {}

    def write(self, table: str, columns: tuple, rows: list) -> None:
        if not rows:
            return
        self.counts[table] = self.counts.get(table, 0) + len(rows)
        if self.postgresql:
            cursor = self.connection.connection.driver_connection.cursor()
            with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            return
        stmt = db.metadata.tables[table].insert()  # typed: Decimal and datetime bind as the columns need
        for start in range(0, len(rows), 5000):
            self.connection.execute(stmt, [dict(zip(columns, row, strict=True))
                                           for row in rows[start:start + 5000]])

    def reset_sequences(self) -> None:
        """After explicit ids, move PostgreSQL's sequences past them (SQLite needs nothing)."""
        if not self.postgresql:
            return
        for table in self.counts:
            ids = db.metadata.tables[table].c.id
            self.connection.execute(select(func.setval(func.pg_get_serial_sequence(table, "id"),
                                                       select(func.max(ids)).scalar_subquery())))


BULK_TABLES = ("customers", "customer_addresses", "orders", "order_lines", "order_events", "order_payments",
               "order_ratings", "stock_movements", "stock_balances", "commission_entries")


class BulkLoad:
    """On PostgreSQL, what pg_restore does: load the big tables without their foreign keys, unique
    constraints and secondary indexes, then add them back — each built or validated in one pass over the
    loaded rows instead of row by row. Nothing is skipped: every constraint is checked when it is re-added,
    and a violation fails the run (and rolls it back)."""

    def __init__(self, connection):
        self.connection = connection
        self.saved: list[tuple[str, str]] = []  # (table, the statement that re-creates it), in order

    def __enter__(self):
        if self.connection.dialect.name != "postgresql":
            return self
        tables = list(BULK_TABLES)
        constraints = self.connection.execute(text(
            "SELECT c.conrelid::regclass::text, c.conname, pg_get_constraintdef(c.oid), c.contype "
            "FROM pg_constraint c WHERE c.conrelid::regclass::text = ANY(:tables) AND c.contype IN ('f', 'u') "
            "ORDER BY c.contype DESC"), {"tables": tables}).all()  # unique ones first: foreign keys need them
        indexes = self.connection.execute(text(
            "SELECT i.tablename, i.indexname, i.indexdef FROM pg_indexes i WHERE i.tablename = ANY(:tables) "
            "AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)"),
            {"tables": tables}).all()
        for table, name, definition, _kind in constraints:
            self.saved.append((table, f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}'))
        for table, _name, definition in indexes:
            self.saved.append((table, definition))
        for table, name, _definition, _kind in reversed(constraints):  # foreign keys first
            self.connection.execute(text(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"'))
        for _table, name, _definition in indexes:
            self.connection.execute(text(f'DROP INDEX "{name}"'))
        return self

    def __exit__(self, kind, value, traceback):
        if kind is not None or not self.saved:
            return False
        self.connection.execute(text("SET LOCAL maintenance_work_mem = '512MB'"))
        # Indexes before constraints: re-adding a foreign key looks rows up through them.
        for _table, statement in sorted(self.saved, key=lambda item: "CONSTRAINT" in item[1]):
            self.connection.execute(text(statement))
        return False


def already_made() -> bool:
    """True when a large dataset is in the database (its orders carry the note)."""
    from dms.orders.models import Order

    return db.session.scalar(select(Order.id).where(Order.note == NOTE).limit(1)) is not None


def _money(value: float) -> Decimal:
    return Decimal(str(round(value, 1))).quantize(CENT)


def _day_weights(first: date, days: int) -> list[float]:
    """Orders per day, relative: weekends busier, a yearly wave peaking at the Spring Festival, the
    Double Eleven (11.11) week, and growth of a third over the two years."""
    weights = []
    for n in range(days):
        day = first + timedelta(days=n)
        weekly = 1.35 if day.weekday() >= 5 else 1.0
        yearly = 1 + 0.25 * math.cos(2 * math.pi * (day.timetuple().tm_yday - 25) / 365.25)
        festival = 1.4 if day.month == 11 and day.day <= 11 else 1.0
        weights.append(weekly * yearly * festival * (1 + n / days / 3))
    return weights


def _spread(total: int, weights: list[float]) -> list[int]:
    """`total` split in proportion to `weights` (largest remainders), summing exactly to `total`."""
    scale = total / sum(weights)
    raw = [w * scale for w in weights]
    counts = [int(r) for r in raw]
    for i in sorted(range(len(raw)), key=lambda i: raw[i] - counts[i], reverse=True)[:total - sum(counts)]:
        counts[i] += 1
    return counts


class Generator:
    """One run: reference data first (ORM, small), then customers and orders in bulk."""

    def __init__(self, sizes: Sizes, echo=print):
        self.sizes, self.echo = sizes, echo
        self.rng = random.Random(sizes.seed)
        self.ids = Ids()
        self.writer = Writer()
        self.today = business_today()
        self.now = utcnow()
        self.first_day = self.today - timedelta(days=sizes.days - 1)
        self.start = utc_start(self.first_day)
        # Commissions began three months ago: the last three months have a ledger, the oldest two are settled.
        current = self.today.replace(day=1)
        self.settled = [previous_month(previous_month(previous_month(current))),
                        previous_month(previous_month(current))]
        self.rule_from = utc_start(self.settled[0])
        self.offset = self._utc_offset()

    def _utc_offset(self) -> timedelta:
        from dms.core.time import business_tz

        return business_tz().utcoffset(datetime.combine(self.first_day, datetime.min.time())) or timedelta(0)

    def _phase(self, label: str, started: float) -> None:
        self.echo(f"  {label}: {time.perf_counter() - started:.1f} s")

    # --- reference data -----------------------------------------------------------------------

    def catalog(self) -> None:
        """Categories, products (most untracked, a fifth batch-tracked), retail and level prices, a batch each."""
        from dms.catalog.models import Category, Price, Product
        from dms.inventory.models import DEFAULT_BATCH, Batch

        rng, n = self.rng, self.sizes.products
        categories = [Category(name=f"规模类目{i + 1:02d}", position=i) for i in range(12)]
        db.session.add_all(categories)
        db.session.flush()
        since = self.start - timedelta(days=90)
        self.products, self.prices = [], {}
        for i in range(n):
            tracking = "batch" if i % 5 == 4 else "none"
            product = Product(sku=f"SC-{i + 1:05d}", name=f"规模商品 {i + 1:03d}", status="available",
                              tracking=tracking, category_id=categories[i % len(categories)].id,
                              low_stock_threshold=rng.randint(5, 30), created_at=since, updated_at=since)
            db.session.add(product)
            self.products.append(product)
        db.session.flush()
        for product in self.products:
            retail = _money(math.exp(rng.uniform(math.log(9), math.log(900))))
            self.prices[product.id] = retail
            db.session.add(Price(product_id=product.id, kind="retail", amount=retail, effective_from=since))
            for level, share in (("province", "0.60"), ("city", "0.65"), ("county", "0.70")):
                db.session.add(Price(product_id=product.id, kind="distributor", level=level, effective_from=since,
                                     amount=(retail * Decimal(share)).quantize(CENT)))
            expiry = self.today + timedelta(days=rng.randint(120, 720)) if product.tracking == "batch" else None
            db.session.add(Batch(product_id=product.id, code=f"L{product.id}" if expiry else DEFAULT_BATCH,
                                 expiry_date=expiry, created_at=since))
        db.session.flush()
        self.batches = dict(db.session.execute(select(Batch.product_id, Batch.id).where(
            Batch.product_id.in_([p.id for p in self.products]))).all())
        # Popularity: a long tail (Zipf), shuffled so that popular products are not the first ids.
        popularity = [1 / (rank + 1) for rank in range(n)]
        rng.shuffle(popularity)
        self.popularity = {p.id: w for p, w in zip(self.products, popularity, strict=True)}

    def network(self) -> None:
        """Distributors in a five-level tree, each with a county of its own (exclusive), a warehouse and a login."""
        from stdnum.cn import ric

        from dms.accounts.models import Role, User
        from dms.accounts.passwords import hash_password
        from dms.distributors.models import Distributor, TerritoryGrant, UplineLink, Warehouse

        rng, n = self.rng, self.sizes.distributors
        counties = list(db.session.scalars(text("SELECT code FROM regions WHERE level = 'county' ORDER BY code")))
        taken = set(db.session.scalars(text("SELECT region_code FROM territory_grants")))
        counties = [c for c in counties if c not in taken]
        if len(counties) < n:
            raise ValueError(f"only {len(counties)} free counties for {n} distributors")
        step = len(counties) / n
        counties = [counties[int(i * step)] for i in range(n)]  # spread over every province
        depths, left = [], n
        for depth, share in enumerate(TREE_SHARES, start=1):
            count = max(1, round(n * share))
            depths += [depth] * min(count, left)
            left -= min(count, left)
        depths += [5] * left
        since = self.start - timedelta(days=60)
        password_hash = hash_password(PASSWORD)
        role = db.session.scalar(select(Role).where(Role.code == "distributor"))
        stamp = f"{self.sizes.seed % 1000:03d}"
        by_depth: dict[int, list] = {}
        self.distributors = []
        # Depth by depth, one flush each: a distributor's upline (one depth up) has its id by then.
        for depth in sorted(set(depths)):
            batch = []
            for i, county in ((i, c) for i, (d, c) in enumerate(zip(depths, counties, strict=True)) if d == depth):
                body = f"{county}19{70 + i % 30:02d}0101{i % 1000:03d}"
                parent = rng.choice(by_depth[depth - 1]) if depth > 1 else None
                batch.append(Distributor(kind="person", name=f"规模经销商{i + 1:04d}", phone=f"13{stamp}{i:06d}",
                                         id_number=body + ric.calc_check_digit(body + "0"),
                                         level=DEPTH_LEVEL.get(depth, "county"), region_code=county, exclusive=True,
                                         profit_share=Decimal("10.00"), upline_id=parent.id if parent else None,
                                         created_at=since, updated_at=since))
            db.session.add_all(batch)
            db.session.flush()
            by_depth[depth] = batch
            self.distributors.extend(batch)
        for n, d in enumerate(self.distributors, start=1):
            db.session.add(Warehouse(name=f"{d.name}仓", distributor_id=d.id, region_code=d.region_code,
                                     created_at=since))
            db.session.add(TerritoryGrant(distributor_id=d.id, region_code=d.region_code, exclusive=True,
                                          effective_from=since.date(), note=NOTE))
            if d.upline_id is not None:
                db.session.add(UplineLink(distributor_id=d.id, upline_id=d.upline_id, effective_from=since, note=NOTE))
            user = User(username=f"sc{n:04d}", display_name=d.name, password_hash=password_hash,
                        distributor_id=d.id, created_at=since)
            user.roles = [role]
            db.session.add(user)
        db.session.flush()
        self.warehouses = dict(db.session.execute(select(Warehouse.distributor_id, Warehouse.id).where(
            Warehouse.distributor_id.in_([d.id for d in self.distributors]))).all())

    def sellers(self) -> None:
        """Each distributor's upline chain, the products it stocks and how much it sells (a lognormal weight)."""
        rng = self.rng
        upline = {d.id: d.upline_id for d in self.distributors}
        product_ids = [p.id for p in self.products]
        self.sellers_by_id, self.seller_weights = {}, []
        stocked = min(len(product_ids), 60)
        for d in self.distributors:
            chain, up = [d.id], upline[d.id]
            while up is not None and len(chain) < len(LEVEL_RATES):
                chain.append(up)
                up = upline[up]
            chosen = set()
            weights = [self.popularity[p] for p in product_ids]
            while len(chosen) < stocked:
                chosen.update(rng.choices(product_ids, weights=weights, k=stocked - len(chosen)))
            products = sorted(chosen)
            self.sellers_by_id[d.id] = Seller(d.id, self.warehouses[d.id], d.region_code, tuple(chain), products,
                                              list(accumulate(self.popularity[p] for p in products)))
            self.seller_weights.append(rng.lognormvariate(0, 0.8))
        self.seller_list = list(self.sellers_by_id.values())
        self.seller_cumulative = list(accumulate(self.seller_weights))

    # --- customers ----------------------------------------------------------------------------

    def customers(self) -> None:
        """Customers in proportion to each distributor's sales, in its county, joining over the two years."""
        rng, first = self.rng, self.start - timedelta(days=120)
        span = (self.now - timedelta(days=7) - first).total_seconds()
        counts = [max(c, 1) for c in _spread(self.sizes.customers, self.seller_weights)]
        cid = self.ids.take("customers", sum(counts))
        aid = self.ids.take("customer_addresses", sum(counts))
        customer_rows, address_rows = [], []
        columns = ("id", "distributor_id", "kind", "name", "phone", "region_code", "street", "address", "source",
                   "note", "tier_override_reason", "created_at")
        sources = ("walk_in", "phone", "mini_program", "referral", "campaign", "other")
        for seller, count in zip(self.seller_list, counts, strict=True):
            # Half were customers before the window; the rest joined during it, more of them early on.
            times = sorted(first - timedelta(days=rng.uniform(0, 200)) if rng.random() < 0.5
                           else first + timedelta(seconds=span * rng.random() ** 2) for _ in range(count))
            for at in times:
                name, phone = f"客户{cid:07d}", f"15{cid:09d}"
                street = f"第{cid % 37 + 1}街道"
                address = f"{cid % 300 + 1}号"
                seller.customers.append((at, cid, name, phone, street, address))
                seller.customer_times.append(at)
                customer_rows.append((cid, seller.id, "person", name, phone, seller.region_code, street, address,
                                      rng.choice(sources), "", "", at))
                address_rows.append((aid, cid, "", seller.region_code, street, address, True))
                cid += 1
                aid += 1
        self.writer.write("customers", columns, customer_rows)
        self.writer.write("customer_addresses", ("id", "customer_id", "label", "region_code", "street", "address",
                                                 "is_default"), address_rows)

    # --- orders -------------------------------------------------------------------------------

    def rule_version(self) -> None:
        """The published rule version the ledger was accrued under: three levels, net base, 7 days' hold."""
        from dms.commissions.models import RuleLevel, RuleVersion

        number = (db.session.scalar(select(func.max(RuleVersion.number))) or 0) + 1
        version = RuleVersion(number=number, name="规模演示 scale", status="published", mode="multi",
                              max_levels=len(LEVEL_RATES), base="net", compression=False, hold_days=HOLD_DAYS,
                              effective_from=self.rule_from, published_at=self.rule_from, note=NOTE)
        version.levels = [RuleLevel(level=i + 1, rate=rate) for i, rate in enumerate(LEVEL_RATES)]
        db.session.add(version)
        db.session.flush()
        self.version_id = version.id

    def orders(self) -> None:
        """A million orders (or as many as asked), day by day, written CHUNK orders at a time."""
        rng, today = self.rng, self.today
        per_day = _spread(self.sizes.orders, _day_weights(self.first_day, self.sizes.days))
        self.issued, self.reserved, self.returned = {}, {}, {}  # (warehouse, product) -> units
        self.mid = self.start + timedelta(days=self.sizes.days // 2)
        self.issued_early = {}
        buffer = _Buffer(self.writer)
        order_id = self.ids.take("orders", self.sizes.orders)
        # Hours of the business day at which orders are placed (08:00-22:00, peaks at noon and evening).
        hours = [h + m / 60 for h in range(8, 22) for m in (0, 30)]
        hour_weights = list(accumulate(1.6 if 11 <= h < 13 or 18 <= h < 21 else 1.0 for h in hours))
        for n, count in enumerate(per_day):
            day = self.first_day + timedelta(days=n)
            midnight = datetime.combine(day, datetime.min.time()) - self.offset  # the business day's start, UTC
            picks = rng.choices(self.seller_list, cum_weights=self.seller_cumulative, k=count)
            times = sorted(midnight + timedelta(hours=hour + rng.random() / 2)
                           for hour in rng.choices(hours, cum_weights=hour_weights, k=count))
            for seller, created in zip(picks, times, strict=True):
                if created > self.now:
                    created = self.now - timedelta(minutes=rng.uniform(1, 600))
                self._order(buffer, order_id, seller, created, today)
                order_id += 1
            if buffer.orders >= CHUNK:
                buffer.flush(self.ids)
        buffer.flush(self.ids)

    def _order(self, buffer, order_id: int, seller: Seller, created: datetime, today: date) -> None:
        rng = self.rng
        position = bisect_right(seller.customer_times, created)
        customer = seller.customers[rng.randrange(position)] if position else None
        lines = rng.choices((1, 2, 3), cum_weights=LINE_COUNTS)[0]
        products = set()
        while len(products) < lines:
            products.add(seller.products[bisect_right(seller.product_weights,
                                                      rng.random() * seller.product_weights[-1])])
        lines = [(p, q) for p, q in zip(sorted(products), rng.choices(QUANTITIES, cum_weights=QUANTITY_WEIGHTS,
                                                                       k=len(products)), strict=True)]
        total = sum((self.prices[p] * q for p, q in lines), Decimal("0.00"))
        # The timeline: each step follows the previous; the order has reached the last step not in the future.
        paid = created + timedelta(minutes=rng.uniform(2, 40))
        assigned = paid + timedelta(minutes=rng.uniform(10, 90))
        shipped = assigned + timedelta(hours=rng.uniform(0.5, 6))
        delivered = shipped + timedelta(hours=rng.uniform(2, 30))
        completed = delivered + timedelta(hours=rng.uniform(24, 30))
        steps = [("pending", created), ("paid", paid), ("assigned", assigned), ("shipped", shipped),
                 ("delivered", delivered), ("completed", completed)]
        fate = rng.random()
        cancelled = refunded = None
        if fate < 0.035 and paid < self.now:  # cancelled before payment
            steps = steps[:1]
            cancelled = created + timedelta(minutes=rng.uniform(5, 50))
            if cancelled > self.now:
                cancelled = None
        elif fate < 0.07:
            refunded = completed + timedelta(days=rng.uniform(1, 10))
            if refunded > self.now:
                refunded = None
        steps = [(status, at) for status, at in steps if at <= self.now]
        status = steps[-1][0]
        if cancelled:
            status = "cancelled"
            steps.append(("cancelled", cancelled))
        if refunded:
            status = "refunded"
            steps.append(("refunded", refunded))
        at = dict(steps)
        warehouse = seller.warehouse_id
        buffer.order((order_id, status, seller.id, warehouse, customer[1] if customer else None,
                      customer[2] if customer else "", customer[3] if customer else "", seller.region_code,
                      customer[4] if customer else "", customer[5] if customer else "", total, Decimal("0.00"),
                      total, "CNY", Decimal("0.00"), "api" if order_id % 3 == 0 else "web", NOTE, created,
                      steps[-1][1], at.get("paid"), at.get("assigned"), at.get("shipped"), at.get("delivered"),
                      at.get("completed"), cancelled, refunded))
        previous = None
        for state, moment in steps:
            buffer.event(order_id, moment, "placed" if previous is None else "transition", previous, state)
            previous = state
        reference = f"DD{order_id:06d}"
        for product, quantity in lines:
            buffer.line(order_id, product, quantity, self.prices[product])
            key = (warehouse, product)
            batch = self.batches[product]
            buffer.movement(created, warehouse, product, batch, "reserve", 0, quantity, order_id, reference)
            if "shipped" in at:
                buffer.movement(at["shipped"], warehouse, product, batch, "issue", -quantity, -quantity, order_id,
                                reference)
                self.issued[key] = self.issued.get(key, 0) + quantity
                if at["shipped"] < self.mid:
                    self.issued_early[key] = self.issued_early.get(key, 0) + quantity
            elif cancelled:
                buffer.movement(cancelled, warehouse, product, batch, "release", 0, -quantity, order_id, reference)
            else:
                self.reserved[key] = self.reserved.get(key, 0) + quantity
            if refunded:
                buffer.movement(refunded, warehouse, product, batch, "return", quantity, 0, order_id, reference)
                self.returned[key] = self.returned.get(key, 0) + quantity
        if "paid" in at:
            buffer.payment(order_id, "payment", rng.choice(("wechat", "wechat", "alipay")), f"WX{order_id:010d}",
                           total, at["paid"])
        if refunded:
            buffer.payment(order_id, "refund", "wechat", f"RF{order_id:010d}", total, refunded)
        if "delivered" in at and rng.random() < 0.3:
            rated = min(at["delivered"] + timedelta(hours=rng.uniform(1, 20)), at.get("completed", self.now),
                        self.now)
            buffer.rating(order_id, rng.choices(SCORES, cum_weights=SCORE_WEIGHTS)[0], rated)
        if "completed" in at and at["completed"] >= self.rule_from:
            self._commission(buffer, order_id, seller, total, at["completed"], refunded, today)

    def _commission(self, buffer, order_id, seller, total, completed, refunded, today) -> None:
        """The order's accruals (and clawbacks when refunded), as dms.commissions.ledger would write them."""
        available = business_date(completed) + timedelta(days=HOLD_DAYS)
        period = month_name(month_of(completed))
        for level, (beneficiary, rate) in enumerate(zip(seller.chain, LEVEL_RATES, strict=False), start=1):
            amount = (total * rate / 100).quantize(CENT, rounding=ROUND_HALF_UP)
            if amount <= 0:
                continue
            buffer.entry(order_id, beneficiary, level, "accrual", amount, total, rate, self.version_id, period,
                         "accrued" if available > today else "payable", available, created_at=completed)
            if refunded:
                back = max(business_date(refunded), available)
                buffer.entry(order_id, beneficiary, level, "clawback", -amount, total, rate, self.version_id,
                             month_name(month_of(refunded)), "accrued" if back > today else "payable", back,
                             created_at=refunded)

    # --- stock --------------------------------------------------------------------------------

    def stock(self) -> None:
        """Receipts that cover every issue (one before the window, one half-way), then the balances they leave;
        a tenth of the products end below their threshold so that there is something to alert on."""
        rng = self.rng
        thresholds = {p.id: p.low_stock_threshold for p in self.products}
        movements, balances = [], []
        keys = {(s.warehouse_id, p) for s in self.seller_list for p in s.products}
        hq = self._hq_warehouse()
        keys |= {(hq, p.id) for p in self.products}
        movement_id = self.ids.take("stock_movements", 2 * len(keys))
        balance_id = self.ids.take("stock_balances", len(keys))
        opening = self.start - timedelta(days=2)
        for warehouse, product in sorted(keys):
            key = (warehouse, product)
            batch = self.batches[product]
            issued, early = self.issued.get(key, 0), self.issued_early.get(key, 0)
            reserved, returned = self.reserved.get(key, 0), self.returned.get(key, 0)
            low = rng.random() < 0.1
            first = early + rng.randint(5, 40) if warehouse != hq else rng.randint(2000, 8000)
            second = (issued - early) + reserved + (rng.randint(0, thresholds[product]) if low
                                                    else rng.randint(thresholds[product] + 5, 200))
            for at, quantity in ((opening, first), (self.mid, second)):
                if quantity > 0:
                    movements.append((movement_id, at, warehouse, product, batch, "receipt", quantity, 0, "", "receipt",
                                      None, "system"))
                movement_id += 1
            on_hand = first + max(second, 0) - issued + returned
            balances.append((balance_id, warehouse, product, batch, on_hand, reserved, self.now))
            balance_id += 1
        self.writer.write("stock_movements", _Buffer.MOVEMENT_COLUMNS, movements)
        self.writer.write("stock_balances", ("id", "warehouse_id", "product_id", "batch_id", "on_hand", "reserved",
                                             "updated_at"), balances)

    def _hq_warehouse(self) -> int:
        from dms.distributors.models import Warehouse

        found = db.session.scalar(select(Warehouse.id).where(Warehouse.distributor_id.is_(None))
                                  .order_by(Warehouse.id).limit(1))
        if found is None:
            warehouse = Warehouse(name="总部中心仓")
            db.session.add(warehouse)
            db.session.flush()
            found = warehouse.id
        return found


class _Buffer:
    """The rows of the orders generated since the last flush, table by table."""

    ORDER_COLUMNS = ("id", "status", "distributor_id", "warehouse_id", "customer_id", "ship_name", "ship_phone",
                     "ship_region_code", "ship_street", "ship_address", "subtotal", "discount", "total", "currency",
                     "refund_due", "source", "note", "created_at", "updated_at", "paid_at", "assigned_at",
                     "shipped_at", "delivered_at", "completed_at", "cancelled_at", "refunded_at")
    MOVEMENT_COLUMNS = ("id", "at", "warehouse_id", "product_id", "batch_id", "kind", "on_hand_delta",
                        "reserved_delta", "reason", "source_type", "source_id", "actor_label")

    def __init__(self, writer: Writer):
        self.writer = writer
        self.orders = 0
        self.rows = {name: [] for name in ("orders", "order_lines", "order_events", "order_payments",
                                           "order_ratings", "stock_movements", "commission_entries")}

    def order(self, row) -> None:
        self.rows["orders"].append(row)
        self.orders += 1

    def line(self, order_id, product_id, quantity, price) -> None:
        self.rows["order_lines"].append((order_id, product_id, quantity, price, Decimal("0.00"), price * quantity))

    def event(self, order_id, at, kind, before, after) -> None:
        self.rows["order_events"].append((order_id, at, kind, before, after, "", "system"))

    def payment(self, order_id, kind, method, reference, amount, at) -> None:
        self.rows["order_payments"].append((order_id, kind, method, reference, amount, at))

    def rating(self, order_id, score, at) -> None:
        self.rows["order_ratings"].append((order_id, score, "", "web", at, "system"))

    def movement(self, at, warehouse, product, batch, kind, on_hand, reserved, order_id, reference) -> None:
        self.rows["stock_movements"].append((at, warehouse, product, batch, kind, on_hand, reserved, reference,
                                             "order", str(order_id), "system"))

    def entry(self, *row, created_at: datetime) -> None:
        self.rows["commission_entries"].append((*row, "", "", created_at))

    def flush(self, ids: Ids) -> None:
        """Give the rows their ids and write them, parents first."""
        columns = {
            "orders": self.ORDER_COLUMNS,
            "order_lines": ("id", "order_id", "product_id", "quantity", "unit_price", "discount", "amount"),
            "order_events": ("id", "order_id", "at", "kind", "from_status", "to_status", "note", "actor_label"),
            "order_payments": ("id", "order_id", "kind", "method", "reference", "amount", "at"),
            "order_ratings": ("id", "order_id", "score", "comment", "source", "at", "actor_label"),
            "stock_movements": self.MOVEMENT_COLUMNS,
            "commission_entries": ("id", "order_id", "beneficiary_id", "level", "kind", "amount", "base", "rate",
                                   "rule_version_id", "period", "status", "available_on", "reason", "hold_reason",
                                   "created_at"),
        }
        for table, rows in self.rows.items():
            if not rows:
                continue
            if table == "orders":
                numbered = rows
            else:
                first = ids.take(table, len(rows))
                numbered = [(first + i, *row) for i, row in enumerate(rows)]
            self.writer.write(table, columns[table], numbered)
            rows.clear()
        self.orders = 0


def generate(sizes: Sizes | None = None, echo=print) -> dict:
    """Fill the database with the large dataset (refused when one is there); commit; return the row counts."""
    from dms.accounts.cli import seed_demo_accounts
    from dms.commissions import settlement

    sizes = sizes or Sizes()
    if already_made():
        raise ValueError("the large dataset is in this database already")
    began = time.perf_counter()
    gc.disable()  # millions of short-lived tuples: the cyclic collector would only slow the run down
    try:
        seed_demo_accounts()
        run = Generator(sizes, echo)
        for label, step in (("catalog", run.catalog), ("network", run.network), ("sellers", run.sellers),
                            ("rule version", run.rule_version)):
            started = time.perf_counter()
            step()
            run._phase(label, started)
        with BulkLoad(run.writer.connection):
            for label, step in (("customers", run.customers), ("orders", run.orders), ("stock", run.stock)):
                started = time.perf_counter()
                step()
                run._phase(label, started)
            started = time.perf_counter()
        run._phase("indexes and constraints", started)
        run.writer.reset_sequences()
        db.session.commit()
    finally:
        gc.enable()
    for month in run.settled:
        started = time.perf_counter()
        settlement.run_now(month_name(month))
        run._phase(f"settlement {month_name(month)}", started)
    if run.writer.postgresql:
        started = time.perf_counter()
        db.session.execute(text("ANALYZE"))
        db.session.commit()
        run._phase("analyze", started)
    counts = dict(run.writer.counts)
    counts["distributors"] = len(run.distributors)
    counts["products"] = len(run.products)
    counts["seconds"] = round(time.perf_counter() - began, 1)
    return counts


def seed_large(orders: int, distributors: int, customers: int, products: int, seed: int) -> list[str]:
    """`flask dms seed-demo --scale large`: the dataset, its row counts and how long it took."""
    from flask_babel import gettext as _

    counts = generate(Sizes(orders=orders, distributors=distributors, customers=customers, products=products,
                            seed=seed))
    seconds = counts.pop("seconds")
    lines = [f"  {table}: {count:,}" for table, count in sorted(counts.items())]
    return [_("Large dataset ready in %(seconds)s s:", seconds=seconds), *lines,
            _("Distributor logins sc0001 ... with the password %(password)s.", password=PASSWORD)]


SCALES["large"] = seed_large
