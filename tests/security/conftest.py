"""Security fixtures: a two-distributor world (every kind of owned row for distributor B), role clients."""

import io
from dataclasses import dataclass, field

import pytest
from sqlalchemy import select

from tests.conftest import Client

PASSWORD = "correct-horse-battery"
WEB_ROLES = ("anonymous", "admin", "reviewer", "distributor", "courier", "integration")


@dataclass
class World:
    """Ids of the rows the matrix puts in URLs: B's rows (foreign to A), HQ's global rows."""

    a: int  # distributor A, whose user walks the matrix
    b: int  # distributor B, the owner of the foreign rows
    ids: dict = field(default_factory=dict)
    users: dict = field(default_factory=dict)  # role -> User
    tokens: dict = field(default_factory=dict)  # role -> bearer token (API)


def _png() -> bytes:
    """A small real PNG (the catalog decodes uploads)."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (4, 4), (200, 30, 30)).save(buffer, "PNG")
    return buffer.getvalue()


def _first(stmt):
    from dms.extensions import db

    value = db.session.scalar(stmt.limit(1))
    assert value is not None, f"the world lacks a row for {stmt}"
    return value


def build_world(app, make_user, make_client) -> World:
    """Demo data (15 distributors with customers, orders, stock, statements...) plus the rows the demo lacks."""
    from werkzeug.datastructures import FileStorage

    from dms.accounts.models import Role, User
    from dms.accounts.services import issue_password_token
    from dms.campaigns.models import Campaign
    from dms.catalog.models import Category, Product
    from dms.catalog.services import add_image
    from dms.commissions.models import CommissionEntry, RuleVersion, SettlementRun, Statement
    from dms.core.cli import DEMO_SEEDERS
    from dms.core.jobs import commit
    from dms.core.models import Job, Notification
    from dms.core.services import notify
    from dms.customers.models import Customer, CustomerAddress, CustomerTierRule, Interaction
    from dms.distributors.models import DistributorTarget, TerritoryGrant, UplineLink, Warehouse
    from dms.extensions import db
    from dms.inventory import replenishment, stocktakes, transfers
    from dms.inventory.models import SerialUnit, StockBalance
    from dms.network.models import Team, TeamMember
    from dms.orders.models import Order
    from dms.reports.models import ReportFile
    from tests.distributors.applying import submit

    for seeder in DEMO_SEEDERS:
        if seeder.__module__ != "dms.reports.demo":  # 52 weeks of history: slow and adds no new kind of row
            seeder()
    commit()
    gz_sales = db.session.scalar(select(User).where(User.username == "gz_sales"))
    own = db.session.scalar(select(User).where(User.username == "distributor"))
    world = World(a=own.distributor_id, b=gz_sales.distributor_id)
    b = world.b
    b_wh = _first(select(Warehouse).where(Warehouse.distributor_id == b))
    hq_wh = _first(select(Warehouse).where(Warehouse.distributor_id.is_(None)))
    stocked = _first(select(Product).join(StockBalance, StockBalance.product_id == Product.id).where(
        StockBalance.warehouse_id == hq_wh.id, StockBalance.on_hand - StockBalance.reserved > 5,
        Product.tracking == "none"))
    stocktake = stocktakes.open_stocktake(None, b_wh)
    transfer = transfers.create_transfer(None, hq_wh, b_wh, [(stocked, 1)], notify_receiver=False)
    request = replenishment.create_request(gz_sales, b_wh, [(stocked, 2)])
    unit = _first(select(SerialUnit).where(SerialUnit.state == "in_stock"))
    unit.warehouse_id = b_wh.id
    report = ReportFile(key="security-matrix-b", kind="sales", title="B", params={}, owner_id=gz_sales.id,
                        distributor_id=b)
    job = Job(name="tests.security.nothing", args=[], queue="default", owner_id=gz_sales.id)
    db.session.add_all([report, job])
    note = notify(gz_sales.id, "for B only")
    image = add_image(None, stocked, FileStorage(io.BytesIO(_png()), filename="p.png", content_type="image/png"))
    password_link = issue_password_token(gz_sales)
    db.session.flush()
    commit()
    application, application_token = submit()
    customer = _first(select(Customer).where(Customer.distributor_id == b))
    b_order = _first(select(Order).where(Order.distributor_id == b, Order.courier_id.is_not(None)))
    world.ids = {
        "distributor_id": b, "customer_id": customer.id,
        "address_id": _first(select(CustomerAddress.id).where(CustomerAddress.customer_id == customer.id)),
        "order_id": b_order.id,
        "interaction_id": _first(select(Interaction.id).where(Interaction.distributor_id == b)),
        "statement_id": _first(select(Statement.id).where(Statement.distributor_id == b)),
        "entry_id": _first(select(CommissionEntry.id).where(CommissionEntry.beneficiary_id == b)),
        "grant_id": _first(select(TerritoryGrant.id).where(TerritoryGrant.distributor_id == b)),
        "target_id": _first(select(DistributorTarget.id).where(DistributorTarget.distributor_id == b)),
        "link_id": _first(select(UplineLink.id).where(UplineLink.distributor_id == b)),
        # A team A neither leads nor belongs to.
        "team_id": _first(select(Team.id).where(Team.leader_id != world.a, Team.id.not_in(
            select(TeamMember.team_id).where(TeamMember.distributor_id == world.a)))),
        "warehouse_id": b_wh.id, "stocktake_id": stocktake.id, "transfer_id": transfer.id,
        "request_id": request.id, "unit_id": unit.id, "report_file_id": report.id, "job_id": job.id,
        "notification_id": note.id, "user_id": gz_sales.id, "token": password_link,
        "application_token": application_token,
        # HQ's own rows (no distributor owns them): every HQ role reaches them, A is refused by permission.
        "application_id": application.id, "product_id": stocked.id, "image_id": image.id,
        "category_id": _first(select(Category.id)), "campaign_id": _first(select(Campaign.id)),
        "version_id": _first(select(RuleVersion.id).where(RuleVersion.status == "draft")),
        "published_version_id": _first(select(RuleVersion.id).where(RuleVersion.status == "published")),
        "run_id": _first(select(SettlementRun.id)),
        "rule_id": _first(select(CustomerTierRule.id)), "role_id": _first(select(Role.id)),
    }
    assert db.session.get(Notification, note.id).user_id == gz_sales.id
    world.users = {
        "admin": make_user("admin"), "reviewer": make_user("reviewer"),
        "distributor": make_user("distributor", distributor_id=world.a),
        "courier": make_user("courier", distributor_id=world.a),
        "integration": make_user("integration", distributor_id=world.a),
    }
    api_client, secret = make_client(distributor_id=world.a)
    world.ids["client_pk"] = api_client.id
    world.client_credentials = (api_client.client_id, secret)
    return world


@pytest.fixture
def make_client(app):
    """make_client(distributor_id=None) -> (ApiClient, secret) with the integration role."""
    from dms.api import services
    from dms.core.jobs import commit

    def make(distributor_id=None):
        client, secret = services.create_client(None, name="ERP", distributor_id=distributor_id)
        commit()
        return client, secret

    return make


@pytest.fixture
def world(app, make_user, make_client, tmp_path, monkeypatch) -> World:
    """The two-distributor world, uploads in a temporary folder."""
    monkeypatch.setitem(app.config, "UPLOAD_FOLDER", str(tmp_path / "uploads"))
    monkeypatch.setitem(app.config, "REPORT_FOLDER", str(tmp_path / "reports"))
    return build_world(app, make_user, make_client)


def logged_in_client(app, user) -> Client:
    """A browser-like client (CSRF on) logged in as `user`."""
    client = Client(app, app.test_client())
    client.get("/login")
    response = client.post("/login", {"username": user.username, "password": PASSWORD})
    assert response.status_code == 302, response.status_code
    client.get(response.headers["Location"])
    return client


@pytest.fixture
def role_clients(app, world) -> dict:
    """role -> a web client logged in with that role (anonymous: not logged in, but with a CSRF token)."""
    clients = {"anonymous": Client(app, app.test_client())}
    clients["anonymous"].get("/login")
    for role, user in world.users.items():
        clients[role] = logged_in_client(app, user)
    return clients


@pytest.fixture
def api_tokens(app, world) -> dict:
    """role -> a bearer token: users by the password grant, integration by client credentials."""
    http = app.test_client()
    tokens = {}
    for role in ("admin", "reviewer", "distributor", "courier"):
        response = http.post("/api/auth/token", data={"grant_type": "password",
                                                      "username": world.users[role].username, "password": PASSWORD})
        assert response.status_code == 200, response.get_data(as_text=True)
        tokens[role] = response.json["access_token"]
    client_id, secret = world.client_credentials
    response = http.post("/api/auth/token", data={"grant_type": "client_credentials", "client_id": client_id,
                                                  "client_secret": secret})
    assert response.status_code == 200
    tokens["integration"] = response.json["access_token"]
    return tokens
