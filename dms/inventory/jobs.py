"""The inventory area's background jobs (queue alerts): stock alert checks and their mails."""

from flask import current_app
from flask_babel import force_locale
from sqlalchemy import select

from dms.accounts.models import User
from dms.core import jobs
from dms.core.mail import send_mail
from dms.core.schedule import register
from dms.core.time import business_today
from dms.distributors.models import Warehouse
from dms.extensions import db
from dms.inventory import alerts
from dms.inventory.models import StockAlert


def check_stock_alerts(warehouse_id: int, *product_ids: int):
    """Job: check the warehouse's alerts (only these products when given); idempotent by the alerts' day key."""
    warehouse = db.session.get(Warehouse, warehouse_id)
    if warehouse is None:  # deleted since: nothing to watch
        return {"warehouse": warehouse_id, "raised": 0, "closed": 0}
    raised, closed = alerts.check(warehouse, list(product_ids) or None)
    return {"warehouse": warehouse_id, "raised": len(raised), "closed": len(closed)}


def check_all_stock_alerts():
    """Periodic (daily): enqueue a full check of every active warehouse, once per warehouse and day.

    One job per warehouse rather than one long transaction: each is retried alone and workers share
    them. The key makes a second run on the same day (a scheduler restart) enqueue nothing new.
    """
    day = business_today().isoformat()
    ids = list(db.session.scalars(select(Warehouse.id).where(Warehouse.active.is_(True)).order_by(Warehouse.id)))
    for warehouse_id in ids:
        jobs.enqueue(check_stock_alerts, warehouse_id, queue="alerts", key=f"stock-alerts:{warehouse_id}:{day}")
    return {"warehouses": len(ids)}


def send_alert_mail(alert_id: int, user_id: int):
    """Job: mail one recipient about one alert, in their language (skipped once the alert has closed)."""
    alert, user = db.session.get(StockAlert, alert_id), db.session.get(User, user_id)
    if alert is None or user is None or not user.email or not user.active or alert.status != "open":
        return {"sent": False}
    with force_locale(user.locale or current_app.config.get("BABEL_DEFAULT_LOCALE", "zh_CN")):
        subject, body = alerts.describe(alert)
    send_mail(user.email, subject, body)
    return {"sent": True}


# 07:30 in the scheduler's time zone (DMS_TIMEZONE): after the day's expiry date has turned, before work starts.
register("dms.inventory.jobs.check_all_stock_alerts", cron="30 7 * * *", queue="alerts")
