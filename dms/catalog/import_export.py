"""Product import and export as CSV or XLSX: one row per product, all rows or none.

The columns (English or Chinese headers, any order; only the SKU column is required):
sku/编码, name/名称, category/分类 (a path such as "食品/粮油" of an existing category), tags/标签
(separated by commas or 、), unit/单位, tracking/追踪方式 (none, batch, serial or their names),
low_stock_threshold/库存预警值, price/零售价, distributor_price_province/省级价,
distributor_price_city/市级价, distributor_price_county/县级价, image_url/图片地址, description/描述.

A row whose SKU exists updates that product, any other row creates one. A column present in the
file sets its field (an empty cell clears it, as in the edit form); a column left out keeps the
field. An empty price cell keeps the price in force: prices are a history, so an import can only
append prices (through the catalog services, which check every field).

The import runs every row inside the caller's transaction, each row in a savepoint so that a bad
row does not poison the others and every bad row is reported. If any row fails, `ImportRejected`
carries the row-by-row report and the caller rolls everything back; otherwise the caller commits.
Categories are not created by an import: an unknown category is a row error, so a typo cannot
grow the category tree.
"""

import re
from dataclasses import dataclass, field
from decimal import Decimal

from flask_babel import get_locale
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from dms.catalog import services
from dms.catalog.forms import TRACKING_LABELS
from dms.catalog.models import TRACKING, Price, Product
from dms.core import spreadsheets
from dms.core.errors import DomainError, Forbidden
from dms.core.locks import lock_subject
from dms.core.spreadsheets import ImportRejected, RowError, Table, control_character_errors, reject
from dms.core.time import utcnow
from dms.extensions import db

COLUMNS = ("sku", "name", "category", "tags", "unit", "tracking", "low_stock_threshold", "price",
           "distributor_price_province", "distributor_price_city", "distributor_price_county", "image_url",
           "description")
# The headers written for Chinese users (and accepted from anyone, as are the English keys).
CHINESE_HEADERS = {"sku": "编码", "name": "名称", "category": "分类", "tags": "标签", "unit": "单位",
                   "tracking": "追踪方式", "low_stock_threshold": "库存预警值", "price": "零售价",
                   "distributor_price_province": "省级价", "distributor_price_city": "市级价",
                   "distributor_price_county": "县级价", "image_url": "图片地址", "description": "描述"}
_EXTRA_ALIASES = {"sku": ("sku编码", "商品编码", "编号"), "name": ("商品名称", "品名"), "category": ("商品分类",),
                  "price": ("retail_price", "零售价格"), "distributor_price_province": ("province_price",),
                  "distributor_price_city": ("city_price",), "distributor_price_county": ("county_price",),
                  "low_stock_threshold": ("库存预警",), "image_url": ("图片",)}
LEVEL_COLUMNS = {"distributor_price_province": "province", "distributor_price_city": "city",
                 "distributor_price_county": "county"}
# What the services call a field -> our column.
SERVICE_FIELDS = {"category_id": "category", "distributor_price": "distributor_price_province",
                  "distributor_prices": "distributor_price_province",
                  **{f"distributor_prices.{level}": column for column, level in LEVEL_COLUMNS.items()}}
TRACKING_ALIASES = {"无": "none", "不追踪": "none", "不跟踪": "none", "批次": "batch", "按批次": "batch",
                    "序列号": "serial", "串号": "serial", "按序列号": "serial"}
TAG_SEPARATORS = re.compile(r"[,，、;；]")
# Column widths of the exported workbook, in the order of COLUMNS.
XLSX_WIDTHS = (14, 24, 16, 16, 6, 9, 10, 10, 10, 10, 10, 24, 32)
HEADER_ALIASES = spreadsheets.header_aliases(COLUMNS, CHINESE_HEADERS, _EXTRA_ALIASES)


@dataclass
class ImportResult:
    """What a successful import did."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    ignored_columns: list[str] = field(default_factory=list)

    @property
    def rows(self) -> int:
        return self.created + self.updated + self.unchanged


def max_bytes() -> int:
    return spreadsheets.config_limit("CATALOG_IMPORT_MAX_BYTES", spreadsheets.DEFAULT_MAX_BYTES)


def max_rows() -> int:
    return spreadsheets.config_limit("CATALOG_IMPORT_MAX_ROWS", spreadsheets.DEFAULT_MAX_ROWS)


# ---------------------------------------------------------------- reading files

def read_table(filename: str, data: bytes) -> Table:
    """The header and data rows of an uploaded .csv or .xlsx; ImportRejected for a file we cannot take."""
    limit = max_rows()
    table = spreadsheets.read_table(
        filename, data, max_bytes=max_bytes(), max_rows=limit,
        too_many_rows=_("A file may have at most %(n)d product rows. Split it into several files.", n=limit),
        no_rows=_("The file has no product rows. The first row names the columns; each row after it is a "
                  "product."))
    errors = control_character_errors(table.headers, table.rows)  # NUL would break PostgreSQL's text columns
    if errors:
        raise spreadsheets.ImportRejected(errors)
    return table


def map_columns(headers: list[str]) -> tuple[dict[str, int], list[str]]:
    """{column key: index} of the recognised headers, and the headers not recognised; ImportRejected."""
    found, ignored = spreadsheets.map_headers(headers, HEADER_ALIASES)
    if "sku" not in found:
        reject(_("The file has no SKU column. The first row must name the columns, for example SKU (编码), "
                 "name (名称), retail price (零售价)."))
    return found, ignored


# ---------------------------------------------------------------- importing

def _category_lookup() -> tuple[dict[str, int], dict[str, list[int]]]:
    """Categories by their path ("食品/粮油") and by their own name (for a unique name given alone)."""
    by_path: dict[str, int] = {}
    by_name: dict[str, list[int]] = {}
    for node in services.category_tree():
        by_path["/".join(node.path)] = node.category.id
        by_name.setdefault(node.category.name, []).append(node.category.id)
    return by_path, by_name


def category_paths() -> dict[int, str]:
    """{category id: "食品/粮油"} of every category."""
    return {node.category.id: "/".join(node.path) for node in services.category_tree()}


def _resolve_category(text: str, by_path, by_name) -> tuple[int | None, str | None]:
    """(category id, None) or (None, error message) for a category cell; empty means no category."""
    if not text:
        return None, None
    path = "/".join(part.strip() for part in text.replace("／", "/").split("/") if part.strip())
    if path in by_path:
        return by_path[path], None
    if "/" not in path and len(by_name.get(path, ())) == 1:
        return by_name[path][0], None
    if "/" not in path and len(by_name.get(path, ())) > 1:
        return None, _("Several categories are named %(name)s: give its path, such as 食品/粮油.", name=path)
    return None, _("No category %(name)s. Create it on the categories page first, or correct the path.", name=text)


def _tracking_code(text: str) -> str:
    lowered = text.strip().lower()
    if lowered in TRACKING:
        return lowered
    if lowered in TRACKING_ALIASES:
        return TRACKING_ALIASES[lowered]
    for code, label in TRACKING_LABELS.items():
        if lowered == str(label).lower():
            return code
    return text  # the service names what it accepts


def _current_prices(product_ids: list[int]) -> dict[int, dict[str, Decimal]]:
    """{product id: {"retail" | level: amount in force}} for these products, in a few queries."""
    found: dict[int, dict[str, Decimal]] = {}
    now = utcnow()
    for start in range(0, len(product_ids), 500):
        chunk = product_ids[start:start + 500]
        stmt = (select(Price.product_id, Price.kind, Price.level, Price.amount)
                .where(Price.product_id.in_(chunk), Price.effective_from <= now)
                .order_by(Price.product_id, Price.kind, Price.level, Price.effective_from.desc(), Price.id.desc()))
        for product_id, kind, level, amount in db.session.execute(stmt):
            found.setdefault(product_id, {}).setdefault("retail" if kind == "retail" else level, amount)
    return found


def _products_by_sku(skus: list[str]) -> dict[str, Product]:
    found: dict[str, Product] = {}
    for start in range(0, len(skus), 500):
        for product in db.session.scalars(select(Product).where(Product.sku.in_(skus[start:start + 500]))):
            found[product.sku] = product
    return found


def _snapshot(product: Product) -> tuple:
    return (product.name, product.category_id, product.unit, product.tracking, product.low_stock_threshold,
            product.image_url or None, product.description or "", tuple(sorted(t.name for t in product.tags)))


def _prices_change(data: dict, current: dict[str, Decimal]) -> bool:
    """True when a price given in the row differs from the one in force (the service then appends it)."""
    given = {"retail": data.get("price"), **data.get("distributor_prices", {})}
    for target, value in given.items():
        if value in (None, ""):
            continue
        try:
            if services.parse_money(value) != current.get(target):
                return True
        except ValueError:
            return True
    return False


class _RowRefused(Exception):
    """Raised inside a row's savepoint to undo a row whose own cells were refused before the service ran."""


def import_products(actor, filename: str, data: bytes) -> ImportResult:
    """Create or update a product per row in the current transaction; ImportRejected (with the report), Forbidden.

    The caller commits on success and rolls back on ImportRejected: a file is applied whole or not at all.
    """
    if actor is not None and not actor.can("catalog.manage"):
        raise Forbidden()
    table = read_table(filename, data)
    columns, ignored = map_columns(table.headers)
    labels = {key: table.headers[index] for key, index in columns.items()}

    def label(key: str) -> str:
        key = SERVICE_FIELDS.get(key, key)
        return (labels.get(key) or column_header(key)) if key in COLUMNS else ""

    # One import at a time (PostgreSQL: an advisory lock); on SQLite this also opens the write
    # transaction, inside which the per-row savepoints below are reliable.
    lock_subject("products", 0)
    by_path, by_name = _category_lookup()
    rows = [(number, {key: (cells[index] if index < len(cells) else "") for key, index in columns.items()})
            for number, cells in table.rows]
    existing = _products_by_sku(sorted({row["sku"] for _n, row in rows if row["sku"]}))
    prices = _current_prices([p.id for p in existing.values()])
    result = ImportResult(ignored_columns=ignored)
    errors: list[RowError] = []
    seen: dict[str, int] = {}

    for number, row in rows:
        own: list[tuple[str, str]] = []
        sku = row["sku"]
        if not sku:
            own.append(("sku", _("Enter the SKU.")))
        elif sku in seen:
            own.append(("sku", _("The SKU %(sku)s is also in row %(row)d.", sku=sku, row=seen[sku])))
        else:
            seen[sku] = number
        payload = _payload(row, own, by_path, by_name)
        product = existing.get(sku) if sku else None
        before = _snapshot(product) if product is not None else None
        failed: list[tuple[str, str]] = list(own)
        try:
            with db.session.begin_nested():
                if product is None:
                    services.create_product(actor, payload)
                else:
                    services.update_product(actor, product, payload)
                if own:
                    raise _RowRefused()
        except _RowRefused:
            pass
        except DomainError as exc:
            refused = {SERVICE_FIELDS.get(key, key) for key, _m in own}
            for name, messages in exc.fields.items():
                if SERVICE_FIELDS.get(name, name) not in refused:  # one reason per cell is enough
                    failed.extend((name, str(m)) for m in messages)
            if not exc.fields:
                failed.append(("", exc.message))
        except IntegrityError:
            failed.append(("sku", _("The row could not be saved: the SKU may have been taken meanwhile.")))
        if failed:
            for key, message in dict.fromkeys(failed):
                errors.append(RowError(number, label(key), message))
        elif product is None:
            result.created += 1
        elif before != _snapshot(product) or _prices_change(payload, prices.get(product.id, {})):
            result.updated += 1
        else:
            result.unchanged += 1
    if errors:
        raise ImportRejected(errors, ignored)
    return result


def _payload(row: dict[str, str], own: list, by_path, by_name) -> dict:
    """The services' data for a row: only the columns present in the file."""
    data: dict = {}
    for key in ("sku", "name", "unit", "low_stock_threshold", "image_url", "description", "price"):
        if key in row:
            data[key] = row[key]
    if "category" in row:
        category_id, error = _resolve_category(row["category"], by_path, by_name)
        if error:
            own.append(("category", error))
        else:
            data["category_id"] = category_id
    if "tags" in row:
        data["tags"] = [t.strip() for t in TAG_SEPARATORS.split(row["tags"]) if t.strip()]
    if "tracking" in row:
        data["tracking"] = _tracking_code(row["tracking"]) if row["tracking"] else "none"
    levels = {level: row[column] for column, level in LEVEL_COLUMNS.items() if column in row}
    if levels:
        data["distributor_prices"] = levels
    return data


# ---------------------------------------------------------------- exporting

def _chinese() -> bool:
    return str(get_locale() or "").startswith("zh")


def column_header(key: str) -> str:
    """The header written for a column: Chinese for Chinese users, the English key otherwise."""
    return CHINESE_HEADERS[key] if _chinese() else key


def headers() -> list[str]:
    return [column_header(key) for key in COLUMNS]


def export_rows(actor, *, q=None, category_id=None, tag=None, status=None, tracking=None) -> list[list]:
    """One row of values per product the actor may see (filters as on the list), by SKU, current prices."""
    stmt = services.products_query(actor, q=q, category_id=category_id, tag=tag, status=status)
    if tracking:
        stmt = stmt.where(Product.tracking == tracking)
    products = list(db.session.scalars(stmt.order_by(Product.sku)))
    paths = category_paths()
    prices = _current_prices([p.id for p in products])
    rows = []
    for p in products:
        current = prices.get(p.id, {})
        rows.append([p.sku, p.name, paths.get(p.category_id, ""), ", ".join(t.name for t in p.tags), p.unit,
                     p.tracking, p.low_stock_threshold, current.get("retail"), current.get("province"),
                     current.get("city"), current.get("county"), p.image_url or "", p.description or ""])
    return rows


def example_rows() -> list[list]:
    """The example row of the template file."""
    paths = sorted(category_paths().values())
    return [["SP-0001", _("Example product"), paths[0] if paths else "", _("Hot, New"), "件", "none", 10,
             Decimal("12.50"), Decimal("9.00"), Decimal("9.50"), Decimal("10.00"), "", _("Delete this row.")]]


def to_xlsx(header: list[str], rows: list[list], title: str) -> bytes:
    """A one-sheet workbook: text kept as text (never a formula), prices as numbers shown with two decimals."""
    return spreadsheets.to_xlsx(header, rows, title, widths=XLSX_WIDTHS)
