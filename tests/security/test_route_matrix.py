"""The authorization matrix: every rule of the URL map, for every role, with distributor B's ids.

Roles: anonymous, admin, reviewer (HQ), distributor A, courier (of A), integration (a web user with
that role; on the API an integration client of A). Expected answers come from tests/security/route_matrix.py
and the roles' permissions (dms/accounts/permissions.py): anonymous -> login (302 to /login, 401 on the
API), a missing permission -> 403, a row of B for anyone not HQ -> 404, else allowed (2xx/3xx).
Also: no GET changes the database, every web POST wants its CSRF token, and a session cookie alone
cannot change anything through the API.
"""

import hashlib
import re
from urllib.parse import urlparse

import pytest
from sqlalchemy import text

from dms.accounts.permissions import DEFAULT_ROLES
from dms.core.scope import HQ_SCOPE
from tests.security.route_matrix import LOGIN, PUBLIC, ROUTES, R

ROLES = ("anonymous", "admin", "reviewer", "distributor", "courier", "integration")
UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
# Columns a GET may legitimately write: the session's last-seen time is touched at most once a minute
# (dms/accounts/services.py load_session), so a run longer than a minute sees it move.
VOLATILE_COLUMNS = {"user_sessions": {"last_seen_at"}}
FIGURES: dict[str, int] = {}


def _rules(app):
    return [rule for rule in app.url_map.iter_rules() if rule.endpoint != "static"]


def _methods(rule) -> set[str]:
    return set(rule.methods or ()) - {"HEAD", "OPTIONS"}


def _is_api(rule) -> bool:
    return rule.rule.startswith("/api/")


def test_every_rule_is_classified(app):
    """A rule missing from the registry (a new route) fails here until someone decides who may call it."""
    rules = _rules(app)
    missing = sorted({rule.endpoint for rule in rules} - set(ROUTES))
    assert not missing, f"classify these endpoints in tests/security/route_matrix.py: {missing}"
    stale = sorted(set(ROUTES) - {rule.endpoint for rule in rules})
    assert not stale, f"the registry names endpoints that no longer exist: {stale}"
    print(f"\nURL map: {len(rules)} rules ({sum(_is_api(r) for r in rules)} API), {len(ROUTES)} endpoints")


def _permissions(role: str) -> set[str]:
    return set(DEFAULT_ROLES[role]["permissions"]) if role in DEFAULT_ROLES else set()


def expected(route: R, role: str, method: str) -> str:
    """The status class `role` must get: ok, login, 403 or 404."""
    overrides = route.post_expect if method in UNSAFE and route.post_expect is not None else route.expect
    if role in overrides:
        return overrides[role]
    perm = route.post_perm if method in UNSAFE and route.post_perm else route.perm
    if perm == PUBLIC:
        return "ok"
    if role == "anonymous":
        return "login"
    held = _permissions(role)
    if perm != LOGIN and not set(perm.split("+")) <= held:
        return "403"
    if route.foreign and HQ_SCOPE not in held:
        return "404"
    return "ok"


def status_class(response) -> str:
    """ok (2xx/3xx elsewhere), login (302 to /login, 401), 403, 404, or the bare status."""
    status = response.status_code
    if status in (301, 302, 303) and urlparse(response.headers.get("Location", "")).path == "/login":
        return "login"
    if status == 401:
        return "login"
    if status < 400:
        return "ok"
    return str(status)


def _value(app, rule, name: str, route: R, world):
    key = route.args.get(name, name)
    if key in world.ids:
        return world.ids[key]
    converter = rule._converters[name]
    options = getattr(converter, "items", None)  # any(a, b): the first choice
    if options:
        return sorted(options)[0] if isinstance(options, set) else list(options)[0]
    raise AssertionError(f"{rule.endpoint}: no value for URL argument {name!r}; add it to the world or `args`")


def url_of(app, rule, world) -> str:
    """The rule's URL, its arguments filled from the world (B's rows), plus the registry's query."""
    from flask import url_for

    route = ROUTES[rule.endpoint]
    with app.test_request_context():
        url = url_for(rule.endpoint, **{name: _value(app, rule, name, route, world) for name in rule.arguments})
    return url + (f"?{route.query}" if route.query else "")


def snapshot(app) -> dict:
    """A checksum of every table's rows (ordered), so any write shows."""
    from dms.extensions import db

    sums = {}
    with db.engine.connect() as conn:
        for table in app.config["_META"].sorted_tables:
            skip = VOLATILE_COLUMNS.get(table.name, set())
            columns = [c.name for c in table.columns if c.name not in skip]
            order = ", ".join(f'"{c.name}"' for c in table.primary_key.columns) or "1"
            digest = hashlib.sha256()
            for row in conn.execute(text(f'SELECT {", ".join(chr(34) + c + chr(34) for c in columns)} '
                                         f'FROM "{table.name}" ORDER BY {order}')):
                digest.update(repr(tuple(row)).encode())
            sums[table.name] = digest.hexdigest()
    return sums


def changed_tables(before: dict, after: dict) -> list[str]:
    return sorted(name for name in before if before[name] != after.get(name))


def _request(client, method: str, url: str, **kw):
    return client._send(method.lower(), url, **kw)


def _api_headers(tokens, role) -> dict:
    headers = {"Accept": "application/json"}
    if role != "anonymous":
        headers["Authorization"] = f"Bearer {tokens[role]}"
    return headers


def test_get_matrix_answers_as_registered_and_writes_nothing(app, world, role_clients, api_tokens):
    """Every GET rule x every role: the registered status class; the database is the same afterwards."""
    before = snapshot(app)
    wrong, requests, foreign = [], 0, 0
    for rule in sorted(_rules(app), key=lambda r: r.rule):
        if "GET" not in _methods(rule):
            continue
        route = ROUTES[rule.endpoint]
        url = url_of(app, rule, world)
        for role in ROLES:
            if _is_api(rule):
                response = _request(role_clients["anonymous"], "GET", url, headers=_api_headers(api_tokens, role))
            else:
                response = _request(role_clients[role], "GET", url)
            requests += 1
            want = expected(route, role, "GET")
            foreign += want == "404" and route.foreign
            got = status_class(response)
            if got != want:
                wrong.append(f"GET {url} as {role}: {response.status_code} ({got}), registry says {want}")
    after = snapshot(app)
    FIGURES.update(get_requests=requests, get_foreign=foreign)
    print(f"\nGET matrix: {requests} requests (rules x roles), {foreign} of them foreign-id 404 checks")
    assert not wrong, "\n".join(wrong)
    assert changed_tables(before, after) == [], "a GET wrote to the database"


def _csrf_role(route: R, method: str) -> str | None:
    """A role allowed through this route (so CSRF, not permission, is what refuses it)."""
    for role in ("admin", "reviewer", "distributor", "courier", "integration", "anonymous"):
        if expected(route, role, method) == "ok":
            return role
    return None


def test_state_changing_routes_want_csrf_and_refuse_the_unauthorised(app, world, role_clients, api_tokens):
    """Web: no CSRF token -> 400 csrf_failed; refused roles (with a token) get their class. API: likewise by token,
    and a logged-in session without a bearer token is 401. Nothing changes in the database throughout."""
    before = snapshot(app)
    wrong, csrf_checks, refusals, foreign, session_checks = [], 0, 0, 0, 0
    for rule in sorted(_rules(app), key=lambda r: r.rule):
        route = ROUTES[rule.endpoint]
        url = url_of(app, rule, world)
        for method in sorted(_methods(rule) & UNSAFE):
            if _is_api(rule):
                for role in ROLES:
                    want = expected(route, role, method)
                    if want == "ok":
                        continue  # an allowed call would change state; the API tests cover those
                    response = _request(role_clients["anonymous"], method, url, json=route.body,
                                        headers=_api_headers(api_tokens, role))
                    refusals += 1
                    foreign += want == "404" and route.foreign
                    if status_class(response) != want:
                        wrong.append(f"{method} {url} as {role}: {response.status_code}, registry says {want}")
                if route.perm != PUBLIC:
                    # The admin's browser session (cookie and CSRF token) is not an API credential.
                    admin = role_clients["admin"]
                    response = _request(admin, method, url, json={},
                                        headers={"Accept": "application/json", "X-CSRFToken": admin.csrf})
                    session_checks += 1
                    if response.status_code != 401:
                        wrong.append(f"{method} {url} with a session cookie only: {response.status_code}, want 401")
                continue
            role = _csrf_role(route, method)
            if role is not None:
                response = _request(role_clients[role], method, url, data={}, headers={"Accept": "application/json"})
                csrf_checks += 1
                body = response.get_json(silent=True) or {}
                if response.status_code != 400 or body.get("error", {}).get("code") != "csrf_failed":
                    wrong.append(f"{method} {url} as {role} without CSRF token: {response.status_code} {body}")
            for role in ROLES:
                want = expected(route, role, method)
                if want == "ok":
                    continue
                client = role_clients[role]
                response = _request(client, method, url, data={"csrf_token": client.csrf})
                if role == "anonymous":
                    client.get("/login")  # a refused POST may end the (anonymous) session and its token
                refusals += 1
                foreign += want == "404" and route.foreign
                if status_class(response) != want:
                    wrong.append(f"{method} {url} as {role}: {response.status_code}, registry says {want}")
    after = snapshot(app)
    FIGURES.update(csrf_checks=csrf_checks, refusals=refusals, unsafe_foreign=foreign, session_checks=session_checks)
    print(f"\nstate-changing: {csrf_checks} CSRF checks, {refusals} refused-role requests ({foreign} foreign-id 404s), "
          f"{session_checks} session-cookie-on-API checks")
    assert not wrong, "\n".join(wrong)
    assert changed_tables(before, after) == [], "a refused request wrote to the database"


@pytest.fixture(autouse=True, scope="module")
def _print_figures():
    yield
    if FIGURES:
        print(f"\nroute matrix figures: {FIGURES}")


def test_status_class_reads_login_redirects():
    """The classifier itself: a redirect elsewhere is allowed, to /login is a refusal."""

    class Fake:
        def __init__(self, status, location=""):
            self.status_code, self.headers = status, {"Location": location}

    assert status_class(Fake(302, "/login?next=%2F")) == "login"
    assert status_class(Fake(302, "/orders/1")) == "ok"
    assert status_class(Fake(401)) == "login" and status_class(Fake(404)) == "404"
    assert re.fullmatch(r"\d+", status_class(Fake(500)))
