"""Spreadsheet files for imports and exports: reading an uploaded CSV or XLSX, writing CSV and XLSX.

The areas own their columns, their row checks and their messages about rows; this module owns the
file: its size, its encoding (UTF-8 with or without BOM, else GB18030), the CSV delimiter, the XLSX
zip checks, and the CSV-injection guard (OWASP): a cell a spreadsheet program would run as a formula
is written with a leading apostrophe, which reading takes off again, so a round trip changes nothing.
Whatever a file cannot be taken for raises `ImportRejected` with the report.
"""

import csv
import io
import re
import zipfile
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from flask import current_app, make_response
from flask_babel import gettext as _
from flask_babel import ngettext

from dms.core.errors import ValidationError
from dms.core.text import CONTROL_MESSAGE, has_control_characters
from dms.core.time import business_tz

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
DEFAULT_MAX_BYTES = 5 * 1024 * 1024
DEFAULT_MAX_ROWS = 5000
MAX_COLUMNS = 64
# An XLSX is a zip: refuse one that would inflate beyond this (a "zip bomb") before parsing it.
MAX_UNZIPPED_BYTES = 100 * 1024 * 1024


@dataclass(frozen=True)
class RowError:
    """One problem: the spreadsheet's row number (None for the whole file), the column's header, a message."""

    row: int | None
    column: str
    message: str


class ImportRejected(ValidationError):
    """The file or some of its rows were refused: nothing may be kept; `errors` is the report."""

    code = "import_rejected"

    def __init__(self, errors: list[RowError], ignored_columns: list[str] | None = None):
        self.errors = errors
        self.ignored_columns = list(ignored_columns or [])
        rows = {e.row for e in errors if e.row is not None}
        if rows:
            message = ngettext("%(num)d row has errors.", "%(num)d rows have errors.", len(rows))
        else:
            message = errors[0].message if errors else None
        super().__init__(message)


@dataclass
class Table:
    """The cells of a file: the header row as written, and the data rows by their spreadsheet row number."""

    headers: list[str]
    rows: list[tuple[int, list[str]]]


def reject(message: str):
    """Refuse the whole file with one message."""
    raise ImportRejected([RowError(None, "", message)])


def config_limit(key: str, default: int) -> int:
    """A size or row limit from the app's config (`key`), else `default`."""
    return int(current_app.config.get(key) or default)


# ---------------------------------------------------------------- headers

def normalise_header(text: str) -> str:
    """A header as a lookup key: lower case, a trailing "(unit)" dropped ("零售价(元)" -> "零售价"), "_" for gaps."""
    text = re.sub(r"[（(][^）)]*[）)]\s*$", "", str(text).strip().lower())
    return re.sub(r"[\s\-]+", "_", text.strip())


def header_aliases(columns, chinese: dict[str, str], extra: dict[str, tuple]) -> dict[str, str]:
    """{normalised header: column key}: each key as written and with spaces, its Chinese header, its extras."""
    aliases: dict[str, str] = {}
    for key in columns:
        for alias in (key, key.replace("_", " "), chinese[key], *extra.get(key, ())):
            aliases[normalise_header(alias)] = key
    return aliases


def map_headers(headers: list[str], aliases: dict[str, str]) -> tuple[dict[str, int], list[str]]:
    """{column key: index} of the recognised headers, and the headers not recognised; ImportRejected."""
    found: dict[str, int] = {}
    ignored: list[str] = []
    for index, header in enumerate(headers):
        if not header:
            continue
        key = aliases.get(normalise_header(header))
        if key is None:
            ignored.append(header)
        elif key in found:
            reject(_("The column %(name)s appears twice.", name=header))
        else:
            found[key] = index
    return found, ignored


# ---------------------------------------------------------------- reading files

def _cell_text(value, midnight_as_date: bool) -> str:
    """A cell as text: whole numbers without ".0" (XLSX stores numbers as floats), dates as ISO dates."""
    if value is None:
        return ""
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, datetime):
        if midnight_as_date and value.time() == datetime.min.time():
            return value.date().isoformat()
        return value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    return str(value).strip()


def _decode(data: bytes) -> str:
    """UTF-8 (with or without BOM), else GB18030 (what Chinese Excel writes for "CSV")."""
    if b"\x00" in data[:4096]:
        reject(_("This is not a CSV text file. Save the spreadsheet as CSV (UTF-8) or XLSX."))
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    reject(_("The file's text encoding is not recognised. Save it as CSV UTF-8 or as XLSX."))


def unescape(cell: str) -> str:
    """A cell read back: the apostrophe written before a formula-like cell taken off."""
    if len(cell) > 1 and cell[0] == "'" and cell[1] in FORMULA_START:
        return cell[1:]
    return cell


def _read_csv(data: bytes):
    """The records of a CSV file; the delimiter (comma, semicolon or tab) is taken from the header line."""
    text = _decode(data)
    first = text.split("\n", 1)[0]
    delimiter = max((",", ";", "\t"), key=first.count)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        for number, record in enumerate(reader, start=1):
            yield number, [unescape(cell.strip()) for cell in record[:MAX_COLUMNS]]
    except csv.Error as exc:
        reject(_("The CSV file cannot be read: %(error)s", error=str(exc)))


def _read_xlsx(data: bytes, midnight_as_date: bool):
    """The rows of the workbook's first sheet (cached values of formulas, not the formulas)."""
    from openpyxl import load_workbook

    not_xlsx = _("This file is not a valid XLSX workbook. Save it from Excel or WPS as .xlsx, or as CSV.")
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            if sum(info.file_size for info in archive.infolist()) > MAX_UNZIPPED_BYTES:
                reject(_("The workbook is too large once unpacked."))
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except ImportRejected:
        raise
    except Exception:  # zipfile.BadZipFile, KeyError, lxml/expat errors... all mean "not a workbook"
        reject(not_xlsx)
    try:
        if not workbook.worksheets:
            reject(not_xlsx)
        sheet = workbook.worksheets[0]
        sheet.reset_dimensions()  # some writers store a wrong size; read what is there
        for cells in sheet.iter_rows(max_col=MAX_COLUMNS):
            cells = [c for c in cells if getattr(c, "row", None) is not None]
            if cells:
                yield cells[0].row, _xlsx_cells(cells, midnight_as_date)
    except ImportRejected:
        raise
    except Exception:
        reject(not_xlsx)
    finally:
        workbook.close()


def _xlsx_cells(cells, midnight_as_date: bool) -> list[str]:
    """Cell values placed by their column (read-only sheets leave out empty cells)."""
    values: list[str] = []
    for cell in cells:
        index = cell.column - 1
        values.extend([""] * (index + 1 - len(values)))
        values[index] = _cell_text(cell.value, midnight_as_date)
    return values


def read_table(filename: str, data: bytes, *, max_bytes: int, max_rows: int, too_many_rows: str, no_rows: str,
               midnight_as_date: bool = True) -> Table:
    """The header and data rows of an uploaded .csv or .xlsx; ImportRejected for a file we cannot take.

    `too_many_rows` and `no_rows` are the area's messages (they name its rows); `midnight_as_date` writes
    a date-and-time cell at midnight as the date alone.
    """
    name = (filename or "").lower()
    if len(data) > max_bytes:
        reject(_("The file is larger than %(mb)s MB. Split it into several files.", mb=f"{max_bytes / 2**20:g}"))
    if not data:
        reject(_("The file is empty."))
    if name.endswith(".csv"):
        records = _read_csv(data)
    elif name.endswith(".xlsx"):
        records = _read_xlsx(data, midnight_as_date)
    elif name.endswith(".xls"):
        reject(_("Old Excel files (.xls) cannot be read. Save the file as .xlsx or as CSV."))
    else:
        reject(_("Choose a .csv or .xlsx file."))
    headers: list[str] | None = None
    rows: list[tuple[int, list[str]]] = []
    for number, cells in records:
        if not any(cells):
            continue
        if headers is None:
            headers = cells
            continue
        rows.append((number, cells))
        if len(rows) > max_rows:
            reject(too_many_rows)
    if headers is None or not rows:
        reject(no_rows)
    return Table(headers, rows)


# ---------------------------------------------------------------- writing files

def control_character_errors(headers: list[str], rows) -> list[RowError]:
    """RowErrors of an uploaded table's cells holding control characters (line breaks are fine in a cell)."""
    errors = [RowError(None, header, str(CONTROL_MESSAGE)) for header in headers
              if has_control_characters(header, multiline=True)]
    for number, cells in rows:
        errors.extend(RowError(number, headers[i] if i < len(headers) else "", str(CONTROL_MESSAGE))
                      for i, cell in enumerate(cells) if has_control_characters(cell, multiline=True))
    return errors


def xlsx_text(value):
    """A value as an XLSX cell may hold it: text without the control characters XML 1.0 cannot carry
    (openpyxl's own list; it would raise on them), anything else as it is."""
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    return ILLEGAL_CHARACTERS_RE.sub("", value) if isinstance(value, str) else value


def _csv_cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return f"{value:.2f}"
    text = str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def to_csv(header: list[str], rows: list[list]) -> bytes:
    """CSV in UTF-8 with a BOM (so Excel reads the Chinese), CRLF line ends, formula-like cells escaped."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    for row in rows:
        writer.writerow([_csv_cell(v) for v in row])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def to_xlsx(header: list[str], rows: list[list], title: str, *, widths: tuple[int, ...] = (),
            text_cells: bool = False) -> bytes:
    """A one-sheet workbook: text never a formula, money (Decimal) as numbers shown with two decimals.

    `widths` are the first columns' widths; `text_cells` keeps every text cell as text, formatted "@"
    (phone numbers stay text when edited in Excel).
    """
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    workbook = Workbook()
    sheet = workbook.active
    sheet.title = title[:31]
    sheet.append(header)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for row in rows:
        sheet.append([xlsx_text(v) for v in row])
        for cell in sheet[sheet.max_row]:
            if isinstance(cell.value, str) and (text_cells or cell.data_type == "f"):
                cell.data_type = "s"  # "=..." typed by a user is text, not a formula to run
                if text_cells:
                    cell.number_format = "@"
            elif isinstance(cell.value, Decimal):
                cell.number_format = "0.00"
    for index, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width
    sheet.freeze_panes = "A2"
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


# ---------------------------------------------------------------- downloads

def stamp() -> str:
    """The business time as 20260501-0930, for a downloaded file's name."""
    return datetime.now(business_tz()).strftime("%Y%m%d-%H%M")


def download(data: bytes, filename: str, mimetype: str):
    """A response that downloads `data` as `filename` (not cached)."""
    response = make_response(data)
    response.mimetype = mimetype
    if mimetype == "text/csv":
        response.charset = "utf-8"
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "no-store"
    return response
