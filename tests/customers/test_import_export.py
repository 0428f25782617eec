"""Customer import (all or nothing, duplicates by phone reported per row, never merged) and export."""

import io

from openpyxl import Workbook, load_workbook
from sqlalchemy import func, select

from dms.customers.models import Customer
from dms.extensions import db

HEADER = "姓名,手机,类型,地区编码,街道,地址,来源,标签,其他电话,备注\n"


def upload(client, content: bytes, filename: str = "customers.csv", **fields):
    client.get("/customers/import")
    return client.post("/customers/import", {"file": (io.BytesIO(content), filename), **fields},
                       content_type="multipart/form-data")


def count() -> int:
    return db.session.scalar(select(func.count()).select_from(Customer))


def test_a_clean_file_creates_every_customer(crm, client, login_as):
    login_as(crm["staff"])
    body = (HEADER + "王阿姨,138 0000 0001,个人,440113,市桥街道,1号,到店,\"VIP、学校\",020-12345678,\n"
            "星河公司,13800000002,企业,440106,,2号,,写字楼,,月结\n").encode()
    response = upload(client, body)
    assert response.status_code == 200 and 'data-created="2"' in response.get_data(as_text=True)
    wang = db.session.scalar(select(Customer).where(Customer.name == "王阿姨"))
    assert wang.distributor_id == crm["first"].id and wang.phone == "13800000001" and wang.source == "walk_in"
    assert [t.name for t in wang.tags] == ["VIP", "学校"] and [p.number for p in wang.phones] == ["020-12345678"]
    assert wang.addresses[0].is_default and wang.addresses[0].street == "市桥街道"
    company = db.session.scalar(select(Customer).where(Customer.name == "星河公司"))
    assert (company.kind, company.source, company.note) == ("business", "import", "月结")


def test_duplicates_by_phone_are_reported_per_row_and_nothing_is_merged(crm, client, login_as, new_customer):
    existing = new_customer(crm["first"], name="老客户", phone="13800000009", note="原备注")
    new_customer(crm["second"], name="别家客户", phone="13800000007")  # another distributor's: not a duplicate
    login_as(crm["staff"])
    client.http.set_cookie("dms_locale", "en")
    body = (HEADER + "甲,13800000009,,440113,,1号,,,,新备注\n"      # row 2: an existing customer's phone
            "乙,13800000005,,440113,,2号,,,,\n"                        # row 3: fine on its own
            "丙,13800000005,,440113,,3号,,,,\n"                        # row 4: the phone of row 3
            "丁,13800000007,,440113,,4号,,,,\n").encode()              # row 5: fine (the other's customer)
    response = upload(client, body)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert 'data-row="2"' in html and "13800000009 is already the phone of customer 老客户" in html
    assert 'data-row="4"' in html and "13800000005 is also in row 3." in html
    assert 'data-row="3"' not in html and 'data-row="5"' not in html
    assert count() == 2  # all or nothing: rows 3 and 5 were not kept either
    db.session.expire_all()
    kept = db.session.get(Customer, existing.id)
    assert (kept.name, kept.note) == ("老客户", "原备注")


def test_one_bad_row_keeps_the_whole_file_out(crm, client, login_as):
    login_as(crm["staff"])
    client.http.set_cookie("dms_locale", "en")
    body = (HEADER + "好客户,13800000001,,440113,,1号,,,,\n坏客户,12345,机器人,999999,,2号,,,,\n").encode()
    response = upload(client, body)
    assert response.status_code == 422 and count() == 0
    html = response.get_data(as_text=True)
    assert html.count('data-row="3"') == 3  # phone, kind, region: each reported
    missing = upload(client, "name,street\n某人,某街\n".encode())
    assert missing.status_code == 422 and "The file has no phone, region_code column." in missing.get_data(as_text=True)


def test_an_xlsx_file_with_numbers_for_phones(crm, client, login_as):
    login_as(crm["admin"])
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["name", "phone", "region_code", "address"])
    sheet.append(["表格客户", 13800000003, 440106, "5号"])
    data = io.BytesIO()
    workbook.save(data)
    refused = upload(client, data.getvalue(), "c.xlsx")
    assert refused.status_code == 400  # HQ must say whose customers these are
    response = upload(client, data.getvalue(), "c.xlsx", distributor_id=str(crm["second"].id))
    assert response.status_code == 200
    customer = db.session.scalar(select(Customer))
    assert (customer.phone, customer.region_code, customer.distributor_id) == ("13800000003", "440106",
                                                                               crm["second"].id)


def test_the_export_is_the_filtered_list_with_phones_masked_by_permission(crm, client, login_as, new_customer):
    vip = new_customer(crm["first"], name="贵宾", phone="13800000001", tags=["VIP"])
    new_customer(crm["first"], name="普通", phone="13800000002")
    new_customer(crm["second"], name="别家", phone="13800000003", tags=["VIP"])
    vip.tier = "A"
    db.session.commit()
    login_as(crm["staff"])
    client.http.set_cookie("dms_locale", "en")
    response = client.get("/customers/export.csv?tag=VIP")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    lines = response.get_data(as_text=True).lstrip("\ufeff").splitlines()
    assert lines[0].startswith("name,phone,kind,region_code") and len(lines) == 2
    assert lines[1].startswith("贵宾,13800000001,person,440113") and ",A," in lines[1]
    workbook = load_workbook(io.BytesIO(client.get("/customers/export.xlsx").data))
    rows = list(workbook.active.iter_rows(values_only=True))
    assert sorted(r[0] for r in rows[1:]) == ["普通", "贵宾"] and rows[1][1] == "13800000001"
    client.post("/logout")
    login_as(crm["reviewer"])
    client.http.set_cookie("dms_locale", "en")
    masked = client.get("/customers/export.csv").get_data(as_text=True)
    assert "138****0001" in masked and "13800000001" not in masked and "别家" in masked


def test_the_template_round_trips(crm, client, login_as):
    login_as(crm["staff"])
    client.http.set_cookie("dms_locale", "en")
    template = client.get("/customers/import/template.csv")
    assert template.status_code == 200
    assert upload(client, template.data).status_code == 200 and count() == 1
