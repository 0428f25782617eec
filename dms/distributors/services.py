"""Distributors (public interface of the area): profiles, status, upline, rights, targets, warehouse."""

import re
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from flask_babel import gettext as _
from sqlalchemy import exists, or_, select

from dms.core import audit
from dms.core.crypto import blind_index, blind_indexes, mask
from dms.core.errors import Conflict, Forbidden, NotFound, ValidationError
from dms.core.identity import normalise_credit_code, normalise_email, normalise_id_number, normalise_mobile
from dms.core.scope import HQ_SCOPE, get_scoped, scoped
from dms.core.time import business_today, utcnow
from dms.distributors import upline_history
from dms.distributors.models import (
    KINDS,
    LEVELS,
    PERIODS,
    STATUSES,
    Distributor,
    DistributorTarget,
    TerritoryGrant,
    Warehouse,
)
from dms.extensions import db
from dms.territories.services import find_region

# Fields whose values never go into the audit log in clear.
SENSITIVE = ("id_number", "bank_account")
PROFILE_FIELDS = ("kind", "name", "company_name", "credit_code", "phone", "email", "id_number", "level",
                  "region_code", "upline_id", "exclusive", "profit_share", "bank_name", "bank_account_name",
                  "bank_account")
BANK_ACCOUNT_RE = re.compile(r"^\d{8,32}$")


def _require(actor, permission: str):
    if actor is not None and not actor.can(permission):
        raise Forbidden()


def _collect(errors: dict, field: str, func, value):
    """Run one normaliser, filing its ValidationError under `errors` instead of raising."""
    try:
        return func(value)
    except ValidationError as exc:
        for name, messages in exc.fields.items():
            errors.setdefault(name, []).extend(messages)
        return None


def clean_identity(data: dict, *, id_required: bool) -> dict:
    """Check and normalise who someone is: kind, names, ID number, credit code, phone, email.

    Returns the cleaned fields; raises ValidationError naming every bad field at once.
    """
    errors: dict[str, list] = {}
    kind = (data.get("kind") or data.get("applicant_type") or "").strip()
    if kind not in KINDS:
        errors["kind"] = [_("Choose person or company.")]
    name = (data.get("name") or "").strip()
    if not name:
        errors["name"] = [_("Enter the name.")]
    elif len(name) > 120:
        errors["name"] = [_("At most %(n)d characters.", n=120)]
    company_name = (data.get("company_name") or "").strip() or None
    credit_code = (data.get("credit_code") or "").strip() or None
    if kind == "company":
        if not company_name:
            errors["company_name"] = [_("Enter the company's registered name.")]
        if not credit_code:
            errors["credit_code"] = [_("Enter the company's unified social credit code.")]
    if company_name and len(company_name) > 200:
        errors["company_name"] = [_("At most %(n)d characters.", n=200)]
    if credit_code:
        credit_code = _collect(errors, "credit_code", normalise_credit_code, credit_code)
    id_number = (data.get("id_number") or "").strip() or None
    if id_number:
        id_number = _collect(errors, "id_number", normalise_id_number, id_number)
    elif id_required:
        errors["id_number"] = [_("Enter the national ID number.")]
    phone = (data.get("phone") or "").strip()
    if phone:
        phone = _collect(errors, "phone", normalise_mobile, phone)
    else:
        errors["phone"] = [_("Enter a mobile number.")]
    email = (data.get("email") or "").strip() or None
    if email:
        email = _collect(errors, "email", normalise_email, email)
    if errors:
        raise ValidationError(fields=errors)
    return {"kind": kind, "name": name, "company_name": company_name if kind == "company" else None,
            "credit_code": credit_code if kind == "company" else None, "id_number": id_number,
            "phone": phone, "email": email}


def clean_region(region_code: str | None, level: str | None) -> dict:
    """A known region whose level is `level`; raises ValidationError naming region_code or level."""
    errors = {}
    if level not in LEVELS:
        errors["level"] = [_("Choose province, city or county.")]
    region = find_region((region_code or "").strip())
    if region is None:
        errors["region_code"] = [_("Choose a region from the list.")]
    elif level in LEVELS and region.level != level:
        errors["region_code"] = [_("%(region)s is a %(actual)s, not a %(wanted)s.", region=region.name,
                                   actual=level_label(region.level), wanted=level_label(level))]
    if errors:
        raise ValidationError(fields=errors)
    return {"region_code": region.code, "level": level}


def level_label(level: str) -> str:
    """The translated name of a level."""
    return {"province": _("province"), "city": _("city"), "county": _("county")}.get(level, level)


def active_distributor_with(id_number: str | None = None, credit_code: str | None = None,
                            exclude_id: int | None = None) -> Distributor | None:
    """An active or suspended distributor with this ID number (by blind index) or credit code."""
    match = []
    if id_number:
        match.append(Distributor.id_number_index.in_(blind_indexes(id_number)))
    if credit_code:
        match.append(Distributor.credit_code == credit_code)
    if not match:
        return None
    stmt = select(Distributor).where(or_(*match), Distributor.status != "terminated")
    if exclude_id is not None:
        stmt = stmt.where(Distributor.id != exclude_id)
    return db.session.scalars(stmt.limit(1)).first()


def _check_duplicate(cleaned: dict, exclude_id: int | None = None):
    other = active_distributor_with(cleaned.get("id_number"), cleaned.get("credit_code"), exclude_id)
    if other is not None:
        field = "id_number" if cleaned.get("id_number") and other.id_number == cleaned["id_number"] else "credit_code"
        message = _("An active distributor (%(name)s) already has this number.", name=other.display_name)
        raise Conflict(message, fields={field: [message]}, code="duplicate")


def clean_rights(data: dict) -> dict:
    """Exclusive flag and profit share (0-100 %, two places); raises ValidationError."""
    raw = data.get("profit_share")
    try:
        share = Decimal(str(raw if raw not in (None, "") else "0")).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    except (InvalidOperation, ValueError):
        raise ValidationError(fields={"profit_share": [_("Enter a percentage such as 12.5.")]}) from None
    if not share.is_finite() or share < 0 or share > 100:
        raise ValidationError(fields={"profit_share": [_("A share lies between 0 and 100 %.")]})
    return {"exclusive": bool(data.get("exclusive", True)), "profit_share": share}


def clean_bank(data: dict) -> dict:
    """The payout account (bank, holder, a number of 8-32 digits), all three or none; raises ValidationError."""
    errors = {}
    bank_name = (data.get("bank_name") or "").strip()
    account_name = (data.get("bank_account_name") or "").strip()
    account = re.sub(r"[\s\-]", "", data.get("bank_account") or "")
    for field, value in (("bank_name", bank_name), ("bank_account_name", account_name)):
        if len(value) > 120:
            errors[field] = [_("At most %(n)d characters.", n=120)]
    if account and not BANK_ACCOUNT_RE.match(account):
        errors["bank_account"] = [_("Enter the account number: 8 to 32 digits.")]
    if bank_name or account_name or account:
        for field, value, message in (("bank_name", bank_name, _("Enter the bank and branch.")),
                                      ("bank_account_name", account_name, _("Enter the account holder's name.")),
                                      ("bank_account", account, _("Enter the account number."))):
            if not value:
                errors.setdefault(field, [message])
    if errors:
        raise ValidationError(fields=errors)
    return {"bank_name": bank_name, "bank_account_name": account_name, "bank_account": account or None}


def bank_account_shown(actor, distributor: Distributor) -> str:
    """The payout account number: in full for holders of distributors.reveal_id, else masked (6222****1234)."""
    if not distributor.bank_account:
        return ""
    if actor is not None and actor.can("distributors.reveal_id"):
        return distributor.bank_account
    return mask(distributor.bank_account, 4, 4)


def _check_upline(distributor: Distributor | None, upline_id: int | None) -> Distributor | None:
    if upline_id in (None, "", 0):
        return None
    upline = db.session.get(Distributor, int(upline_id))
    if upline is None:
        raise ValidationError(fields={"upline_id": [_("Choose an existing distributor.")]})
    if upline.status == "terminated":
        raise ValidationError(fields={"upline_id": [_("A terminated distributor cannot be an upline.")]})
    # The new upline must not be this distributor or below it, now or once a scheduled move takes effect.
    if distributor is not None and (upline.id == distributor.id or upline_history.loop_moment(
            distributor.id, upline.id, utcnow()) is not None):
        raise ValidationError(fields={"upline_id": [_("This would make a loop in the network.")]})
    return upline


def _snapshot(d: Distributor) -> dict:
    return {"kind": d.kind, "name": d.name, "company_name": d.company_name, "credit_code": d.credit_code,
            "phone": d.phone, "email": d.email, "id_number": d.id_number, "level": d.level,
            "region_code": d.region_code, "upline_id": d.upline_id, "exclusive": d.exclusive,
            "profit_share": str(d.profit_share) if d.profit_share is not None else None,
            "bank_name": d.bank_name, "bank_account_name": d.bank_account_name, "bank_account": d.bank_account}


def _clean_profile(data: dict) -> dict:
    """Identity, region and rights cleaned together; raises one ValidationError naming every bad field."""
    errors, cleaned = {}, {}
    for step in (lambda: clean_identity(data, id_required=data.get("kind") == "person"),
                 lambda: clean_region(data.get("region_code"), data.get("level")),
                 lambda: clean_rights(data),
                 lambda: clean_bank(data)):
        try:
            cleaned.update(step())
        except ValidationError as exc:
            errors.update(exc.fields)
    if errors:
        raise ValidationError(fields=errors)
    return cleaned


def create_distributor(actor, data: dict) -> Distributor:
    """Create an active distributor and its warehouse; raises ValidationError or Conflict (duplicate)."""
    _require(actor, "distributors.manage")
    cleaned = _clean_profile(data)
    upline = _check_upline(None, data.get("upline_id"))
    _check_duplicate(cleaned)
    distributor = Distributor(**cleaned, upline=upline, status="active", status_changed_on=business_today())
    distributor.id_number_index = cleaned["id_number"] and blind_index(cleaned["id_number"])
    db.session.add(distributor)
    db.session.flush()
    if upline is not None:
        upline_history.link_upline(distributor, upline.id, actor=actor, note="created")
    create_warehouse_for(distributor)
    audit.record("distributor.create", "distributor", distributor.id, distributor.display_name,
                 audit.diff({}, _snapshot(distributor), SENSITIVE), actor=actor)
    return distributor


def update_distributor(actor, distributor: Distributor, data: dict) -> Distributor:
    """HQ edits a profile, rights and payout account; an empty ID or account number keeps the stored one."""
    _require(actor, "distributors.manage")
    merged = _snapshot(distributor) | {k: v for k, v in data.items() if k in PROFILE_FIELDS}
    if not (data.get("id_number") or "").strip():
        merged["id_number"] = distributor.id_number
    if not (data.get("bank_account") or "").strip():
        # the number is never sent back to the form; emptying bank, holder and number removes the account
        keep = (merged.get("bank_name") or "").strip() or (merged.get("bank_account_name") or "").strip()
        merged["bank_account"] = distributor.bank_account if keep else None
    cleaned = _clean_profile(merged)
    upline = _check_upline(distributor, merged.get("upline_id"))
    _check_duplicate(cleaned, exclude_id=distributor.id)
    before = _snapshot(distributor)
    for field, value in cleaned.items():
        setattr(distributor, field, value)
    distributor.id_number_index = cleaned["id_number"] and blind_index(cleaned["id_number"])
    if (upline.id if upline else None) != before["upline_id"]:
        upline_history.link_upline(distributor, upline.id if upline else None, actor=actor, note="profile edit")
    distributor.upline = upline
    db.session.flush()
    changes = audit.diff(before, _snapshot(distributor), SENSITIVE)
    if changes:
        audit.record("distributor.update", "distributor", distributor.id, distributor.display_name, changes,
                     actor=actor)
    return distributor


def set_status(actor, distributor: Distributor, status: str, reason: str = "", on: date | None = None) -> Distributor:
    """Activate, suspend or terminate; suspension and termination need a reason.

    Termination is final: it ends the territories and disables the distributor's users.
    """
    _require(actor, "distributors.manage")
    reason = (reason or "").strip()
    if status not in STATUSES:
        raise ValidationError(fields={"status": [_("Choose a status.")]})
    if status != "active" and not reason:
        raise ValidationError(fields={"reason": [_("Give a reason.")]})
    if distributor.status == "terminated":
        raise Conflict(_("A terminated distributor cannot change status."), code="invalid_transition")
    if status == distributor.status:
        raise Conflict(_("The distributor is already %(status)s.", status=status_label(status)),
                       code="invalid_transition")
    on = on or business_today()
    before = {"status": distributor.status, "status_reason": distributor.status_reason}
    distributor.status, distributor.status_reason, distributor.status_changed_on = status, reason[:255], on
    if status == "terminated":
        from dms.accounts.services import set_active
        from dms.distributors.grants import end_all_grants

        end_all_grants(actor, distributor, on, reason)
        for user in distributor.users:
            if user.active:
                set_active(None, user, False)
    db.session.flush()
    audit.record(f"distributor.{status}", "distributor", distributor.id, reason or status,
                 audit.diff(before, {"status": status, "status_reason": reason}), actor=actor)
    return distributor


def status_label(status: str) -> str:
    """The translated name of a status."""
    return {"active": _("active"), "suspended": _("suspended"), "terminated": _("terminated")}.get(status, status)


def reveal_id_number(actor, distributor: Distributor) -> str:
    """The full national ID number, for holders of distributors.reveal_id; every reveal is audited."""
    _require(actor, "distributors.reveal_id")
    if actor is None:
        raise Forbidden()
    audit.record("distributor.reveal_id", "distributor", distributor.id,
                 _("Revealed the national ID number"), actor=actor)
    return distributor.id_number or ""


def period_start(period: str, day: date) -> date:
    """The first day of the month or quarter containing `day`."""
    if period == "quarter":
        return date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)
    return date(day.year, day.month, 1)


def set_target(actor, distributor: Distributor, data: dict) -> DistributorTarget:
    """Set (or replace) the target for one month or quarter: an amount and/or a quantity."""
    _require(actor, "distributors.manage")
    errors = {}
    period = data.get("period")
    if period not in PERIODS:
        errors["period"] = [_("Choose month or quarter.")]
    day = data.get("period_start")
    if not isinstance(day, date):
        errors["period_start"] = [_("Enter a date in the period.")]
    amount = data.get("amount")
    if amount not in (None, ""):
        try:
            amount = Decimal(str(amount))
            if not amount.is_finite() or amount <= 0 or amount >= Decimal("1e12"):  # before quantizing: 1E30 raises
                raise InvalidOperation
            amount = amount.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
            if amount <= 0:
                raise InvalidOperation
        except (InvalidOperation, ValueError):
            errors["amount"] = [_("Enter a positive amount.")]
    else:
        amount = None
    quantity = data.get("quantity")
    if quantity not in (None, ""):
        try:
            quantity = int(quantity)
            if quantity <= 0 or quantity > 2**31 - 1:
                raise ValueError
        except (TypeError, ValueError):
            errors["quantity"] = [_("Enter a positive whole number.")]
    else:
        quantity = None
    if not errors and amount is None and quantity is None:
        errors["amount"] = [_("Give an amount, a quantity or both.")]
    if errors:
        raise ValidationError(fields=errors)
    start = period_start(period, day)
    target = db.session.scalar(select(DistributorTarget).where(
        DistributorTarget.distributor_id == distributor.id, DistributorTarget.period == period,
        DistributorTarget.period_start == start))
    before = {"amount": str(target.amount) if target and target.amount is not None else None,
              "quantity": target.quantity if target else None}
    if target is None:
        target = DistributorTarget(distributor_id=distributor.id, period=period, period_start=start)
        db.session.add(target)
    target.amount, target.quantity = amount, quantity
    db.session.flush()
    audit.record("distributor.target", "distributor", distributor.id,
                 _("Target for %(period)s %(start)s", period=period, start=start.isoformat()),
                 audit.diff(before, {"amount": str(amount) if amount is not None else None, "quantity": quantity}),
                 actor=actor)
    return target


def delete_target(actor, distributor: Distributor, target_id: int) -> None:
    """Remove one of the distributor's targets; raises NotFound for another's."""
    _require(actor, "distributors.manage")
    target = db.session.get(DistributorTarget, target_id)
    if target is None or target.distributor_id != distributor.id:
        raise NotFound()
    audit.record("distributor.target_delete", "distributor", distributor.id,
                 _("Removed the target for %(start)s", start=target.period_start.isoformat()), actor=actor)
    db.session.delete(target)
    db.session.flush()


def get_distributor(actor, distributor_id: int) -> Distributor:
    """A distributor the actor may see: any for HQ, only its own for a distributor; else NotFound."""
    _require(actor, "distributors.view")
    return get_scoped(Distributor, distributor_id, actor, column=Distributor.id)


def distributors_query(actor, *, level=None, status=None, region_code=None, upline_id=None):
    """A select of the distributors the actor may see, filtered; region matches overlapping grants."""
    from dms.distributors.grants import in_force_on, region_family

    _require(actor, "distributors.view")
    stmt = scoped(select(Distributor), Distributor.id, actor)
    if level:
        stmt = stmt.where(Distributor.level == level)
    if status:
        stmt = stmt.where(Distributor.status == status)
    if upline_id:
        stmt = stmt.where(Distributor.upline_id == upline_id)
    if region_code and find_region(region_code) is not None:
        family = region_family(region_code)
        stmt = stmt.where(or_(Distributor.region_code.in_(family), exists().where(
            TerritoryGrant.distributor_id == Distributor.id, TerritoryGrant.region_code.in_(family),
            *in_force_on(business_today()))))
    return stmt


def distributor_choices(actor=None, exclude_id: int | None = None) -> list[tuple[int, str]]:
    """(id, name) of the distributors that are not terminated, for upline pickers."""
    stmt = select(Distributor).where(Distributor.status != "terminated").order_by(Distributor.name)
    if actor is not None and not actor.can(HQ_SCOPE):
        stmt = scoped(stmt, Distributor.id, actor)
    return [(d.id, d.display_name) for d in db.session.scalars(stmt) if d.id != exclude_id]


def create_warehouse_for(distributor: Distributor) -> Warehouse:
    """The distributor's own warehouse (made with it); creates one if missing."""
    if distributor.warehouse is None:
        db.session.add(Warehouse(name=_("%(name)s warehouse", name=distributor.display_name)[:200],
                                 distributor_id=distributor.id, region_code=distributor.region_code))
        db.session.flush()
        db.session.refresh(distributor)
    return distributor.warehouse
