"""Bulk import, the pure parts: reading CSV and XLSX, columns, cell values, and the rows checked
by the API's schemas and rules and against each other. No database, no broker."""

from __future__ import annotations

import csv
import io
import unicodedata
from datetime import date, datetime, timedelta

import pytest
from openpyxl import Workbook

from services.registry import imports
from services.registry.import_schemas import parse_day_month_year
from services.registry.imports import FileRefused
from shared.contracts import ContractError, make_envelope, make_envelopes

TODAY = date(2026, 11, 29)
HEADER = [
    "STT",
    "Mã số thuế",
    "Tên chủ thể",
    "Loại hình",
    "Tỉnh",
    "Tên sản phẩm",
    "Nhóm",
    "Phân nhóm",
    "Điểm",
    "Số sao",
    "Hình thức",
    "Cơ quan cấp",
    "Số quyết định",
    "Ngày quyết định",
]


def row(
    n=1,
    code="1300123456",
    name="Hợp tác xã Kẹo dừa Thanh Long",
    kind="Hợp tác xã",
    province="Bến Tre",
    product="Kẹo dừa sầu riêng",
    group="1",
    subgroup="1.3",
    score="78",
    stars="4",
    cert_kind="Mới",
    issued_by="UBND tỉnh Vĩnh Long",
    number="1358/QĐ-UBND",
    day="20/7/2025",
) -> list:
    return [
        str(n),
        code,
        name,
        kind,
        province,
        product,
        group,
        subgroup,
        score,
        stars,
        cert_kind,
        issued_by,
        number,
        day,
    ]


def csv_bytes(rows, header=HEADER, bom=True, delimiter=",", encoding="utf-8") -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter)
    writer.writerow(header)
    writer.writerows(rows)
    return (("\ufeff" if bom else "") + out.getvalue()).encode(encoding)


def xlsx_bytes(rows, header=HEADER, title: str | None = None) -> bytes:
    book = Workbook()
    sheet = book.active
    if title:
        sheet.append([title])
    sheet.append(header)
    for r in rows:
        sheet.append(r)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def check(data: bytes, decision: dict | None = None):
    return imports.check_rows(imports.read_table(data, "list.csv"), decision or {}, TODAY)


def errors_of(checked) -> set[tuple[int, str]]:
    return {(e.line, e.field) for e in checked.errors}


# ---- dates -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "written",
    [
        "20/7/2021",
        "20/07/2021",
        "20-07-2021",
        "20.07.2021",
        " 20 / 7 / 2021 ",
        "2021-07-20",
        "ngày 20 tháng 7 năm 2021",
        "Ngay 20 thang 07 nam 2021",
        date(2021, 7, 20),
        datetime(2021, 7, 20, 0, 0),
    ],
)
def test_dates_as_a_vietnamese_office_writes_them(written):
    assert parse_day_month_year(written) == date(2021, 7, 20)


@pytest.mark.parametrize(
    ("written", "says"),
    [
        ("31/02/2021", "no day 31 in month 2"),
        ("7/20/2021", "no day 7 in month 20"),
        ("20/07/21", "year in full"),
        ("2021/07/20", "not a date"),
        ("hôm qua", "not a date"),
        ("", "not a date"),
        ("20/07/2021 08:00", "not a date"),
    ],
)
def test_bad_dates_say_why_in_day_month_year_terms(written, says):
    with pytest.raises(ValueError, match=says):
        parse_day_month_year(written)


# ---- columns ---------------------------------------------------------------------------------
def test_vietnamese_headers_match_with_or_without_diacritics_and_case():
    typed = [
        "MÃ SỐ THUẾ",
        "ten chu the",
        "Loại hình*",
        "Tỉnh/Thành phố",
        "Tên sản phẩm",
        "nhom",
        "Phân nhóm",
        "Điểm:",
        "Số sao",
        "Số QĐ",
        "Ngày quyết định",
        "Cơ quan cấp",
        "STT",
        "Ghi chú",
        "score_a",
    ]
    mapping = imports.map_columns(typed, {})
    assert [mapping.get(i) for i in range(len(typed))] == [
        "producer_code",
        "producer_name",
        "producer_kind",
        "province",
        "product_name",
        "group",
        "subgroup",
        "score",
        "stars",
        "decision_number",
        "decision_date",
        "issued_by",
        None,
        None,
        "score_a",
    ]
    english = [c.name for c in imports.COLUMNS]
    assert sorted(imports.map_columns(english, {}).values()) == sorted(english)


def test_missing_unknown_and_repeated_columns_are_each_named():
    with pytest.raises(FileRefused) as err:
        imports.map_columns(["Mã số thuế", "Tên chủ thể", "Điểm", "Màu sắc", "MST", "Tỉnh"], {})
    columns = err.value.errors()["files"]["columns"]
    assert "unknown column 'Màu sắc'" in columns["Màu sắc"][0]
    assert "'MST' and 'Mã số thuế' are both the column producer_code" in columns["MST"][0]
    missing = {"producer_kind", "product_name", "group", "issued_by", "decision_number", "decision_date"}
    assert missing <= set(columns)
    assert "Số quyết định" in columns["decision_number"][0] and "--decision-number" in columns["decision_number"][0]
    assert err.value.status == 422 and "Màu sắc" in err.value.message


def test_a_decision_given_for_the_whole_file_needs_no_column():
    header = [h for h in HEADER if h not in ("Cơ quan cấp", "Số quyết định", "Ngày quyết định")]
    decision = {"issued_by": "UBND tỉnh Sơn La", "decision_number": "12/QĐ-UBND", "decision_date": date(2025, 3, 1)}
    assert "decision_date" not in imports.map_columns(header, decision).values()
    checked = check(csv_bytes([row()[:11]], header=header), decision)
    assert not checked.errors and checked.rows[0].cert["decision_number"] == "12/QĐ-UBND"


# ---- reading files ---------------------------------------------------------------------------
def test_csv_with_or_without_bom_semicolons_and_line_numbers_as_seen():
    rows = [row(1), row(2, product="Bánh tráng dừa")]
    for data in (csv_bytes(rows), csv_bytes(rows, bom=False), csv_bytes(rows, delimiter=";")):
        table = imports.read_table(data, "list.csv")
        assert (table.format, table.header_line, [line for line, _ in table.rows]) == ("csv", 1, [2, 3])
        assert table.rows[0][1][2] == "Hợp tác xã Kẹo dừa Thanh Long"
    # a blank line and a cell spanning two lines: lines are still counted as in the file
    text = csv_bytes([row(1)]).decode("utf-8") + "\n" + ",".join(row(2)[:5]) + ',"Kẹo\ndừa",1,,70,,,x,1/QĐ,1/1/2025\n'
    table = imports.read_table(text.encode(), "list.csv")
    assert [line for line, _ in table.rows] == [2, 4]
    assert table.rows[1][1][5] == "Kẹo\ndừa"


def cp1258(text: str) -> bytes:
    """Text as Windows-1258 writes it: a letter it has whole, else a base letter and tone marks."""
    out = b""
    for ch in text:
        marks = unicodedata.normalize("NFD", ch)
        for k in range(len(marks), 0, -1):
            try:
                out += unicodedata.normalize("NFC", marks[:k]).encode("cp1258") + marks[k:].encode("cp1258")
                break
            except UnicodeEncodeError:
                continue
        else:
            raise UnicodeEncodeError("cp1258", ch, 0, 1, "no such letter")
    return out


def test_a_csv_not_in_utf8_is_refused_saying_so_and_where():
    windows = cp1258(csv_bytes([row(1)], bom=False).decode("utf-8"))
    assert windows.decode("cp1258") != csv_bytes([row(1)], bom=False)  # a real Windows-1258 file
    latin = b"Ma so thue,Ten chu the\r\n0301234567,HTX Kem Bo\r\n0301234568,Cafe\xe9 Da Lat\r\n"
    # Windows-1258 writes "ã" as "a" and a combining tilde (0xDE): the first byte UTF-8 cannot read
    for data, line, column, seen in ((windows, 1, 7, "Mã số thuế"), (latin, 3, 16, "Cafeé Da Lat")):
        with pytest.raises(FileRefused) as err:
            imports.read_table(data, "list.csv")
        message = err.value.message
        assert "not UTF-8" in message and f"line {line}, column {column}" in message and "CSV UTF-8" in message, message
        assert seen in message  # the line as Windows-1258 reads it, to recognise it
        assert err.value.status == 422 and err.value.errors()["files"]["line"] == [str(line)]


@pytest.mark.parametrize(
    ("data", "name", "status", "says"),
    [
        (b"", "list.csv", 422, "empty"),
        (b"\xef\xbb\xbf\r\n  \n", "list.csv", 422, "empty"),
        (b"%PDF-1.7\n...", "list.pdf", 415, "neither CSV nor XLSX"),
        (b"\x89PNG\r\n\x1a\n", "scan.png", 415, "neither"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, "list.xls", 415, "Excel 97-2003"),
        (b"Ma so thue,Ten\n1,2\n", "list.xlsx", 415, "not one"),
        (b"PK\x03\x04not really a zip", "list.xlsx", 415, "not a readable XLSX"),
        ("Mã số thuế\n1\n".encode("utf-16"), "list.csv", 422, "UTF-16"),
        (b'Ma so thue,Ten\n"1"x,2\n', "list.csv", 422, "not valid CSV on line 2"),
    ],
)
def test_files_that_cannot_be_read_are_refused_with_the_reason(data, name, status, says):
    with pytest.raises(FileRefused) as err:
        imports.read_table(data, name)
    assert err.value.status == status and says in err.value.message, err.value.message


def test_xlsx_reads_like_the_csv_date_cells_numbers_and_a_title_row_included():
    typed = [
        [
            1,
            1300123456,
            "Hợp tác xã Kẹo dừa Thanh Long",
            "Hợp tác xã",
            "Bến Tre",
            "Kẹo dừa sầu riêng",
            1,
            "1.3",
            78,
            4,
            "Mới",
            "UBND tỉnh Vĩnh Long",
            "1358/QĐ-UBND",
            datetime(2025, 7, 20),
        ],
        [None] * 14,
        [
            2,
            1300123456,
            "Hợp tác xã Kẹo dừa Thanh Long",
            "Hợp tác xã",
            "Bến Tre",
            "Bánh tráng dừa",
            1,
            "1.3",
            65.0,
            None,
            "Mới",
            "UBND tỉnh Vĩnh Long",
            "1358/QĐ-UBND",
            "20/07/2025",
        ],
    ]
    table = imports.read_table(xlsx_bytes(typed, title="DANH SÁCH SẢN PHẨM OCOP NĂM 2025"), "list.xlsx")
    assert (table.format, table.header_line, [line for line, _ in table.rows]) == ("xlsx", 2, [3, 5])
    from_xlsx = imports.check_rows(table, {}, TODAY)
    from_csv = check(csv_bytes([row(1), row(2, product="Bánh tráng dừa", score="65", stars="")]))
    assert not from_xlsx.errors and not from_csv.errors
    for a, b in zip(from_xlsx.rows, from_csv.rows, strict=True):
        assert (a.producer.fields, a.product, a.cert) == (b.producer.fields, b.product, b.cert)


# ---- cell values -----------------------------------------------------------------------------
@pytest.mark.parametrize(("value", "stars"), [("4", 4), (4, 4), (4.0, 4), ("4 sao", 4), ("4★", 4), ("★★★★", 4)])
def test_stars_as_typed(value, stars):
    assert imports.as_stars(value) == stars


@pytest.mark.parametrize(("value", "number"), [("78", 78), (78.0, 78), ("78,0", 78), (" 78 ", 78)])
def test_whole_numbers(value, number):
    assert imports.as_whole_number(value) == number


@pytest.mark.parametrize("value", ["78,5", 78.5, "bảy tám", True])
def test_not_whole_numbers(value):
    with pytest.raises(ValueError):
        imports.as_whole_number(value)


@pytest.mark.parametrize(
    ("value", "group"), [("1", 1), (3, 3), ("Nhóm 2", 2), ("Thực phẩm", 1), ("DO UONG", 2), ("Sinh vật cảnh", 5)]
)
def test_groups_by_number_or_name(value, group):
    assert imports.as_group(value) == group


def test_kinds_in_vietnamese_or_english():
    assert [
        imports.CERT_KINDS[imports.fold(w)] for w in ("Mới", "Tái chứng nhận", "Đánh giá lại", "Nâng sao", "upgrade")
    ] == ["new", "recertification", "recertification", "upgrade", "upgrade"]
    assert [
        imports.PRODUCER_KINDS[imports.fold(w)]
        for w in ("HTX", "Doanh nghiệp", "Hộ kinh doanh", "Tổ hợp tác", "enterprise")
    ] == ["cooperative", "enterprise", "household", "cooperative_group", "enterprise"]


# ---- rows: the API's rules, every bad row, by line and field ---------------------------------
def test_every_bad_row_is_reported_with_its_line_and_field():
    future = (TODAY + timedelta(days=3)).strftime("%d/%m/%Y")
    rows = [
        row(1),  # line 2: good
        row(2, code="A1", product="Bánh 1", score="105"),  # 3: score out of 0-100
        row(3, code="A2", product="Bánh 2", score="78", stars="3"),  # 4: stars disagree with the score
        row(4, code="A3", product="Bánh 3", day="31/02/2025"),  # 5: not a date
        row(5, code="A4", product="Bánh 4", day=future),  # 6: in the future
        row(6, code="A5", province="Atlantis", product="Bánh 5"),  # 7: unknown province
        row(7, code="A6", product="Bánh 6", group="9"),  # 8: unknown group
        row(8, code="A7", product="Bánh 7", subgroup="2.1"),  # 9: sub-group of another group
        row(9, code="A8", product="Bánh 8", score="40", stars=""),  # 10: 2★: not certified OCOP
        row(10, code="A9", product="", kind="Công xưởng"),  # 11: empty product, unknown kind
        row(11, code="B1", product="Bánh 9", score="abc", day="20/07/21"),  # 12: two fields at once
        row(12, code="B2", product="Bánh 10", day="20/07/2018"),  # 13: no criteria version then
    ]
    checked = check(csv_bytes(rows))
    assert errors_of(checked) == {
        (3, "score"),
        (4, "stars"),
        (5, "decision_date"),
        (6, "decision_date"),
        (7, "province"),
        (8, "group"),
        (9, "subgroup"),
        (10, "score"),
        (11, "product_name"),
        (11, "producer_kind"),
        (12, "score"),
        (12, "decision_date"),
        (13, "decision_date"),
    }
    assert [r.line for r in checked.rows] == [2]
    by = {(e.line, e.field): e for e in checked.errors}
    assert "Atlantis" in by[7, "province"].message and by[7, "province"].value == "Atlantis"
    assert "3★ disagrees with score 78" in by[4, "stars"].message
    assert by[6, "decision_date"].message == "is in the future"
    assert "only 3★ and above" in by[10, "score"].message
    assert by[11, "product_name"].message == "is empty; a value is required"


def test_score_parts_are_checked_against_the_criteria_of_the_decision_date():
    header = [*HEADER, "Điểm phần A", "Điểm phần B", "Điểm phần C"]
    ok = check(csv_bytes([row(1, score="78") + ["30", "20", "28"]], header=header))
    assert not ok.errors and ok.rows[0].cert["score_parts"] == {"a": 30, "b": 20, "c": 28}
    bad = check(
        csv_bytes(
            [
                row(1, score="78") + ["20", "20", "38"],  # C over 35 under 148
                row(2, product="P2", score="78") + ["30", "20", ""],  # a part missing
                row(3, product="P3", score="78") + ["30", "20", "20"],  # parts add up to 70
                row(4, product="P4", score="78", day="20/07/2021") + ["20", "20", "38"],
            ],  # 1048: C of 40
            header=header,
        )
    )
    assert errors_of(bad) == {(2, "score_c"), (3, "score_c"), (4, "score_parts")}
    assert [r.line for r in bad.rows] == [5] and bad.rows[0].cert["criteria_version"] == "1048/QĐ-TTg"


def test_conflicts_inside_the_file_are_errors_on_the_later_line():
    rows = [
        row(1),
        row(2, product="KẸO DỪA SẦU RIÊNG"),  # the same product again
        row(3, code="1300999999", product="Bánh tráng"),  # the same producer name, another code
        row(4, name="Hợp tác xã Khác", product="Rượu dừa"),  # the same code, another name
        row(5, province="Trà Vinh", product="Mật hoa dừa"),  # same producer, another old name: fine
        row(6, code="1300888888", name="Hợp tác xã Kẹo dừa Thanh Long", province="Sơn La", product="Chè"),
    ]
    checked = check(csv_bytes(rows))
    assert errors_of(checked) == {(3, "product_name"), (4, "producer_code"), (5, "producer_name")}
    by = {e.line: e.message for e in checked.errors}
    assert "line 2" in by[3] and "line 2" in by[4] and "1300123456" in by[4] and "line 2" in by[5]
    assert [r.line for r in checked.rows] == [2, 6, 7]
    assert checked.rows[1].producer is checked.rows[0].producer  # one producer for its rows


def test_the_decision_for_the_whole_file_and_a_differing_row():
    decision = {"decision_number": "1358/QĐ-UBND", "decision_date": date(2025, 7, 20)}
    checked = check(
        csv_bytes([row(1), row(2, product="P2", number="99/QĐ-UBND"), row(3, product="P3", number="")]), decision
    )
    assert errors_of(checked) == {(3, "decision_number")}
    with pytest.raises(FileRefused) as err:
        imports.check_decision({"decision_date": TODAY + timedelta(days=1)}, TODAY)
    assert err.value.errors() == {"files": {"decision_date": ["is in the future"]}}


def test_vietnamese_text_is_stored_nfc_and_names_match_ignoring_diacritics_and_case():
    decomposed = unicodedata.normalize("NFD", "Hợp tác xã Kẹo dừa Thanh Long")
    checked = check(csv_bytes([row(1, name=decomposed)]))
    fields = checked.rows[0].producer.fields
    assert fields["name"] == "Hợp tác xã Kẹo dừa Thanh Long" and unicodedata.is_normalized("NFC", fields["name"])
    assert (fields["province"], fields["province_entered"], fields["region"]) == (
        "Vĩnh Long",
        "Bến Tre",
        "mekong_delta",
    )
    assert checked.rows[0].product["name_folded"] == "keo dua sau rieng"


# ---- bulk events -----------------------------------------------------------------------------
def test_bulk_envelopes_are_those_of_one_call_each():
    data = {
        "product_id": "p-1",
        "producer_id": "r-1",
        "name": "Kẹo dừa",
        "name_en": None,
        "group": 1,
        "potential_five_star": False,
    }
    one = make_envelope("registry.product.registered", 1, "registry", "p-1", 1, data, correlation_id="c-1")
    [many] = make_envelopes("registry", [("registry.product.registered", "p-1", 1, data)], 1, "c-1", None)
    assert set(many) == set(one)
    assert {k: many[k] for k in many if k not in ("id", "occurred_at")} == {
        k: one[k] for k in one if k not in ("id", "occurred_at")
    }
    with pytest.raises(ContractError):
        make_envelopes("registry", [("registry.product.registered", "p-1", 1, {**data, "group": 9})], 1, None, None)


def test_a_zip_that_is_no_workbook_or_unpacks_too_far_is_refused():
    import zipfile

    def archive(name: str, body: str) -> bytes:
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as z:
            z.writestr(name, body)
        return out.getvalue()

    with pytest.raises(FileRefused) as err:
        imports.read_table(archive("word/document.xml", "<w/>"), "list.xlsx")  # a .docx, say
    assert err.value.status == 415 and "not a readable XLSX" in err.value.message
    with pytest.raises(FileRefused) as err:  # 50 kB from a few hundred bytes, over a 20 kB limit
        imports.read_table(archive("xl/sharedStrings.xml", "a" * 50_000), "list.xlsx", imports.Budget(unpacked=20_000))
    assert err.value.status == 413 and "unpacks to 50000 bytes" in err.value.message


def test_the_criteria_version_column_is_checked_like_the_api():
    header = [*HEADER, "Bộ tiêu chí"]
    checked = check(
        csv_bytes(
            [
                row(1) + ["148/QD-TTg"],  # typed without Đ
                row(2, product="P2") + ["148"],  # by its number
                row(3, product="P3") + ["999/QĐ-TTg"],  # unknown
                row(4, product="P4") + ["1048/QĐ-TTg"],
            ],
            header=header,
        )
    )  # not in force then
    assert errors_of(checked) == {(4, "criteria_version"), (5, "criteria_version")}
    by = {e.line: e.message for e in checked.errors}
    assert "unknown criteria version" in by[4] and "applies to decisions dated" in by[5]
    assert [r.cert["criteria_version"] for r in checked.rows] == ["148/QĐ-TTg", "148/QĐ-TTg"]
