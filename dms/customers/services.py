"""Customers: the public interface of the customers area (creating and finding a distributor's customers)."""

import re
from datetime import date, datetime

from flask_babel import gettext as _
from sqlalchemy import false, func, or_, select

from dms.accounts.models import User
from dms.core import audit
from dms.core.errors import Conflict, Forbidden, NotFound, ValidationError
from dms.core.identity import normalise_mobile
from dms.core.locks import lock_subject
from dms.core.rows import get_or_insert, is_row_id
from dms.core.scope import HQ_SCOPE, scoped
from dms.core.time import business_day_bounds_utc, utcnow
from dms.customers.models import (
    CUSTOMER_KINDS,
    CUSTOMER_SOURCES,
    Customer,
    CustomerAddress,
    CustomerPhone,
    CustomerTag,
    CustomerTierRule,
    customer_tags,
)
from dms.distributors.models import Distributor
from dms.extensions import db
from dms.territories.services import find_region, subtree_codes

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
    return _with_region(data, cleaned, errors)


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
    """A select of the customers `actor` may see (HQ and the system all, a distributor its own, an
    integration client without a distributor those it registered)."""
    if actor is None:  # the system itself (jobs, commands), as orders_query and inventory treat it
        return select(Customer)
    client = getattr(actor, "client", None)
    if client is not None and getattr(actor, "distributor_id", None) is None and not actor.can(HQ_SCOPE):
        return select(Customer).where(Customer.api_client_id == client.id)
    return scoped(select(Customer), Customer.distributor_id, actor)


def get_customer(actor, customer_id) -> Customer:
    """One customer within the actor's scope; NotFound otherwise (another distributor's included)."""
    if not is_row_id(customer_id):
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



# --- the CRM profile: kind, phones, addresses, source, owner, tags, notes ---------------------------
# Added for the CRM pages (issue 6). The functions above keep the behaviour orders rely on; create_customer
# now also records the address as the customer's default CustomerAddress and takes the profile fields.

MANAGE = "customers.manage"
MAX_PHONES = 10
MAX_ADDRESSES = 20
MAX_TAGS = 20
NOTE_LIMIT = 2000
LANDLINE_RE = re.compile(r"^0\d{2,3}-?\d{7,8}(?:-\d{1,6})?$")
TAG_SEPARATORS = re.compile(r"[,，、;；\n]")
TIER_CODE_RE = re.compile(r"^[A-Z0-9]{1,8}$")
DEFAULT_TIER_RULES = (("A", "A", 12), ("B", "B", 8), ("C", "C", 0))


def require_manage(actor) -> None:
    """Forbidden unless the actor (None: the system) may edit customers."""
    if actor is not None and not actor.can(MANAGE):
        raise Forbidden()


def _text(data: dict, key: str, limit: int, errors: dict, default: str = "") -> str:
    value = data.get(key, default)
    if value is None:
        return ""
    if not isinstance(value, str):
        errors[key] = [_("Must be text.")]
        return ""
    value = value.strip()
    if len(value) > limit:
        errors[key] = [_("At most %(n)d characters.", n=limit)]
    return value


def split_tags(value) -> list[str]:
    """Tag names from a list or a text separated by commas, 、 or new lines (blank and repeated ones dropped)."""
    if isinstance(value, str):
        value = TAG_SEPARATORS.split(value)
    names = [n.strip() for n in value if isinstance(n, str) and n.strip()] if isinstance(value, list | tuple) else []
    return list(dict.fromkeys(names))


def normalise_phone(value: str, field: str = "phones") -> str:
    """A mobile number (11 digits) or a landline with its area code (020-12345678); ValidationError."""
    text = re.sub(r"\s", "", value or "")
    if LANDLINE_RE.match(text):
        return text
    return normalise_mobile(text, field)


def _phones(value, primary: str, errors: dict) -> list[str]:
    """The other phone numbers: a list or one per line; each valid, none repeated or equal to the primary."""
    if value is None:
        return []
    if isinstance(value, str):
        value = value.splitlines()
    if not isinstance(value, list | tuple):
        errors["phones"] = [_("A list of phone numbers.")]
        return []
    numbers, problems = [], []
    for raw in value:
        if not isinstance(raw, str) or not raw.strip():
            continue
        try:
            number = normalise_phone(raw)
        except ValidationError:
            problems.append(_("%(number)s is not a mobile number or a landline with its area code.",
                              number=str(raw)[:40]))
            continue
        if number != primary and number not in numbers:
            numbers.append(number)
    if len(numbers) > MAX_PHONES:
        problems.append(_("At most %(n)d other phone numbers.", n=MAX_PHONES))
    if problems:
        errors["phones"] = problems
    return numbers


def owner_choices(distributor_id: int | None) -> list[User]:
    """The users who may own a customer of `distributor_id`: its active staff (none for unassigned ones)."""
    if distributor_id is None:
        return []
    return list(db.session.scalars(select(User).where(User.distributor_id == distributor_id, User.active.is_(True))
                                   .order_by(User.display_name, User.username)))


def _owner(value, distributor_id: int | None, errors: dict) -> int | None:
    if value in (None, ""):
        return None
    owner_id = int(value) if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) < 10 \
        else value
    if isinstance(owner_id, bool) or not isinstance(owner_id, int):
        errors["owner_id"] = [_("Choose a user from the list.")]
        return None
    if owner_id not in {u.id for u in owner_choices(distributor_id)}:
        errors["owner_id"] = [_("The owner must be an active user of the customer's distributor.")]
        return None
    return owner_id


def clean_profile(data: dict, distributor_id: int | None, primary_phone: str = "") -> dict:
    """Kind, source, owner, tags, note and other phones of a customer; ValidationError per field.

    A key left out of `data` is left out of the result (the field keeps its value).
    """
    errors: dict = {}
    cleaned: dict = {}
    if "kind" in data:
        cleaned["kind"] = data.get("kind") or "person"
        if cleaned["kind"] not in CUSTOMER_KINDS:
            errors["kind"] = [_("Choose a person or a business.")]
    if "source" in data:
        cleaned["source"] = data.get("source") or "other"
        if cleaned["source"] not in CUSTOMER_SOURCES:
            errors["source"] = [_("Choose a source from the list.")]
    if "owner_id" in data:
        cleaned["owner_id"] = _owner(data.get("owner_id"), distributor_id, errors)
    if "note" in data:
        cleaned["note"] = _text(data, "note", NOTE_LIMIT, errors)
    if "tags" in data:
        names = split_tags(data.get("tags"))
        if any(len(n) > 32 for n in names):
            errors["tags"] = [_("A tag has at most %(n)d characters.", n=32)]
        elif len(names) > MAX_TAGS:
            errors["tags"] = [_("At most %(n)d tags.", n=MAX_TAGS)]
        cleaned["tags"] = names
    if "phones" in data:
        cleaned["phones"] = _phones(data.get("phones"), primary_phone, errors)
    if errors:
        raise ValidationError(fields=errors)
    return cleaned


def tags_named(names: list[str]) -> list[CustomerTag]:
    """The tags of these names, creating the missing ones (tags are created as typed)."""
    if not names:
        return []
    found = {t.name: t for t in db.session.scalars(select(CustomerTag).where(CustomerTag.name.in_(names)))}
    for name in names:
        if name in found:
            continue
        # Another request may create the same tag meanwhile: then theirs is reused.
        found[name], _inserted = get_or_insert(CustomerTag(name=name), CustomerTag.name == name)
    return [found[n] for n in names]


def tag_names() -> list[str]:
    """Every tag name, alphabetically (for the list's filter and the form's suggestions)."""
    return list(db.session.scalars(select(CustomerTag.name).order_by(CustomerTag.name)))


def phone_owner(distributor_id: int | None, phone: str, exclude_id: int | None = None) -> Customer | None:
    """The distributor's customer with this phone as its primary or another number, if any."""
    if not phone:
        return None
    others = select(CustomerPhone.customer_id).where(CustomerPhone.number == phone)
    stmt = select(Customer).where(
        Customer.distributor_id.is_(None) if distributor_id is None else Customer.distributor_id == distributor_id,
        or_(Customer.phone == phone, Customer.id.in_(others)))
    if exclude_id is not None:
        stmt = stmt.where(Customer.id != exclude_id)
    return db.session.scalar(stmt.order_by(Customer.id).limit(1))


def _duplicate_check(distributor_id: int | None, numbers: list[str], exclude_id: int | None = None) -> None:
    """Conflict (409, code duplicate) naming the customer that already has one of these numbers."""
    for n, number in enumerate(numbers):
        existing = phone_owner(distributor_id, number, exclude_id)
        if existing is not None:
            message = _("%(phone)s is already the phone of customer %(name)s (no. %(id)d).", phone=number,
                        name=existing.name, id=existing.id)
            raise Conflict(message, fields={"phone" if n == 0 else "phones": [message]}, code="duplicate",
                           customer_id=existing.id)


def create_customer(actor, distributor_id: int | None, data) -> Customer:
    """A new customer of `distributor_id` from name, phone and address (its default address), and the
    optional profile fields (kind, source, owner_id, tags, note, phones); ValidationError per field."""
    errors: dict = {}
    try:
        cleaned = clean_address(data)
    except ValidationError as exc:
        errors.update(exc.fields)
        cleaned = {}
    try:
        profile = clean_profile(data, distributor_id, cleaned.get("phone", "")) if isinstance(data, dict) else {}
    except ValidationError as exc:
        errors.update(exc.fields)
        profile = {}
    label = _text(data, "label", 32, errors) if isinstance(data, dict) else ""
    if errors:
        raise ValidationError(fields=errors)
    tags, phones = profile.pop("tags", []), profile.pop("phones", [])
    client = getattr(actor, "client", None)  # an integration client registering a customer may see it again
    customer = Customer(distributor_id=distributor_id, created_by_id=getattr(actor, "id", None),
                        api_client_id=client.id if client is not None else None, **cleaned, **profile)
    customer.addresses = [CustomerAddress(label=label, region_code=cleaned["region_code"], street=cleaned["street"],
                                          address=cleaned["address"], is_default=True)]
    customer.phones = [CustomerPhone(number=number) for number in phones]
    customer.tags = tags_named(tags)
    db.session.add(customer)
    db.session.flush()
    audit.record("customer.create", "customer", customer.id, customer.name, actor=actor)
    return customer


def _distributor_for_new(actor, distributor_id) -> int | None:
    """The distributor a new customer is for: the actor's own, or (HQ) the one chosen."""
    own = getattr(actor, "distributor_id", None) if actor is not None else None
    if actor is not None and not actor.can(HQ_SCOPE):
        if own is None:
            raise Forbidden()
        return own
    if distributor_id in (None, ""):
        raise ValidationError(fields={"distributor_id": [_("Choose the distributor.")]})
    if isinstance(distributor_id, str) and distributor_id.isascii() and distributor_id.isdigit() \
            and len(distributor_id) < 10:
        distributor_id = int(distributor_id)
    distributor = db.session.get(Distributor, distributor_id) \
        if isinstance(distributor_id, int) and not isinstance(distributor_id, bool) else None
    if distributor is None:
        raise ValidationError(fields={"distributor_id": [_("Unknown distributor.")]})
    return distributor.id


def register_customer(actor, data: dict, distributor_id=None) -> Customer:
    """A customer typed in on the CRM form: for the actor's distributor (HQ: the one chosen); a phone the
    distributor's customers already have is a Conflict naming that customer (duplicates are never merged)."""
    require_manage(actor)
    if not isinstance(data, dict):
        raise ValidationError()
    owner = _distributor_for_new(actor, distributor_id)
    customer_data = {"kind": "person", "source": "other", **data}
    phone = data.get("phone")
    try:
        primary = normalise_mobile(phone if isinstance(phone, str) else "", "phone")
    except ValidationError:
        primary = ""
    numbers = [primary] if primary else []
    try:
        numbers += _phones(data.get("phones"), primary, {})
    except ValidationError:
        pass
    # Two clerks typing in the same phone at once: the second waits here and then sees the first's customer.
    lock_subject("customers", owner or 0)
    customer = create_customer(actor, owner, customer_data)
    _duplicate_check(owner, numbers, exclude_id=customer.id)
    return customer


def _snapshot(customer: Customer) -> dict:
    return {"kind": customer.kind, "name": customer.name, "phone": customer.phone, "source": customer.source,
            "owner_id": customer.owner_id, "note": customer.note, "tags": [t.name for t in customer.tags],
            "phones": [p.number for p in customer.phones]}


def update_customer(actor, customer: Customer, data: dict) -> Customer:
    """Change a customer's profile (kind, name, phone, other phones, source, owner, tags, note); its
    addresses have their own services. ValidationError per field; Conflict for another customer's phone."""
    require_manage(actor)
    if not isinstance(data, dict):
        raise ValidationError()
    errors: dict = {}
    before = _snapshot(customer)
    name = _text(data, "name", 120, errors, customer.name) if "name" in data else customer.name
    if not name and "name" not in errors:
        errors["name"] = [_("Enter the name.")]
    phone = customer.phone
    if "phone" in data:
        try:
            raw = data.get("phone")
            phone = normalise_mobile(raw if isinstance(raw, str) else "", "phone")
        except ValidationError as exc:
            errors.update(exc.fields)
    try:
        profile = clean_profile(data, customer.distributor_id, phone)
    except ValidationError as exc:
        errors.update(exc.fields)
        profile = {}
    if errors:
        raise ValidationError(fields=errors)
    numbers = [phone] + profile.get("phones", [p.number for p in customer.phones if p.number != phone])
    _duplicate_check(customer.distributor_id, numbers, exclude_id=customer.id)
    customer.name, customer.phone = name, phone
    for key in ("kind", "source", "owner_id", "note"):
        if key in profile:
            setattr(customer, key, profile[key])
    if "tags" in profile:
        customer.tags = tags_named(profile["tags"])
    if "phones" in profile:
        kept = {p.number: p for p in customer.phones}
        customer.phones = [kept.get(n) or CustomerPhone(number=n) for n in profile["phones"]]
    elif any(p.number == phone for p in customer.phones):  # the old other number became the primary one
        customer.phones = [p for p in customer.phones if p.number != phone]
    db.session.flush()
    changes = audit.diff(before, _snapshot(customer))
    if changes:
        audit.record("customer.update", "customer", customer.id, customer.name, changes=changes, actor=actor)
    return customer


# --- addresses: several, exactly one default, copied onto the customer row --------------------------

def clean_customer_address(data) -> dict:
    """Label, region, street and address of one of a customer's addresses; ValidationError per field."""
    if not isinstance(data, dict):
        raise ValidationError()
    errors: dict = {}
    cleaned = {"label": _text(data, "label", 32, errors), "street": _text(data, "street", 100, errors),
               "address": _text(data, "address", 255, errors)}
    return _with_region(data, cleaned, errors)


def _with_region(data: dict, cleaned: dict, errors: dict) -> dict:
    """`cleaned` with the region code of `data` checked; ValidationError with every field's errors so far."""
    code = data.get("region_code")
    region = find_region(code) if isinstance(code, str) else None
    if region is None:
        errors["region_code"] = [_("Choose a region (a GB/T 2260 code such as 440605).")]
    else:
        cleaned["region_code"] = region.code
    if errors:
        raise ValidationError(fields=errors)
    return cleaned


def _sync_default(customer: Customer) -> None:
    """Copy the default address onto the customer row (lists filter and orders route by it)."""
    default = next((a for a in customer.addresses if a.is_default), None)
    if default is not None:
        customer.region_code, customer.street, customer.address = default.region_code, default.street, \
            default.address


def _address_of(customer: Customer, address_id) -> CustomerAddress:
    found = next((a for a in customer.addresses if a.id == address_id), None)
    if found is None:
        raise NotFound()
    return found


def add_address(actor, customer: Customer, data, make_default: bool = False) -> CustomerAddress:
    """Add an address to the customer (the default one if asked, or if it has none yet)."""
    require_manage(actor)
    cleaned = clean_customer_address(data)
    if len(customer.addresses) >= MAX_ADDRESSES:
        raise Conflict(_("A customer has at most %(n)d addresses.", n=MAX_ADDRESSES))
    address = CustomerAddress(**cleaned, is_default=False)
    customer.addresses.append(address)
    db.session.flush()
    if make_default or not any(a.is_default for a in customer.addresses if a is not address):
        _make_default(customer, address)
    audit.record("customer.address_add", "customer", customer.id, f"{customer.name}: {address.region_code} "
                 f"{address.street} {address.address}".strip(), actor=actor)
    return address


def _make_default(customer: Customer, address: CustomerAddress) -> None:
    for other in customer.addresses:
        other.is_default = other is address
    _sync_default(customer)
    db.session.flush()


def make_default_address(actor, customer: Customer, address_id) -> CustomerAddress:
    """Make one of the customer's addresses its default (copied onto the customer); NotFound for another's."""
    require_manage(actor)
    address = _address_of(customer, address_id)
    _make_default(customer, address)
    audit.record("customer.address_default", "customer", customer.id, f"{customer.name}: {address.region_code}",
                 actor=actor)
    return address


def remove_address(actor, customer: Customer, address_id) -> None:
    """Remove one of the customer's addresses; the default cannot go (Conflict): make another the default first."""
    require_manage(actor)
    address = _address_of(customer, address_id)
    if address.is_default:
        raise Conflict(_("This is the default address: make another address the default first."))
    customer.addresses.remove(address)
    db.session.flush()
    audit.record("customer.address_remove", "customer", customer.id, f"{customer.name}: {address.region_code}",
                 actor=actor)


# --- tiers: the rules HQ edits, and a manual override ---------------------------------------------

def tier_rules() -> list[CustomerTierRule]:
    """The tier rules, highest minimum first; the defaults (A >= 12, B >= 8, C >= 0) if there are none."""
    rules = list(db.session.scalars(select(CustomerTierRule).order_by(CustomerTierRule.min_score.desc(),
                                                                      CustomerTierRule.code)))
    if rules:
        return rules
    rules = [CustomerTierRule(code=code, name=name, min_score=least) for code, name, least in DEFAULT_TIER_RULES]
    db.session.add_all(rules)
    db.session.flush()
    return rules


def _require_hq_manage(actor) -> None:
    if actor is not None and not (actor.can(MANAGE) and actor.can(HQ_SCOPE)):
        raise Forbidden()


def save_tier_rule(actor, data: dict, rule_id: int | None = None) -> CustomerTierRule:
    """Create or change a tier rule (HQ): code (A, VIP ...), name, minimum RFM score 0-15; ValidationError."""
    _require_hq_manage(actor)
    if not isinstance(data, dict):
        raise ValidationError()
    errors: dict = {}
    code = _text(data, "code", 8, errors).upper()
    name = _text(data, "name", 64, errors)
    if "code" not in errors and not TIER_CODE_RE.match(code):
        errors["code"] = [_("One to eight letters or digits, such as A or VIP.")]
    raw = data.get("min_score")
    least = raw if isinstance(raw, int) and not isinstance(raw, bool) else \
        (int(raw) if isinstance(raw, str) and raw.strip().isascii() and raw.strip().isdigit() and len(raw.strip()) < 4
         else None)
    if least is None or not 0 <= least <= 15:
        errors["min_score"] = [_("A whole number from 0 to 15 (scores run from 3 to 15).")]
    rule = None
    if rule_id is not None:
        rule = db.session.get(CustomerTierRule, rule_id)
        if rule is None:
            raise NotFound()
    if "code" not in errors:
        clash = db.session.scalar(select(CustomerTierRule).where(CustomerTierRule.code == code))
        if clash is not None and clash is not rule:
            errors["code"] = [_("There is already a tier %(code)s.", code=code)]
    if errors:
        raise ValidationError(fields=errors)
    before = {"code": rule.code, "name": rule.name, "min_score": rule.min_score} if rule else {}
    if rule is None:
        rule = CustomerTierRule()
        db.session.add(rule)
    rule.code, rule.name, rule.min_score = code, name or code, least
    db.session.flush()
    audit.record("customer.tier_rule", "customer_tier_rule", rule.id, f"{code} >= {least}",
                 changes=audit.diff(before, {"code": code, "name": rule.name, "min_score": least}), actor=actor)
    return rule


def delete_tier_rule(actor, rule_id: int) -> None:
    """Remove a tier rule (HQ); the last one stays (Conflict). Customers keep their tier until the next scoring."""
    _require_hq_manage(actor)
    rule = db.session.get(CustomerTierRule, rule_id)
    if rule is None:
        raise NotFound()
    if db.session.scalar(select(func.count()).select_from(CustomerTierRule)) <= 1:
        raise Conflict(_("Keep at least one tier rule."))
    db.session.delete(rule)
    db.session.flush()
    audit.record("customer.tier_rule_delete", "customer_tier_rule", rule_id, rule.code, actor=actor)


def override_tier(actor, customer: Customer, tier: str | None, reason: str) -> Customer:
    """Set (or, with an empty tier, clear) the manual tier that wins over the computed one; the reason is
    required and who and when are recorded and audited. ValidationError per field."""
    require_manage(actor)
    errors: dict = {}
    tier = (tier or "").strip().upper() if isinstance(tier, str) or tier is None else None
    codes = {r.code for r in tier_rules()}
    if tier is None or (tier and tier not in codes):
        errors["tier"] = [_("Choose a tier from the list.")]
    reason = reason.strip() if isinstance(reason, str) else ""
    if not reason:
        errors["reason"] = [_("Say why the tier is set by hand.")]
    elif len(reason) > 255:
        errors["reason"] = [_("At most %(n)d characters.", n=255)]
    if errors:
        raise ValidationError(fields=errors)
    before = customer.tier_override
    customer.tier_override = tier or None
    customer.tier_override_reason = reason
    customer.tier_overridden_by_id = getattr(actor, "id", None)
    customer.tier_overridden_at = utcnow()
    db.session.flush()
    audit.record("customer.tier_override", "customer", customer.id, f"{customer.name}: {tier or '-'} ({reason})"[:255],
                 changes={"tier_override": [before, customer.tier_override]}, actor=actor)
    return customer


# --- the list: search and filters, shared by the page and the export -------------------------------

def search_clause(stmt, text: str):
    """Customers whose name, phones or any address contains `text`."""
    from dms.core.listing import contains_pattern

    text = (text or "").strip()[:100]
    if not text:
        return stmt
    pattern = contains_pattern(text)

    def like(column):
        return column.ilike(pattern, escape="\\")

    phones = select(CustomerPhone.customer_id).where(like(CustomerPhone.number))
    addresses = select(CustomerAddress.customer_id).where(or_(like(CustomerAddress.street),
                                                              like(CustomerAddress.address)))
    return stmt.where(or_(like(Customer.name), like(Customer.phone), like(Customer.street), like(Customer.address),
                          Customer.id.in_(phones), Customer.id.in_(addresses)))


def effective_tier_column():
    """The tier in force as a column: the override, else the computed tier."""
    return func.coalesce(Customer.tier_override, Customer.tier)


def by_tier(stmt, value: str):
    if value == "none":
        return stmt.where(effective_tier_column().is_(None))
    return stmt.where(effective_tier_column() == value[:8])


def by_tag(stmt, value: str):
    tagged = select(customer_tags.c.customer_id).join(CustomerTag, CustomerTag.id == customer_tags.c.tag_id) \
        .where(CustomerTag.name == value[:32])
    return stmt.where(Customer.id.in_(tagged))


def by_region(stmt, value: str):
    """Customers whose default address lies in the region or below it."""
    region = find_region(value)
    if region is None:
        return stmt.where(false())
    return stmt.where(Customer.region_code.in_(subtree_codes(region.code)))


def by_activity(stmt, value: str):
    """`none`: not scored (no order in the last year); a number: an RFM score at least that."""
    if value == "none":
        return stmt.where(Customer.rfm_score.is_(None))
    if value.isascii() and value.isdigit() and len(value) <= 2:
        return stmt.where(Customer.rfm_score >= int(value))
    return stmt.where(false())


def by_owner(stmt, value: str):
    if value == "none":
        return stmt.where(Customer.owner_id.is_(None))
    return stmt.where(Customer.owner_id == int(value)) if value.isascii() and value.isdigit() and len(value) < 10 \
        else stmt.where(false())


def by_distributor(stmt, value: str):
    if value == "unassigned":
        return stmt.where(Customer.distributor_id.is_(None))
    return stmt.where(Customer.distributor_id == int(value)) \
        if value.isascii() and value.isdigit() and len(value) < 10 else stmt.where(false())


def last_order_since(day: date | None):
    """A filter: the last order on or after this business day (None: no filter)."""
    def apply(stmt, _value):
        return stmt.where(Customer.last_order_at >= business_day_bounds_utc(day)[0]) if day else stmt
    return apply


def last_order_until(day: date | None):
    """A filter: the last order on or before this business day (None: no filter)."""
    def apply(stmt, _value):
        return stmt.where(Customer.last_order_at < business_day_bounds_utc(day)[1]) if day else stmt
    return apply


LIST_FILTERS = {"tier": by_tier, "tag": by_tag, "region": by_region, "activity": by_activity, "owner": by_owner}
# Missing figures sort as the lowest score, the oldest last order and the last tier, on every database
# (PostgreSQL and SQLite disagree on where NULLs go).
SORTS = {"name": Customer.name, "created": Customer.id, "score": func.coalesce(Customer.rfm_score, 0),
         "last_order": func.coalesce(Customer.last_order_at, datetime.min),  # noqa: DTZ901 - naive UTC column
         "tier": func.coalesce(Customer.tier_override, Customer.tier, "~")}


def filtered(actor, args: dict, last_from: date | None = None, last_to: date | None = None, hq: bool = False):
    """The actor's customers narrowed by the list's arguments (q and LIST_FILTERS names), for the export."""
    stmt = search_clause(customers_query(actor), args.get("q") or "")
    filters = dict(LIST_FILTERS, **({"distributor": by_distributor} if hq else {}))
    for name, apply in filters.items():
        value = (args.get(name) or "").strip()
        if value:
            stmt = apply(stmt, value)
    return last_order_until(last_to)(last_order_since(last_from)(stmt, None), None)


def distributor_choices() -> list[tuple[str, str]]:
    """Distributors by name, for HQ's filter and its choice of whose customer a new one is."""
    # Columns, not objects: HQ's filter lists every distributor (thousands) on each list page.
    rows = db.session.execute(select(Distributor.id, Distributor.kind, Distributor.name, Distributor.company_name)
                              .order_by(Distributor.name, Distributor.id))
    return [(str(i), company or name if kind == "company" else name) for i, kind, name, company in rows]
