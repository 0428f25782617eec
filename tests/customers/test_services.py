"""The CRM services against a real database: profile, phones, duplicates, addresses, tags, tiers, scope."""

import pytest
from sqlalchemy import select

from dms.core.errors import Conflict, Forbidden, NotFound, ValidationError
from dms.core.jobs import commit
from dms.core.models import AuditLog
from dms.customers import services
from dms.customers.models import CustomerAddress, CustomerTierRule
from dms.extensions import db
from tests.customers.conftest import fresh_phone


def profile(**changes) -> dict:
    data = {"name": "张三", "phone": fresh_phone(), "region_code": "440113", "street": "市桥街道", "address": "1号",
            "kind": "business", "source": "referral", "tags": "VIP, 写字楼", "note": "送货前电话", "phones": ""}
    data.update(changes)
    return data


def test_a_customer_gets_its_profile_and_a_default_address(crm):
    customer = services.register_customer(crm["staff"], profile(owner_id=str(crm["staff"].id),
                                                                phones="020-12345678\n13911112222"))
    commit()
    assert customer.distributor_id == crm["first"].id and customer.kind == "business"
    assert customer.source == "referral" and customer.owner_id == crm["staff"].id
    assert [t.name for t in customer.tags] == ["VIP", "写字楼"]
    assert [p.number for p in customer.phones] == ["020-12345678", "13911112222"]
    [address] = customer.addresses
    assert address.is_default
    assert (address.region_code, address.street, address.address) == ("440113", "市桥街道", "1号")


def test_orders_find_or_create_still_makes_one_customer_with_its_default_address(crm):
    data = {"name": "李四", "phone": "13800138000", "region_code": "440113", "street": "", "address": "2号"}
    first = services.find_or_create(None, crm["first"].id, data)
    again = services.find_or_create(None, crm["first"].id, dict(data))
    assert first.id == again.id and len(first.addresses) == 1 and first.source == "other"


def test_profile_fields_are_checked_per_field(crm):
    with pytest.raises(ValidationError) as caught:
        services.register_customer(crm["staff"], profile(name="", phone="12345", region_code="999999", kind="robot",
                                                         source="radio", owner_id=str(crm["other"].id),
                                                         phones="abc", tags="x" * 33))
    assert set(caught.value.fields) == {"name", "phone", "region_code", "kind", "source", "owner_id", "phones", "tags"}


def test_a_phone_the_distributor_already_has_is_a_conflict_not_a_merge(crm, new_customer):
    existing = new_customer(crm["first"], name="老客户", phones=["13722223333"])
    for phone, extra in ((existing.phone, ""), ("13722223333", ""), (fresh_phone(), existing.phone)):
        with pytest.raises(Conflict) as caught:
            services.register_customer(crm["staff"], profile(phone=phone, phones=extra))
        db.session.rollback()
        assert caught.value.code == "duplicate" and caught.value.extra["customer_id"] == existing.id
    # Another distributor may have a customer with the same phone.
    theirs = services.register_customer(crm["other"], profile(phone=existing.phone, region_code="440106"))
    assert theirs.distributor_id == crm["second"].id


def test_hq_chooses_the_distributor_and_others_cannot(crm):
    with pytest.raises(ValidationError) as caught:
        services.register_customer(crm["admin"], profile())
    assert "distributor_id" in caught.value.fields
    customer = services.register_customer(crm["admin"], profile(), distributor_id=str(crm["second"].id))
    assert customer.distributor_id == crm["second"].id
    mine = services.register_customer(crm["staff"], profile(), distributor_id=crm["second"].id)
    assert mine.distributor_id == crm["first"].id  # a distributor's user always creates its own
    with pytest.raises(Forbidden):
        services.register_customer(crm["reviewer"], profile(), distributor_id=crm["second"].id)


def test_updating_the_profile_audits_the_changes(crm, new_customer):
    customer = new_customer(crm["first"], name="王五")
    services.update_customer(crm["staff"], customer, {"name": "王五五", "phone": customer.phone, "tags": ["学校"],
                                                      "phones": "13700001111", "note": "新备注"})
    commit()
    assert customer.name == "王五五" and [t.name for t in customer.tags] == ["学校"]
    entry = db.session.scalar(select(AuditLog).where(AuditLog.action == "customer.update"))
    assert entry.changes["name"] == ["王五", "王五五"] and entry.changes["tags"] == [[], ["学校"]]


def test_addresses_keep_exactly_one_default_copied_on_the_customer(crm, new_customer):
    customer = new_customer(crm["first"], address="旧址")
    second = services.add_address(crm["staff"], customer, {"label": "公司", "region_code": "440106", "address": "新址"})
    commit()
    assert customer.region_code == "440113" and not second.is_default
    services.make_default_address(crm["staff"], customer, second.id)
    commit()
    assert (customer.region_code, customer.address) == ("440106", "新址")
    assert [a.is_default for a in customer.addresses] == [False, True]
    with pytest.raises(Conflict):
        services.remove_address(crm["staff"], customer, second.id)
    first_id = customer.addresses[0].id
    services.remove_address(crm["staff"], customer, first_id)
    commit()
    assert db.session.get(CustomerAddress, first_id) is None and len(customer.addresses) == 1
    third = services.add_address(crm["staff"], customer, {"region_code": "440113", "address": "三址"},
                                 make_default=True)
    assert third.is_default and customer.address == "三址"
    with pytest.raises(ValidationError) as caught:
        services.add_address(crm["staff"], customer, {"region_code": "nowhere"})
    assert "region_code" in caught.value.fields
    with pytest.raises(NotFound):
        services.make_default_address(crm["staff"], customer, 999999)


def test_a_tier_override_needs_a_reason_and_records_who_and_when(crm, new_customer):
    customer = new_customer(crm["first"])
    with pytest.raises(ValidationError) as caught:
        services.override_tier(crm["staff"], customer, "Z", "")
    assert set(caught.value.fields) == {"tier", "reason"}
    services.override_tier(crm["staff"], customer, "a", "大客户，合同约定")
    commit()
    assert customer.tier_override == "A" and customer.effective_tier == "A"
    assert customer.tier_overridden_by_id == crm["staff"].id and customer.tier_overridden_at is not None
    assert db.session.scalar(select(AuditLog).where(AuditLog.action == "customer.tier_override")) is not None
    services.override_tier(crm["staff"], customer, "", "回到自动等级")
    assert customer.tier_override is None


def test_tier_rules_are_seeded_when_empty_and_edited_by_hq_only(crm):
    assert [(r.code, r.min_score) for r in services.tier_rules()] == [("A", 12), ("B", 8), ("C", 0)]
    db.session.execute(CustomerTierRule.__table__.delete())
    assert [(r.code, r.min_score) for r in services.tier_rules()] == [("A", 12), ("B", 8), ("C", 0)]
    with pytest.raises(Forbidden):
        services.save_tier_rule(crm["staff"], {"code": "VIP", "min_score": "14"})
    rule = services.save_tier_rule(crm["admin"], {"code": "vip", "name": "贵宾", "min_score": "14"})
    assert rule.code == "VIP" and services.tier_rules()[0].code == "VIP"
    with pytest.raises(ValidationError) as caught:
        services.save_tier_rule(crm["admin"], {"code": "A", "min_score": "16"})
    assert set(caught.value.fields) == {"code", "min_score"}
    for r in services.tier_rules()[1:]:
        services.delete_tier_rule(crm["admin"], r.id)
    with pytest.raises(Conflict):
        services.delete_tier_rule(crm["admin"], rule.id)


def test_customers_are_scoped_to_their_distributor(crm, new_customer):
    mine, theirs = new_customer(crm["first"]), new_customer(crm["second"])
    assert services.get_customer(crm["staff"], mine.id) is mine
    with pytest.raises(NotFound):
        services.get_customer(crm["staff"], theirs.id)
    assert services.get_customer(crm["admin"], theirs.id) is theirs
