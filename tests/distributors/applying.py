"""Helpers for the application tests: valid application data, and where a clear ID number could hide."""

import itertools

from sqlalchemy import text
from stdnum.cn import ric

from tests.distributors.conftest import credit_code, id_number

_phones = itertools.count(1)


def phone() -> str:
    """A fresh valid mainland mobile number."""
    return f"139{next(_phones):08d}"


def id_number_with_x(area: str = "110105", birth: str = "19800101") -> str:
    """A valid ID number whose check character is X (upper case)."""
    for serial in range(1000):
        body = f"{area}{birth}{serial:03d}"
        if ric.calc_check_digit(body + "0") == "X":
            return body + "X"
    raise AssertionError("no serial gives X")


def application_data(**overrides) -> dict:
    """A valid person's application for 朝阳区 (110105, county), as the API takes it."""
    data = {"applicant_type": "person", "name": "张三", "id_number": id_number(), "company_name": None,
            "credit_code": None, "phone": phone(), "email": "zs@example.com", "region_code": "110105",
            "level": "county", "message": "我在朝阳区有门店。"}
    data.update(overrides)
    return data


def company_data(**overrides) -> dict:
    """A valid company's application (no ID number) for 天河区 (440106, county)."""
    return application_data(**{"applicant_type": "company", "name": "李四", "id_number": None,
                               "company_name": "广州水业有限公司", "credit_code": credit_code(),
                               "region_code": "440106", "level": "county", **overrides})


def submit(data: dict | None = None, source: str = "web"):
    """Submit and commit an application; return (application, token)."""
    from dms.core.jobs import commit
    from dms.distributors.applications import submit_application

    result = submit_application(data or application_data(), source=source)
    commit()
    return result


def every_stored_text(app) -> str:
    """Every value of every table, read raw (no decryption), as one string."""
    from dms.extensions import db

    parts = []
    with db.engine.connect() as conn:
        for table in app.config["_META"].sorted_tables:
            for row in conn.execute(text(f'SELECT * FROM "{table.name}"')):
                parts.extend(str(value) for value in row if value is not None)
    return "\n".join(parts)


def counts() -> dict:
    """How many distributors, grants, warehouses, users and password links exist."""
    from sqlalchemy import func, select

    from dms.accounts.models import PasswordToken, User
    from dms.distributors.models import Distributor, TerritoryGrant, Warehouse
    from dms.extensions import db

    return {model.__name__: db.session.scalar(select(func.count()).select_from(model))
            for model in (Distributor, TerritoryGrant, Warehouse, User, PasswordToken)}
