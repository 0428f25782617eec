"""Password hashing with argon2id (parameters from the config, never below OWASP's minimum)."""

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app

# A hash of a random password, verified when the username is unknown so both cases take as long.
_DUMMY = {}


def _hasher() -> PasswordHasher:
    c = current_app.config
    return PasswordHasher(time_cost=c["ARGON2_TIME_COST"], memory_cost=c["ARGON2_MEMORY_COST"],
                          parallelism=c["ARGON2_PARALLELISM"])


def hash_password(password: str) -> str:
    """An argon2id hash of the password."""
    return _hasher().hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """True when the password matches; spends the same time when there is no hash."""
    hasher = _hasher()
    if password_hash is None:
        key = (hasher.time_cost, hasher.memory_cost)
        password_hash = _DUMMY.setdefault(key, hasher.hash("not-a-real-password"))
        password = password + "\0"
    try:
        return hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """True when the hash was made with weaker parameters than configured now."""
    return _hasher().check_needs_rehash(password_hash)
