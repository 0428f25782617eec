"""Configuration read from the environment (see README, "Configuration")."""

import os
import secrets
from datetime import timedelta
from pathlib import Path

from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parent.parent
INSTANCE = ROOT / "instance"


def _instance_secret(name: str, make) -> str:
    """Read a secret kept in instance/, creating it on first development run."""
    INSTANCE.mkdir(exist_ok=True)
    path = INSTANCE / name
    if not path.exists():
        path.write_text(make())
        path.chmod(0o600)
    return path.read_text().strip()


class Config:
    """Settings shared by every environment; values come from the environment."""

    DMS_ENV = "development"
    SQLALCHEMY_ENGINE_OPTIONS: dict = {}
    WTF_CSRF_TIME_LIMIT = None  # the token lives as long as the session
    WTF_CSRF_HEADERS = ["X-CSRFToken"]
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_NAME = "dms_session"
    REMEMBER_COOKIE_HTTPONLY = True
    PERMANENT_SESSION_LIFETIME = timedelta(hours=12)
    SESSION_IDLE_MINUTES = 30
    BABEL_DEFAULT_LOCALE = "zh_CN"
    LANGUAGES = ("zh_CN", "en")
    MAX_CONTENT_LENGTH = 16 * 1024 * 1024
    RATELIMIT_HEADERS_ENABLED = True
    # With Redis unreachable the limits keep applying from each process's memory instead of failing
    # every limited request (the login above all): the outage drill (tests/faults) depends on it.
    RATELIMIT_IN_MEMORY_FALLBACK_ENABLED = True
    LOGIN_LIMITS_PER_ACCOUNT = "5 per minute;20 per hour"
    LOGIN_LIMITS_PER_ADDRESS = "30 per minute;300 per hour"
    PUBLIC_API_LIMIT = "30 per minute"
    # Distributor applications (web form and API together), per client address.
    APPLICATION_LIMITS = "10 per hour"
    API_TOKEN_TTL = 3600
    JOB_MAX_ATTEMPTS = 3
    JOB_TIMEOUT = 1800  # seconds a job may run before RQ stops it (DMS_JOB_TIMEOUT)
    OUTBOX_RELAY_AFTER_SECONDS = 10
    # argon2id: RFC 9106 "low memory" profile, well above OWASP's minimum (19 MiB, t=2, p=1).
    ARGON2_TIME_COST = 3
    ARGON2_MEMORY_COST = 65536
    ARGON2_PARALLELISM = 4

    def __init__(self):
        env = os.environ
        self.DMS_ENV = env.get("DMS_ENV", self.DMS_ENV)
        self.SQLALCHEMY_DATABASE_URI = env.get("DATABASE_URL") or f"sqlite:///{INSTANCE / 'dms.sqlite3'}"
        self.REDIS_URL = env.get("REDIS_URL") or None
        # When set, /metrics wants "Authorization: Bearer <METRICS_TOKEN>" (else restrict it at the proxy).
        self.METRICS_TOKEN = env.get("METRICS_TOKEN") or None
        self.DMS_TIMEZONE = env.get("DMS_TIMEZONE", "Asia/Shanghai")
        self.BABEL_DEFAULT_TIMEZONE = self.DMS_TIMEZONE
        self.RATELIMIT_STORAGE_URI = self.REDIS_URL or "memory://"
        self.SECRET_KEY = env.get("SECRET_KEY") or self._default_secret()
        keys = env.get("DMS_FIELD_KEYS") or self._default_field_keys()
        self.DMS_FIELD_KEYS = [k.strip() for k in keys.split(",") if k.strip()]
        if self.SQLALCHEMY_DATABASE_URI.startswith("postgres://"):
            self.SQLALCHEMY_DATABASE_URI = self.SQLALCHEMY_DATABASE_URI.replace(
                "postgres://", "postgresql+psycopg://", 1)
        if self.SQLALCHEMY_DATABASE_URI.startswith("postgresql://"):
            self.SQLALCHEMY_DATABASE_URI = self.SQLALCHEMY_DATABASE_URI.replace(
                "postgresql://", "postgresql+psycopg://", 1)
        self.SQLALCHEMY_ENGINE_OPTIONS = dict(self.SQLALCHEMY_ENGINE_OPTIONS)  # pool_pre_ping: create_app
        self.SESSION_COOKIE_SECURE = self.DMS_ENV == "production"
        self.APPLICATION_LIMITS = env.get("APPLICATION_LIMITS") or self.APPLICATION_LIMITS
        self.JOB_TIMEOUT = int(env.get("DMS_JOB_TIMEOUT") or self.JOB_TIMEOUT)
        # The public address, for links in emails sent by workers (no request to take it from).
        self.DMS_BASE_URL = (env.get("DMS_BASE_URL") or "").rstrip("/") or None
        # Outgoing mail (dms/core/mail.py); off while MAIL_SERVER is empty.
        self.MAIL_SERVER = env.get("MAIL_SERVER") or None
        self.MAIL_PORT = int(env.get("MAIL_PORT") or 0) or None
        self.MAIL_USE_TLS = env.get("MAIL_USE_TLS", "").lower() in ("1", "true", "yes")
        self.MAIL_USE_SSL = env.get("MAIL_USE_SSL", "").lower() in ("1", "true", "yes")
        self.MAIL_USERNAME = env.get("MAIL_USERNAME") or None
        self.MAIL_PASSWORD = env.get("MAIL_PASSWORD") or None
        self.MAIL_DEFAULT_SENDER = env.get("MAIL_DEFAULT_SENDER") or None
        # Stock alerts: a batch expiring within this many days raises a near-expiry alert.
        self.NEAR_EXPIRY_DAYS = int(env.get("DMS_NEAR_EXPIRY_DAYS") or 30)
        # Orders: a delivered order the customer has not confirmed is completed this many days later.
        self.ORDER_AUTO_COMPLETE_DAYS = int(env.get("DMS_ORDER_AUTO_COMPLETE_DAYS") or 7)
        # Printed documents (statements, reports): the company named in their header.
        self.DMS_COMPANY_NAME = env.get("DMS_COMPANY_NAME") or "DMS"
        # Generated files (statement and report PDFs); by default under the instance folder.
        self.REPORT_FOLDER = env.get("DMS_REPORT_FOLDER") or None
        # Proxies (load balancers) in front of the app whose X-Forwarded-For/-Proto/-Host are believed: the
        # client's address then counts for rate limits, sessions and the audit log. 0 believes no one.
        self.TRUSTED_PROXIES = int(env.get("DMS_TRUSTED_PROXIES") or 0)
        # The Redis read cache of hot dashboard figures (dms/core/cache.py): on whenever REDIS_URL is set,
        # unless DMS_CACHE=off; entries live at most DMS_CACHE_TTL seconds; after a Redis failure the cache
        # stays off for DMS_CACHE_RETRY_AFTER seconds in that process.
        self.DMS_CACHE = env.get("DMS_CACHE", "on").lower() not in ("0", "off", "false", "no")
        self.DMS_CACHE_TTL = int(env.get("DMS_CACHE_TTL") or 300)
        self.DMS_CACHE_RETRY_AFTER = int(env.get("DMS_CACHE_RETRY_AFTER") or 30)

    def _default_secret(self) -> str:
        return _instance_secret("secret_key", lambda: secrets.token_hex(32))

    def _default_field_keys(self) -> str:
        return _instance_secret("field_keys", lambda: Fernet.generate_key().decode())


class ProductionConfig(Config):
    """Production refuses to start without its secrets."""

    def _default_secret(self) -> str:
        raise RuntimeError("SECRET_KEY must be set in production")

    def _default_field_keys(self) -> str:
        raise RuntimeError("DMS_FIELD_KEYS must be set in production")


class TestingConfig(Config):
    """Fast hashing (still at OWASP's minimum), fixed keys, no rate limits unless a test asks."""

    TESTING = True
    ARGON2_TIME_COST = 2
    ARGON2_MEMORY_COST = 19456
    ARGON2_PARALLELISM = 1

    def __init__(self):
        os.environ.setdefault("DMS_ENV", "testing")
        super().__init__()
        self.DMS_ENV = "testing"
        self.SQLALCHEMY_DATABASE_URI = os.environ.get("DMS_TEST_DATABASE_URL") or "sqlite://"
        self.REDIS_URL = None
        self.RATELIMIT_STORAGE_URI = "memory://"
        self.MAIL_SERVER = None

    def _default_secret(self) -> str:
        return "testing-secret-key-not-for-production"

    def _default_field_keys(self) -> str:
        return "0MC2-2ZtRFDDhkLLpO7mJHRwUo-XiViVfDUhhmKTezk="


def load_config():
    """Pick the configuration class for DMS_ENV."""
    env = os.environ.get("DMS_ENV", "development")
    return {"production": ProductionConfig, "testing": TestingConfig}.get(env, Config)()
