"""Locale selection and per-locale formatting of dates, numbers and money."""

from decimal import Decimal

from flask import current_app, has_request_context, request
from flask_babel import format_currency, format_date, format_datetime, format_decimal, get_locale
from flask_login import current_user

LOCALE_COOKIE = "dms_locale"


def select_locale() -> str:
    """The user's saved choice, else the pre-login cookie, else zh_CN."""
    languages = current_app.config["LANGUAGES"]
    if not has_request_context():  # jobs and commands speak the default language
        return current_app.config["BABEL_DEFAULT_LOCALE"]
    if current_user and current_user.is_authenticated and current_user.locale in languages:
        return current_user.locale
    cookie = request.cookies.get(LOCALE_COOKIE)
    if cookie in languages:
        return cookie
    return current_app.config["BABEL_DEFAULT_LOCALE"]


def money(value) -> str:
    """Format an amount in yuan for the current locale (¥1,234.50 / CN¥1,234.50)."""
    if value is None:
        return ""
    return format_currency(Decimal(value), "CNY")


def number(value) -> str:
    return "" if value is None else format_decimal(value)


def register(app):
    """Template filters for per-locale formatting."""
    app.jinja_env.filters["money"] = money
    app.jinja_env.filters["number"] = number
    app.jinja_env.filters["date"] = lambda v, fmt="medium": format_date(v, fmt) if v else ""
    app.jinja_env.filters["datetime"] = lambda v, fmt="medium": format_datetime(v, fmt) if v else ""
    app.jinja_env.globals["current_locale"] = current_locale


def current_locale() -> str:
    """The active locale as configured ("zh_CN" or "en"); Babel itself names Chinese "zh_Hans_CN"."""
    locale = get_locale()
    return "zh_CN" if locale is not None and locale.language == "zh" else str(locale)
