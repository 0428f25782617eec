"""Form fuzzing: every text-like field of every form gets over-long, empty, control-character, emoji,
mixed-script and HTML/JS input, starting from valid values scraped from the form's own page.

Expected: never a 5xx; either the form is re-shown with an error in place (4xx) or the value is stored,
and wherever a page shows it, it is escaped (the raw markup never appears). Control characters (NUL,
which PostgreSQL refuses in text; escapes, bidi overrides; line breaks in one-line fields) are refused
by the guard every AppForm has (dms/core/forms.py). The registry (form_registry.py) maps each form to
its page; a form it neither covers nor excludes fails test_every_form_with_text_fields_is_registered.
"""

import re
from datetime import date, timedelta
from types import SimpleNamespace

import pytest

from tests.fuzz import form_registry as registry
from tests.fuzz.html_forms import find_form

LONG = "x" * 10_000
CONTROL = {"nul": "nul\x00byte", "ansi": "\x1b[31mred", "rtl": "abc\u202egnp.exe", "crlf": "line\r\nX-Injected: 1"}
MARKUP = {"script": "<script>alert(1)</script>", "img": "\"><img src=x onerror=alert(1)>",
          "js_url": "javascript:alert(1)"}
PAYLOADS = {"long": LONG, "empty": "", **CONTROL, "unicode": "😀🇨🇳 Ωmega 汉字 مرحبا", **MARKUP}
# The escape and bidi payloads meet the same central guard as NUL: sent to the first text field of each form only.
FIRST_FIELD_ONLY = {"ansi", "rtl"}
ERROR_MARKS = ('class="errors"', "flash-error", 'role="alert"')
JS_URL_ATTR = re.compile(r"""(?:href|src|action|formaction)\s*=\s*["']?\s*javascript:""", re.I)
STATS = {"submissions": 0, "refused": 0, "stored": 0, "escaped_seen": 0, "fields": set(),
         "forms": set()}


def target_id(target: registry.Target) -> str:
    return f"{target.form.rsplit('.', 1)[1]}:{target.page}"


def assert_safe(body: str, payload: str, where: str) -> None:
    """The raw markup of a payload never appears in a page; a javascript: URL never lands in a link."""
    if payload in MARKUP.values() and payload != MARKUP["js_url"]:
        assert payload not in body, f"{where}: the raw payload {payload!r} is in the page (not escaped)"
    if payload == MARKUP["js_url"]:
        assert not JS_URL_ATTR.search(body), f"{where}: a javascript: URL is in a link or source attribute"


def refused_by_guard(submitter, name: str, payload: str) -> bool:
    """True for the payloads the control-character guard refuses in this field (line breaks: one-line only)."""
    if payload == CONTROL["crlf"]:
        return name not in submitter.multiline
    return payload in CONTROL.values()


def is_success(response) -> bool:
    """A redirect (plain or htmx), or a 200 page without any error shown."""
    if response.status_code in (301, 302, 303) or response.headers.get("HX-Redirect"):
        return True
    body = response.get_data(as_text=True)
    return response.status_code == 200 and not any(mark in body for mark in ERROR_MARKS)


@pytest.fixture
def ctx(client, login_as, make_user, make_distributor, make_product):
    """What the registry's setup and data functions use: the acting user, a distributor, factories."""
    from dms.core.time import business_today
    from tests.distributors.applying import application_data
    from tests.factories import id_number

    distributor = make_distributor("440113", name="番禺水站")

    def apply_data():
        data = application_data(region_code="440106", level="county")
        return {"applicant_type": "person", "name": data["name"], "id_number": data["id_number"],
                "phone": data["phone"], "email": data["email"], "region_code": "440106", "level": "county",
                "message": data["message"]}

    def distributor_data():
        return {"kind": "person", "name": f"代理{registry.n()}", "id_number": id_number(),
                "phone": f"137{registry.n():08d}", "region_code": "440106", "level": "county", "profit_share": "10",
                "exclusive": "y"}

    return SimpleNamespace(client=client, login_as=login_as, make_user=make_user, make_product=make_product,
                           make_distributor=make_distributor,
                           distributor=distributor, user=None, params={}, today=business_today(),
                           apply_data=apply_data, distributor_data=distributor_data, date=date, timedelta=timedelta,
                           water=None, hq_stocked=False, courier=None, rules=None, car=None)


def login(ctx, role):
    """Log the client in as `role` (a distributor user belongs to ctx.distributor); None: stay anonymous."""
    if role is None:
        return
    if role in ("distributor", "courier"):
        ctx.user = ctx.make_user(role, distributor_id=ctx.distributor.id)
    else:
        ctx.user = ctx.make_user(role)
    ctx.login_as(ctx.user)


class Submitter:
    """Scrapes a target's form and posts it with one field replaced."""

    def __init__(self, ctx, target: registry.Target):
        self.ctx, self.target = ctx, target
        self.text_fields = registry.text_fields(_form_class(target.form))
        self.multiline = registry.text_fields(_form_class(target.form), multiline=True)

    def load(self):
        """GET the page (fresh rows first when the target needs them) and read the form's defaults."""
        if self.target.each:
            self.ctx.params.update(self.target.each(self.ctx))
        self.page = self.target.page.format(**self.ctx.params)
        self.post = (self.target.post or self.target.page).format(**self.ctx.params)
        response = self.ctx.client.get(self.page)
        assert response.status_code == 200, f"GET {self.page}: {response.status_code}"
        self.form = find_form(response.get_data(as_text=True), self.page, self.post, set(self.text_fields))

    def key(self, name: str) -> str:
        """The submitted name of a form field (with the form's prefix, e.g. log-notes)."""
        for key in self.form.names | set(self.form.values):
            if key == name or key.endswith(f"-{name}"):
                return key
        prefixes = {k.rsplit("-", 1)[0] for k in self.form.names if "-" in k}
        return f"{prefixes.pop()}-{name}" if len(prefixes) == 1 else name

    def send(self, replace: dict | None = None):
        """POST the scraped defaults, the registry's valid values and `replace`; answer the response."""
        data = {k: (v if len(v) > 1 else v[0]) for k, v in self.form.values.items()}
        if self.target.data:
            data.update(self.target.data(self.ctx))
        data.update(replace or {})
        from dms.extensions import limiter

        limiter.reset()  # the login form is fuzzed too: throttling would hide its answers
        return self.ctx.client.post(self.post, data)


def _form_class(name: str) -> type:
    module, cls = name.rsplit(".", 1)
    import importlib

    return getattr(importlib.import_module(module), cls)


def test_every_form_with_text_fields_is_registered(app):
    """A form class with text-like fields is fuzzed (in TARGETS) or excluded with a reason (in EXCLUDED)."""
    covered = {t.form for t in registry.TARGETS}
    missing = [registry.qualname(c) for c in registry.all_form_classes()
               if registry.text_fields(c) and registry.qualname(c) not in covered | set(registry.EXCLUDED)]
    assert not missing, f"forms with text fields that the fuzz registry neither covers nor excludes: {missing}"
    stale = (covered | set(registry.EXCLUDED)) - {registry.qualname(c) for c in registry.all_form_classes()}
    assert not stale, f"registry entries for forms that no longer exist: {stale}"
    assert all(reason.strip() for reason in registry.EXCLUDED.values())


def test_every_form_derives_from_the_guarded_base(app):
    """Every form of the app gets the control-character guard (it subclasses dms.core.forms.AppForm)."""
    from dms.core.forms import AppForm

    unguarded = [registry.qualname(c) for c in registry.all_form_classes() if not issubclass(c, AppForm)]
    assert not unguarded, f"forms that do not subclass AppForm (no control-character guard): {unguarded}"


# PostgreSQL only: NUL bytes and over-long values break there (SQLite takes both), and the escaping
# checks are the same on either database, so one run is enough.
@pytest.mark.postgresql
@pytest.mark.parametrize("target", registry.TARGETS, ids=target_id)
def test_form_survives_nasty_text(ctx, target):
    """Valid values succeed; then each text field with each nasty value: a clear error or stored escaped."""
    login(ctx, target.role)
    ctx.params = {"distributor": ctx.distributor.id}
    if target.setup:
        ctx.params.update(target.setup(ctx))
    submitter = Submitter(ctx, target)
    submitter.load()
    baseline = submitter.send()
    assert is_success(baseline) == (target.baseline == "success"), (
        f"the base data of {target_id(target)} was not {target.baseline} ({baseline.status_code}): {_errors(baseline)}")
    for position, name in enumerate(submitter.text_fields):
        if name in target.skip_fields:
            continue
        for label, payload in PAYLOADS.items():
            if position and label in FIRST_FIELD_ONLY:
                continue
            if target.each:
                submitter.load()
            key = submitter.key(name)
            response = submitter.send({key: payload})
            where = f"{target_id(target)} field {name} payload {label}"
            STATS["submissions"] += 1
            STATS["fields"].add((target.form, name))
            STATS["forms"].add(target.form)
            assert response.status_code < 500, f"{where}: {response.status_code}"
            body = response.get_data(as_text=True)
            assert_safe(body, payload, where)
            if is_success(response):
                assert not refused_by_guard(submitter, name, payload), f"{where}: a control character was accepted"
                STATS["stored"] += 1
                _check_shown(ctx, target, payload, where, response)
            else:
                assert response.status_code in (400, 403, 404, 409, 422), f"{where}: {response.status_code}"
                # A field the page does not show (absent, or a hidden input) has no place for its message.
                if key in submitter.form.names - submitter.form.hidden:
                    assert any(mark in body for mark in ERROR_MARKS), f"{where}: refused without a message"
                STATS["refused"] += 1


def _check_shown(ctx, target, payload, where, response):
    """Where the target's values are shown, a stored payload is escaped."""
    if not target.shown or payload not in MARKUP.values():
        return
    if target.shown == registry.REDIRECT:
        url = response.headers.get("HX-Redirect") or response.headers["Location"]
    else:
        url = target.shown.format(**ctx.params)
    response = ctx.client.get(url)
    assert response.status_code == 200, f"{where}: GET {url} -> {response.status_code}"
    body = response.get_data(as_text=True)
    assert_safe(body, payload, f"{where} on {url}")
    from markupsafe import escape

    if str(escape(payload)) in body:
        STATS["escaped_seen"] += 1


def _errors(response) -> str:
    body = response.get_data(as_text=True)
    found = re.findall(r'<ul class="errors"[^>]*>(.*?)</ul>|flash-error"[^>]*>(.*?)</div>', body, re.S)
    return " | ".join(a or b for a, b in found)[:800] or body[:300]


def test_report_figures(request):
    """Prints what the fuzzing covered (the figures of the note); runs last in this module."""
    print(f"\nform fuzz: {len(STATS['forms'])} forms, {len(STATS['fields'])} fields, {STATS['submissions']} "
          f"submissions ({STATS['refused']} refused with a message, {STATS['stored']} stored, "
          f"{STATS['escaped_seen']} payloads seen escaped on the page showing them)")
