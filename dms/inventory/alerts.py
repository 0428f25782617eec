"""Stock alerts (库存预警): low stock and near expiry, raised at most once per product, warehouse and day.

`check` compares a warehouse's stock with its thresholds and expiry window. An alert is raised by
INSERT ... ON CONFLICT DO NOTHING on (warehouse, product, kind, day) and only the transaction whose
insert really created the row notifies: a retried job, a repeated check or two concurrent checks
notify once. An alert still open from an earlier day stays open (no new one, no new notice); an open
alert whose condition no longer holds is closed.

Checks run as jobs on the `alerts` queue: after every transaction that moved stock (the session
listeners below enqueue one job per warehouse touched, in that transaction's outbox) and daily for
every active warehouse (`dms.inventory.jobs`).
"""

from contextvars import ContextVar
from dataclasses import dataclass
from datetime import date, timedelta

from flask import current_app, has_app_context
from flask_babel import force_locale, format_date
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import case, event, exists, func, inspect, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from dms.accounts.models import RolePermission, User, user_roles
from dms.catalog.models import Product
from dms.core import jobs
from dms.core.mail import mail_configured
from dms.core.models import Job
from dms.core.scope import HQ_SCOPE
from dms.core.services import notify
from dms.core.time import business_today, utcnow
from dms.distributors.models import Warehouse
from dms.extensions import db
from dms.inventory.fefo import not_expired
from dms.inventory.models import ALERT_KINDS, Batch, StockAlert, StockBalance, StockMovement, WarehouseThreshold
from dms.inventory.services import begin_stock_write
from dms.inventory.thresholds import thresholds_for

CHECK_JOB = "dms.inventory.jobs.check_stock_alerts"
MAIL_JOB = "dms.inventory.jobs.send_alert_mail"
# The jobs that are the check itself: what they commit must not enqueue another check.
ALERT_JOBS = (CHECK_JOB, "dms.inventory.jobs.check_all_stock_alerts", MAIL_JOB)
KIND_LABELS = {"low_stock": _l("Low stock"), "near_expiry": _l("Near expiry")}
STATUS_LABELS = {"open": _l("Open"), "closed": _l("Closed")}
_MOVED_KEY = "dms_moved_stock"  # StockMovement objects flushed in the open transaction
_checking: ContextVar[bool] = ContextVar("dms_checking_stock_alerts", default=False)


def near_expiry_days() -> int:
    """The near-expiry window in days (NEAR_EXPIRY_DAYS, default 30)."""
    return int(current_app.config.get("NEAR_EXPIRY_DAYS", 30))


@dataclass(frozen=True)
class Condition:
    """What a check saw for one product and kind: available vs threshold, or the stock expiring soon."""

    product_id: int
    kind: str
    quantity: int
    threshold: int | None = None
    expiry_date: date | None = None


def conditions(warehouse, product_ids: set[int] | None = None, on: date | None = None) -> dict:
    """(product id, kind) -> Condition for every alert condition that holds in `warehouse` now.

    A few grouped queries whatever the number of products (the daily run checks them all): the
    available stock of non-expired batches per product, the thresholds in force, and the stock of
    batches that are not expired but expire within the window (`fefo.near_expiry`'s meaning).
    """
    on = on or business_today()

    def only(stmt, column):
        return stmt.where(column.in_(product_ids)) if product_ids is not None else stmt

    available = func.sum(case((not_expired(on), StockBalance.on_hand - StockBalance.reserved), else_=0))
    stocked = dict(db.session.execute(only(
        select(StockBalance.product_id, available).join(Batch, Batch.id == StockBalance.batch_id)
        .where(StockBalance.warehouse_id == warehouse.id).group_by(StockBalance.product_id),
        StockBalance.product_id)).all())
    # Products with a warehouse threshold are watched even before their first receipt there.
    overridden = set(db.session.scalars(only(
        select(WarehouseThreshold.product_id).where(WarehouseThreshold.warehouse_id == warehouse.id,
                                                     WarehouseThreshold.threshold > 0),
        WarehouseThreshold.product_id)))
    found: dict[tuple[int, str], Condition] = {}
    candidates = set(stocked) | overridden
    if candidates:
        # Only products on sale can run short; stock of an unavailable product may still expire.
        products = list(db.session.scalars(select(Product).where(Product.id.in_(candidates),
                                                                 Product.status == "available")))
        for product_id, threshold in thresholds_for(warehouse, products).items():
            have = int(stocked.get(product_id) or 0)
            if threshold > 0 and have < threshold:
                found[(product_id, "low_stock")] = Condition(product_id, "low_stock", have, threshold)
    expiring = db.session.execute(only(
        select(StockBalance.product_id, func.sum(StockBalance.on_hand), func.min(Batch.expiry_date))
        .join(Batch, Batch.id == StockBalance.batch_id)
        .where(StockBalance.warehouse_id == warehouse.id, StockBalance.on_hand > 0,
               Batch.expiry_date >= on, Batch.expiry_date <= on + timedelta(days=near_expiry_days()))
        .group_by(StockBalance.product_id), StockBalance.product_id)).all()
    for product_id, quantity, first_expiry in expiring:
        found[(product_id, "near_expiry")] = Condition(product_id, "near_expiry", int(quantity), None, first_expiry)
    return found


def _insert_alert(warehouse, condition: Condition, on: date) -> int | None:
    """Create the day's alert unless it exists (race-safe); the new row's id, or None when it existed."""
    dialect = db.session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    table = StockAlert.__table__
    stmt = (insert(table).values(warehouse_id=warehouse.id, product_id=condition.product_id, kind=condition.kind,
                                 day=on, status="open", quantity=condition.quantity, threshold=condition.threshold,
                                 expiry_date=condition.expiry_date, opened_at=utcnow())
            .on_conflict_do_nothing(index_elements=["warehouse_id", "product_id", "kind", "day"])
            .returning(table.c.id))
    return db.session.execute(stmt).scalar()


def check(warehouse, products=None, on: date | None = None) -> tuple[list[StockAlert], list[StockAlert]]:
    """Raise the alerts whose condition holds in `warehouse` and close those that recovered; (raised, closed).

    `products` (products or ids) narrows the check to them (after a movement); None checks every
    product with stock or a threshold there. Only newly raised alerts notify.
    """
    on = on or business_today()
    product_ids = None if products is None else {p if isinstance(p, int) else p.id for p in products}
    if product_ids is not None and not product_ids:
        return [], []
    token = _checking.set(True)
    try:
        begin_stock_write()  # SQLite: take the writer lock now, so what is read stays true until commit
        found = conditions(warehouse, product_ids, on)
        stmt = select(StockAlert).where(StockAlert.warehouse_id == warehouse.id, StockAlert.status == "open")
        if product_ids is not None:
            stmt = stmt.where(StockAlert.product_id.in_(product_ids))
        still_open = {(a.product_id, a.kind): a for a in db.session.scalars(stmt)}
        closed = [a for key, a in still_open.items() if key not in found]
        if closed:
            db.session.execute(update(StockAlert).where(StockAlert.id.in_([a.id for a in closed]),
                                                        StockAlert.status == "open")
                               .values(status="closed", closed_at=utcnow()))
        raised = []
        for key, condition in sorted(found.items()):
            if key in still_open:
                continue  # raised on an earlier day and still open: already notified
            alert_id = _insert_alert(warehouse, condition, on)
            if alert_id is None:
                # Raised earlier today (then recovered, or by a concurrent check): open again, no second notice.
                db.session.execute(update(StockAlert).where(
                    StockAlert.warehouse_id == warehouse.id, StockAlert.product_id == condition.product_id,
                    StockAlert.kind == condition.kind, StockAlert.day == on, StockAlert.status == "closed")
                    .values(status="open", closed_at=None))
                continue
            raised.append(db.session.get(StockAlert, alert_id))
        db.session.flush()
        if raised:
            _notify(warehouse, raised)
        return raised, closed
    finally:
        _checking.reset(token)


# --- who hears of it ----------------------------------------------------------------------------

def _holds(permission: str):
    return exists().where(user_roles.c.user_id == User.id, RolePermission.role_id == user_roles.c.role_id,
                          RolePermission.permission == permission)


def recipients(warehouse) -> list[User]:
    """The warehouse's distributor's users who see stock, and HQ users with inventory.manage and HQ scope."""
    hq = _holds("inventory.manage") & _holds(HQ_SCOPE)
    own = (User.distributor_id == warehouse.distributor_id) & _holds("inventory.view") \
        if warehouse.distributor_id is not None else None
    return list(db.session.scalars(select(User).where(User.active.is_(True), or_(hq, own) if own is not None else hq)
                                   .order_by(User.id)))


def _link(warehouse) -> str | None:
    """The alerts page of the warehouse, as a relative link built without a request."""
    try:
        return current_app.url_map.bind("localhost").build("inventory.list_alerts", {"warehouse": warehouse.id})
    except Exception:  # the views are not registered (a bare service context): no link rather than no notice
        return None


def describe(alert: StockAlert) -> tuple[str, str]:
    """The alert's title and body in the current locale (notification and mail)."""
    product, warehouse = alert.product, alert.warehouse
    if alert.kind == "low_stock":
        return (_("Low stock: %(product)s", product=product.name),
                _("%(warehouse)s has %(available)d of %(product)s available, below the threshold of "
                  "%(threshold)d.", warehouse=warehouse.name, available=alert.quantity, product=product.name,
                  threshold=alert.threshold or 0))
    return (_("Near expiry: %(product)s", product=product.name),
            _("%(warehouse)s has %(quantity)d of %(product)s expiring within %(days)d days (first on %(date)s).",
              warehouse=warehouse.name, quantity=alert.quantity, product=product.name, days=near_expiry_days(),
              date=format_date(alert.expiry_date, "medium") if alert.expiry_date else "—"))


def _notify(warehouse, raised: list[StockAlert]) -> None:
    """One notification per new alert and recipient, in their language; a mail job each when mail is on."""
    default = current_app.config.get("BABEL_DEFAULT_LOCALE", "zh_CN")
    link, mail = _link(warehouse), mail_configured()
    for user in recipients(warehouse):
        with force_locale(user.locale or default):
            for alert in raised:
                title, body = describe(alert)
                notify(user.id, title, body, link)
        if mail and user.email:
            for alert in raised:
                # Keyed by alert and user: the alert row exists once, so its mail is sent once.
                jobs.enqueue(MAIL_JOB, alert.id, user.id, queue="alerts", key=f"stock-alert-mail:{alert.id}:{user.id}")


# --- reading ------------------------------------------------------------------------------------

def alerts_query(actor, status: str | None = "open", kind: str | None = None, warehouse=None):
    """A select of alerts within the actor's scope (a distributor: its own warehouse's), newest first."""
    stmt = select(StockAlert).join(Warehouse, Warehouse.id == StockAlert.warehouse_id)
    if actor is not None and not actor.can(HQ_SCOPE):
        distributor_id = getattr(actor, "distributor_id", None)
        stmt = stmt.where(Warehouse.distributor_id == distributor_id) if distributor_id is not None \
            else stmt.where(Warehouse.id.is_(None))
    if status:
        stmt = stmt.where(StockAlert.status == status)
    if kind in ALERT_KINDS:
        stmt = stmt.where(StockAlert.kind == kind)
    if warehouse is not None:
        stmt = stmt.where(StockAlert.warehouse_id == warehouse.id)
    return stmt


# --- after movements: one check per warehouse touched, in the same transaction's outbox ---------

@event.listens_for(Session, "after_flush")
def _collect_movements(session, flush_context):
    # session.new still lists what this flush inserted.
    moved = [obj for obj in session.new if isinstance(obj, StockMovement)]
    if moved:
        session.info.setdefault(_MOVED_KEY, []).extend(moved)


@event.listens_for(Session, "after_soft_rollback")
def _forget_rolled_back(session, previous_transaction):
    # Rolled-back movements become transient again: a savepoint's rollback keeps the ones before it.
    moved = session.info.get(_MOVED_KEY)
    if moved:
        session.info[_MOVED_KEY] = [m for m in moved if inspect(m).persistent]


def _inside_alert_job(session) -> bool:
    if _checking.get():
        return True
    job_id = jobs.current_job_id()
    if job_id is None:
        return False
    job = session.get(Job, job_id)
    return job is not None and job.name in ALERT_JOBS


@event.listens_for(Session, "before_commit")
def _enqueue_checks(session):
    # Releasing a savepoint fires before_commit too; only the outermost commit enqueues.
    if session.in_nested_transaction() or not has_app_context() or session is not db.session():
        return
    if any(isinstance(obj, StockMovement) for obj in session.new):
        session.flush()  # a movement added but not yet flushed is collected too
    moved = session.info.pop(_MOVED_KEY, None)
    if not moved or _inside_alert_job(session):
        return
    touched: dict[int, set[int]] = {}
    for movement in moved:
        if inspect(movement).persistent:
            touched.setdefault(movement.warehouse_id, set()).add(movement.product_id)
    for warehouse_id, product_ids in sorted(touched.items()):
        jobs.enqueue(CHECK_JOB, warehouse_id, *sorted(product_ids), queue="alerts")
