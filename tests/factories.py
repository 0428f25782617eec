"""Factories for distributors: valid ID numbers and credit codes, distributors, grants (fixtures via conftest)."""

import itertools
from datetime import date, datetime

import pytest
from stdnum.cn import ric, uscc

_serial = itertools.count(1)


def id_number(birth: str = "19800101", area: str = "110105") -> str:
    """A fresh valid national ID number (GB 11643 check character computed)."""
    body = f"{area}{birth}{next(_serial) % 1000:03d}"
    return body + ric.calc_check_digit(body + "0")  # stdnum expects a placeholder check character


def credit_code() -> str:
    """A fresh valid unified social credit code (GB 32100 check character computed)."""
    body = f"91110105MA{next(_serial):07d}"
    return body + uscc.calc_check_digit(body)


@pytest.fixture
def make_distributor(app):
    """make_distributor(region_code="110105", level=None, **fields) -> Distributor (committed)."""
    from dms.core.jobs import commit
    from dms.distributors import services
    from dms.territories.services import get_region

    def make(region_code="110105", level=None, **fields):
        data = {"kind": "person", "name": f"代理{next(_serial)}", "id_number": id_number(),
                "phone": f"138{next(_serial):08d}", "region_code": region_code,
                "level": level or get_region(region_code).level, "exclusive": True, "profit_share": "10"}
        data.update(fields)
        distributor = services.create_distributor(None, data)
        commit()
        return distributor

    return make


@pytest.fixture
def grant(app):
    """grant(distributor, region_code, exclusive=True, start=date(2026, 1, 1), end=None) -> TerritoryGrant."""
    from dms.core.jobs import commit
    from dms.distributors.grants import grant_territory

    def make(distributor, region_code, exclusive=True, start=date(2026, 1, 1), end=None):
        result = grant_territory(None, distributor, region_code, exclusive=exclusive, effective_from=start,
                                 effective_to=end)
        commit()
        return result

    return make


@pytest.fixture
def login_distributor(login_as, make_user, make_distributor):
    """login_distributor(distributor=None) -> (user, distributor): a distributor user logged in."""

    def login(distributor=None):
        distributor = distributor or make_distributor()
        user = make_user("distributor", distributor_id=distributor.id)
        login_as(user)
        return user, distributor

    return login


@pytest.fixture
def make_product(app):
    """make_product(name=None, tracking="none", price="10.00", distributor_price=None, **fields) -> Product.

    Made with the ORM (not the catalog's services), so inventory tests do not depend on catalog rules;
    a price gives a retail price, and the distributor price of every level when given.
    """
    from decimal import Decimal

    from dms.catalog.models import Price, Product
    from dms.extensions import db

    def make(name=None, tracking="none", price="10.00", distributor_price=None, **fields):
        n = next(_serial)
        product = Product(name=name or f"商品{n}", sku=fields.pop("sku", f"SKU-{n:05d}"), tracking=tracking,
                          status="available" if price is not None else "pending", **fields)
        db.session.add(product)
        db.session.flush()
        if price is not None:
            db.session.add(Price(product_id=product.id, kind="retail", amount=Decimal(str(price))))
        if distributor_price is not None:
            for level in ("province", "city", "county"):
                db.session.add(Price(product_id=product.id, kind="distributor", level=level,
                                     amount=Decimal(str(distributor_price))))
        db.session.commit()
        return product

    return make


@pytest.fixture
def hq_warehouse(app):
    """The headquarters warehouse the migrations create."""
    from sqlalchemy import select

    from dms.distributors.models import Warehouse
    from dms.extensions import db

    hq = select(Warehouse).where(Warehouse.distributor_id.is_(None)).order_by(Warehouse.id)
    return db.session.scalars(hq).first()


def publish_backdated_rules(rates) -> None:
    """Commission rules v1 published in 2025 paying `rates` (levels 1..n), no hold, and every open upline
    link backdated to 2025 too, so orders completed last month accrue and are payable now (committed).
    For the drills that seed a database in another process's layout; in-process tests use publish_rules."""
    from sqlalchemy import update

    from dms.commissions.models import RuleLevel, RuleVersion
    from dms.core.jobs import commit
    from dms.distributors.models import UplineLink
    from dms.extensions import db

    start = datetime(2025, 1, 1)
    version = RuleVersion(number=1, status="published", effective_from=start, published_at=start, mode="multi",
                          max_levels=len(rates), hold_days=0)
    version.levels = [RuleLevel(level=n, rate=rate) for n, rate in enumerate(rates, start=1)]
    db.session.add(version)
    # The tree must hold at the orders' (backdated) completion: the links start before it.
    db.session.execute(update(UplineLink).where(UplineLink.effective_to.is_(None)).values(effective_from=start))
    commit()
