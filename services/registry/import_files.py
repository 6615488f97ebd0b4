"""Reading a decision's list: the file as a whole (CSV or XLSX), its columns and its limits.

What only a file has is checked here, before any row: its format and encoding, its size (as
uploaded and, for XLSX, as it unpacks: a zip's declared sizes are checked before openpyxl opens
it, and zipfile reads no more than it declares), its columns (known, once each, at most
``MAX_COLUMNS``), its rows (at most ``OCOP_IMPORT_MAX_ROWS``, blank ones counted too) and the time
reading and checking may take (``OCOP_IMPORT_MAX_SECONDS``). A file over a limit is refused whole
(413), naming the limit, before the work grows with it.
"""

from __future__ import annotations

import csv
import io
import time
import warnings
import zipfile
from dataclasses import dataclass

from shared.errors import OperationError
from shared.text import fold, nfc

MAX_COLUMNS = 60  # cells in a row, after its trailing empty ones (the known columns are 24)
LINES_PER_ROW = 5  # lines a file may have, blank ones included, per data row it may have


class Budget:
    """What one import may take: its upload's bytes (OCOP_IMPORT_MAX_BYTES: about 60,000 rows of CSV
    by default), an XLSX's parts as unpacked (OCOP_IMPORT_MAX_UNPACKED_BYTES: 20,000 rows are about
    22 MB), data rows and lines (OCOP_IMPORT_MAX_ROWS) and the time reading and checking may take
    before the register is touched (OCOP_IMPORT_MAX_SECONDS). The defaults are Settings'; a service
    makes one per import from its settings (``Budget.of``), so the clock starts with the import."""

    def __init__(
        self,
        max_bytes: int = 16 * 1024 * 1024,
        unpacked: int = 32 * 1024 * 1024,
        rows: int = 20_000,
        seconds: int = 60,
    ):
        self.max_bytes = max_bytes
        self.unpacked = unpacked
        self.rows = rows
        self.lines = LINES_PER_ROW * rows
        self.seconds = seconds
        self.started = time.monotonic()

    @classmethod
    def of(cls, settings) -> Budget:
        """The budget ``settings`` (shared.config.Settings) allow, starting now."""
        return cls(
            settings.import_max_bytes,
            settings.import_max_unpacked_bytes,
            settings.import_max_rows,
            settings.import_max_seconds,
        )

    def check_time(self) -> None:
        if time.monotonic() - self.started > self.seconds:
            raise FileRefused(
                f"reading and checking the file took longer than {self.seconds} s "
                "(OCOP_IMPORT_MAX_SECONDS); split it into smaller files",
                status=413,
            )


# ---- columns ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Column:
    name: str  # canonical (English) name
    vietnamese: str  # the header an OCOP office types
    aliases: tuple[str, ...] = ()
    required: bool = False
    decision: bool = False  # may instead be given once for the whole file


COLUMNS = (
    Column(
        "producer_code",
        "Mã số thuế",
        (
            "mã số doanh nghiệp",
            "mã số hộ kinh doanh",
            "mã số đăng ký kinh doanh",
            "mã chủ thể",
            "mst",
            "mã số",
            "code",
            "tax code",
        ),
        required=True,
    ),
    Column("producer_name", "Tên chủ thể", ("chủ thể", "tên chủ thể ocop", "producer"), required=True),
    Column("producer_kind", "Loại hình", ("loại hình chủ thể", "loại hình tổ chức"), required=True),
    Column(
        "province", "Tỉnh", ("tỉnh/thành phố", "tỉnh, thành phố", "tỉnh/tp", "tỉnh thành", "tỉnh/thành"), required=True
    ),
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
    Column(
        "issued_by",
        "Cơ quan cấp",
        ("cơ quan ban hành", "đơn vị cấp", "cơ quan quyết định", "cấp quyết định"),
        required=True,
        decision=True,
    ),
    Column("decision_number", "Số quyết định", ("số qđ", "quyết định số", "quyết định"), required=True, decision=True),
    Column("decision_date", "Ngày quyết định", ("ngày qđ", "ngày cấp", "ngày ban hành"), required=True, decision=True),
    # The decision's level (default province): only the national level certifies 5★.
    Column("level", "Cấp công nhận", ("cấp đánh giá", "cấp phân hạng", "decision level"), decision=True),
)
BY_NAME = {c.name: c for c in COLUMNS}
# Read and not stored: a row number (STT) and a note column are in most office spreadsheets.
IGNORED = ("stt", "tt", "số thứ tự", "no", "ghi chú", "note", "notes")


def header_key(header: str) -> str:
    """How a header is compared: no diacritics, no case, "_" as a space, no trailing "*" or ":"."""
    return " ".join(fold(header).replace("_", " ").strip(" *:.").split())


HEADERS = {header_key(h): c.name for c in COLUMNS for h in (c.name, c.vietnamese, *c.aliases)}
IGNORED_KEYS = {header_key(h) for h in IGNORED}


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


# ---- reading the file ------------------------------------------------------------------------
@dataclass
class Table:
    format: str
    header_line: int
    header: list[str]
    rows: list[tuple[int, list]]  # (line in the file, cells)


BINARY = (b"%PDF", b"\x89PNG", b"GIF8", b"\xff\xd8\xff", b"\x1f\x8b", b"Rar!", b"7z\xbc\xaf")


def read_table(data: bytes, filename: str = "", budget: Budget | None = None) -> Table:
    """The header row and the data rows of a CSV or XLSX file, with their line numbers."""
    budget = budget or Budget()
    if not data.strip(b"\xef\xbb\xbf \t\r\n"):
        raise FileRefused("the file is empty")
    name = filename.lower()
    if data.startswith(b"PK\x03\x04"):
        return _read_xlsx(data, budget)
    if data.startswith(b"\xd0\xcf\x11\xe0") or name.endswith(".xls"):
        raise FileRefused(
            "the file is an Excel 97-2003 workbook (.xls); save it as .xlsx, or as CSV UTF-8, and upload it again",
            status=415,
        )
    if name.endswith((".xlsx", ".xlsm")):
        raise FileRefused(
            f"{filename} is named as an XLSX workbook but is not one (an XLSX file is a zip archive)", status=415
        )
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise FileRefused(
            'the file is not UTF-8: it is UTF-16 text (Excel\'s "Unicode Text"); save it as '
            '"CSV UTF-8 (Comma delimited)" and upload it again'
        )
    if data.startswith(BINARY) or b"\x00" in data[:8192]:
        raise FileRefused(
            "the file is neither CSV nor XLSX; upload the decision's list as .csv (UTF-8) or .xlsx", status=415
        )
    return _read_csv(data, budget)


def _not_utf8(data: bytes, exc: UnicodeDecodeError, offset: int) -> FileRefused:
    pos = exc.start + offset
    line = data.count(b"\n", 0, pos) + 1
    line_start = data.rfind(b"\n", 0, pos) + 1
    column = len(data[line_start:pos].decode("utf-8", errors="replace")) + 1
    line_end = data.find(b"\n", pos)
    seen = nfc(data[line_start : line_end if line_end >= 0 else None].decode("cp1258", errors="replace"))
    message = (
        f"the file is not UTF-8: byte 0x{data[pos]:02X} on line {line}, column {column} is not valid "
        f"UTF-8 (the line reads {seen[:80]!r} as Windows-1258: probably saved as Windows-1258 or "
        'Latin-1). In Excel, save it as "CSV UTF-8 (Comma delimited)" and upload it again'
    )
    return FileRefused(message, errors={"file": [message], "line": [str(line)]})


def _read_csv(data: bytes, budget: Budget) -> Table:
    offset = 3 if data.startswith(b"\xef\xbb\xbf") else 0
    try:
        content = data[offset:].decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _not_utf8(data, exc, offset) from None
    first = content.split("\n", 1)[0]
    delimiter = max((",", ";", "\t"), key=first.count)
    reader = csv.reader(io.StringIO(content, newline=""), delimiter=delimiter, strict=True)

    def numbered():
        line = 1
        for cells in reader:
            yield line, cells
            line = reader.line_num + 1

    try:
        records = _collect(numbered(), budget)
    except csv.Error as exc:
        raise FileRefused(f"the file is not valid CSV on line {reader.line_num}: {exc}") from None
    return _table("csv", records, budget)


def _blank(cell) -> bool:
    return cell is None or (isinstance(cell, str) and not cell.strip())


def _collect(rows, budget: Budget) -> list[tuple[int, list]]:
    """The rows with a value, each without its trailing empty cells, within the budget: at most
    MAX_COLUMNS cells a row, ``budget.rows`` rows (and a header and title), ``budget.lines`` lines."""
    records: list[tuple[int, list]] = []
    for line, cells in rows:
        if line % 500 == 0:
            budget.check_time()
        if line > budget.lines:
            raise FileRefused(
                f"the file has more than {budget.lines} lines (blank ones included); a file "
                f"holds at most {budget.rows} rows (OCOP_IMPORT_MAX_ROWS): split it",
                status=413,
            )
        cells = list(cells)
        while cells and _blank(cells[-1]):
            cells.pop()
        if not cells or all(_blank(c) for c in cells):
            continue
        if len(cells) > MAX_COLUMNS:
            raise FileRefused(
                f"line {line} has more than {MAX_COLUMNS} cells; a decision's list has at most {MAX_COLUMNS} columns",
                status=413,
                errors={"file": [f"more than {MAX_COLUMNS} columns"], "line": [str(line)]},
            )
        records.append((line, cells))
        if len(records) > budget.rows + 2:  # a title and the header above the rows (counted exactly in _table)
            raise _too_many_rows(budget)
    return records


def _read_xlsx(data: bytes, budget: Budget) -> Table:
    from openpyxl import load_workbook

    _check_expansion(data, budget.unpacked)
    with warnings.catch_warnings():  # openpyxl warns about styles and extensions it does not read
        warnings.simplefilter("ignore")
        try:
            book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        except Exception as exc:  # noqa: BLE001 - whatever a broken or foreign zip raises, it is no workbook
            raise FileRefused(
                f"the file is not a readable XLSX workbook ({type(exc).__name__}); upload the "
                "decision's list as .xlsx or as CSV UTF-8",
                status=415,
            ) from None
        try:
            sheet = book.worksheets[0]
            sheet.reset_dimensions()  # some writers record wrong dimensions; read what is there
            rows = sheet.iter_rows(min_row=1, max_col=MAX_COLUMNS + 1, values_only=True)
            records = _collect(
                ((line, [_cell(v) for v in values]) for line, values in enumerate(rows, start=1)), budget
            )
        except FileRefused:
            raise
        except Exception as exc:  # noqa: BLE001 - a sheet openpyxl cannot parse is a file error, not a 500
            raise FileRefused(f"the workbook's first sheet cannot be read ({type(exc).__name__})") from None
        finally:
            book.close()
    return _table("xlsx", records, budget)


MAX_ZIP_ENTRIES = 1000


def _check_expansion(data: bytes, limit: int) -> None:
    """An XLSX is a zip: refuse one whose parts declare more than ``limit`` bytes unpacked
    (OCOP_IMPORT_MAX_UNPACKED_BYTES), or more parts than a workbook has, before openpyxl opens
    it. zipfile reads no more of a part than it declares (and checks its CRC), so a part that
    lies about its size is cut short and refused as unreadable, never unpacked further."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            infos = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise FileRefused(
            f"the file is not a readable XLSX workbook ({type(exc).__name__}); upload the "
            "decision's list as .xlsx or as CSV UTF-8",
            status=415,
        ) from None
    if len(infos) > MAX_ZIP_ENTRIES:
        raise FileRefused(f"the workbook has {len(infos)} parts, more than an XLSX workbook has", status=413)
    unpacked = sum(info.file_size for info in infos)
    if unpacked > limit:
        raise FileRefused(
            f"the workbook unpacks to {unpacked} bytes, more than the limit of {limit} "
            "(OCOP_IMPORT_MAX_UNPACKED_BYTES); split it or save it as CSV",
            status=413,
        )


def _cell(value):
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _table(fmt: str, records: list[tuple[int, list]], budget: Budget) -> Table:
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
    rows = records[at + 1 :]
    if len(rows) > budget.rows:
        raise _too_many_rows(budget)
    return Table(fmt, header_line, header, rows)


def _too_many_rows(budget: Budget) -> FileRefused:
    return FileRefused(f"the file has more than {budget.rows} rows (OCOP_IMPORT_MAX_ROWS); split it", status=413)


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
        shown = _short(typed)
        if name is None:
            problems[shown] = [f"unknown column {shown!r} (the message lists the known columns)"]
        elif name in seen:
            problems[shown] = [f"{shown!r} and {_short(seen[name])!r} are both the column {name}"]
        else:
            mapping[i], seen[name] = name, typed
    for c in COLUMNS:
        if c.required and c.name not in seen and not (c.decision and decision.get(c.name) is not None):
            also = (
                f", or the form field {c.name} (--{c.name.replace('_', '-')}) for the whole file" if c.decision else ""
            )
            problems[c.name] = [f"required column missing: {c.name} ({c.vietnamese}){also}"]
    if problems:
        names = ", ".join(problems)
        raise FileRefused(
            f"the file's columns are not right: {names}. Known columns: {_known()}", errors={"columns": problems}
        )
    return mapping


def _short(text: str, limit: int = 80) -> str:
    """A header or cell as a message quotes it: at most ``limit`` characters."""
    return text if len(text) <= limit else text[:limit] + "…"


def _known() -> str:
    return ", ".join(f"{c.name} ({c.vietnamese})" for c in COLUMNS)
