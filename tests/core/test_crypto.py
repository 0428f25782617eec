"""Field encryption: round trip, tampering, key rotation with blind indexes, masking."""

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import Column, Integer, MetaData, String, Table, Text, insert, select, type_coerce

from dms.core import crypto
from dms.core.crypto import EncryptedText
from dms.extensions import db

ID_NUMBER = "11010519491231002X"


@pytest.fixture
def keys(app, monkeypatch):
    """use(*keys): set DMS_FIELD_KEYS (newest first) for this test only."""

    def use(*new_keys):
        monkeypatch.setitem(app.config, "DMS_FIELD_KEYS", list(new_keys))

    return use


def test_round_trip_and_fresh_ciphertext():
    token = crypto.encrypt(ID_NUMBER)
    assert ID_NUMBER not in token
    assert crypto.decrypt(token) == ID_NUMBER
    assert crypto.encrypt(ID_NUMBER) != token  # a random IV: equal values do not look equal


def test_tampered_token_is_refused():
    token = crypto.encrypt(ID_NUMBER)
    middle = len(token) // 2
    tampered = token[:middle] + ("A" if token[middle] != "A" else "B") + token[middle + 1:]
    with pytest.raises(ValueError):
        crypto.decrypt(tampered)
    with pytest.raises(ValueError):
        crypto.decrypt("not a token at all")


def test_unknown_key_cannot_decrypt(keys):
    keys(Fernet.generate_key().decode())
    token = crypto.encrypt("secret")
    keys(Fernet.generate_key().decode())
    with pytest.raises(ValueError):
        crypto.decrypt(token)


def test_blind_index_normalises_and_is_keyed(keys):
    k1, k2 = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    keys(k1)
    under_k1 = crypto.blind_index("1101 0519 4912 31002x")
    assert under_k1 == crypto.blind_index(ID_NUMBER)
    keys(k2, k1)
    assert crypto.blind_index(ID_NUMBER) != under_k1
    assert crypto.blind_indexes(ID_NUMBER) == [crypto.blind_index(ID_NUMBER), under_k1]


def test_rotation_re_encrypts_and_re_indexes_every_value(keys):
    k1, k2 = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    meta = MetaData()
    table = Table("crypto_rotation_test", meta,
                  Column("id", Integer, primary_key=True),
                  Column("id_number", EncryptedText(blind_index="id_number_bidx")),
                  Column("id_number_bidx", String(64)),
                  Column("note", EncryptedText()))
    meta.create_all(db.engine)
    try:
        keys(k1)
        with db.engine.begin() as conn:
            conn.execute(insert(table), [
                {"id": 1, "id_number": ID_NUMBER, "id_number_bidx": crypto.blind_index(ID_NUMBER), "note": "n1"},
                {"id": 2, "id_number": None, "id_number_bidx": None, "note": "n2"}])
            old_raw = conn.execute(select(type_coerce(table.c.id_number, Text())).where(table.c.id == 1)).scalar()
        assert ID_NUMBER not in old_raw

        keys(k2, k1)  # a new key in front: old values still read, lookups match under either key
        with db.engine.connect() as conn:
            assert conn.execute(select(table.c.id_number).where(table.c.id == 1)).scalar() == ID_NUMBER
            found = conn.execute(select(table.c.id).where(
                table.c.id_number_bidx.in_(crypto.blind_indexes(ID_NUMBER)))).scalars().all()
            assert found == [1]
        with db.engine.begin() as conn:
            assert crypto.rotate_all(conn, meta) == 3  # two notes and one id number; NULL skipped

        keys(k2)  # the old key retired: everything still reads
        with db.engine.connect() as conn:
            rows = conn.execute(select(table).order_by(table.c.id)).all()
            new_raw = conn.execute(select(type_coerce(table.c.id_number, Text())).where(table.c.id == 1)).scalar()
        assert [(r.id_number, r.note) for r in rows] == [(ID_NUMBER, "n1"), (None, "n2")]
        assert rows[0].id_number_bidx == crypto.blind_index(ID_NUMBER)
        assert new_raw != old_raw

        keys(k1)  # and the old key alone no longer can
        with pytest.raises(ValueError):
            crypto.decrypt(new_raw)
    finally:
        meta.drop_all(db.engine)


def test_masking():
    assert crypto.mask(ID_NUMBER) == "110105********002X"
    assert crypto.mask_phone("13800138000") == "138****8000"
    assert crypto.mask("") == "" and crypto.mask(None) == ""
    assert crypto.mask("12345") == "1****"
