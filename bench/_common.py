"""What several benchmarks share: quantiles, this process's memory, bench users and logged-in clients."""

from pathlib import Path


def pct(values: list, q: float) -> float:
    """The q-quantile (0..1) of the values, nearest rank."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def rss_kib(field: str = "VmRSS") -> int:
    """This process's resident set (or its peak, VmHWM) in KiB, from /proc."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def bench_users(app):
    """(HQ user id, distributor user id, distributor id): the users bench-hq (an admin) and bench-dist (the
    user of the distributor with the most orders), made when missing (committed)."""
    from sqlalchemy import func, select

    from dms.accounts import services
    from dms.accounts.models import User
    from dms.core.jobs import commit
    from dms.extensions import db
    from dms.orders.models import Order

    with app.app_context():
        busiest = db.session.execute(select(Order.distributor_id, func.count()).where(
            Order.distributor_id.is_not(None)).group_by(Order.distributor_id)
            .order_by(func.count().desc()).limit(1)).first()
        if busiest is None:
            raise SystemExit("The database has no orders: fill it with bench/generate.py first.")
        distributor_id = busiest[0]
        found = {}
        for username, roles, extra in (("bench-hq", ["admin"], {}),
                                       ("bench-dist", ["distributor"], {"distributor_id": distributor_id})):
            user = db.session.scalar(select(User).where(User.username == username))
            if user is None:
                user = services.create_user(None, username=username, password="bench-password-2026", roles=roles,
                                            **extra)
            elif extra and user.distributor_id != distributor_id:
                user.distributor_id = distributor_id
            found[username] = user.id
        commit()
        return found["bench-hq"], found["bench-dist"], distributor_id


def logged_in_client(app, user_id: int):
    """A test client logged in as the user (a real server-side session, as the login page opens)."""
    from dms.accounts import services
    from dms.accounts.models import User
    from dms.accounts.views import SESSION_TOKEN
    from dms.core.jobs import commit
    from dms.extensions import db

    client = app.test_client()
    with app.app_context():
        token = services.open_session(db.session.get(User, user_id), "127.0.0.1", "bench")
        commit()
    with client.session_transaction() as session:
        session[SESSION_TOKEN] = token
        session["_user_id"] = str(user_id)
        session["_fresh"] = True
        session.permanent = True
    return client


def child_figures(command: list, cwd, what: str) -> dict:
    """Run `command` (a Python child printing its figures as JSON on its last line) in a fresh process;
    those figures plus its peak RSS (ru_maxrss, from os.wait4). Exits when the child fails."""
    import json
    import os
    import subprocess

    process = subprocess.Popen(command, stdout=subprocess.PIPE, cwd=cwd)
    output = process.stdout.read()
    _pid, status, usage = os.wait4(process.pid, 0)
    if os.waitstatus_to_exitcode(status):
        raise SystemExit(f"{what} failed")
    figures = json.loads(output.decode().strip().splitlines()[-1])
    figures["maxrss_kib"] = usage.ru_maxrss
    return figures
