"""Field encryption: authenticated encryption with key rotation, blind indexes, masking.

Keys come from DMS_FIELD_KEYS, a comma-separated list of Fernet keys, newest first. Values are
encrypted with the newest key and decrypt with any listed key (MultiFernet). A blind index is an
HMAC-SHA256 of the normalised value under a key derived from a field key; lookups try every
listed key, and `flask dms rotate-keys` re-encrypts and re-indexes every value under the newest.
"""

import hashlib
import hmac

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app
from sqlalchemy import Text
from sqlalchemy.types import TypeDecorator


def _keys() -> list[str]:
    keys = current_app.config["DMS_FIELD_KEYS"]
    if not keys:
        raise RuntimeError("DMS_FIELD_KEYS holds no key")
    return keys


def _fernet() -> MultiFernet:
    return MultiFernet([Fernet(k.encode()) for k in _keys()])


def encrypt(value: str) -> str:
    """Encrypt under the newest key."""
    return _fernet().encrypt(value.encode()).decode()


def decrypt(token: str) -> str:
    """Decrypt with whichever listed key made it; raise ValueError if none did."""
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise ValueError("the value cannot be decrypted with the configured keys") from exc


def reencrypt(token: str) -> str:
    """The same plaintext under the newest key."""
    return _fernet().rotate(token.encode()).decode()


def _index_key(field_key: str) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"dms-blind-index").derive(field_key.encode())


def normalise(value: str) -> str:
    """The form a value is indexed in: no whitespace, upper case (an ID's trailing x or X match)."""
    return "".join(value.split()).upper()


def blind_index(value: str, key_position: int = 0) -> str:
    """The keyed HMAC of a value (under the newest key unless told), for equality lookups."""
    key = _index_key(_keys()[key_position])
    return hmac.new(key, normalise(value).encode(), hashlib.sha256).hexdigest()


def blind_indexes(value: str) -> list[str]:
    """The value's index under every listed key: match any during a key rotation."""
    return [blind_index(value, i) for i in range(len(_keys()))]


def mask(value: str | None, head: int = 6, tail: int = 4) -> str:
    """Mask the middle of a value: 11010519491231002X -> 110105********002X."""
    if not value:
        return ""
    if len(value) <= head + tail:
        return value[:1] + "*" * (len(value) - 1)
    return value[:head] + "*" * (len(value) - head - tail) + value[-tail:]


def mask_phone(value: str | None) -> str:
    """Mask a phone number: 13800138000 -> 138****8000."""
    return mask(value, 3, 4)


class EncryptedText(TypeDecorator):
    """A text column stored encrypted; `blind_index` names the column that indexes it, if any."""

    impl = Text
    cache_ok = True

    def __init__(self, blind_index: str | None = None, **kw):
        self.blind_index = blind_index
        super().__init__(**kw)

    def process_bind_param(self, value, dialect):
        return None if value is None else encrypt(str(value))

    def process_result_value(self, value, dialect):
        return None if value is None else decrypt(value)


def encrypted_columns(metadata):
    """(table, column) for every EncryptedText column in the metadata."""
    for table in metadata.sorted_tables:
        for column in table.columns:
            if isinstance(column.type, EncryptedText):
                yield table, column


def rotate_all(connection, metadata) -> int:
    """Re-encrypt and re-index every encrypted value under the newest key; return the count."""
    from sqlalchemy import literal, select, type_coerce, update

    count = 0
    for table, column in encrypted_columns(metadata):
        pk = list(table.primary_key.columns)
        raw = type_coerce(column, Text())  # read the stored token, not the decrypted value
        rows = connection.execute(select(*pk, raw.label("raw")).where(column.isnot(None))).all()
        for row in rows:
            new_token = reencrypt(row.raw)
            # literal(..., Text()) writes the token as is, bypassing the column's own encryption.
            values = {column.name: literal(new_token, Text())}
            if column.type.blind_index:
                values[column.type.blind_index] = blind_index(decrypt(new_token))
            key = [c == row._mapping[c.name] for c in pk]
            connection.execute(update(table).where(*key).values(**values))
            count += 1
    return count
