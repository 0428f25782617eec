"""The stock movements list runs a fixed number of SQL statements whatever the page holds (no N+1), for HQ
and a distributor: 3 rows and then 30, each with its own product, batch, serial unit (and warehouse)."""

import pytest

from dms.extensions import db
from dms.inventory.models import Batch, SerialUnit, StockMovement
from tests.sql_recorder import assert_flat_queries


@pytest.fixture
def add_movements(app, make_distributor, make_product):
    """add_movements(n, distributor=None) -> movements, each of a new product, batch and serial unit."""

    def add(n, distributor=None, source_type="receipt"):
        made = []
        for _n in range(n):
            warehouse = (distributor or make_distributor()).warehouse
            product = make_product(tracking="serial")
            batch = Batch(product_id=product.id, code=f"B{product.id}")
            db.session.add(batch)
            db.session.flush()
            unit = SerialUnit(product_id=product.id, serial=f"VIN{product.id:08d}", batch_id=batch.id,
                              warehouse_id=warehouse.id)
            db.session.add(unit)
            db.session.flush()
            made.append(StockMovement(warehouse_id=warehouse.id, product_id=product.id, batch_id=batch.id,
                                      serial_unit_id=unit.id, kind="receipt", on_hand_delta=1, reason="到货",
                                      source_type=source_type, source_id=str(product.id), actor_label="仓管"))
        db.session.add_all(made)
        db.session.commit()
        return made

    return add


def test_hq_list_takes_as_many_queries_for_30_rows_as_for_3(client, login_as, add_movements):
    add_movements(3)
    login_as("admin")
    assert_flat_queries(client, "/inventory/movements?per_page=50", lambda: add_movements(27),
                        'data-testid="movement-row"')


def test_distributor_list_takes_as_many_queries_for_30_rows_as_for_3(client, login_distributor, add_movements,
                                                                     make_distributor):
    distributor = make_distributor()
    add_movements(3, distributor)
    add_movements(2)  # another distributor's warehouse, not shown
    login_distributor(distributor)
    assert_flat_queries(client, "/inventory/movements?per_page=50", lambda: add_movements(27, distributor),
                        'data-testid="movement-row"')


def test_source_filter_lists_each_source_type_of_the_users_movements_once(client, login_distributor,
                                                                          add_movements, make_distributor):
    distributor = make_distributor()
    add_movements(2, distributor, source_type="transfer")
    add_movements(1, distributor, source_type="api")
    add_movements(1, distributor, source_type="")
    add_movements(1, source_type="stocktake")  # another distributor's
    login_distributor(distributor)
    html = client.get("/inventory/movements").get_data(as_text=True)
    select_html = html[html.index('name="source_type"'):]
    select_html = select_html[:select_html.index("</select>")]
    assert select_html.count("<option") == 3  # All, api, transfer
    assert '"api"' in select_html and '"transfer"' in select_html and "stocktake" not in select_html
