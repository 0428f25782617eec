"""Customer import and export as CSV or XLSX: one row per customer, all rows or none.

The columns (English or Chinese headers, any order; name, phone and region are required): name/姓名,
phone/手机, kind/类型 (person 个人 or business 企业), region_code/地区编码 (a GB/T 2260 code such as 440605),
street/街道, address/地址, source/来源, tags/标签 (separated by commas or 、), phones/其他电话 (separated
the same way), note/备注.

Every row creates a customer of one distributor (the importing user's own; HQ chooses). Duplicates by
phone are reported, never merged: a row whose phone (or one of its other phones) already belongs to one
of the distributor's customers, or appears in an earlier row of the file, is a row error naming the
other. The rows run inside the caller's transaction, each in a savepoint so every bad row is reported;
if any row fails, `ImportRejected` carries the row-by-row report and the caller rolls everything back.

Reading and writing the files (size and row limits, encodings, the CSV-injection guard) is
`dms.core.spreadsheets`, shared with the catalog import.
"""

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime

from flask_babel import get_locale
from flask_babel import gettext as _
from sqlalchemy import select

from dms.core import spreadsheets
from dms.core.crypto import mask_phone
from dms.core.errors import DomainError, Forbidden, ValidationError
from dms.core.identity import normalise_mobile
from dms.core.locks import lock_subject
from dms.core.spreadsheets import ImportRejected, RowError, control_character_errors, reject
from dms.core.time import business_tz
from dms.customers import services
from dms.customers.models import CUSTOMER_KINDS, CUSTOMER_SOURCES, Customer, CustomerPhone
from dms.extensions import db

COLUMNS = ("name", "phone", "kind", "region_code", "street", "address", "source", "tags", "phones", "note")
REQUIRED = ("name", "phone", "region_code")
CHINESE_HEADERS = {"name": "姓名", "phone": "手机", "kind": "类型", "region_code": "地区编码", "street": "街道",
                   "address": "地址", "source": "来源", "tags": "标签", "phones": "其他电话", "note": "备注"}
_EXTRA_ALIASES = {"name": ("名称", "客户名称", "客户", "customer"), "phone": ("电话", "手机号", "手机号码", "mobile"),
                  "region_code": ("region", "地区", "区域编码", "行政区划代码", "区划代码"),
                  "street": ("街道/小区", "小区"), "address": ("详细地址",), "phones": ("other_phones", "备用电话"),
                  "note": ("notes", "说明")}
# Export-only columns: read-only figures, ignored when a file is imported again.
EXPORT_COLUMNS = ("tier", "rfm_score", "last_order_at", "owner", "distributor")
EXPORT_CHINESE = {"tier": "等级", "rfm_score": "RFM评分", "last_order_at": "最近下单", "owner": "负责人",
                  "distributor": "经销商"}
KIND_ALIASES = {"个人": "person", "个体": "person", "企业": "business", "公司": "business", "商户": "business"}
SOURCE_ALIASES = {"到店": "walk_in", "门店": "walk_in", "电话": "phone", "小程序": "mini_program",
                  "转介绍": "referral", "推荐": "referral", "活动": "campaign", "导入": "import", "其他": "other"}
LIST_SEPARATORS = re.compile(r"[,，、;；/]")
HEADER_ALIASES = spreadsheets.header_aliases(COLUMNS, CHINESE_HEADERS, _EXTRA_ALIASES)


@dataclass
class ImportResult:
    """What a successful import did."""

    created: int = 0
    ignored_columns: list[str] = field(default_factory=list)


def max_bytes() -> int:
    return spreadsheets.config_limit("CUSTOMER_IMPORT_MAX_BYTES", spreadsheets.DEFAULT_MAX_BYTES)


def max_rows() -> int:
    return spreadsheets.config_limit("CUSTOMER_IMPORT_MAX_ROWS", spreadsheets.DEFAULT_MAX_ROWS)


# ---------------------------------------------------------------- reading files

def read_rows(filename: str, data: bytes) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """The header and data rows of an uploaded .csv or .xlsx; ImportRejected for a file we cannot take."""
    limit = max_rows()
    table = spreadsheets.read_table(
        filename, data, max_bytes=max_bytes(), max_rows=limit,
        too_many_rows=_("A file may have at most %(n)d customer rows. Split it into several files.", n=limit),
        no_rows=_("The file has no customer rows. The first row names the columns; each row after it is a "
                  "customer."),
        midnight_as_date=False)
    errors = control_character_errors(table.headers, table.rows)  # NUL would break PostgreSQL's text columns
    if errors:
        raise spreadsheets.ImportRejected(errors)
    return table.headers, table.rows


def map_columns(headers: list[str]) -> tuple[dict[str, int], list[str]]:
    """{column key: index} of the recognised headers, and the headers not recognised; ImportRejected."""
    found, ignored = spreadsheets.map_headers(headers, HEADER_ALIASES)
    missing = [column_header(key) for key in REQUIRED if key not in found]
    if missing:
        reject(_("The file has no %(names)s column. The first row must name the columns, for example name (姓名), "
                 "phone (手机), region_code (地区编码).", names=", ".join(missing)))
    return found, ignored


# ---------------------------------------------------------------- importing

def _known_phones(distributor_id: int | None) -> dict[str, tuple[int, str]]:
    """{phone: (customer id, name)} of every number the distributor's customers have (primary or other)."""
    mine = Customer.distributor_id.is_(None) if distributor_id is None else Customer.distributor_id == distributor_id
    found: dict[str, tuple[int, str]] = {}
    for phone, cid, name in db.session.execute(select(Customer.phone, Customer.id, Customer.name).where(mine)):
        found.setdefault(phone, (cid, name))
    others = select(CustomerPhone.number, Customer.id, Customer.name).join(Customer,
                                                                           Customer.id == CustomerPhone.customer_id)
    for phone, cid, name in db.session.execute(others.where(mine)):
        found.setdefault(phone, (cid, name))
    return found


def _code(text: str, codes: tuple, aliases: dict, default: str) -> str:
    lowered = text.strip().lower()
    if not lowered:
        return default
    return lowered if lowered in codes else aliases.get(text.strip(), text.strip())


def _numbers(row: dict) -> list[tuple[str, str]]:
    """(column, normalised number) of the row's phones that are well formed (the service reports the others)."""
    found = []
    try:
        found.append(("phone", normalise_mobile(row.get("phone", ""), "phone")))
    except ValidationError:
        pass
    for raw in LIST_SEPARATORS.split(row.get("phones", "")):
        if raw.strip():
            try:
                found.append(("phones", services.normalise_phone(raw)))
            except ValidationError:
                pass
    return found


class _RowRefused(Exception):
    """Raised inside a row's savepoint to undo a row refused for a duplicate after the service ran."""


def import_customers(actor, distributor_id: int | None, filename: str, data: bytes) -> ImportResult:
    """Create a customer per row for `distributor_id` in the current transaction; ImportRejected (the report).

    The caller commits on success and rolls back on ImportRejected: a file is applied whole or not at all.
    """
    if actor is not None and not actor.can(services.MANAGE):
        raise Forbidden()
    headers, table = read_rows(filename, data)
    columns, ignored = map_columns(headers)
    labels = {key: headers[index] for key, index in columns.items()}
    # One import per distributor at a time, so two files cannot both add the same phone (PostgreSQL:
    # an advisory lock; SQLite: the write transaction starts here, making the savepoints reliable).
    lock_subject("customers", distributor_id or 0)
    known = _known_phones(distributor_id)
    seen: dict[str, int] = {}
    errors: list[RowError] = []
    result = ImportResult(ignored_columns=ignored)
    for number, cells in table:
        row = {key: (cells[index] if index < len(cells) else "") for key, index in columns.items()}
        own: list[tuple[str, str]] = []
        for column, phone in _numbers(row):
            if phone in known:
                cid, name = known[phone]
                own.append((column, _("%(phone)s is already the phone of customer %(name)s (no. %(id)d): not "
                                      "imported, and not merged.", phone=phone, name=name, id=cid)))
            elif phone in seen:
                own.append((column, _("%(phone)s is also in row %(row)d.", phone=phone, row=seen[phone])))
        payload = {**{key: row.get(key, "") for key in ("name", "phone", "region_code", "street", "address", "note")},
                   "kind": _code(row.get("kind", ""), CUSTOMER_KINDS, KIND_ALIASES, "person"),
                   "source": _code(row.get("source", ""), CUSTOMER_SOURCES, SOURCE_ALIASES, "import"),
                   "tags": [t.strip() for t in LIST_SEPARATORS.split(row.get("tags", "")) if t.strip()],
                   "phones": [p.strip() for p in LIST_SEPARATORS.split(row.get("phones", "")) if p.strip()]}
        failed = list(own)
        try:
            with db.session.begin_nested():
                services.create_customer(actor, distributor_id, payload)
                if own:
                    raise _RowRefused()
        except _RowRefused:
            pass
        except DomainError as exc:
            failed.extend((name, str(m)) for name, messages in exc.fields.items() for m in messages)
            if not exc.fields:
                failed.append(("", exc.message))
        for _column, phone in _numbers(row):
            seen.setdefault(phone, number)
        if failed:
            for key, message in dict.fromkeys(failed):
                errors.append(RowError(number, labels.get(key) or (column_header(key) if key in COLUMNS else ""),
                                       message))
        else:
            result.created += 1
    if errors:
        raise ImportRejected(errors, ignored)
    return result


# ---------------------------------------------------------------- exporting

def _chinese() -> bool:
    return str(get_locale() or "").startswith("zh")


def column_header(key: str) -> str:
    """The header written for a column: Chinese for Chinese users, the English key otherwise."""
    if _chinese():
        return CHINESE_HEADERS.get(key) or EXPORT_CHINESE.get(key, key)
    return key


def headers(hq: bool = False) -> list[str]:
    """The import's columns, then the read-only figures (and, for HQ, the distributor)."""
    keys = [*COLUMNS, *EXPORT_COLUMNS[:-1], *(["distributor"] if hq else [])]
    return [column_header(key) for key in keys]


def _day(moment: datetime | None) -> str:
    """The business day of a naive UTC timestamp, as 2026-05-01."""
    return moment.replace(tzinfo=UTC).astimezone(business_tz()).date().isoformat() if moment else ""


def export_rows(stmt, reveal: bool, hq: bool = False) -> list[list]:
    """One row per customer of the (already filtered and scoped) select; phones masked unless `reveal`."""
    from sqlalchemy.orm import selectinload

    def shown(number: str) -> str:
        return number if reveal else mask_phone(number)

    customers = db.session.scalars(stmt.options(selectinload(Customer.phones), selectinload(Customer.owner),
                                                selectinload(Customer.distributor)).order_by(Customer.id))
    rows = []
    for c in customers:
        rows.append([c.name, shown(c.phone), c.kind, c.region_code or "", c.street, c.address, c.source,
                     ", ".join(t.name for t in c.tags), ", ".join(shown(p.number) for p in c.phones), c.note,
                     c.effective_tier or "", c.rfm_score, _day(c.last_order_at),
                     c.owner.label if c.owner else "",
                     *([c.distributor.display_name if c.distributor else ""] if hq else [])])
    return rows


def example_rows() -> list[list]:
    """The example row of the template file."""
    return [[_("Example customer"), "13800138000", "person", "440605", _("Guicheng Street"), _("Building 1, Room 101"),
             "walk_in", _("VIP"), "", _("Delete this row.")]]


def to_xlsx(header: list[str], rows: list[list], title: str) -> bytes:
    """A one-sheet workbook: every text cell kept as text (phone numbers too, never a number or a formula)."""
    return spreadsheets.to_xlsx(header, rows, title, text_cells=True)
