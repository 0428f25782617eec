"""Run units of work at once, each as one request would: its own app context, session and transaction.

`attempt` is one such unit (for tests that orchestrate their own threads); `race` runs `count` of them
in threads released together by a barrier and returns one (outcome, value) per thread, in thread order:
("won", what work returned) on commit, (name, None) for an exception listed in `outcomes`, and
("error", repr(exc)) for anything else, which fails the race, as does a thread that never finishes.
"""

import threading
from collections.abc import Callable, Mapping

from dms.core.errors import InsufficientStock
from dms.extensions import db

# What an expected exception is recorded as: a fixed name, or a function of the exception.
Outcome = str | Callable[[BaseException], str]
Outcomes = Mapping[type[BaseException], Outcome]


def _named(outcome: Outcome, exc: BaseException) -> str:
    return outcome(exc) if callable(outcome) else outcome


def attempt(app, work: Callable[[], object], outcomes: Outcomes | None = None,
            commit: Callable[[], None] | None = None) -> tuple[str, object]:
    """Call work() in a fresh app context, then commit (or roll back); (outcome, value) as for `race`."""
    outcomes = {} if outcomes is None else outcomes
    with app.app_context():
        try:
            value = work()
            (commit or db.session.commit)()
            return "won", value
        except Exception as exc:  # noqa: BLE001 - unexpected failures are reported as ("error", repr)
            db.session.rollback()
            for kind, outcome in outcomes.items():
                if isinstance(exc, kind):
                    return _named(outcome, exc), None
            return "error", repr(exc)
        finally:
            db.session.remove()


def race(app, count: int, work: Callable[[int], object], outcomes: Outcomes | None = None, *,
         commit: Callable[[], None] | None = None, barrier: float | None = 5,
         timeout: float = 30) -> list[tuple[str, object]]:
    """Run work(n) for n in range(count), each in its own thread and transaction; [(outcome, value)].

    outcomes: exception type -> outcome name (or a function of the exception giving it), first match
    wins; default {InsufficientStock: "short"}. commit: what ends a successful unit (default
    db.session.commit). barrier: seconds to wait for all threads to be ready before any starts its
    work, or None for no barrier. timeout: how long each join waits. Fails if a thread hung or errored.
    """
    outcomes = {InsufficientStock: "short"} if outcomes is None else outcomes
    start = threading.Barrier(count) if barrier is not None else None
    results: list[tuple[str, object]] = [("error", "did not finish")] * count

    def run(n):
        def unit():
            if start is not None:
                start.wait(barrier)
            return work(n)

        results[n] = attempt(app, unit, outcomes, commit)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
    assert not any(t.is_alive() for t in threads), "a writer hung"
    assert not [r for r in results if r[0] == "error"], results
    return results
