"""Domain events through the outbox: a lower area announces, higher areas subscribe (DESIGN.md, areas).

`emit("order.completed", order_id)` records one job in the caller's transaction, keyed by the event
and the record, so an event is delivered at least once and enqueued at most once whatever retries
happen; it goes nowhere if the transaction rolls back. `subscribe` names a handler by dotted path (the
subscribing area registers it on import; the emitting area never imports it). Handlers take the
record id and must be idempotent, since a job may run twice.
"""

from dms.core.jobs import enqueue, resolve

_SUBSCRIBERS: dict[str, list[str]] = {}


def subscribe(event: str, handler: str) -> None:
    """Have `handler` (a dotted function name) called with the record id whenever `event` is emitted."""
    handlers = _SUBSCRIBERS.setdefault(event, [])
    if handler not in handlers:
        handlers.append(handler)


def subscribers(event: str) -> list[str]:
    """The handlers of `event`, in the order they subscribed."""
    return list(_SUBSCRIBERS.get(event, ()))


def emit(event: str, record_id: int):
    """Record that `event` happened to `record_id`; its delivery job runs after the commit."""
    return enqueue(deliver, event, record_id, key=f"event:{event}:{record_id}")


def deliver(event: str, record_id: int) -> dict:
    """The job: call every subscriber of `event` with the record id; the names called are its result."""
    called = []
    for handler in subscribers(event):
        resolve(handler)(record_id)
        called.append(handler)
    return {"event": event, "record_id": record_id, "handlers": called}
