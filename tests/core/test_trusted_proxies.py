"""Behind a load balancer (DMS_TRUSTED_PROXIES): the client's address is the forwarded one; otherwise a
forged X-Forwarded-For changes nothing."""

import pytest
from sqlalchemy import select

from dms.core.models import AuditLog
from dms.extensions import db


def _logged_ip(app, make_user, proxies: int) -> str:
    from dms import create_app

    other = create_app({"SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"], "TRUSTED_PROXIES": proxies,
                        "WTF_CSRF_ENABLED": False})
    user = make_user("admin", password="correct-horse-battery")
    client = other.test_client()
    headers = {"X-Forwarded-For": "203.0.113.7"}
    response = client.post("/login", data={"username": user.username, "password": "correct-horse-battery"},
                           headers=headers)
    assert response.status_code == 302
    db.session.expire_all()
    return db.session.scalar(select(AuditLog.ip).order_by(AuditLog.id.desc()).limit(1))


@pytest.mark.parametrize(("proxies", "expected"), [(1, "203.0.113.7"), (0, "127.0.0.1")])
def test_the_forwarded_address_counts_only_behind_trusted_proxies(app, make_user, proxies, expected):
    assert _logged_ip(app, make_user, proxies) == expected
