"""Support for the API fuzzing (test_api_schemathesis.py): the callers (one per principal) and the seeded data.

The API authenticates by bearer token only (dms/api/auth.py): users (admin, reviewer, distributor staff,
couriers) by the password grant, integration clients by client credentials. A web session cookie is not a
credential for /api, so one principal is an admin's logged-in browser session without a token.
"""

import itertools
import json
from dataclasses import dataclass, field
from datetime import date, timedelta

from hypothesis import strategies as st

from tests.factories import credit_code, id_number

PASSWORD = "correct-horse-battery"

# Which known ids may stand in for a generated integer, by the name of the parameter or body field.
ID_KINDS = {
    "product_id": "products", "order_id": "orders", "customer_id": "customers", "distributor_id": "distributors",
    "application_id": "applications", "category_id": "categories", "parent_id": "categories",
    "warehouse_id": "warehouses", "courier_id": "couriers",
}


# Valid values that may stand in for a generated string, by field name, so bodies pass validation too.
REGIONS = {"440113": "county", "110105": "county", "440106": "county", "440100": "city", "440000": "province"}


# Delivered, unrated orders seeded per distributor: each can be rated once (then 409), so enough of them
# that rateOrder keeps answering 201 for a fair share of its examples.
RATEABLE_PER_DISTRIBUTOR = 5
_births = itertools.count()


def fresh_id_number() -> str:
    """A valid ID number never used before in this run (a duplicate of an open application is a 409)."""
    # A birth date of its own, in a district that existed by then (stdnum checks that); the factories' are 1980.
    birth = date(1990, 1, 1) + timedelta(days=next(_births))
    return id_number(birth=birth.strftime("%Y%m%d"), area="440106")


@st.composite
def complete_applications(draw) -> dict:
    """A whole consistent application (person or company), new ID number and credit code: it must answer 201."""
    region = draw(st.sampled_from(sorted(REGIONS)), label="region")
    body = {"applicant_type": draw(st.sampled_from(["person", "company"]), label="applicant_type"),
            "name": draw(st.sampled_from(["李四", "Wang Wu", "欧阳娜娜"]), label="name"),
            "phone": draw(st.sampled_from(["13800138001", "13912345678"]), label="phone"),
            "email": draw(st.sampled_from([None, "", "zs@example.com"]), label="email"),
            "region_code": region, "level": REGIONS[region],
            "message": draw(st.sampled_from([None, "", "申请做本区代理"]), label="message"),
            "id_number": fresh_id_number(), "company_name": None, "credit_code": None}
    if body["applicant_type"] == "company":
        body.update(company_name="广州粮油有限公司", credit_code=credit_code(),
                    id_number=draw(st.sampled_from([None, body["id_number"]]), label="company id_number"))
    return body


def valid_values() -> dict[str, list]:
    """Field name -> valid values (ID numbers and credit codes fresh, so some applications are new)."""
    return {"phone": ["13800138001", "13912345678", "15000000001"], "region_code": list(REGIONS),
            "id_number": [id_number() for _n in range(20)], "credit_code": [credit_code() for _n in range(5)],
            "email": ["zs@example.com"], "image_url": ["https://example.com/flour.jpg"],
            "expiry_date": [(date.today() + timedelta(days=365)).isoformat()]}


@dataclass
class Principal:
    """One caller of the API: the headers and cookies it sends, and what it is."""

    name: str
    headers: dict = field(default_factory=dict)
    cookies: dict = field(default_factory=dict)
    authenticated: bool = True  # holds a bearer token
    distributor_id: int | None = None  # rows of other distributors are foreign to it
    # Operations it may succeed on when its token is narrowed (None: whatever its role grants).
    allowed_operations: frozenset | None = None


@dataclass
class World:
    """The seeded rows: ids by kind, the rows of each distributor (to tell foreign ones), and the callers."""

    ids: dict[str, list[int]] = field(default_factory=dict)
    owner: dict[tuple[str, int], int] = field(default_factory=dict)  # (kind, id) -> distributor id
    principals: dict[str, Principal] = field(default_factory=dict)
    values: dict[str, list] = field(default_factory=valid_values)
    # (grant form) pairs that authenticate: a user's password, a client's secret.
    credentials: list[dict] = field(default_factory=list)

    def add(self, kind: str, row_id: int, distributor_id: int | None = None) -> int:
        """Remember a seeded id (and the distributor owning it)."""
        self.ids.setdefault(kind, []).append(row_id)
        if distributor_id is not None:
            self.owner[(kind, row_id)] = distributor_id
        return row_id

    def rateable(self, principal: Principal) -> list[int]:
        """The seeded delivered, unrated orders the principal's distributor owns (all of them for HQ callers)."""
        return [o for o in self.ids.get("rateable_orders", [])
                if principal.distributor_id is None or self.owner[("orders", o)] == principal.distributor_id]

    def is_foreign(self, kind: str, row_id, principal: Principal) -> bool:
        """True when the row is a seeded one owned by another distributor than the principal's."""
        if principal.distributor_id is None or isinstance(row_id, bool) or not isinstance(row_id, int):
            return False
        if kind == "distributors":
            return row_id in self.ids.get("distributors", []) and row_id != principal.distributor_id
        owner = self.owner.get((kind, row_id))
        return owner is not None and owner != principal.distributor_id


def bearer(token: str) -> dict:
    """The Authorization header of a token."""
    return {"Authorization": f"Bearer {token}"}


class Seeder:
    """Builds the world through the product's own API and services (a Flask test client, one context a request)."""

    def __init__(self, app, make_user, make_distributor, make_product, hq_warehouse):
        self.app = app
        self.http = app.test_client()
        self.make_user, self.make_distributor, self.make_product = make_user, make_distributor, make_product
        self.hq_warehouse = hq_warehouse
        self.world = World()

    def _send(self, method: str, url: str, headers=None, body=None, form=None):
        from dms.extensions import db

        with self.app.app_context():
            if form is not None:
                response = self.http.open(url, method=method, data=form, headers=headers or {})
            else:
                response = self.http.open(url, method=method, data=json.dumps(body), headers=headers or {},
                                          content_type="application/json")
        db.session.expire_all()
        return response

    def ok(self, method: str, url: str, headers=None, body=None, form=None) -> dict:
        """Send a request that must succeed; its JSON answer."""
        response = self._send(method, url, headers, body, form)
        assert response.status_code < 300, (method, url, response.status_code, response.get_data(as_text=True))
        return response.json

    def user_token(self, user, scope: str | None = None) -> str:
        """A token of the password grant."""
        form = {"grant_type": "password", "username": user.username, "password": PASSWORD}
        if scope:
            form["scope"] = scope
        return self.ok("POST", "/api/auth/token", form=form)["access_token"]

    def client_token(self, role_code: str, name: str, distributor_id=None, scope: str | None = None) -> str:
        """Register an integration client and get a token by client credentials."""
        from dms.accounts.models import Role
        from dms.api import services
        from dms.core.jobs import commit
        from dms.extensions import db

        role_id = db.session.scalar(db.select(Role.id).where(Role.code == role_code))
        client, secret = services.create_client(None, name=name, role_id=role_id, distributor_id=distributor_id)
        commit()
        self.world.credentials.append({"client_id": client.client_id, "client_secret": secret})
        form = {"grant_type": "client_credentials", "client_id": client.client_id, "client_secret": secret}
        if scope:
            form["scope"] = scope
        return self.ok("POST", "/api/auth/token", form=form)["access_token"]

    def session_cookie(self, user) -> dict:
        """The cookie of a logged-in web session (CSRF token read from the login page)."""
        import re

        browser = self.app.test_client()
        with self.app.app_context():
            page = browser.get("/login").get_data(as_text=True)
            token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
            response = browser.post("/login", data={"username": user.username, "password": PASSWORD,
                                                    "csrf_token": token})
        assert response.status_code == 302, response.get_data(as_text=True)[:300]
        name = self.app.config["SESSION_COOKIE_NAME"]
        return {name: browser.get_cookie(name).value}

    def build(self) -> World:
        """Distributors A and B with stock, customers and orders in several states; products; an application."""
        from dms.core.jobs import commit
        from dms.inventory import services as inventory

        w = self.world
        a, b = self.make_distributor("440113"), self.make_distributor("110105")
        for d in (a, b):
            w.add("distributors", d.id)
            w.add("warehouses", d.warehouse.id, d.id)
        w.add("warehouses", self.hq_warehouse.id)

        admin = self.make_user("admin")
        reviewer = self.make_user("reviewer")
        staff_a = self.make_user("distributor", distributor_id=a.id)
        staff_b = self.make_user("distributor", distributor_id=b.id)
        courier_a = self.make_user("courier", distributor_id=a.id, display_name="王师傅")
        w.add("couriers", courier_a.id, a.id)
        w.credentials.append({"username": staff_a.username, "password": PASSWORD})
        tokens = {"admin": self.user_token(admin), "a": self.user_token(staff_a), "b": self.user_token(staff_b),
                  "courier": self.user_token(courier_a)}
        hq, ha, hb = bearer(tokens["admin"]), bearer(tokens["a"]), bearer(tokens["b"])

        food = self.ok("POST", "/api/categories", hq, {"name": "食品"})["category_id"]
        w.add("categories", food)
        w.add("categories", self.ok("POST", "/api/categories", hq, {"name": "面食", "parent_id": food})["category_id"])
        flour = self.make_product(name="面粉", price="50.00", distributor_price="40.00", category_id=food)
        water = self.make_product(name="桶装水", price="18.00", distributor_price="15.00")
        milk = self.make_product(name="牛奶", tracking="batch", price="30.00", distributor_price="25.00")
        pending = self.make_product(name="新品", price=None)
        for p in (flour, water, milk, pending):
            w.add("products", p.id)
        expiry = date.today() + timedelta(days=365)
        for warehouse in (a.warehouse, b.warehouse, self.hq_warehouse):
            inventory.receive(None, warehouse, [
                {"product": flour, "quantity": 5000}, {"product": water, "quantity": 5000},
                {"product": milk, "quantity": 500, "batch_code": "MILK-1", "expiry_date": expiry}])
        commit()

        for headers, d, phone in ((ha, a, "13800138001"), (hb, b, "13800138002")):
            body = {"name": "张三", "phone": phone, "region_code": d.region_code, "address": "东环路 1 号"}
            w.add("customers", self.ok("POST", "/api/customers", headers, body)["customer_id"], d.id)

        def order(headers, d, product, quantity=2) -> int:
            body = {"distributor_id": d.id, "product_id": product.id, "quantity": quantity}
            return w.add("orders", self.ok("POST", "/api/orders", headers, body)["order_id"], d.id)

        def move(headers, order_id, body):
            self.ok("POST", f"/api/orders/{order_id}/transitions", headers, body)

        for headers, d in ((ha, a), (hb, b)):
            order(headers, d, flour)  # stays pending
            paid = order(headers, d, water)
            move(headers, paid, {"to": "paid", "payment": {"method": "cash", "amount": "36.00"}})
        # A's order on its way; delivered ones of A and B (to rate, complete or refund), each by its courier.
        courier_b = self.make_user("courier", distributor_id=b.id, display_name="李师傅")
        w.add("couriers", courier_b.id, b.id)
        oid = order(ha, a, water, 1)
        move(ha, oid, {"to": "paid", "payment": {"method": "wechat", "amount": "18.00"}})
        move(ha, oid, {"to": "assigned", "courier_id": courier_a.id})
        for headers, d, courier in ((ha, a, courier_a), (hb, b, courier_b)):
            courier_headers = bearer(tokens["courier"]) if courier is courier_a else bearer(self.user_token(courier))
            for _n in range(RATEABLE_PER_DISTRIBUTOR):
                oid = order(headers, d, water, 1)
                move(headers, oid, {"to": "paid", "payment": {"method": "wechat", "amount": "18.00"}})
                move(headers, oid, {"to": "assigned", "courier_id": courier.id})
                move(courier_headers, oid, {"to": "shipped"})
                move(courier_headers, oid, {"to": "delivered"})
                w.ids.setdefault("rateable_orders", []).append(oid)

        for region in ("440105", "330106"):
            application = {"applicant_type": "person", "name": "李四", "id_number": id_number(),
                           "phone": "13900139000" if region == "440105" else "13900139001", "region_code": region,
                           "level": "county", "message": "申请"}
            w.add("applications", self.ok("POST", "/api/distributor-applications", None,
                                          application)["application_id"])

        P = Principal
        w.principals = {
            "admin": P("admin", hq),
            "reviewer": P("reviewer", bearer(self.user_token(reviewer))),
            "distributor": P("distributor", ha, distributor_id=a.id),
            "courier": P("courier", bearer(tokens["courier"]), distributor_id=a.id),
            "client_full": P("client_full", bearer(self.client_token("admin", "ERP"))),
            "client_narrow": P("client_narrow", bearer(self.client_token("integration", "目录", scope="catalog.view")),
                               allowed_operations=frozenset({"listProducts", "getProduct", "listCategories"})),
            "client_distributor": P("client_distributor",
                                    bearer(self.client_token("integration", "小程序", distributor_id=b.id)),
                                    distributor_id=b.id),
            "web_session": P("web_session", cookies=self.session_cookie(admin), authenticated=False),
            "anonymous": P("anonymous", authenticated=False),
        }
        return w
