"""The nightly scoring of customers: RFM parts, score, tier and last order from the orders, in one pass.

It lives in the orders area because it reads orders; the formula itself is the customers area's
(`dms.customers.scoring`). A manual tier override is never touched: the computed tier is stored beside
it and the override keeps winning. Running it twice on a day writes the same figures (idempotent).
"""

from sqlalchemy import select, update

from dms.core.schedule import register
from dms.core.time import business_today, utcnow
from dms.customers import scoring
from dms.customers import services as customers
from dms.customers.models import Customer
from dms.extensions import db
from dms.orders import customer_stats

CHUNK = 1000


def score_customers(today=None) -> dict:
    """Periodic (daily): recompute every customer's rfm_*, rfm_score, tier, last_order_at and scored_at."""
    today = today or business_today()
    rules = customers.tier_rules()
    stats = customer_stats.figures(None, today)  # one grouped query over every customer's orders
    now = utcnow()
    ids = list(db.session.scalars(select(Customer.id).order_by(Customer.id)))
    scored = 0
    for start in range(0, len(ids), CHUNK):
        rows = []
        for customer_id in ids[start:start + CHUNK]:
            figures = stats.get(customer_id) or customer_stats.Figures()
            rfm = scoring.score(figures.last_order_day, figures.orders_in_window, figures.spend_in_window, today,
                                rules)
            scored += rfm.score is not None
            rows.append({"id": customer_id, "rfm_recency": rfm.recency, "rfm_frequency": rfm.frequency,
                         "rfm_monetary": rfm.monetary, "rfm_score": rfm.score, "tier": rfm.tier,
                         "last_order_at": figures.last_order_at, "scored_at": now})
        # An UPDATE by primary key per row, sent as one executemany: no customer objects are loaded.
        db.session.execute(update(Customer), rows)
    db.session.expire_all()
    return {"customers": len(ids), "scored": scored, "day": today.isoformat()}


register("dms.orders.customer_jobs.score_customers", cron="30 2 * * *")
