"""Which page shows each form of the app and how to fill it validly: the map the form fuzzer walks.

Every AppForm/FlaskForm subclass under dms/ with a text-like field (StringField and its kinds) must be
either a TARGET here (how to reach its page as which role, what valid values it needs) or in EXCLUDED
with the reason; tests/fuzz/test_forms.py fails for a form that is neither, so a new form cannot be
forgotten. Forms without text-like fields (buttons, selects, dates, files) have nothing to fuzz; the
uploads are fuzzed by tests/fuzz/test_uploads.py.
"""

import importlib
import itertools
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass, field

from flask_wtf import FlaskForm
from wtforms import StringField

_serial = itertools.count(1)


def n() -> int:
    """A fresh number, for values that must be unique (SKU, phone, username)."""
    return next(_serial)


def all_form_classes() -> list[type]:
    """Every FlaskForm subclass defined under dms/ (all area modules imported first)."""
    import dms

    for module in pkgutil.walk_packages(dms.__path__, "dms."):
        importlib.import_module(module.name)

    def walk(cls):
        for sub in cls.__subclasses__():
            yield sub
            yield from walk(sub)

    return sorted({c for c in walk(FlaskForm) if c.__module__.startswith("dms.") and c.__module__ != "dms.core.forms"},
                  key=qualname)


def qualname(cls: type) -> str:
    """dms.customers.forms.CustomerForm"""
    return f"{cls.__module__}.{cls.__name__}"


def text_fields(cls: type, multiline: bool = False) -> list[str]:
    """The names of the form class's text-like fields (StringField, TextAreaField, HiddenField, ...);
    with `multiline`, only the text areas."""
    from wtforms import TextAreaField

    kind = TextAreaField if multiline else StringField
    form_fields = []
    for name in dir(cls):
        unbound = getattr(cls, name, None)
        field_class = getattr(unbound, "field_class", None)
        if isinstance(field_class, type) and issubclass(field_class, kind):
            form_fields.append(name)
    return form_fields


@dataclass
class Target:
    """A form on a page: GET `page` as `role`, POST to `post` (default: the page) the scraped defaults
    updated with `data(ctx)`; `setup(ctx)` makes the rows and returns the names the URLs use; `each(ctx)`,
    when given, makes fresh rows before every submission (a form that can succeed only once per row).
    `shown` is a page that shows the stored values after a success (checked for escaping). `baseline` is
    what the valid data gives: "success", or "refused" for a form whose every answer is an error here."""

    form: str
    page: str
    post: str | None = None
    role: str = "admin"
    setup: Callable | None = None
    data: Callable | None = None
    each: Callable | None = None
    shown: str | None = None
    skip_fields: dict[str, str] = field(default_factory=dict)
    baseline: str = "success"


def _customer(ctx, **data):
    from dms.core.jobs import commit
    from dms.customers import services

    payload = {"name": "客户", "phone": f"139{n():08d}", "region_code": ctx.distributor.region_code, "street": "",
               "address": "1号"}
    payload.update(data)
    customer = services.create_customer(None, ctx.distributor.id, payload)
    commit()
    return customer


def customer_setup(ctx) -> dict:
    """One customer of the acting distributor."""
    return {"customer": _customer(ctx).id}


def planned_visit(ctx) -> dict:
    """A customer with a visit planned for today (a visit can be completed once)."""
    from dms.core.jobs import commit
    from dms.core.time import business_today
    from dms.customers import interactions

    customer = _customer(ctx)
    visit = interactions.plan_visit(ctx.user, customer, {"planned_on": business_today(), "contact_person": "",
                                                         "notes": ""})
    commit()
    return {"customer": customer.id, "visit": visit.id}


def product_setup(ctx) -> dict:
    """One product."""
    return {"product": ctx.make_product().id}


def category_setup(ctx) -> dict:
    """One category."""
    from dms.catalog import services
    from dms.core.jobs import commit

    category = services.create_category(None, f"分类{n()}")
    commit()
    return {"category": category.id}


def application_setup(ctx) -> dict:
    """A fresh distributor application under review (approve/reject can happen once)."""
    from dms.core.jobs import commit
    from dms.distributors.applications import start_review
    from tests.distributors.applying import application_data, submit

    application, _token = submit(application_data(region_code="440106", level="county"))
    start_review(ctx.user, application)
    commit()
    return {"application": application.id}


def user_setup(ctx) -> dict:
    """Another user to edit."""
    return {"user": ctx.make_user("reviewer").id}


TARGETS: list[Target] = [
    # customers
    Target("dms.customers.forms.CustomerForm", "/customers/new", role="distributor",
           data=lambda ctx: {"name": "王阿姨", "phone": f"139{n():08d}", "region_code": ctx.distributor.region_code,
                             "address": "1号"},
           shown="/customers"),
    Target("dms.customers.forms.CustomerForm", "/customers/{customer}/edit", role="distributor",
           setup=customer_setup, data=lambda ctx: {"name": "王阿姨"}, shown="/customers/{customer}"),
    Target("dms.customers.forms.AddressForm", "/customers/{customer}", post="/customers/{customer}/addresses",
           role="distributor", setup=customer_setup,
           data=lambda ctx: {"address_region": ctx.distributor.region_code, "address": "2号"},
           shown="/customers/{customer}"),
    Target("dms.customers.forms.TierOverrideForm", "/customers/{customer}", post="/customers/{customer}/tier",
           role="distributor", setup=customer_setup, data=lambda ctx: {"tier": "A", "reason": "大客户"},
           shown="/customers/{customer}"),
    Target("dms.customers.forms.TierRuleForm", "/customers/tiers", post="/customers/tiers",
           data=lambda ctx: {"new-code": f"T{n() % 1000}", "new-name": "金牌", "new-min_score": "7"},
           shown="/customers/tiers"),
    Target("dms.customers.interaction_forms.LogInteractionForm", "/customers/{customer}/interactions",
           post="/customers/{customer}/interactions", role="distributor", setup=customer_setup,
           data=lambda ctx: {"log-kind": "call", "log-outcome": "满意"}, shown="/customers/{customer}/interactions"),
    Target("dms.customers.interaction_forms.PlanVisitForm", "/customers/{customer}/interactions",
           post="/customers/{customer}/interactions/plan", role="distributor", setup=customer_setup,
           data=lambda ctx: {"plan-planned_on": ctx.today.isoformat()}, shown="/customers/{customer}/interactions"),
    Target("dms.customers.interaction_forms.CompleteVisitForm", "/customers/{customer}/interactions",
           post="/interactions/{visit}/done", role="distributor", each=planned_visit,
           data=lambda ctx: {f"visit-{ctx.params['visit']}-outcome": "满意"},
           shown="/customers/{customer}/interactions"),
    # catalog
    Target("dms.catalog.forms.ProductForm", "/catalog/products/new",
           data=lambda ctx: {"name": "桶装水", "sku": f"SKU-F{n()}", "price": "18.00", "price_province": "12.00",
                             "price_city": "13.00", "price_county": "14.00"},
           shown="/catalog/products"),
    Target("dms.catalog.forms.ProductForm", "/catalog/products/{product}/edit", setup=product_setup,
           data=lambda ctx: {"name": "桶装水", "price": "18.00", "price_province": "12.00", "price_city": "13.00",
                             "price_county": "14.00"},
           shown="/catalog/products/{product}"),
    Target("dms.catalog.forms.CategoryForm", "/catalog/categories", data=lambda ctx: {"name": f"饮料{n()}"},
           shown="/catalog/categories"),
    Target("dms.catalog.forms.RenameCategoryForm", "/catalog/categories",
           post="/catalog/categories/{category}/rename", setup=category_setup,
           data=lambda ctx: {"name": f"饮品{n()}"}, shown="/catalog/categories"),
    # distributors
    Target("dms.distributors.application_forms.ApplyForm", "/apply", role=None,
           data=lambda ctx: ctx.apply_data(), shown=None),
    Target("dms.distributors.application_forms.ApproveForm", "/applications/{application}",
           post="/applications/{application}/approve", each=application_setup,
           data=lambda ctx: {"username": f"agent{n()}", "profit_share": "10"}, shown="/applications/{application}"),
    Target("dms.distributors.application_forms.RejectForm", "/applications/{application}",
           post="/applications/{application}/reject", each=application_setup,
           data=lambda ctx: {"reason": "区域已有代理"}, shown="/applications/{application}"),
    Target("dms.distributors.forms.DistributorForm", "/distributors/new",
           data=lambda ctx: ctx.distributor_data(), shown="/distributors"),
    Target("dms.distributors.forms.DistributorForm", "/distributors/{distributor}/edit",
           setup=lambda ctx: {"distributor": ctx.distributor.id}, data=lambda ctx: {"name": "番禺水站"},
           shown="/distributors/{distributor}"),
    # accounts
    Target("dms.accounts.forms.LoginForm", "/login", role=None,
           data=lambda ctx: {"username": "nobody", "password": "wrong-password-1"},
           baseline="refused"),  # each payload as a username would need a user of that name: the refusal path
    Target("dms.accounts.forms.UserCreateForm", "/admin/users/new",
           data=lambda ctx: {"username": f"user{n()}", "password": "correct-horse-battery", "roles": "reviewer"},
           shown="/admin/users"),
    Target("dms.accounts.forms.UserEditForm", "/admin/users/{user}", setup=user_setup,
           data=lambda ctx: {"display_name": "小王"}, shown="/admin/users/{user}"),
    Target("dms.accounts.forms.RoleForm", "/admin/roles/new",
           data=lambda ctx: {"code": f"role{n()}", "name": f"角色{n()}"}, shown="/admin/roles"),
]

TARGETS += [
    Target("dms.api.forms.ClientForm", "/admin/api-clients/new", data=lambda ctx: {"name": f"ERP{n()}"},
           shown="/admin/api-clients"),
    Target("dms.campaigns.forms.CampaignForm", "/campaigns/new", setup=product_setup,
           data=lambda ctx: {"target_regions": "440113", "product_ids": str(ctx.params["product"]),
                             "name": "夏日促销", "code": f"C{n()}", "mechanism": "percent", "percent_off": "10",
                             "starts_on": "2026-06-01", "ends_on": "2026-06-30", "budget": "1000.00"},
           shown="/campaigns"),
    Target("dms.network.forms.TeamForm", "/network/teams/new",
           data=lambda ctx: {"name": f"华南团队{n()}", "leader_id": str(ctx.distributor.id)}, shown="/network/teams"),
    Target("dms.accounts.forms.ChangePasswordForm", "/account/password",
           data=lambda ctx: {"current_password": "correct-horse-battery", "new_password": "correct-horse-battery",
                             "confirm": "correct-horse-battery"}),
    Target("dms.reports.scorecard_views.WeightsForm", "/reports/scorecard/weights"),
    Target("dms.distributors.forms.GrantForm", "/distributors/{distributor}", post="/distributors/{distributor}/grants",
           data=lambda ctx: {"region_code": "440115", "effective_from": "2026-01-01", "note": "新增"},
           shown="/distributors/{distributor}"),
    Target("dms.distributors.forms.StatusForm", "/distributors/{distributor}",
           post="/distributors/{distributor}/status",
           each=lambda ctx: {"distributor": ctx.make_distributor("440115").id},
           data=lambda ctx: {"status": "suspended", "reason": "欠款", "confirm": "y"},
           shown="/distributors/{distributor}"),
    Target("dms.inventory.transfer_forms.ReplenishmentForm", "/inventory/replenishment/new", role="distributor",
           setup=product_setup, data=lambda ctx: {"note": "急需", f"qty-{ctx.params['product']}": "5"}),
    Target("dms.inventory.stocktake_forms.OpenStocktakeForm", "/inventory/stocktakes", role="distributor",
           data=lambda ctx: {"note": "月末盘点"}),
]

EXCLUDED: dict[str, str] = {
    "dms.accounts.forms.ProfileFields": "the base of UserCreateForm and UserEditForm, fuzzed through them",
    "dms.accounts.forms.ResetPasswordForm": "a password, hashed and never shown; guarded like every AppForm",
    "dms.accounts.forms.SetPasswordForm": "needs an emailed token; its password is hashed and never shown",
    "dms.api.forms.ClientActiveForm": "one hidden on/off flag, parsed as a choice",
    "dms.catalog.import_export_views.ReportForm": "a signed token; a changed one is refused by its signature (400)",
    "dms.commissions.rule_forms.NewDraftForm": "a hidden version id, looked up as an int",
}


# --- orders and deliveries ------------------------------------------------------------------------

def _water(ctx):
    """The acting distributor's product with plenty of stock (made once per test)."""
    if getattr(ctx, "water", None) is None:
        from dms.core.jobs import commit
        from dms.inventory import services as inventory

        ctx.water = ctx.make_product(name="桶装水", price="18.00")
        inventory.receive(None, ctx.distributor.warehouse, [{"product": ctx.water, "quantity": 1000}])
        commit()
    return ctx.water


def _courier(ctx):
    """A courier of the acting distributor: the acting user when a courier is logged in."""
    if ctx.user is not None and any(r.code == "courier" for r in ctx.user.roles):
        return ctx.user
    if getattr(ctx, "courier", None) is None:
        ctx.courier = ctx.make_user("courier", distributor_id=ctx.distributor.id)
    return ctx.courier


def order_in(status: str, distributor: bool = True) -> Callable:
    """A setup making one order of the acting distributor (or an unassigned one) moved on to `status`."""

    def make(ctx) -> dict:
        from dms.core.jobs import commit
        from dms.orders import services, transitions

        number, courier = n(), _courier(ctx)  # the dispatch board offers couriers only when there is one
        data = {"product_id": _water(ctx).id, "quantity": 1,
                "customer": {"name": f"客户{number}", "phone": f"136{number:08d}",
                             "region_code": "440113" if distributor else "110105", "street": "", "address": "1号"}}
        if distributor:
            data["distributor_id"] = ctx.distributor.id
        order = services.place_order(None, data)
        if status != "pending":
            transitions.pay(None, order, "cash")
        if status in ("assigned", "shipped", "delivered", "completed"):
            transitions.assign_courier(None, order, courier.id)
        if status in ("shipped", "delivered", "completed"):
            transitions.ship(courier, order)
        if status in ("delivered", "completed"):
            transitions.deliver(courier, order)
        if status == "completed":
            transitions.complete(None, order)
        commit()
        return {"order": order.id}

    return make


def new_order_data(ctx) -> dict:
    """A new customer and one line of the stocked product, as the order form posts them."""
    from tests.orders.form_data import customer_form, lines_form

    return {**customer_form(phone=f"135{n():08d}"), "customer_q": "", "customer_id": "",
            **lines_form({"product_id": str(_water(ctx).id), "quantity": "1"})}


REDIRECT = "{redirect}"  # `shown`: the page the successful submission redirected to

TARGETS += [
    Target("dms.orders.forms.OrderForm", "/orders/new", role="distributor", data=new_order_data, shown=REDIRECT),
    Target("dms.orders.forms.EditOrderForm", "/orders/{order}/edit", role="distributor", setup=order_in("pending"),
           shown="/orders/{order}"),
    Target("dms.orders.forms.PayForm", "/orders/{order}", post="/orders/{order}/pay", role="distributor",
           each=order_in("pending"), data=lambda ctx: {"method": "cash"}, shown="/orders/{order}"),
    Target("dms.orders.forms.NoteForm", "/orders/{order}", post="/orders/{order}/complete", role="distributor",
           each=order_in("delivered"), shown="/orders/{order}"),
    Target("dms.orders.forms.CancelForm", "/orders/{order}", post="/orders/{order}/cancel", role="distributor",
           each=order_in("pending"), data=lambda ctx: {"reason": "客户改主意", "confirm": "y"},
           shown="/orders/{order}"),
    Target("dms.orders.forms.RefundForm", "/orders/{order}", post="/orders/{order}/refund", role="distributor",
           each=order_in("delivered"), data=lambda ctx: {"reason": "破损", "confirm": "y", "method": "cash"},
           shown="/orders/{order}"),
    Target("dms.orders.forms.RateForm", "/orders/{order}", post="/orders/{order}/rate", role="distributor",
           each=order_in("delivered"), data=lambda ctx: {"score": "5"}, shown="/orders/{order}"),
    Target("dms.orders.forms.AssignDistributorForm", "/orders/{order}", post="/orders/{order}/assign-distributor",
           each=order_in("pending", distributor=False),
           data=lambda ctx: {"distributor_id": str(ctx.distributor.id)}, shown="/orders/{order}"),
    Target("dms.delivery.forms.AssignCourierForm", "/dispatch", post="/dispatch/orders/{order}/courier",
           role="distributor", each=order_in("paid"), data=lambda ctx: {"courier_id": str(_courier(ctx).id)},
           shown="/orders/{order}"),
    Target("dms.delivery.forms.ShipForm", "/deliveries", post="/deliveries/{order}/ship", role="courier",
           each=order_in("assigned"), shown="/deliveries"),
    Target("dms.delivery.forms.DeliverForm", "/deliveries", post="/deliveries/{order}/deliver", role="courier",
           each=order_in("shipped"), shown="/deliveries"),
    Target("dms.delivery.forms.RatingForm", "/deliveries", post="/deliveries/{order}/rating", role="courier",
           each=order_in("delivered"), data=lambda ctx: {"score": "5"}, shown="/deliveries"),
]


# --- commissions, territories, targets, campaigns, network ------------------------------------------

def draft_rules(ctx) -> dict:
    """A commission rule draft (a copy of nothing: blank settings)."""
    from dms.commissions import rules
    from dms.core.jobs import commit

    version = rules.create_draft(None)
    commit()
    return {"version": version.id}


RULE_DATA = {"name": "2026版", "mode": "single", "max_levels": "1", "base": "net", "hold_days": "7",
             "levels-0-rate": "10", "levels-0-min_personal_volume": "0"}


def ended_grant(ctx) -> dict:
    """A fresh non-exclusive distributor whose territory grant can be ended (once)."""
    from dms.core.jobs import commit
    from dms.distributors.grants import grant_territory

    other = ctx.make_distributor("440115", exclusive=False)
    grant = grant_territory(None, other, "110106", exclusive=False, effective_from=ctx.date(2026, 1, 1))
    commit()
    return {"distributor": other.id, "grant": grant.id}


def draft_campaign(ctx) -> dict:
    """A campaign in draft (cancelling it asks for the confirmation and takes the note)."""
    from dms.campaigns import services
    from dms.core.jobs import commit
    from tests.campaigns.helpers import plan

    campaign = services.create_campaign(None, plan([_water(ctx)]))
    commit()
    return {"campaign": campaign.id}


def movable(ctx) -> dict:
    """A fresh county distributor and a city one to put above it."""
    if "upline" not in ctx.params:
        ctx.params["upline"] = ctx.make_distributor("440100", level="city", exclusive=False).id
    return {"distributor": ctx.make_distributor("440115", exclusive=False).id}


TARGETS += [
    Target("dms.commissions.rule_forms.RulesForm", "/commissions/rules/{version}/edit", setup=draft_rules,
           data=lambda ctx: RULE_DATA, shown="/commissions/rules/{version}"),
    Target("dms.commissions.rule_forms.PublishForm", "/commissions/rules/{version}",
           post="/commissions/rules/{version}/publish", each=lambda ctx: _saved_draft(ctx),
           data=lambda ctx: {"confirm": "y", "effective_from": ""}, shown="/commissions/rules/{version}"),
    Target("dms.commissions.ledger_forms.AdjustmentForm", "/commissions/adjustments/new",
           data=lambda ctx: {"distributor_id": str(ctx.distributor.id), "amount": "10.00", "reason": "补发"},
           shown="/commissions/entries"),
    Target("dms.commissions.ledger_forms.RunForm", "/commissions/settlements",
           data=lambda ctx: {"period": "2026-01"}, shown="/commissions/settlements"),
    Target("dms.distributors.forms.EndGrantForm", "/distributors/{distributor}",
           post="/distributors/{distributor}/grants/{grant}/end", each=ended_grant,
           data=lambda ctx: {"effective_to": (ctx.today + ctx.timedelta(days=30)).isoformat(), "reason": "合同到期"},
           shown="/distributors/{distributor}"),
    Target("dms.distributors.forms.TargetForm", "/distributors/{distributor}",
           post="/distributors/{distributor}/targets",
           data=lambda ctx: {"period": "month", "period_start": ctx.today.isoformat(), "amount": "1000.00",
                             "quantity": "10"}, shown="/distributors/{distributor}"),
    Target("dms.campaigns.forms.ConfirmForm", "/campaigns/{campaign}", post="/campaigns/{campaign}/cancel",
           each=draft_campaign, data=lambda ctx: {"note": "预算取消", "confirm": "y"}, shown="/campaigns/{campaign}"),
    Target("dms.network.forms.MoveForm", "/network/distributors/{distributor}",
           post="/network/distributors/{distributor}/move", each=movable,
           data=lambda ctx: {"upline_id": str(ctx.params["upline"]), "effective_on": ctx.today.isoformat(),
                             "reason": "调整"}, shown="/network/distributors/{distributor}"),
]


def _saved_draft(ctx) -> dict:
    """A draft with one level set, ready to publish."""
    from dms.commissions import rules
    from dms.core.jobs import commit

    version = rules.create_draft(None)
    rules.set_rules(None, version, {**{k: v for k, v in RULE_DATA.items() if "-" not in k}, "note": "",
                                    "compression": False, "cap_per_order": None,
                                    "levels": [{"rate": "10", "min_personal_volume": "0"}], "overrides": [],
                                    "rewards": []})
    commit()
    return {"version": version.id}


# --- inventory --------------------------------------------------------------------------------------

def stock_row(ctx) -> dict:
    """The acting distributor's warehouse and a product in stock there."""
    return {"warehouse": ctx.distributor.warehouse.id, "product": _water(ctx).id}


def open_stocktake(ctx) -> dict:
    """An open stocktake of the acting distributor's warehouse."""
    from dms.core.jobs import commit
    from dms.inventory import stocktakes

    _water(ctx)
    stocktake = stocktakes.open_stocktake(ctx.user, ctx.distributor.warehouse)
    commit()
    return {"stocktake": stocktake.id}


def replenishment_request(ctx) -> dict:
    """A distributor's pending replenishment request (approved or rejected once)."""
    from dms.core.jobs import commit
    from dms.inventory import replenishment

    hq_stock(ctx)  # approving issues the stock from HQ
    asker = ctx.make_user("distributor", distributor_id=ctx.distributor.id)
    request = replenishment.create_request(asker, ctx.distributor.warehouse, [{"product": _water(ctx),
                                                                                "quantity": 2}])
    commit()
    return {"request": request.id}


def hq_stock(ctx):
    """The HQ warehouse with the product in stock (made once per test)."""
    from sqlalchemy import select

    from dms.core.jobs import commit
    from dms.distributors.models import Warehouse
    from dms.extensions import db
    from dms.inventory import services as inventory

    hq = db.session.scalars(select(Warehouse).where(Warehouse.distributor_id.is_(None)).order_by(Warehouse.id)).first()
    if not getattr(ctx, "hq_stocked", False):
        inventory.receive(None, hq, [{"product": _water(ctx), "quantity": 1000}])
        commit()
        ctx.hq_stocked = True
    return hq


def transfer(ctx) -> dict:
    """A transfer of one product from HQ to the acting distributor, in transit."""
    from dms.core.jobs import commit
    from dms.inventory import transfers

    hq = hq_stock(ctx)
    sent = transfers.create_transfer(ctx.make_user("admin") if ctx.user is None or not ctx.user.can(
        "inventory.transfer") else ctx.user, hq, ctx.distributor.warehouse, [{"product": _water(ctx), "quantity": 2}])
    commit()
    return {"transfer": sent.id}


TARGETS += [
    Target("dms.inventory.forms.WriteOffForm", "/inventory/write-off?warehouse={warehouse}&product={product}",
           post="/inventory/write-off", role="distributor", setup=stock_row,
           data=lambda ctx: {"warehouse": str(ctx.params["warehouse"]), "product": str(ctx.params["product"]),
                             "quantity": "1", "reason": "damaged", "confirm": "y"}, shown="/inventory/movements"),
    Target("dms.inventory.forms.ThresholdForm", "/inventory", post="/inventory/thresholds", role="distributor",
           setup=stock_row, data=lambda ctx: {"warehouse": str(ctx.params["warehouse"]),
                                              "product": str(ctx.params["product"]), "threshold": "5"},
           shown="/inventory"),
    Target("dms.inventory.forms.ReceiveForm", "/inventory/receive", setup=product_setup,
           data=lambda ctx: {"lines-0-product_id": str(ctx.params["product"]), "lines-0-quantity": "5",
                             "reason": "采购入库"}, shown="/inventory/movements"),
    Target("dms.inventory.stocktake_forms.AddLineForm", "/inventory/stocktakes/{stocktake}",
           post="/inventory/stocktakes/{stocktake}/lines", role="distributor", setup=open_stocktake,
           each=lambda ctx: {"sku": ctx.make_product().sku},
           data=lambda ctx: {"sku": ctx.params["sku"], "counted": "3"}, shown="/inventory/stocktakes/{stocktake}"),
    Target("dms.inventory.transfer_forms.ApproveForm", "/inventory/replenishment/{request}",
           post="/inventory/replenishment/{request}/approve", each=replenishment_request,
           data=lambda ctx: {"reason": "同意"}, shown="/inventory/replenishment/{request}"),
    Target("dms.inventory.transfer_forms.RejectForm", "/inventory/replenishment/{request}",
           post="/inventory/replenishment/{request}/reject", each=replenishment_request,
           data=lambda ctx: {"reason": "库存不足"}, shown="/inventory/replenishment/{request}"),
    Target("dms.inventory.transfer_forms.TransferForm", "/inventory/transfers/new",
           data=lambda ctx: {"from_warehouse": str(hq_stock(ctx).id), "to_warehouse": str(ctx.distributor.warehouse.id),
                             f"qty-{_water(ctx).id}": "1", "note": "调拨"}, shown="/inventory/transfers"),
    Target("dms.inventory.transfer_forms.CancelTransferForm", "/inventory/transfers/{transfer}",
           post="/inventory/transfers/{transfer}/cancel", each=transfer, data=lambda ctx: {"reason": "发错"},
           shown="/inventory/transfers/{transfer}"),
    Target("dms.inventory.transfer_forms.ReceiveForm", "/inventory/transfers/{transfer}",
           post="/inventory/transfers/{transfer}/receive", role="distributor", each=transfer,
           data=lambda ctx: {"note": "已收"}, shown="/inventory/transfers/{transfer}"),
]

TARGETS += [
    Target("dms.reports.scorecard_views.RecomputeForm", "/reports/scorecard", post="/reports/scorecard/recompute",
           data=lambda ctx: {"period": "2026-01"}, shown=REDIRECT),
]


# --- commission entries and statements, serial units ------------------------------------------------

def _published_rules(ctx):
    """A published one-level rule version (10%, 7 hold days) in force since 2026-01-01 (made once per test).

    Made with the ORM, as tests/commissions/conftest.py does, so it can start in the past."""
    if getattr(ctx, "rules", None) is None:
        from datetime import datetime
        from decimal import Decimal

        from sqlalchemy import func, select

        from dms.commissions.models import RuleLevel, RuleVersion
        from dms.extensions import db

        start = datetime(2026, 1, 1)
        number = (db.session.scalar(select(func.max(RuleVersion.number))) or 0) + 1
        ctx.rules = RuleVersion(number=number, status="published", effective_from=start, published_at=start,
                                mode="multi", max_levels=1)
        ctx.rules.levels = [RuleLevel(level=1, rate=Decimal("10"), min_personal_volume=Decimal("0"))]
        db.session.add(ctx.rules)
        db.session.commit()
    return ctx.rules


def _accrued_order(ctx, distributor, completed_at):
    """A 1,000.00 order of `distributor` completed at `completed_at` (ORM, as the commission tests make
    them), its commission accrued: one entry of 100.00 to the distributor."""
    from decimal import Decimal

    from dms.commissions import ledger
    from dms.extensions import db
    from dms.orders.models import Order, OrderLine

    _published_rules(ctx)
    amount = Decimal("1000.00")
    order = Order(distributor_id=distributor.id, status="completed", created_at=completed_at,
                  completed_at=completed_at, ship_name="客户", ship_phone="13800000000", subtotal=amount, total=amount)
    order.lines.append(OrderLine(product_id=_water(ctx).id, quantity=1, unit_price=amount, amount=amount))
    db.session.add(order)
    db.session.flush()
    ledger.accrue_order(order.id)
    db.session.commit()
    return order


def accrued_entry(ctx) -> dict:
    """A fresh commission entry still in its hold period (accrued; an entry can be held once)."""
    from sqlalchemy import select

    from dms.commissions.models import CommissionEntry
    from dms.core.time import utcnow
    from dms.extensions import db

    order = _accrued_order(ctx, ctx.distributor, utcnow())
    entry = db.session.scalars(select(CommissionEntry).where(CommissionEntry.order_id == order.id)).one()
    assert entry.status == "accrued"
    return {"entry": entry.id}


def confirmed_statement(ctx) -> dict:
    """A fresh distributor's confirmed statement of October 2026 paying out 100.00 (paid once)."""
    from datetime import date, datetime

    from dms.commissions import settlement
    from dms.extensions import db

    distributor = ctx.make_distributor("440115", exclusive=False)
    _accrued_order(ctx, distributor, datetime(2026, 10, 10, 4))
    statement = settlement.settle_distributor(distributor.id, date(2026, 10, 1))
    settlement.confirm(None, statement)
    db.session.commit()
    return {"statement": statement.id}


def serial_unit_in_stock(ctx) -> dict:
    """A fresh serial unit (a car) in the acting distributor's warehouse (written off once)."""
    from sqlalchemy import select

    from dms.core.jobs import commit
    from dms.extensions import db
    from dms.inventory import services as inventory
    from dms.inventory.models import SerialUnit

    if getattr(ctx, "car", None) is None:
        ctx.car = ctx.make_product(name="轿车", tracking="serial")
    serial = f"VIN-F{n()}"
    inventory.receive(None, ctx.distributor.warehouse, [{"product": ctx.car, "batch_code": "2026",
                                                         "serials": [serial]}])
    commit()
    return {"unit": db.session.scalars(select(SerialUnit).where(SerialUnit.serial == serial)).one().id}


TARGETS += [
    Target("dms.commissions.ledger_forms.HoldForm", "/commissions/entries", post="/commissions/entries/{entry}/hold",
           each=accrued_entry, data=lambda ctx: {"reason": "客户投诉核查"}, shown="/commissions/entries"),
    Target("dms.commissions.ledger_forms.PayForm", "/commissions/statements/{statement}",
           post="/commissions/statements/{statement}/pay", each=confirmed_statement,
           data=lambda ctx: {"paid_on": ctx.today.isoformat(), "reference": "BOC20261105-001"},
           shown="/commissions/statements/{statement}"),
    Target("dms.inventory.forms.UnitWriteOffForm", "/inventory/serials/{unit}",
           post="/inventory/serials/{unit}/write-off", role="distributor", each=serial_unit_in_stock,
           data=lambda ctx: {"reason": "damaged", "note": "碰撞受损", "confirm": "y"},
           shown="/inventory/serials/{unit}"),
]
