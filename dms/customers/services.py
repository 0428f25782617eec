"""Customers: the public interface of the customers area (creating and finding a distributor's customers)."""

from flask_babel import gettext as _
from sqlalchemy import select

from dms.core import audit
from dms.core.errors import NotFound, ValidationError
from dms.core.identity import normalise_mobile
from dms.core.scope import scoped
from dms.customers.models import Customer
from dms.extensions import db
from dms.territories.services import find_region

FIELDS = {"name": 120, "street": 100, "address": 255}


def clean_address(data) -> dict:
    """Name, mobile phone, region, street and address of a customer or a delivery; ValidationError per field."""
    if not isinstance(data, dict):
        raise ValidationError(fields={"customer": [_("The customer is an object with name, phone and address.")]})
    errors, cleaned = {}, {}
    for key, limit in FIELDS.items():
        value = data.get(key)
        value = value.strip() if isinstance(value, str) else ("" if value is None else None)
        if value is None:
            errors[key] = [_("Must be text.")]
        elif len(value) > limit:
            errors[key] = [_("At most %(n)d characters.", n=limit)]
        else:
            cleaned[key] = value
    if not cleaned.get("name") and "name" not in errors:
        errors["name"] = [_("Enter the name.")]
    try:
        phone = data.get("phone")
        cleaned["phone"] = normalise_mobile(phone if isinstance(phone, str) else "", "phone")
    except ValidationError as exc:
        errors.update(exc.fields)
    code = data.get("region_code")
    region = find_region(code) if isinstance(code, str) else None
    if region is None:
        errors["region_code"] = [_("Choose a region (a GB/T 2260 code such as 440605).")]
    else:
        cleaned["region_code"] = region.code
    if errors:
        raise ValidationError(fields=errors)
    return cleaned


def create_customer(actor, distributor_id: int | None, data) -> Customer:
    """A new customer of `distributor_id` from name, phone and address; ValidationError per field."""
    cleaned = clean_address(data)
    customer = Customer(distributor_id=distributor_id, created_by_id=getattr(actor, "id", None), **cleaned)
    db.session.add(customer)
    db.session.flush()
    audit.record("customer.create", "customer", customer.id, customer.name, actor=actor)
    return customer


def find_or_create(actor, distributor_id: int | None, data) -> Customer:
    """The distributor's customer with this phone and name, else a new one (mini-program orders repeat)."""
    cleaned = clean_address(data)
    existing = db.session.scalar(select(Customer).where(
        Customer.distributor_id.is_(None) if distributor_id is None else Customer.distributor_id == distributor_id,
        Customer.phone == cleaned["phone"], Customer.name == cleaned["name"]).order_by(Customer.id).limit(1))
    if existing is not None:
        return existing
    return create_customer(actor, distributor_id, data)


def customers_query(actor):
    """A select of the customers `actor` may see (HQ and the system all, a distributor its own)."""
    if actor is None:  # the system itself (jobs, commands), as orders_query and inventory treat it
        return select(Customer)
    return scoped(select(Customer), Customer.distributor_id, actor)


def get_customer(actor, customer_id) -> Customer:
    """One customer within the actor's scope; NotFound otherwise (another distributor's included)."""
    if isinstance(customer_id, bool) or not isinstance(customer_id, int) or not 0 < customer_id < 2**31:
        raise NotFound()
    customer = db.session.scalar(customers_query(actor).where(Customer.id == customer_id))
    if customer is None:
        raise NotFound()
    return customer


def adopt(customer: Customer, distributor_id: int) -> None:
    """Give an unassigned customer (an order no territory covered) to the distributor HQ chose."""
    if customer.distributor_id is None:
        customer.distributor_id = distributor_id
        db.session.flush()


def search(actor, text: str, limit: int = 10) -> list[Customer]:
    """Customers the actor may see whose name or phone contains `text`."""
    from dms.core.listing import contains_pattern

    text = (text or "").strip()[:50]
    if not text:
        return []
    pattern = contains_pattern(text)
    stmt = customers_query(actor).where(Customer.name.ilike(pattern, escape="\\") |
                                        Customer.phone.ilike(pattern, escape="\\"))
    return list(db.session.scalars(stmt.order_by(Customer.name).limit(limit)))

