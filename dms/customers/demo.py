"""Demo customers for `flask dms seed-demo`: two distributors' customers with addresses, phones, tags,
owners, and the visits, calls and messages with them over the last weeks.

The demo user `distributor` works for the county agent 黄丽 (南海区 440605); the city agent 刘洋 (广州市
440100) gets a salesperson of his own, so the two distributors' lists and follow-ups differ. Some follow-ups
of `distributor` fall due today, some are overdue and some later this week, for the follow-ups page and
the daily reminder. Each customer is found again by its phone; the interactions are made while none of
the demo customers has any. Customers sit below orders, so their orders are seeded by dms/orders/crm_demo.py.
"""

from datetime import timedelta

from flask_babel import gettext as _
from sqlalchemy import select

from dms.core.cli import DEMO_SEEDERS

NANHAI, GUANGZHOU = "440605", "440100"  # 黄丽 (county) and 刘洋 (city)
# username, password, role, display name, the distributor's region
STAFF = [("gz_sales", "gz-sales-demo-2026", "distributor", "刘洋团队 · 小陈", GUANGZHOU)]
# key, distributor, owner, kind, name, phone, source, tags, note,
#   [(label, region, street, address)] (the first is the default), [(other phone, label)]
CUSTOMERS = [
    ("kindergarten", NANHAI, "distributor", "business", "桂城星光幼儿园", "13907572001", "referral", ["学校"],
     "每周一、周四各送 12 桶，门卫室签收。",
     [("园区", NANHAI, "桂城街道", "南桂东路 23 号"), ("分园", NANHAI, "桂城街道", "海五路 8 号")],
     [("13907572011", "后勤 王老师")]),
    ("tower", NANHAI, "distributor", "business", "千灯湖环宇城写字楼物业", "13907572002", "phone", ["VIP", "写字楼"],
     "18 层共 30 台饮水机，周五统一补水。",
     [("A 座", NANHAI, "桂城街道", "灯湖东路 1 号 A 座"), ("B 座", NANHAI, "桂城街道", "灯湖东路 1 号 B 座")],
     [("13907572012", "物业前台"), ("13907572013", "采购 刘经理")]),
    ("school", NANHAI, "distributor", "business", "大沥镇实验小学", "13907572003", "campaign", ["学校"],
     "学期中每月结算，放假停送。", [("", NANHAI, "大沥镇", "沥东路 66 号")], []),
    ("family_li", NANHAI, "distributor", "person", "李慧珍", "13907572004", "mini_program", ["VIP"],
     "老客户，喜欢早上送。",
     [("家", NANHAI, "里水镇", "和顺大道 12 号 5 栋 301"), ("父母家", NANHAI, "里水镇", "草场村 3 巷 2 号")], []),
    ("family_guo", NANHAI, "distributor", "person", "郭志明", "13907572005", "walk_in", [],
     "", [("", NANHAI, "狮山镇", "博爱路 90 号 1201")], []),
    ("gym", NANHAI, None, "business", "南海健身工作室", "13907572006", "mini_program", ["写字楼"],
     "新客户，还没有指定负责人。", [("", NANHAI, "桂城街道", "天佑城 4 楼")], []),
    ("office_tianhe", GUANGZHOU, "gz_sales", "business", "天河软件园 B 区物业", "13902002001", "phone",
     ["VIP", "写字楼"], "整栋楼 12 层，每层 4 台饮水机。",
     [("B 区", "440106", "石牌街道", "天河软件园 B 区 2 栋"), ("C 区", "440106", "石牌街道", "天河软件园 C 区 5 栋")],
     [("13902002011", "行政 黄小姐")]),
    ("school_yuexiu", GUANGZHOU, "gz_sales", "business", "越秀区育才中学", "13902002002", "referral", ["学校"],
     "教学楼和宿舍分开配送。",
     [("教学楼", "440104", "大东街道", "育才路 1 号"), ("宿舍", "440104", "大东街道", "育才路 3 号")], []),
    ("family_zhou", GUANGZHOU, "gz_sales", "person", "周小雅", "13902002003", "mini_program", [],
     "", [("", "440106", "天河南街道", "天河南二路 18 号 702")], []),
]
# customer key, user, kind, status, days ago (negative: ahead), contact, outcome, follow-up in days from today
INTERACTIONS = [
    ("kindergarten", "distributor", "visit", "done", 24, "后勤 王老师", "续签本学期送水协议", -17),
    ("kindergarten", "distributor", "call", "done", 17, "后勤 王老师", "确认寒假前最后一次送水日期", 0),
    ("tower", "distributor", "visit", "done", 20, "采购 刘经理", "介绍夏季桶装水促销", -13),
    ("tower", "distributor", "visit", "done", 13, "采购 刘经理", "试用 B 座三层，反馈不错", -3),
    ("school", "distributor", "message", "done", 9, "总务处", "发送报价单", -1),
    ("family_li", "distributor", "call", "done", 6, "李慧珍", "询问是否加订矿泉水", 2),
    ("family_guo", "distributor", "message", "done", 4, "郭志明", "提醒空桶回收", 4),
    ("gym", "distributor", "visit", "planned", -1, "店长", "", None),
    ("gym", "distributor", "call", "done", 2, "店长", "约好明天上门介绍", 0),
    ("tower", "distributor", "visit", "cancelled", 8, "采购 刘经理", "对方临时出差", None),
    ("office_tianhe", "gz_sales", "visit", "done", 15, "行政 黄小姐", "签订季度合同", 12),
    ("school_yuexiu", "gz_sales", "call", "done", 5, "后勤处", "开学前补水安排", 1),
    ("family_zhou", "gz_sales", "message", "done", 3, "周小雅", "发送小程序下单指引", None),
]
INTERACTION_NOTES = {"visit": "上门拜访。", "call": "电话沟通。", "message": "微信消息沟通。"}


def _distributor(region_code: str):
    from dms.distributors.models import Distributor
    from dms.extensions import db

    return db.session.scalars(select(Distributor).where(Distributor.region_code == region_code)
                              .order_by(Distributor.id)).first()


def _user(username: str):
    from dms.accounts.models import User
    from dms.extensions import db

    return db.session.scalar(select(User).where(User.username == username))


def _staff(distributors: dict) -> list[str]:
    """The other distributors' demo staff (created once); the lines that name their accounts."""
    from dms.accounts import services as accounts

    lines = []
    for username, password, role, name, region in STAFF:
        distributor = distributors.get(region)
        if distributor is None:
            continue
        if _user(username) is None:
            accounts.create_user(None, username=username, password=password, roles=[role], display_name=name,
                                 distributor_id=distributor.id)
        lines.append(f"{role:<12} {username:<12} {password}")
    return lines


def _customer(distributor, owner, row):
    """The demo customer of `row`, found by its phone or made with its addresses, phones, tags and owner."""
    from dms.customers import services as customers
    from dms.customers.models import Customer, CustomerAddress, CustomerPhone
    from dms.extensions import db

    _key, _region, _owner, kind, name, phone, source, tags, note, addresses, phones = row
    found = db.session.scalar(select(Customer).where(Customer.distributor_id == distributor.id,
                                                     Customer.phone == phone))
    if found is not None:
        return found, False
    _label, region_code, street, address = addresses[0]
    customer = customers.create_customer(None, distributor.id, {"name": name, "phone": phone,
                                                                "region_code": region_code, "street": street,
                                                                "address": address})
    customer.kind, customer.source, customer.note = kind, source, note
    customer.owner_id = owner.id if owner is not None and owner.distributor_id == distributor.id else None
    # The customers service may already have made the default address; it is then only labelled here.
    default = next((a for a in customer.addresses if a.is_default), None)
    for n, (label, region_code, street, address) in enumerate(addresses):
        if n == 0 and default is not None:
            default.label = label
            continue
        customer.addresses.append(CustomerAddress(label=label, region_code=region_code, street=street,
                                                  address=address, is_default=n == 0))
    for number, label in phones:
        customer.phones.append(CustomerPhone(number=number, label=label))
    customer.tags = customers.tags_named(tags)
    # Spread the sign-up dates over the last months, so "new customers" are not all from today.
    customer.created_at = customer.created_at - timedelta(days=40 + 7 * len(addresses) + len(name))
    db.session.flush()
    return customer, True


def _interactions(customers: dict) -> int:
    """The visits, calls and messages, made while none of the demo customers has any; each closes the last
    follow-up of its customer, as logging the next contact does."""
    from dms.core.time import business_today, utcnow
    from dms.customers.models import Interaction
    from dms.extensions import db

    ids = [c.id for c in customers.values()]
    if not ids or db.session.scalar(select(Interaction.id).where(Interaction.customer_id.in_(ids)).limit(1)):
        return 0
    today, now = business_today(), utcnow()
    open_follow_up: dict = {}
    made = 0
    for key, username, kind, status, days_ago, contact, outcome, follow_up in sorted(
            INTERACTIONS, key=lambda row: -row[4]):
        customer, user = customers.get(key), _user(username)
        if customer is None:
            continue
        at = now - timedelta(days=days_ago, hours=3)
        row = Interaction(customer_id=customer.id, distributor_id=customer.distributor_id,
                          user_id=user.id if user is not None else None, kind=kind, status=status,
                          planned_on=today - timedelta(days=days_ago) if kind == "visit" else None,
                          happened_at=at if status == "done" else None, contact_person=contact, outcome=outcome,
                          notes=INTERACTION_NOTES[kind], created_at=at - timedelta(days=1 if kind == "visit" else 0),
                          follow_up_on=today + timedelta(days=follow_up) if follow_up is not None else None)
        if status == "done":
            previous = open_follow_up.pop(key, None)
            if previous is not None:
                previous.follow_up_done_at = at
            if row.follow_up_on is not None:
                open_follow_up[key] = row
        db.session.add(row)
        made += 1
    db.session.flush()
    return made


def seed_demo_customers() -> list[str]:
    """Customers of 黄丽 and 刘洋 with addresses, phones, tags and owners, and their interactions (made once)."""
    distributors = {region: d for region in (NANHAI, GUANGZHOU) if (d := _distributor(region)) is not None}
    if NANHAI not in distributors:
        return [_("Demo customers skipped: the demo distributor of %(region)s is missing.", region=NANHAI)]
    lines = _staff(distributors)
    customers, made = {}, 0
    for row in CUSTOMERS:
        distributor = distributors.get(row[1])
        if distributor is None:
            continue
        customer, created = _customer(distributor, _user(row[2]) if row[2] else None, row)
        customers[row[0]] = customer
        made += created
    interactions = _interactions(customers)
    if made or interactions:
        lines.append(_("Demo customers: %(made)d customers, %(count)d visits, calls and messages.", made=made,
                       count=interactions))
    return lines


DEMO_SEEDERS.append(seed_demo_customers)
