"""Bulk import of a decision's list (one decision certifies many products) from CSV or XLSX.

Each row is a producer (by business or tax code: created if new, else matched), a product (matched
by producer and name, ignoring diacritics and case, else created) and its certification. The rules
are the API's: every row is loaded by the API's input schemas and checked by the same functions
of ``operations`` (which call ``domain``); nothing here is a second rule set. What is added is what
only a file has: columns, cells, line numbers, and conflicts between rows.

A dry run reports every bad row (line as the user sees it, header = line 1; field; reason) and
what an apply would create or match, and writes nothing. An apply is all or nothing, in the
caller's one transaction: validate in Python, look existing rows up in a few set-based queries,
then insert producers, products, certifications and outbox rows in batches (executemany), with
the same events the single-record API emits. A row whose certification (same authority, decision
number and date) is already in the register is reported unchanged, so the same file twice changes
nothing the second time.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import warnings
import zipfile
from dataclasses import dataclass, field
from datetime import date, datetime

from marshmallow import ValidationError
from sqlalchemy import bindparam, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from shared.db import new_id, utcnow
from shared.errors import Conflict, Invalid, OperationError
from shared.text import fold, nfc

from . import domain
from . import operations as ops
from .models import Certification, ImportRecord, Producer, Product
from .schemas import CertificationIn, ProducerIn, ProductIn, parse_day_month_year

MAX_ROWS = 100_000
MAX_COLUMNS = 64
DEFAULT_MAX_BYTES = 16 * 1024 * 1024
IN_CHUNK = 500  # ids per IN (...) lookup: far below SQLite's and PostgreSQL's parameter limits
LOCK_KEY = 0x0C0B1A  # PostgreSQL advisory lock: one apply at a time


def max_bytes() -> int:
    """The upload limit (OCOP_IMPORT_MAX_BYTES, default 16 MiB: about 60,000 rows of CSV)."""
    value = os.environ.get("OCOP_IMPORT_MAX_BYTES", "").strip()
    return int(value) if value else DEFAULT_MAX_BYTES


# ---- columns ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Column:
    name: str                    # canonical (English) name
    vietnamese: str              # the header an OCOP office types
    aliases: tuple[str, ...] = ()
    required: bool = False
    decision: bool = False       # may instead be given once for the whole file


COLUMNS = (
    Column("producer_code", "Mã số thuế", ("mã số doanh nghiệp", "mã số hộ kinh doanh", "mã số đăng ký kinh doanh",
                                           "mã chủ thể", "mst", "mã số", "code", "tax code"), required=True),
    Column("producer_name", "Tên chủ thể", ("chủ thể", "tên chủ thể ocop", "producer"), required=True),
    Column("producer_kind", "Loại hình", ("loại hình chủ thể", "loại hình tổ chức"), required=True),
    Column("province", "Tỉnh", ("tỉnh/thành phố", "tỉnh, thành phố", "tỉnh/tp", "tỉnh thành", "tỉnh/thành"),
           required=True),
    Column("address", "Địa chỉ", ("địa chỉ chủ thể",)),
    Column("representative", "Người đại diện", ("đại diện", "người đại diện pháp luật")),
    Column("email", "Email", ("thư điện tử", "e-mail")),
    Column("phone", "Điện thoại", ("số điện thoại", "sđt", "điện thoại liên hệ")),
    Column("product_name", "Tên sản phẩm", ("sản phẩm", "product"), required=True),
    Column("product_name_en", "Tên tiếng Anh", ("tên sản phẩm tiếng anh", "tên tiếng anh của sản phẩm", "name_en")),
    Column("group", "Nhóm", ("nhóm sản phẩm", "ngành", "product group"), required=True),
    Column("subgroup", "Phân nhóm", ("phân nhóm sản phẩm", "nhóm con")),
    Column("description", "Mô tả", ("mô tả sản phẩm",)),
    Column("potential_five_star", "Tiềm năng 5 sao", ("tiềm năng 5★", "tiềm năng năm sao", "tiềm năng 5 sao quốc gia")),
    Column("score", "Điểm", ("tổng điểm", "điểm đánh giá", "điểm số"), required=True),
    Column("score_a", "Điểm phần A", ("phần a", "điểm a")),
    Column("score_b", "Điểm phần B", ("phần b", "điểm b")),
    Column("score_c", "Điểm phần C", ("phần c", "điểm c")),
    Column("stars", "Số sao", ("hạng sao", "xếp hạng", "hạng", "sao")),
    Column("kind", "Hình thức", ("hình thức đánh giá", "loại đánh giá", "loại chứng nhận", "certification kind")),
    Column("criteria_version", "Bộ tiêu chí", ("bộ tiêu chí áp dụng", "tiêu chí")),
    Column("issued_by", "Cơ quan cấp", ("cơ quan ban hành", "đơn vị cấp", "cơ quan quyết định", "cấp quyết định"),
           required=True, decision=True),
    Column("decision_number", "Số quyết định", ("số qđ", "quyết định số", "quyết định"), required=True,
           decision=True),
    Column("decision_date", "Ngày quyết định", ("ngày qđ", "ngày cấp", "ngày ban hành"), required=True,
           decision=True),
)
BY_NAME = {c.name: c for c in COLUMNS}
# Read and not stored: a row number (STT) and a note column are in most office spreadsheets.
IGNORED = ("stt", "tt", "số thứ tự", "no", "ghi chú", "note", "notes")


def header_key(header: str) -> str:
    """How a header is compared: no diacritics, no case, "_" as a space, no trailing "*" or ":"."""
    return " ".join(fold(header).replace("_", " ").strip(" *:.").split())


HEADERS = {header_key(h): c.name for c in COLUMNS for h in (c.name, c.vietnamese, *c.aliases)}
IGNORED_KEYS = {header_key(h) for h in IGNORED}


PRODUCER_KINDS = {fold(w): kind for kind, words in {
    "cooperative": ("cooperative", "hợp tác xã", "htx"),
    "enterprise": ("enterprise", "doanh nghiệp", "dn", "công ty", "công ty tnhh", "công ty cổ phần", "doanh nghiệp tư "
                   "nhân"),
    "household": ("household", "hộ kinh doanh", "hkd", "cơ sở sản xuất", "cơ sở", "hộ sản xuất", "hộ gia đình",
                  "hộ kinh doanh, cơ sở sản xuất"),
    "cooperative_group": ("cooperative_group", "cooperative group", "tổ hợp tác", "tht"),
}.items() for w in words}
CERT_KINDS = {fold(w): kind for kind, words in {
    "new": ("new", "mới", "đánh giá mới", "cấp mới", "chứng nhận mới"),
    "recertification": ("recertification", "re-certification", "tái chứng nhận", "đánh giá lại", "cấp lại",
                        "công nhận lại"),
    "upgrade": ("upgrade", "nâng sao", "nâng hạng", "nâng hạng sao"),
}.items() for w in words}
YES = {fold(w) for w in ("x", "có", "yes", "true", "1", "đúng", "tiềm năng")}
NO = {fold(w) for w in ("không", "no", "false", "0", "sai", "-")}


# ---- errors ----------------------------------------------------------------------------------
class FileRefused(OperationError):
    """The file as a whole cannot be read (encoding, format, size, columns): nothing was checked
    row by row and nothing written. ``errors`` nest under the upload's location, "files"."""

    def __init__(self, message: str, status: int = 422, errors: dict | None = None):
        super().__init__(message, field="file")
        self.status = status
        self.details = errors or {"file": [message]}

    def errors(self):
        return {"files": self.details}


class RowsRefused(Invalid):
    """An apply refused because rows have errors: every one, by line and field; nothing written."""

    def __init__(self, report: dict):
        bad = sorted({e["line"] for e in report["errors"]})
        first = report["errors"][0]
        super().__init__(f"{len(bad)} of {report['file']['rows']} rows have errors; nothing was imported "
                         f"(first: line {first['line']}, {first['field']}: {first['message']})", field="file")
        self.report = report

    def errors(self):
        rows: dict[str, dict[str, list[str]]] = {}
        for e in self.report["errors"]:
            rows.setdefault(str(e["line"]), {}).setdefault(e["field"], []).append(e["message"])
        return {"files": {"rows": rows}}


# ---- reading the file ------------------------------------------------------------------------
@dataclass
class Table:
    format: str
    header_line: int
    header: list[str]
    rows: list[tuple[int, list]]  # (line in the file, cells)


BINARY = (b"%PDF", b"\x89PNG", b"GIF8", b"\xff\xd8\xff", b"\x1f\x8b", b"Rar!", b"7z\xbc\xaf")


def read_table(data: bytes, filename: str = "") -> Table:
    """The header row and the data rows of a CSV or XLSX file, with their line numbers."""
    if not data.strip(b"\xef\xbb\xbf \t\r\n"):
        raise FileRefused("the file is empty")
    name = filename.lower()
    if data.startswith(b"PK\x03\x04"):
        return _read_xlsx(data)
    if data.startswith(b"\xd0\xcf\x11\xe0") or name.endswith(".xls"):
        raise FileRefused("the file is an Excel 97-2003 workbook (.xls); save it as .xlsx, or as "
                          "CSV UTF-8, and upload it again", status=415)
    if name.endswith((".xlsx", ".xlsm")):
        raise FileRefused(f"{filename} is named as an XLSX workbook but is not one (an XLSX file is a zip "
                          "archive)", status=415)
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise FileRefused("the file is not UTF-8: it is UTF-16 text (Excel's \"Unicode Text\"); save it as "
                          "\"CSV UTF-8 (Comma delimited)\" and upload it again")
    if data.startswith(BINARY) or b"\x00" in data[:8192]:
        raise FileRefused("the file is neither CSV nor XLSX; upload the decision's list as .csv (UTF-8) or "
                          ".xlsx", status=415)
    return _read_csv(data)


def _not_utf8(data: bytes, exc: UnicodeDecodeError, offset: int) -> FileRefused:
    pos = exc.start + offset
    line = data.count(b"\n", 0, pos) + 1
    line_start = data.rfind(b"\n", 0, pos) + 1
    column = len(data[line_start:pos].decode("utf-8", errors="replace")) + 1
    line_end = data.find(b"\n", pos)
    seen = nfc(data[line_start:line_end if line_end >= 0 else None].decode("cp1258", errors="replace"))
    message = (f"the file is not UTF-8: byte 0x{data[pos]:02X} on line {line}, column {column} is not valid "
               f"UTF-8 (the line reads {seen[:80]!r} as Windows-1258: probably saved as Windows-1258 or "
               "Latin-1). In Excel, save it as \"CSV UTF-8 (Comma delimited)\" and upload it again")
    return FileRefused(message, errors={"file": [message], "line": [str(line)]})


def _read_csv(data: bytes) -> Table:
    offset = 3 if data.startswith(b"\xef\xbb\xbf") else 0
    try:
        content = data[offset:].decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _not_utf8(data, exc, offset) from None
    first = content.split("\n", 1)[0]
    delimiter = max((",", ";", "\t"), key=first.count)
    reader = csv.reader(io.StringIO(content, newline=""), delimiter=delimiter, strict=True)
    records: list[tuple[int, list]] = []
    line = 1
    try:
        for cells in reader:
            if any(c.strip() for c in cells):
                records.append((line, cells))
                if len(records) > MAX_ROWS + 1:
                    raise FileRefused(f"the file has more than {MAX_ROWS} rows; split it", status=413)
            line = reader.line_num + 1
    except csv.Error as exc:
        raise FileRefused(f"the file is not valid CSV on line {reader.line_num}: {exc}") from None
    return _table("csv", records)


def _read_xlsx(data: bytes) -> Table:
    from openpyxl import load_workbook

    _check_expansion(data)
    records: list[tuple[int, list]] = []
    with warnings.catch_warnings():  # openpyxl warns about styles and extensions it does not read
        warnings.simplefilter("ignore")
        try:
            book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        except Exception as exc:  # noqa: BLE001 - whatever a broken or foreign zip raises, it is no workbook
            raise FileRefused(f"the file is not a readable XLSX workbook ({type(exc).__name__}); upload the "
                              "decision's list as .xlsx or as CSV UTF-8", status=415) from None
        try:
            sheet = book.worksheets[0]
            sheet.reset_dimensions()  # some writers record wrong dimensions; read what is there
            for line, values in enumerate(sheet.iter_rows(min_row=1, max_col=MAX_COLUMNS, values_only=True),
                                          start=1):
                cells = [_cell(v) for v in values]
                if any(c not in (None, "") for c in cells):
                    records.append((line, cells))
                    if len(records) > MAX_ROWS + 1:
                        raise FileRefused(f"the file has more than {MAX_ROWS} rows; split it", status=413)
        except FileRefused:
            raise
        except Exception as exc:  # noqa: BLE001 - a sheet openpyxl cannot parse is a file error, not a 500
            raise FileRefused(f"the workbook's first sheet cannot be read ({type(exc).__name__})") from None
        finally:
            book.close()
    return _table("xlsx", records)


def _check_expansion(data: bytes) -> None:
    """An XLSX is a zip: refuse one that would unpack to more than 20 times the upload limit
    (zipfile reads no more than the sizes it declares)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise FileRefused(f"the file is not a readable XLSX workbook ({type(exc).__name__}); upload the "
                          "decision's list as .xlsx or as CSV UTF-8", status=415) from None
    if unpacked > 20 * max_bytes():
        raise FileRefused(f"the workbook unpacks to {unpacked} bytes, more than the limit of {20 * max_bytes()}",
                          status=413)


def _cell(value):
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _table(fmt: str, records: list[tuple[int, list]]) -> Table:
    """The header is the first row naming at least three known columns within the first ten rows
    (a title above the table is common in office spreadsheets), else the first row."""
    if not records:
        raise FileRefused("the file is empty")
    at = 0
    for i, (_, cells) in enumerate(records[:10]):
        if sum(header_key(str(c)) in HEADERS for c in cells if c not in (None, "")) >= 3:
            at = i
            break
    header_line, header = records[at]
    header = [("" if c is None else str(c)).strip() for c in header]
    while header and not header[-1]:
        header.pop()
    return Table(fmt, header_line, header, records[at + 1:])


def map_columns(header: list[str], decision: dict) -> dict[int, str]:
    """Cell index -> canonical column. Refuses unknown, repeated and missing required columns,
    naming each (a decision column may be missing when the form gives it for the whole file)."""
    mapping: dict[int, str] = {}
    problems: dict[str, list[str]] = {}
    seen: dict[str, str] = {}
    for i, typed in enumerate(header):
        key = header_key(typed)
        if not key or key in IGNORED_KEYS:
            continue
        name = HEADERS.get(key)
        if name is None:
            problems[typed] = [f"unknown column {typed!r}; known columns: {_known()}"]
        elif name in seen:
            problems[typed] = [f"{typed!r} and {seen[name]!r} are both the column {name}"]
        else:
            mapping[i], seen[name] = name, typed
    for c in COLUMNS:
        if c.required and c.name not in seen and not (c.decision and decision.get(c.name) is not None):
            also = f", or the form field {c.name} (--{c.name.replace('_', '-')}) for the whole file" if c.decision \
                else ""
            problems[c.name] = [f"required column missing: {c.name} ({c.vietnamese}){also}"]
    if problems:
        names = ", ".join(problems)
        raise FileRefused(f"the file's columns are not right: {names}", errors={"columns": problems})
    return mapping


def _known() -> str:
    return ", ".join(f"{c.name} ({c.vietnamese})" for c in COLUMNS)


# ---- cell values -----------------------------------------------------------------------------
def as_text(value) -> str:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value).strip()


def as_whole_number(value) -> int:
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a number")
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if value.is_integer():
            return int(value)
        raise ValueError(f"{value!r} is not a whole number")
    written = str(value).strip().replace(",", ".")
    try:
        number = float(written)
    except ValueError:
        raise ValueError(f"{value!r} is not a number") from None
    if not number.is_integer():
        raise ValueError(f"{value!r} is not a whole number")
    return int(number)


def as_stars(value) -> int:
    """4, "4", "4 sao", "4★" or "★★★★"."""
    written = str(value).strip()
    if written and set(written) == {"★"}:
        return len(written)
    return as_whole_number(fold(written).removesuffix("sao").replace("★", "").strip() or written)


def as_choice(value, choices: dict[str, str], what: str, listing: str) -> str:
    found = choices.get(fold(str(value)))
    if found is None:
        raise ValueError(f"unknown {what} {value!r}; one of: {listing}")
    return found


def as_bool(value) -> bool:
    if isinstance(value, bool):
        return value
    word = fold(as_text(value))
    if word in YES:
        return True
    if word in NO:
        return False
    raise ValueError(f"{value!r} is not yes or no (có / không, x or empty)")


def as_group(value) -> int:
    """A group by number (1, "1", "Nhóm 1") or by name ("Thực phẩm") in the criteria in force."""
    if isinstance(value, int | float):
        return as_whole_number(value)
    written = fold(str(value)).removeprefix("nhom").strip()
    if written.replace(".", "", 1).isdigit():
        return as_whole_number(written)
    groups = domain.criteria_on(date.today(), field="group").groups
    for g in groups.values():
        if written in (fold(g.name), fold(g.name_en)):
            return g.code
    listing = "; ".join(f"{g.code} {g.name}" for g in groups.values())
    raise ValueError(f"unknown product group {value!r}; by number or name: {listing}")


def as_criteria(value) -> str:
    """A criteria version's code, typed with or without diacritics ("148/QD-TTg") or by number ("148")."""
    written = fold(as_text(value))
    for code in domain.CRITERIA:
        if written in (fold(code), fold(code).split("/")[0]):
            return code
    return as_text(value)  # the rule (operations/domain) names the known versions


KIND_LISTING = "cooperative (Hợp tác xã), enterprise (Doanh nghiệp), household (Hộ kinh doanh, Cơ sở sản xuất), " \
               "cooperative_group (Tổ hợp tác)"
CERT_KIND_LISTING = "new (Mới), recertification (Tái chứng nhận / Đánh giá lại), upgrade (Nâng sao)"

CONVERT = {
    "producer_code": lambda v: str(v) if isinstance(v, int) else as_text(v),
    "producer_kind": lambda v: as_choice(v, PRODUCER_KINDS, "producer kind", KIND_LISTING),
    "group": as_group,
    "potential_five_star": as_bool,
    "score": as_whole_number, "score_a": as_whole_number, "score_b": as_whole_number, "score_c": as_whole_number,
    "stars": as_stars,
    "kind": lambda v: as_choice(v, CERT_KINDS, "certification kind", CERT_KIND_LISTING),
    "criteria_version": as_criteria,
    "decision_date": lambda v: parse_day_month_year(v).isoformat(),
    "phone": lambda v: str(v) if isinstance(v, int) else as_text(v),
}

# Which column an error of the API's schemas or rules is about.
PRODUCER_FIELDS = {"code": "producer_code", "name": "producer_name", "kind": "producer_kind", "province": "province",
                   "address": "address", "representative": "representative", "email": "email", "phone": "phone"}
PRODUCT_FIELDS = {"name": "product_name", "name_en": "product_name_en", "group": "group", "subgroup": "subgroup",
                  "description": "description", "potential_five_star": "potential_five_star"}
CERT_FIELDS = {"kind": "kind", "criteria_version": "criteria_version", "score": "score", "stars": "stars",
               "issued_by": "issued_by", "decision_number": "decision_number", "decision_date": "decision_date",
               "score_parts": "score_parts", "score_parts.a": "score_a", "score_parts.b": "score_b",
               "score_parts.c": "score_c",
               # the API's "already has a current certification" names the product; a row fixes it by its kind
               "product_id": "kind"}

_PRODUCER_IN = ProducerIn()
_PRODUCT_IN = ProductIn(exclude=("producer_id",))
_CERT_IN = CertificationIn(exclude=("product_id",))


# ---- checking rows ---------------------------------------------------------------------------
@dataclass
class RowError:
    line: int
    field: str
    message: str
    value: object = None


@dataclass
class ProducerPlan:
    line: int                       # first line that names it
    fields: dict                    # producer_fields() of that line
    id: str | None = None
    existing: dict | None = None    # the register's row, once matched
    created: bool = False


@dataclass
class RowPlan:
    line: int
    producer: ProducerPlan
    product: dict                   # product_fields()
    cert: dict                      # certification_fields()
    product_id: str | None = None
    existing_product: dict | None = None
    product_version: int = 0        # after this row
    cert_id: str | None = None
    action: str = "created"         # of the certification: created or unchanged
    supersedes: str | None = None
    given: frozenset = frozenset()  # the columns this row has a value in

@dataclass
class Checked:
    table: Table
    columns: dict[int, str]
    rows: list[RowPlan] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    producers: dict[str, ProducerPlan] = field(default_factory=dict)


def _schema_errors(messages: dict, names: dict[str, str], prefix: str = "") -> list[tuple[str, str]]:
    out = []
    for key, value in messages.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out += _schema_errors(value, names, f"{name}.")
            continue
        for message in value:
            if message == "Missing data for required field.":
                message = "is empty; a value is required"
            out.append((names.get(name, name), message))
    return out


def _apply_rules(schema, rule, data: dict, names: dict[str, str], default: str) -> tuple[dict | None, list]:
    """The API's input schema, then its rule (a function of ``operations``): the columns, or the
    problems as (column, message). A cell that could not be read is left out, and the schema's
    complaint that it is then missing is not said twice."""
    unread = {names.get(k, k) for k, v in data.items() if v is _INVALID}
    if isinstance(data.get("score_parts"), dict):
        unread |= {names[f"score_parts.{k}"] for k, v in data["score_parts"].items() if v is _INVALID}
        data = {**data, "score_parts": {k: v for k, v in data["score_parts"].items() if v is not _INVALID}}
    clean = {k: v for k, v in data.items() if v is not _INVALID}
    try:
        loaded = schema.load(clean)
    except ValidationError as exc:
        return None, [(c, m) for c, m in _schema_errors(exc.messages, names) if c not in unread]
    if unread:
        return None, []
    try:
        return rule(loaded), []
    except OperationError as exc:
        return None, [(names.get(exc.field, exc.field or default), exc.message)]


class RowChecker:
    """Checks rows one by one with the API's schemas and rules, and rows against each other."""

    def __init__(self, header: list[str], columns: dict[int, str], decision: dict, today: date):
        self.header = header
        self.columns = columns
        self.decision = {k: v for k, v in decision.items() if v is not None}
        self.today = today
        self.producers: dict[str, ProducerPlan] = {}
        self._producer_checks: dict[tuple, tuple[dict | None, list[tuple[str, str]]]] = {}
        self._names: dict[tuple[str, str], tuple[str, int]] = {}   # (folded name, province) -> (code, line)
        self._products: dict[tuple[str, str], int] = {}             # (code, folded name) -> line

    def check(self, line: int, cells: list, errors: list[RowError]) -> RowPlan | None:
        before = len(errors)
        raw = self._values(line, cells, errors)
        producer = self._producer(line, raw, errors)
        product = self._product(line, raw, errors)
        cert = self._certification(line, raw, errors)
        if producer is None or product is None or cert is None or len(errors) > before:
            return None
        return self._within_file(line, raw, producer, product, cert, errors)

    def _values(self, line: int, cells: list, errors: list[RowError]) -> dict:
        raw: dict = {}
        for i, value in enumerate(cells):
            if value is None or value == "":
                continue
            name = self.columns.get(i)
            if name is None:
                if i >= len(self.header) or not header_key(self.header[i]):
                    errors.append(RowError(line, f"column {i + 1}", "a value under no column header",
                                           as_text(value)))
                continue
            try:
                raw[name] = CONVERT.get(name, as_text)(value)
            except ValueError as exc:
                errors.append(RowError(line, name, str(exc), as_text(value)))
                raw[name] = _INVALID
        for name, value in self.decision.items():
            given = raw.get(name)
            typed = value.isoformat() if isinstance(value, date) else value
            if given is None:
                raw[name] = typed
            elif given is not _INVALID and fold(str(given)) != fold(str(typed)):
                errors.append(RowError(line, name, f"differs from the {name} given for the whole file ({typed})",
                                       given))
        return raw

    def _producer(self, line: int, raw: dict, errors: list[RowError]) -> ProducerPlan | None:
        data = {api: raw[col] for api, col in PRODUCER_FIELDS.items() if col in raw}
        key = tuple(sorted((k, str(v)) for k, v in data.items()))
        if key not in self._producer_checks:  # a producer's rows repeat its cells: check them once
            self._producer_checks[key] = _apply_rules(_PRODUCER_IN, ops.producer_fields, data, PRODUCER_FIELDS,
                                                      "producer_code")
        fields, problems = self._producer_checks[key]
        errors += [RowError(line, name, message, raw.get(name)) for name, message in problems]
        if fields is None:
            return None
        plan = self.producers.get(fields["code"])
        if plan is None:
            return ProducerPlan(line, dict(fields))
        for api in ("name_folded", "kind", "province", "address", "representative", "email", "phone"):
            mine, first = fields[api], plan.fields[api]
            if mine is not None and first is not None and mine != first:
                column = "producer_name" if api == "name_folded" else PRODUCER_FIELDS.get(api, api)
                errors.append(RowError(line, column, f"differs from line {plan.line} for the same producer code "
                                                     f"{fields['code']} ({plan.fields[_shown(api)]!r})",
                                       raw.get(column)))
                return None
        for api in ("address", "representative", "email", "phone"):
            if plan.fields[api] is None and fields[api] is not None:
                plan.fields[api] = fields[api]
        return plan

    def _product(self, line: int, raw: dict, errors: list[RowError]) -> dict | None:
        data = {api: raw[col] for api, col in PRODUCT_FIELDS.items() if col in raw}
        fields, problems = _apply_rules(_PRODUCT_IN, ops.product_fields, data, PRODUCT_FIELDS, "product_name")
        errors += [RowError(line, name, message, raw.get(name)) for name, message in problems]
        return fields

    def _certification(self, line: int, raw: dict, errors: list[RowError]) -> dict | None:
        data = {api: raw[col] for api, col in CERT_FIELDS.items() if col in raw and "." not in api and
                api != "product_id"}
        parts = {k: raw[f"score_{k}"] for k in "abc" if f"score_{k}" in raw}
        if parts:
            data["score_parts"] = parts
        fields, problems = _apply_rules(_CERT_IN, lambda loaded: ops.certification_fields(loaded, self.today), data,
                                        CERT_FIELDS, "score")
        errors += [RowError(line, name, message, raw.get(name)) for name, message in problems]
        return fields

    def _within_file(self, line, raw, producer: ProducerPlan, product: dict, cert: dict, errors) -> RowPlan | None:
        code = producer.fields["code"]
        name_key = (producer.fields["name_folded"], producer.fields["province"])
        other = self._names.get(name_key)
        if other is not None and other[0] != code:
            errors.append(RowError(line, "producer_code", f"line {other[1]} gives the producer "
                                                          f"{producer.fields['name']!r} in {name_key[1]} the code "
                                                          f"{other[0]}; one producer has one code",
                                   raw.get("producer_code")))
            return None
        product_key = (code, product["name_folded"])
        if product_key in self._products:
            errors.append(RowError(line, "product_name", f"the same product of producer {code} is on line "
                                                         f"{self._products[product_key]}; a file lists a product "
                                                         "once", raw.get("product_name")))
            return None
        self._names.setdefault(name_key, (code, line))
        self._products[product_key] = line
        self.producers.setdefault(code, producer)
        return RowPlan(line, producer, product, cert, given=frozenset(raw))


def _shown(api: str) -> str:
    return "name" if api == "name_folded" else api


class _Invalid:
    def __repr__(self):
        return "<invalid>"


_INVALID = _Invalid()


def check_rows(table: Table, decision: dict, today: date) -> Checked:
    """Every row checked alone (the API's schemas and rules) and against the rows before it."""
    columns = map_columns(table.header, decision)
    checked = Checked(table, columns)
    checker = RowChecker(table.header, columns, decision, today)
    for line, cells in table.rows:
        plan = checker.check(line, cells, checked.errors)
        if plan is not None:
            checked.rows.append(plan)
    checked.producers = checker.producers
    return checked


def check_decision(decision: dict, today: date) -> None:
    """The decision given for the whole file is checked once, naming the form field."""
    if decision.get("decision_date") is not None:
        try:
            domain.check_decision_date(decision["decision_date"], today)
        except domain.DomainError as exc:
            raise FileRefused(f"decision_date {exc.message}", errors={"decision_date": [exc.message]}) from None


# ---- against the register --------------------------------------------------------------------
def _chunks(items: list, size: int = IN_CHUNK):
    for i in range(0, len(items), size):
        yield items[i:i + size]


def _same_decision(cert: dict, row: dict) -> bool:
    return (fold(cert["decision_number"]) == fold(row["decision_number"]) and cert["decision_date"] ==
            row["decision_date"] and fold(cert["issued_by"]) == fold(row["issued_by"]))


class Resolver:
    """Matches the checked rows against the register in a few set-based queries, and decides for
    each row what an apply does. ``lock``: take row locks (an apply) or not (a dry run)."""

    def __init__(self, session: Session, lock: bool):
        self.session = session
        self.lock = lock

    def resolve(self, checked: Checked) -> None:
        existing = self._producers(list(checked.producers))
        for code, plan in checked.producers.items():
            row = existing.get(code)
            if row is not None:
                plan.existing, plan.id = row, row["id"]
            else:
                plan.id, plan.created = new_id(), True
        matched = [p.id for p in checked.producers.values() if p.existing is not None]
        products = self._products(matched)
        certs = self._certifications([p["id"] for p in products.values()])
        kept = []
        for row in checked.rows:
            error = self._decide(row, products, certs)
            if error is not None:
                checked.errors.append(error)
            else:
                kept.append(row)
        checked.rows = kept
        checked.errors.sort(key=lambda e: e.line)

    def _decide(self, row: RowPlan, products: dict, certs: dict) -> RowError | None:
        found = products.get((row.producer.id, row.product["name_folded"]))
        if found is None:
            row.product_id, row.product_version, row.cert_id = new_id(), 2, new_id()
            return None
        if found.get("ambiguous"):
            return RowError(row.line, "product_name", f"matches {found['ambiguous']} products of producer "
                                                      f"{row.producer.fields['code']}; correct them in the register "
                                                      "first", row.product["name"])
        row.existing_product, row.product_id = found, found["id"]
        for api in ("group", "subgroup", "potential_five_star"):  # a matched product keeps its own
            mine = row.product[api]
            if api != "group" and api not in row.given:
                continue
            if mine != found[api]:
                return RowError(row.line, api, f"the registered product {found['name']!r} has {api} "
                                                  f"{found[api]!r}, not {mine!r}; change it with PATCH /products/"
                                                  f"{found['id']} first", mine)
        history = certs.get(found["id"], [])
        for cert in history:
            if _same_decision(cert, row.cert):
                if (cert["score"], cert["kind"], cert["stars"]) != (row.cert["score"], row.cert["kind"],
                                                                      row.cert["stars"]):
                    return RowError(row.line, "score", f"the product already has a certification under decision "
                                                       f"{cert['decision_number']} of "
                                                       f"{cert['decision_date'].strftime('%d/%m/%Y')} with score "
                                                       f"{cert['score']} ({cert['kind']}); a decision is recorded "
                                                       "once", row.cert["score"])
                row.action, row.cert_id, row.product_version = "unchanged", cert["id"], found["version"]
                return None
        current = next((c for c in history if c["status"] == "current"), None)
        try:
            ops.check_replaces(row.cert, current["stars"] if current else None)
        except OperationError as exc:
            detail = ""
            if current is not None:
                detail = (f" (decision {current['decision_number']} of "
                          f"{current['decision_date'].strftime('%d/%m/%Y')}, {current['stars']}★); a "
                          "re-certification or an upgrade replaces it")
            return RowError(row.line, CERT_FIELDS.get(exc.field, "kind"), exc.message + detail, row.cert["kind"])
        found["version"] += 1  # one row per product in a file
        row.product_version, row.cert_id = found["version"], new_id()
        row.supersedes = current["id"] if current else None
        return None

    def _select(self, query):
        if self.lock:
            query = query.with_for_update()
        return self.session.execute(query).mappings().all()

    def _producers(self, codes: list[str]) -> dict[str, dict]:
        P = Producer
        out = {}
        for chunk in _chunks(codes):
            for r in self.session.execute(select(P.id, P.code, P.name, P.kind, P.province, P.region)
                                          .where(P.code.in_(chunk))).mappings():
                out[r["code"]] = dict(r)
        return out

    def _products(self, producer_ids: list[str]) -> dict[tuple[str, str], dict]:
        P = Product
        out: dict[tuple[str, str], dict] = {}
        for chunk in _chunks(producer_ids):
            for r in self._select(select(P.id, P.producer_id, P.name, P.name_folded, P.group, P.subgroup,
                                         P.potential_five_star, P.version).where(P.producer_id.in_(chunk))):
                key = (r["producer_id"], r["name_folded"])
                if key in out:
                    out[key]["ambiguous"] = out[key].get("ambiguous", 1) + 1
                else:
                    out[key] = dict(r)
        return out

    def _certifications(self, product_ids: list[str]) -> dict[str, list[dict]]:
        C = Certification
        out: dict[str, list[dict]] = {}
        for chunk in _chunks(product_ids):
            for r in self._select(select(C.id, C.product_id, C.kind, C.score, C.stars, C.status, C.issued_by,
                                         C.decision_number, C.decision_date).where(C.product_id.in_(chunk))):
                out.setdefault(r["product_id"], []).append(dict(r))
        return out


# ---- writing ---------------------------------------------------------------------------------
class _Row(dict):
    """A dict the event builders of ``operations`` (which read attributes) accept."""

    __getattr__ = dict.__getitem__


def write(session: Session, emit, checked: Checked, now: datetime) -> int:
    """Insert and update in batches (executemany), then the events in one multi-row insert into
    the outbox: the same events, with the same subject versions, as the single-record API."""
    producers, products, certs, bumps, events = [], [], [], [], []
    for row in checked.rows:
        if row.action == "unchanged":
            continue
        plan = row.producer
        if plan.created and not plan.existing:
            p = _Row(plan.fields, id=plan.id, version=1, created_at=now)
            producers.append(p)
            plan.existing = p  # later rows of this producer: matched, and no second event
            events.append(("registry.producer.registered", p.id, 1, ops.producer_event(p)))
        producer = plan.existing
        if row.existing_product is None:
            product = _Row(row.product, id=row.product_id, producer_id=plan.id, version=2, created_at=now,
                           **ops.producer_copy(producer))
            products.append(product)
            events.append(("registry.product.registered", product.id, 1,
                           ops.product_event(_Row(product, version=1))))
        else:
            product = _Row(row.existing_product, producer_id=plan.id)
            bumps.append({"b_id": product.id, "b_version": row.product_version})
        cert = _Row(row.cert, id=row.cert_id, product_id=product.id, status="current", created_at=now,
                    revoked_reason=None, revocation_decision_number=None, revocation_decision_date=None,
                    expiring_announced_at=None)
        certs.append(cert)
        events.append((ops.CERTIFICATION_EVENT[cert.kind], product.id, row.product_version,
                       ops.certification_event(cert, product, _Row(producer), replaces=row.supersedes)))
    superseded = [{"b_id": r.supersedes} for r in checked.rows if r.supersedes and r.action == "created"]
    conn = session.connection()
    if producers:
        conn.execute(Producer.__table__.insert(), [_columns(Producer, p) for p in producers])
    if products:
        conn.execute(Product.__table__.insert(), [_columns(Product, p) for p in products])
    if superseded:
        C = Certification.__table__
        conn.execute(update(C).where(C.c.id == bindparam("b_id")).values(status="superseded"), superseded)
    if bumps:
        P = Product.__table__
        conn.execute(update(P).where(P.c.id == bindparam("b_id")).values(version=bindparam("b_version")), bumps)
    if certs:
        conn.execute(Certification.__table__.insert(), [_columns(Certification, c) for c in certs])
    emit.many(session, events)
    return len(events)


def _columns(model, row: dict) -> dict:
    """The row's values for the table's columns (a column it does not set takes its default)."""
    return {c.key: row[c.key] for c in model.__table__.columns if c.key in row}


# ---- the whole import ------------------------------------------------------------------------
def summary(checked: Checked) -> dict:
    used = {r.producer.fields["code"]: r.producer for r in checked.rows}
    new_certs = [r for r in checked.rows if r.action == "created"]
    new_producers = sum(1 for p in used.values() if p.created)
    new_products = sum(1 for r in checked.rows if r.existing_product is None)
    return {
        "producers": {"created": new_producers, "matched": len(used) - new_producers},
        "products": {"created": new_products, "matched": len(checked.rows) - new_products},
        "certifications": {"created": len(new_certs), "unchanged": len(checked.rows) - len(new_certs),
                           "superseded": sum(1 for r in new_certs if r.supersedes)},
        "events": new_producers + new_products + len(new_certs),
    }


def run_import(session: Session, emit, data: bytes, filename: str, *, apply: bool, decision: dict, today: date,
               applied_by: str) -> dict:
    """Check a file against the API's rules and the register; with ``apply``, write it all in the
    caller's transaction (which the caller commits) or refuse it all (RowsRefused)."""
    decision = {k: v for k, v in decision.items() if v is not None}
    if len(data) > max_bytes():
        raise FileRefused(f"the file is larger than the limit of {max_bytes()} bytes", status=413)
    check_decision(decision, today)
    table = read_table(data, filename)
    if not table.rows:
        raise FileRefused("the file has a header but no rows")
    if apply and session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": LOCK_KEY})
    checked = check_rows(table, decision, today)
    Resolver(session, lock=apply).resolve(checked)
    sha = hashlib.sha256(data).hexdigest()
    report = _report(checked, filename, sha, apply, session)
    if checked.errors:
        if apply:
            raise RowsRefused(report)
        return report
    counts = report["summary"]
    if apply and counts["events"]:
        now = utcnow()
        try:
            write(session, emit, checked, now)
            record = ImportRecord(sha256=sha, filename=filename[:300], format=table.format,
                                  applied_by=applied_by[:200], applied_at=now, rows=len(table.rows), summary=counts)
            session.add(record)
            session.flush()
        except IntegrityError as exc:
            # A producer code recorded by someone else since the lookup (PostgreSQL runs requests at once).
            raise Conflict("the register changed while the file was applied (a producer code was recorded "
                           "meanwhile); run the import again", field="file") from exc
        report.update(applied=True, import_id=record.id, message=_message(counts, applied=True))
        _ids(report, checked)
    elif apply:
        report["message"] = "nothing to apply: every row is already in the register" + _previously(report)
        _ids(report, checked)
    return report


def _report(checked: Checked, filename: str, sha: str, apply: bool, session: Session) -> dict:
    table = checked.table
    header_of = {name: table.header[i] for i, name in checked.columns.items()}
    counts = summary(checked)
    previous = session.execute(select(ImportRecord).where(ImportRecord.sha256 == sha)
                               .order_by(ImportRecord.applied_at)).scalars().all()
    bad = len({e.line for e in checked.errors})
    report = {
        "dry_run": not apply, "applied": False, "valid": not checked.errors, "import_id": None,
        "file": {"name": filename, "format": table.format, "sha256": sha, "rows": len(table.rows),
                 "columns": {table.header[i]: name for i, name in checked.columns.items()}},
        "summary": counts,
        "errors": [{"line": e.line, "field": e.field, "column": header_of.get(e.field),
                    "value": None if e.value is None or e.value is _INVALID else as_text(e.value),
                    "message": e.message} for e in checked.errors],
        "rows": [{"line": r.line, "producer_code": r.producer.fields["code"], "product_name": r.product["name"],
                  "producer": "matched" if r.producer.existing is not None else "created",
                  "product": "created" if r.existing_product is None else "matched", "certification": r.action,
                  "producer_id": r.producer.existing["id"] if r.producer.existing else None,
                  "product_id": r.product_id if r.existing_product else None,
                  "certification_id": r.cert_id if r.action == "unchanged" else None}
                 for r in checked.rows],
        "previous_imports": [{"id": p.id, "applied_at": p.applied_at, "applied_by": p.applied_by,
                              "filename": p.filename, "summary": p.summary} for p in previous],
    }
    if checked.errors:
        report["message"] = (f"{bad} of {len(table.rows)} rows have errors; fix them and run the import again "
                             "(nothing was written)")
    else:
        report["message"] = "dry run: " + _message(counts, applied=False) + _previously(report)
    return report


def _ids(report: dict, checked: Checked) -> None:
    """Once applied, each row names the records it created or matched."""
    for out, row in zip(report["rows"], checked.rows, strict=True):
        out.update(producer_id=row.producer.id, product_id=row.product_id, certification_id=row.cert_id)


def _message(counts: dict, applied: bool) -> str:
    verb = "created" if applied else "an apply would create"
    return (f"{verb} {counts['producers']['created']} producers, {counts['products']['created']} products and "
            f"{counts['certifications']['created']} certifications ({counts['producers']['matched']} producers "
            f"and {counts['products']['matched']} products matched, {counts['certifications']['unchanged']} "
            f"rows unchanged, {counts['events']} events)")


def _previously(report: dict) -> str:
    if not report["previous_imports"]:
        return ""
    last = report["previous_imports"][-1]
    return f"; this file was applied before, on {last['applied_at']:%d/%m/%Y %H:%M} UTC by {last['applied_by']}"
