"""The audit trail: services call `record` in the same transaction as the change they audit."""

from flask import g, has_request_context, request
from flask_login import current_user

from dms.core.models import AuditLog
from dms.extensions import db


def _actor_of(actor):
    if actor is None and has_request_context() and current_user and current_user.is_authenticated:
        actor = current_user
    if actor is None:
        return None, "system"
    return getattr(actor, "id", None), getattr(actor, "label", None) or str(actor)


def diff(before: dict, after: dict, sensitive: tuple[str, ...] = ()) -> dict:
    """Changed fields as {field: [before, after]}; sensitive fields say only that they changed."""
    changes = {}
    for field in sorted(set(before) | set(after)):
        old, new = before.get(field), after.get(field)
        if old != new:
            changes[field] = ["***", "***"] if field in sensitive else [old, new]
    return changes


def record(action: str, record_type: str, record_id=None, summary: str = "", changes: dict | None = None,
           actor=None) -> AuditLog:
    """Append one audit entry for `actor` (default: the logged-in user) and flush it."""
    actor_id, actor_label = _actor_of(actor)
    entry = AuditLog(
        actor_id=actor_id,
        actor_label=str(actor_label)[:120],
        action=action,
        record_type=record_type,
        record_id=None if record_id is None else str(record_id),
        summary=summary[:255],
        changes=changes or None,
    )
    if has_request_context():
        entry.ip = request.remote_addr
        entry.request_id = g.get("request_id")
    db.session.add(entry)
    db.session.flush()
    return entry
