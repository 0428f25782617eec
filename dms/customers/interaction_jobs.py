"""The daily follow-up reminders: one notification per follow-up due today or overdue, to its owner."""

from flask import current_app
from flask_babel import force_locale, format_date
from flask_babel import gettext as _
from sqlalchemy import select, update
from sqlalchemy.orm import selectinload

from dms.accounts.models import User
from dms.core.schedule import register
from dms.core.services import notify
from dms.core.time import business_today, utcnow
from dms.customers.interactions import KIND_LABELS
from dms.customers.models import Interaction
from dms.extensions import db


def _link() -> str | None:
    """The follow-ups page, built without a request (jobs have none)."""
    try:
        return current_app.url_map.bind("localhost").build("customers.follow_ups")
    except Exception:  # the views are not registered (a bare service context): no link rather than no notice
        return None


def describe(interaction: Interaction, today) -> tuple[str, str]:
    """The reminder's title and body in the current locale."""
    customer = interaction.customer
    if interaction.follow_up_on < today:
        title = _("Follow-up overdue: %(customer)s", customer=customer.name)
    else:
        title = _("Follow-up due today: %(customer)s", customer=customer.name)
    body = _("Due on %(date)s, after the %(kind)s of %(when)s. Outcome: %(outcome)s",
             date=format_date(interaction.follow_up_on, "medium"), kind=str(KIND_LABELS.get(interaction.kind, "")),
             when=format_date(interaction.happened_at.date(), "medium") if interaction.happened_at else "—",
             outcome=interaction.outcome or "—")
    return title, body


def send_follow_up_reminders() -> dict:
    """Periodic (daily): notify each open follow-up's owner once when it is due today or overdue.

    The follow-ups are claimed by one conditional UPDATE (reminded_at IS NULL -> now) and only the
    rows it changed are notified, in the same transaction: a retried or concurrent run finds them
    claimed (PostgreSQL re-checks the condition after the first run's commit; SQLite has one writer),
    so nobody is reminded twice.
    """
    today, now = business_today(), utcnow()
    active_owners = select(User.id).where(User.active.is_(True))
    claimed = list(db.session.scalars(
        update(Interaction)
        .where(Interaction.status == "done", Interaction.follow_up_on.is_not(None),
               Interaction.follow_up_on <= today, Interaction.follow_up_done_at.is_(None),
               Interaction.reminded_at.is_(None), Interaction.user_id.in_(active_owners))
        .values(reminded_at=now).returning(Interaction.id),
        execution_options={"synchronize_session": False}))
    if not claimed:
        return {"reminded": 0}
    rows = db.session.scalars(select(Interaction).where(Interaction.id.in_(claimed))
                              .options(selectinload(Interaction.customer), selectinload(Interaction.user))
                              .order_by(Interaction.id))
    default, link = current_app.config.get("BABEL_DEFAULT_LOCALE", "zh_CN"), _link()
    for interaction in rows:
        with force_locale(interaction.user.locale or default):
            title, body = describe(interaction, today)
        notify(interaction.user_id, title, body, link)
    return {"reminded": len(claimed)}


# 08:00 in the scheduler's time zone (DMS_TIMEZONE): at the start of the working day the follow-up is due.
register("dms.customers.interaction_jobs.send_follow_up_reminders", cron="0 8 * * *", queue="alerts")
