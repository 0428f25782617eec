"""Distributor commands: the demo network (seed-demo) and the exclusive-territory check (check)."""

from datetime import date

from flask_babel import gettext as _
from sqlalchemy import select
from stdnum.cn import ric, uscc
from stdnum.exceptions import ValidationError as StdnumError

from dms.core.cli import CHECKS, DEMO_SEEDERS

# The demo network: three provinces, each with a province agent holding the province non-exclusively
# (so agents below may hold parts of it exclusively), exclusive city agents under it, and exclusive
# county agents in cities nobody holds exclusively (a county inside an exclusive city would overlap).
# key, kind, person's name, company's name, region, upline key, exclusive grant
DEMO_NETWORK = [
    ("gd", "company", "陈志强", "粤南饮品贸易有限公司", "440000", None, False),
    ("gz", "person", "刘洋", None, "440100", "gd", True),
    ("sz", "company", "林海", "鹏城水业有限公司", "440300", "gd", True),
    ("nanhai", "person", "黄丽", None, "440605", "gz", True),
    ("shunde", "person", "梁俊", None, "440606", "gz", True),
    ("zj", "person", "王建国", None, "330000", None, False),
    ("hz", "company", "吴芳", "西湖饮品有限公司", "330100", "zj", True),
    ("nb", "person", "周敏", None, "330200", "zj", True),
    ("lucheng", "person", "陈静", None, "330302", "hz", True),
    ("ruian", "company", "郑凯", "瑞安清泉水站有限公司", "330381", "hz", True),
    ("sc", "company", "李明", "蜀川商贸有限公司", "510000", None, False),
    ("cd", "person", "张伟", None, "510100", "sc", True),
    ("my", "company", "何静", "绵州商贸有限公司", "510700", "sc", True),
    ("jingyang", "person", "杨帆", None, "510603", "cd", True),
    ("guanghan", "person", "赵磊", None, "510681", "cd", True),
]
SUSPENDED = "nb"
DEMO_USER_DISTRIBUTOR = "nanhai"  # the demo user `distributor` works for this county agent
PROFIT_SHARE = {"province": "5", "city": "8", "county": "10"}
TARGETS = {"province": ("600000", 24000), "city": ("150000", 6000), "county": ("40000", 1500)}

# Pending applications: a clean one, one for a region held exclusively (flagged), one from a company.
DEMO_APPLICATIONS = [
    {"applicant_type": "person", "name": "孙悦", "region_code": "440607", "level": "county",
     "message": "在三水区经营社区便利店十年，希望代理桶装水配送。"},
    {"applicant_type": "person", "name": "马超", "region_code": "440100", "level": "city",
     "message": "有冷链车队，想做广州市级代理。"},
    {"applicant_type": "company", "name": "高远", "company_name": "自贡盐都饮品有限公司", "region_code": "510300",
     "level": "city", "message": "公司已有仓储和配送团队。"},
]


def demo_id_number(area: str, n: int) -> str:
    """A valid national ID number for demo person `n`, born in `area` if that county existed in 1985.

    The GB 11643 check character is computed; the birthplace must be a county of the birth year, so
    a newer code falls back to a long-standing one of the same province (or Beijing Chaoyang).
    """
    for place in (area, {"44": "440103", "33": "330106", "51": "510104"}.get(area[:2], "110105"), "110105"):
        body = f"{place}1985{1 + n % 12:02d}{1 + n % 28:02d}{n:03d}"
        number = body + ric.calc_check_digit(body + "0")  # stdnum expects a placeholder check character
        try:
            return ric.validate(number)
        except StdnumError:
            continue
    raise ValueError(area)


def demo_credit_code(area: str, n: int) -> str:
    """A valid unified social credit code for demo company `n` (GB 32100 check character computed)."""
    body = f"91{area}MA{n:07d}"
    return body + uscc.calc_check_digit(body)


def demo_phone(n: int) -> str:
    """A mobile number for demo party `n`."""
    return f"1390000{n:04d}"


def _find_or_create(n: int, kind: str, name: str, company: str | None, region_code: str, upline, exclusive: bool):
    """The demo distributor `n` (found by its ID number or credit code), created when missing."""
    from dms.distributors import services
    from dms.territories.services import get_region

    id_number = demo_id_number(region_code, n) if kind == "person" else None
    credit_code = demo_credit_code(region_code, n) if kind == "company" else None
    found = services.active_distributor_with(id_number=id_number, credit_code=credit_code)
    if found is not None:
        return found, False
    level = get_region(region_code).level
    distributor = services.create_distributor(None, {
        "kind": kind, "name": name, "company_name": company, "credit_code": credit_code, "id_number": id_number,
        "phone": demo_phone(n), "region_code": region_code, "level": level, "exclusive": exclusive,
        "profit_share": PROFIT_SHARE[level], "upline_id": upline.id if upline else None})
    return distributor, True


def _grant_once(distributor, region_code: str, exclusive: bool, start: date) -> str | None:
    """Grant the region unless the distributor ever held it; a message when someone else holds it."""
    from dms.distributors.grants import TerritoryTaken, grant_territory
    from dms.distributors.models import TerritoryGrant
    from dms.extensions import db

    held = db.session.scalar(select(TerritoryGrant.id).where(
        TerritoryGrant.distributor_id == distributor.id, TerritoryGrant.region_code == region_code).limit(1))
    if held is not None:
        return None
    try:
        grant_territory(None, distributor, region_code, exclusive=exclusive, effective_from=start,
                        note=_("Demo data"))
    except TerritoryTaken as exc:
        return _("Demo grant skipped: %(message)s", message=exc.message)
    return None


def _targets_once(distributor, today: date):
    """Month and quarter targets for the current periods, unless already set."""
    from dms.distributors import services
    from dms.distributors.models import DistributorTarget
    from dms.extensions import db

    amount, quantity = TARGETS[distributor.level]
    for period, factor in (("month", 1), ("quarter", 3)):
        start = services.period_start(period, today)
        exists = db.session.scalar(select(DistributorTarget.id).where(
            DistributorTarget.distributor_id == distributor.id, DistributorTarget.period == period,
            DistributorTarget.period_start == start))
        if exists is None:
            services.set_target(None, distributor, {"period": period, "period_start": start,
                                                    "amount": str(int(amount) * factor),
                                                    "quantity": quantity * factor})


def _link_demo_user(distributor) -> str | None:
    """Make the demo user `distributor` work for `distributor`, unless it already works for someone."""
    from dms.accounts import services as accounts
    from dms.accounts.models import User
    from dms.distributors.models import Distributor
    from dms.extensions import db

    user = db.session.scalar(select(User).where(User.username == "distributor"))
    if user is None:
        return None
    if user.distributor_id is None:
        accounts.update_user(None, user, distributor_id=distributor.id)
    employer = db.session.get(Distributor, user.distributor_id)
    return _("user %(user)s works for %(name)s", user=user.username,
             name=employer.display_name if employer else user.distributor_id)


def _seed_applications(n: int) -> list[str]:
    """The pending demo applications, each submitted once (found again by its phone number)."""
    try:
        from dms.distributors.applications import submit_application
    except ImportError:
        return [_("Demo applications skipped: the applications module is not available.")]
    from dms.distributors.models import Application
    from dms.extensions import db

    made = 0
    for offset, template in enumerate(DEMO_APPLICATIONS):
        phone = demo_phone(n + offset)
        if db.session.scalar(select(Application.id).where(Application.phone == phone).limit(1)) is not None:
            continue
        data = dict(template, phone=phone)
        if data["applicant_type"] == "person":
            data["id_number"] = demo_id_number(data["region_code"], n + offset)
        else:
            data["credit_code"] = demo_credit_code(data["region_code"], n + offset)
        submit_application(data, source="web")
        made += 1
    return [_("%(made)d demo application(s) submitted.", made=made)] if made else []


def seed_demo_network() -> list[str]:
    """Three provinces of distributors (province -> city -> county), targets, applications (created once)."""
    from dms.core.time import business_today
    from dms.distributors import services

    today = business_today()
    start = date(today.year, 1, 1)
    by_key, lines = {}, []
    for n, (key, kind, name, company, region_code, upline_key, exclusive) in enumerate(DEMO_NETWORK, start=1):
        distributor, created = _find_or_create(n, kind, name, company, region_code, by_key.get(upline_key), exclusive)
        by_key[key] = distributor
        problem = _grant_once(distributor, region_code, exclusive, start)
        if problem:
            lines.append(problem)
        _targets_once(distributor, today)
        if created and key == SUSPENDED:
            services.set_status(None, distributor, "suspended", "演示：对账逾期，暂停供货")
    linked = _link_demo_user(by_key[DEMO_USER_DISTRIBUTOR])
    lines.append(_("Demo network: %(count)d distributors in 3 provinces.", count=len(by_key)))
    if linked:
        lines.append(linked)
    lines.extend(_seed_applications(len(DEMO_NETWORK) + 1))
    return lines


def check_exclusive_grants() -> list[str]:
    """Every pair of exclusive grants that overlap (must be none)."""
    from dms.distributors.grants import exclusive_violations

    def describe(grant):
        until = grant.effective_to.isoformat() if grant.effective_to else "…"
        return _("grant %(id)s (%(region)s %(code)s, %(who)s, %(start)s to %(end)s)", id=grant.id,
                 region=grant.region.name, code=grant.region_code, who=grant.distributor.display_name,
                 start=grant.effective_from.isoformat(), end=until)

    return [_("exclusive territories overlap: %(inner)s and %(outer)s", inner=describe(o.inner),
              outer=describe(o.outer)) for o in exclusive_violations()]


DEMO_SEEDERS.append(seed_demo_network)
CHECKS.append(check_exclusive_grants)
