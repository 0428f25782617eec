"""DMS, a dealer / distributor management system: the application factory."""

from pathlib import Path

from flask import Flask
from werkzeug.routing import IntegerConverter

from dms.config import INSTANCE, ROOT, load_config
from dms.core.rows import MAX_ID
from dms.extensions import babel, csrf, db, limiter, login_manager, migrate


class BoundedInt(IntegerConverter):
    """`<int:id>` that stops at the largest 32-bit id: a bigger number is a 404, not a database error."""

    # The bound is in the pattern too: werkzeug checks a rule's methods before converting its ids, so a
    # number matched by the pattern but refused by `max` answered 405 on paths with a rule per method.
    regex = (r"0*(?:\d{1,9}|1\d{9}|20\d{8}|21[0-3]\d{7}|214[0-6]\d{6}|2147[0-3]\d{5}|21474[0-7]\d{4}"
             r"|214748[0-2]\d{3}|2147483[0-5]\d{2}|21474836[0-3]\d|214748364[0-7])")

    def __init__(self, map, *args, **kwargs):
        kwargs.setdefault("max", MAX_ID)
        super().__init__(map, *args, **kwargs)


# Every area, lowest first (DESIGN.md "Areas and their direction").
AREAS = ("core", "accounts", "territories", "distributors", "customers", "catalog", "campaigns", "inventory", "orders",
         "delivery", "network", "commissions", "reports", "api")


def create_app(config=None) -> Flask:
    """Build the app: `config` is a Config object or a dict of overrides (tests pass one)."""
    app = Flask(__name__, template_folder=str(ROOT / "templates"), static_folder=str(ROOT / "static"),
                instance_path=str(INSTANCE))
    base = load_config()
    if isinstance(config, dict):
        for key, value in config.items():
            setattr(base, key, value)
    elif config is not None:
        base = config
    app.config.from_object(base)
    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        # Decided here, after the overrides: a pooled connection the server dropped (restart, failover,
        # a terminated backend) is replaced before use instead of failing the next request.
        app.config["SQLALCHEMY_ENGINE_OPTIONS"] = {"pool_pre_ping": True, **app.config["SQLALCHEMY_ENGINE_OPTIONS"]}
    proxies = app.config.get("TRUSTED_PROXIES") or 0
    if proxies:
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies)
    app.url_map.converters["int"] = BoundedInt
    Path(app.instance_path).mkdir(exist_ok=True)

    from dms.core import i18n, local_dates  # noqa: F401 - local_dates registers SQLite's dms_local_date

    db.init_app(app)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"), render_as_batch=True, compare_type=True)
    csrf.init_app(app)
    babel.init_app(app, locale_selector=i18n.select_locale,
                   default_translation_directories=str(Path(__file__).parent / "translations"))
    limiter.init_app(app)
    login_manager.init_app(app)

    from dms.core import errors, observability, security

    observability.register(app)
    security.register(app)
    errors.register_error_handlers(app)
    i18n.register(app)

    import importlib

    for area in AREAS:
        module = importlib.import_module(f"dms.{area}")
        module.init_app(app)
    return app
