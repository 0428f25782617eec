"""Fuzzing the order form's line inputs (`lines-<n>-product_id|quantity|discount|q`), which are read by
`read_lines`, not by a WTForms form, so the form fuzzer (test_forms.py) does not reach them.

Expected, for every nasty value in every line input, on placing, on redrawing (the form's own buttons)
and in the line's product search: never a 5xx; a value that is not a line's number is refused with the
form shown again and nothing stored; an order that is placed holds sane lines (whole positive quantities,
a known product, a discount within the line's amount); the raw markup is never in the page.
"""

from decimal import Decimal

import pytest
from sqlalchemy import func, select

from dms.extensions import db
from dms.orders.models import Order, OrderLine
from tests.fuzz.test_forms import PAYLOADS, assert_safe
from tests.orders.form_data import customer_form

NUMBERS = {"zero": "0", "negative": "-1", "fraction": "1.5", "exponent": "1e9", "huge": "9" * 30,
           "int_overflow": str(2**31), "nan": "NaN", "infinity": "Infinity", "arabic_digits": "٣",
           "fullwidth_digits": "３", "spaced": " 2 ", "plus": "+2", "hex": "0x10", "underscore": "1_0"}
VALUES = {**PAYLOADS, **NUMBERS}
FIELDS = ("product_id", "quantity", "discount", "q")
# Line numbers: the inputs' own index part, as a crafted post may send it.
INDEXES = {"negative": "-1", "huge": "9" * 12, "letters": "a", "empty": "", "four_digits": "1000"}


@pytest.fixture
def shop(client, login_as, make_user, make_distributor, make_product):
    """A distributor user logged in, with a stocked product of 18.00."""
    from dms.core.jobs import commit
    from dms.inventory import services as inventory

    distributor = make_distributor("440113", name="番禺水站")
    login_as(make_user("distributor", distributor_id=distributor.id))
    water = make_product(name="桶装水", price="18.00")
    inventory.receive(None, distributor.warehouse, [{"product": water, "quantity": 1000}])
    commit()
    return water


def _orders() -> int:
    db.session.rollback()
    return db.session.scalar(select(func.count(Order.id)))


def _post(client, lines: dict, phone: int, **extra):
    data = {**customer_form(phone=f"135{phone:08d}"), "customer_q": "", "customer_id": "", **lines, **extra}
    return client.post("/orders/new", data)


def _assert_sane_lines(order_id: int) -> None:
    lines = list(db.session.scalars(select(OrderLine).where(OrderLine.order_id == order_id)))
    assert lines, "an order was placed without lines"
    for line in lines:
        assert isinstance(line.quantity, int) and line.quantity > 0, line.quantity
        assert Decimal(0) <= line.discount <= line.unit_price * line.quantity, (line.discount, line.unit_price)


def _check(response, payload: str, where: str, before: int) -> str:
    assert response.status_code < 500, f"{where}: {response.status_code}"
    body = response.get_data(as_text=True)
    assert_safe(body, payload, where)
    placed = _orders() - before
    if response.status_code in (302, 303) or response.headers.get("HX-Redirect"):
        assert placed == 1, f"{where}: redirected but {placed} orders stored"
        _assert_sane_lines(db.session.scalar(select(func.max(Order.id))))
        return "placed"
    assert placed == 0, f"{where}: refused ({response.status_code}) yet {placed} orders stored"
    return "refused"


def test_every_line_input_survives_nasty_values(client, shop):
    valid = {"product_id": str(shop.id), "quantity": "2", "discount": "", "q": ""}
    outcomes = {}
    phone = 0
    for field in FIELDS:
        for name, payload in VALUES.items():
            phone += 1
            line = {**valid, field: payload}
            lines = {f"lines-0-{key}": value for key, value in line.items()}
            before = _orders()
            where = f"{field}={name}"
            outcomes[where] = _check(_post(client, lines, phone), payload, where, before)
            before = _orders()
            redraw = _post(client, lines, phone, recalculate="1")
            assert redraw.status_code == 200, f"{where} (redraw): {redraw.status_code}"
            assert_safe(redraw.get_data(as_text=True), payload, f"{where} (redraw)")
            assert _orders() == before, f"{where}: a redraw stored an order"
    # The fuzz is not vacuous: the valid shapes go through, the junk ones are refused.
    assert outcomes["q=unicode"] == outcomes["q=script"] == "placed"  # the search box is not part of the line
    for name in ("zero", "negative", "fraction", "exponent", "huge", "nan", "arabic_digits", "nul", "script"):
        assert outcomes[f"quantity={name}"] == "refused", name
    for name in ("negative", "nan", "infinity", "huge", "script"):
        assert outcomes[f"discount={name}"] == "refused", name
    assert outcomes["product_id=int_overflow"] == outcomes["product_id=script"] == "refused"


def test_crafted_line_numbers_are_answered_cleanly(client, shop):
    for name, index in INDEXES.items():
        before = _orders()
        lines = {f"lines-{index}-product_id": str(shop.id), f"lines-{index}-quantity": "1"}
        response = _post(client, lines, 9000 + len(name))
        _check(response, "", f"index={name}", before)


def test_hundreds_of_lines_are_refused_whole(client, shop):
    lines = {}
    for n in range(400):
        lines[f"lines-{n}-product_id"] = str(shop.id)
        lines[f"lines-{n}-quantity"] = "1"
    before = _orders()
    assert _check(_post(client, lines, 9999), "", "400 lines", before) == "refused"


def test_the_line_product_search_survives_nasty_values(client, shop):
    for name, payload in VALUES.items():
        for params in ({"line": "0", "lines-0-q": payload}, {"line": payload, "lines-0-q": "水"},
                       {"line": "0", "lines-0-product_id": payload}):
            response = client.get("/orders/products", query_string=params, htmx=True)
            assert response.status_code in (200, 404), f"{name} {params}: {response.status_code}"
            assert_safe(response.get_data(as_text=True), payload, f"search {name}")
