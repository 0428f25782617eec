"""Core services: notifications and the user's interface language."""

from sqlalchemy import select, update

from dms.core.errors import NotFound
from dms.core.models import Notification
from dms.core.time import utcnow
from dms.extensions import db


def notify(user_id: int, title: str, body: str = "", link: str | None = None) -> Notification:
    """Add a notification for a user (shown under the bell)."""
    note = Notification(user_id=user_id, title=title[:200], body=body, link=link)
    db.session.add(note)
    db.session.flush()
    return note


def mark_read(user, notification_id: int) -> Notification:
    """Mark one of the user's notifications read; another user's answers NotFound."""
    note = db.session.scalar(select(Notification).where(
        Notification.id == notification_id, Notification.user_id == user.id))
    if note is None:
        raise NotFound()
    note.read_at = note.read_at or utcnow()
    db.session.flush()
    return note


def mark_all_read(user) -> int:
    """Mark all of the user's unread notifications read; return how many."""
    result = db.session.execute(update(Notification).where(
        Notification.user_id == user.id, Notification.read_at.is_(None)).values(read_at=utcnow()))
    return result.rowcount


def set_user_locale(user, locale: str):
    """Save the user's interface language."""
    user.locale = locale
    db.session.flush()
