"""FEFO allocation as properties, against a simple model: sort the usable batches by expiry, take greedily.

A batch is usable on day `on` when it has stock not reserved and its expiry date is not before `on`
(no expiry: last). Ties in expiry go to the batch made first. Each example builds its batches in a
transaction that is rolled back afterwards; stock of the same product in another warehouse, and of
another product in the same warehouse, is there too and must never be touched.
"""

from dataclasses import dataclass
from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dms.core.errors import InsufficientStock
from dms.core.time import business_today
from dms.inventory import fefo, services
from tests.properties.strategies import rolled_back


@dataclass
class BatchSpec:
    """One batch of the example: expiry (days from today, None for none), stock on hand, of it reserved."""

    expires_in: int | None
    on_hand: int
    reserved: int


batch_specs = st.lists(
    st.builds(lambda e, n, r: BatchSpec(e, n, min(r, n)),
              st.one_of(st.none(), st.integers(-4, 12)), st.integers(1, 15), st.integers(0, 15)),
    min_size=0, max_size=7)


@pytest.fixture
def place(make_product, make_distributor, hq_warehouse):
    """The product and warehouse of the examples, and decoy stock elsewhere (all made once, before them)."""
    product, other = make_product(tracking="batch"), make_product(tracking="batch")
    return {"product": product, "other": other, "warehouse": hq_warehouse, "elsewhere": make_distributor().warehouse}


def build(place, specs: list[BatchSpec]) -> list:
    """Receive and reserve the batches of the example (uncommitted); decoys with the earliest expiry go too."""
    today, product, warehouse = business_today(), place["product"], place["warehouse"]
    batches = []
    for n, spec in enumerate(specs):
        expiry = today + timedelta(days=spec.expires_in) if spec.expires_in is not None else None
        movement, = services.receive(None, warehouse, [{"product": product, "quantity": spec.on_hand,
                                                        "batch_code": f"B{n}", "expiry_date": expiry}])
        if spec.reserved:
            services.move(None, warehouse=warehouse, product=product, batch=movement.batch, kind="reserve",
                          reserved_delta=spec.reserved, source_type="order", source_id=0)
        batches.append(movement.batch)
    soon = today + timedelta(days=1)
    services.receive(None, place["elsewhere"], [{"product": product, "quantity": 50, "batch_code": "D1",
                                                 "expiry_date": soon}])
    services.receive(None, warehouse, [{"product": place["other"], "quantity": 50, "batch_code": "D2",
                                        "expiry_date": soon}])
    return batches


def model_allocation(specs: list[BatchSpec], quantity: int, on_offset: int):
    """[(index, qty)] by the model, or the available total when it is short (returned as an int)."""
    usable = [(n, s.on_hand - s.reserved) for n, s in enumerate(specs)
              if s.on_hand > s.reserved and (s.expires_in is None or s.expires_in >= on_offset)]
    usable.sort(key=lambda item: (specs[item[0]].expires_in is None, specs[item[0]].expires_in or 0, item[0]))
    total = sum(available for _n, available in usable)
    if total < quantity:
        return total
    taken, remaining = [], quantity
    for n, available in usable:
        if remaining == 0:
            break
        taken.append((n, min(available, remaining)))
        remaining -= min(available, remaining)
    return taken


def balances(place, batches) -> list[tuple[int, int]]:
    """(on hand, reserved) of each batch of the example, in the product's warehouse."""
    result = []
    for batch in batches:
        row = services.get_balance(place["warehouse"], place["product"], batch)
        result.append((row.on_hand, row.reserved))
    return result


@settings(max_examples=60)
@given(specs=batch_specs, quantity=st.integers(1, 60), on_offset=st.integers(-3, 3))
def test_allocation_is_greedy_over_usable_batches_by_expiry(place, specs, quantity, on_offset):
    expected = model_allocation(specs, quantity, on_offset)
    on = business_today() + timedelta(days=on_offset)
    with rolled_back():
        batches = build(place, specs)
        if isinstance(expected, int):
            with pytest.raises(InsufficientStock) as error:
                fefo.allocate(place["warehouse"], place["product"], quantity, on=on)
            assert error.value.extra == {"available": expected, "requested": quantity}
            return
        allocation = fefo.allocate(place["warehouse"], place["product"], quantity, on=on)
        assert [(b.id, qty) for b, qty in allocation] == [(batches[n].id, qty) for n, qty in expected]
        # The promises, stated on their own: exactly the quantity, never expired, never beyond what is free,
        # and a batch is only cut into when every earlier-expiring usable one is taken whole.
        assert sum(qty for _b, qty in allocation) == quantity
        by_id = {b.id: s for b, s in zip(batches, specs, strict=True)}
        for position, (batch, qty) in enumerate(allocation):
            spec = by_id[batch.id]
            assert not fefo.is_expired(batch, on) and 0 < qty <= spec.on_hand - spec.reserved
            if position < len(allocation) - 1:
                assert qty == spec.on_hand - spec.reserved


@settings(max_examples=40)
@given(specs=batch_specs, requests=st.lists(st.integers(1, 25), min_size=1, max_size=5))
def test_successive_reservations_take_each_unit_once(place, specs, requests):
    """Reserve again and again: each succeeds by the model on what is left, or changes nothing."""
    with rolled_back():
        batches = build(place, specs)
        state = [BatchSpec(s.expires_in, s.on_hand, s.reserved) for s in specs]
        for n, quantity in enumerate(requests):
            expected = model_allocation(state, quantity, 0)
            before = balances(place, batches)
            if isinstance(expected, int):
                with pytest.raises(InsufficientStock):
                    services.reserve(None, place["warehouse"], place["product"], quantity, "order", 1000 + n)
                assert balances(place, batches) == before  # a refused reservation takes nothing
                continue
            taken = services.reserve(None, place["warehouse"], place["product"], quantity, "order", 1000 + n)
            assert [(b.id, qty) for b, qty in taken] == [(batches[i].id, qty) for i, qty in expected]
            for i, qty in expected:
                state[i].reserved += qty
            assert balances(place, batches) == [(s.on_hand, s.reserved) for s in state]
            assert all(0 <= s.reserved <= s.on_hand for s in state)
        # The decoys were never touched.
        decoys = services.available_of(place["product"], place["elsewhere"]), \
            services.available_of(place["other"], place["warehouse"])
        assert decoys == (50, 50)
