"""The registry officer's console in a real browser, at a phone's and a desktop's width: an import
with one bad row is reported, the fixed file applied; "keo dua" found and its product opened; an
officer of another province neither sees nor changes it."""

from __future__ import annotations

import re
import secrets
import threading

import pytest
from registry_pages_support import HA_NOI, TEMPLATE, VINH_LONG, registry_app, session_token
from support import free_port
from werkzeug.serving import make_server

PASSWORD = "mat-khau-" + secrets.token_urlsafe(8)
EMAIL = "hoa.sct@vinhlong.gov.vn"


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    from services.registry import accounts
    from shared.web import runtime_of

    with registry_app(tmp_path_factory.mktemp("registry-console")) as app:
        with runtime_of(app).transaction() as s:
            accounts.create(
                s,
                email=EMAIL,
                name="Lê Thị Hoa",
                role="registry_officer",
                password=PASSWORD,
                scope_id=VINH_LONG["id"],
                scope_name=VINH_LONG["name"],
            )
        port = free_port()
        server = make_server("127.0.0.1", port, app, threaded=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        yield f"http://127.0.0.1:{port}"
        server.shutdown()


def signed_in(page, scope=VINH_LONG):
    """The person: a session cookie of the one issuer (the sign-in page itself is tested with accounts)."""
    page.context.clear_cookies()
    page.context.add_cookies([{"name": "ocop_session", "value": session_token(scope), "url": page.registry}])
    return page


def test_import_reports_the_bad_row_then_applies_the_fixed_file(registry, page, shot, tmp_path):
    n = 1 if page.form_factor == "phone" else 2  # the two runs share a register: producers of their own
    good = TEMPLATE.read_text(encoding="utf-8").replace("13001", f"1300{n}").replace("13006", f"1300{n + 6}")
    good = good.replace("HTX Kẹo dừa Mỏ Cày", f"HTX Kẹo dừa Mỏ Cày {n}").replace("Mỹ Lồng,", f"Mỹ Lồng {n},")
    good = good.encode()
    bad_file, good_file = tmp_path / "qd-loi.csv", tmp_path / "qd.csv"
    bad_file.write_bytes(good.replace(b",78,4,", b",bay tam,4,"))
    good_file.write_bytes(good)

    page.context.clear_cookies()
    page.goto(f"{registry}/console/sign-in?next=/console/imports")  # the sign-in page itself
    page.fill("#email", EMAIL)
    page.fill("#password", PASSWORD)
    page.get_by_role("button", name="Đăng nhập").click()
    page.wait_for_url(f"{registry}/console/imports")
    assert page.locator(".who .person").inner_text() == "Lê Thị Hoa"
    page.set_input_files("#f-file", str(bad_file))
    page.get_by_role("button", name="Kiểm tra (chạy thử)").click()
    row = page.locator("table.errors tbody tr")
    assert row.count() == 1
    assert "Dòng 2" in row.inner_text() and "Điểm" in row.inner_text() and "bay tam" in row.inner_text()
    shot(page, "registry-import-errors")

    page.set_input_files("#f-file", str(good_file))
    page.get_by_role("button", name="Kiểm tra (chạy thử)").click()
    assert "hợp lệ" in page.locator("h2#ket-qua").inner_text()
    page.get_by_role("button", name="Nhập tệp này vào sổ").click()
    assert "Đã nhập tệp qd.csv" in page.locator("h2#ket-qua").inner_text()
    assert "đã tạo 2 chủ thể, 2 sản phẩm, 2 chứng nhận" in page.locator("main").inner_text()
    shot(page, "registry-import-applied")
    page.get_by_role("link", name=re.compile("Kẹo dừa sữa lá dứa")).click()
    assert page.locator("h1").inner_text() == "Kẹo dừa sữa lá dứa"


def test_search_opens_a_product_which_another_province_cannot_see(registry, page, shot):
    page.registry = registry
    signed_in(page)
    page.goto(f"{registry}/console/products")
    page.fill("#f-q", "keo dua")
    page.get_by_role("button", name="Tìm").click()
    assert re.search(r"^\d+ sản phẩm", page.locator("p[role=status]").inner_text())
    shot(page, "registry-search")
    link = page.locator("table a").first
    name = link.inner_text()
    assert "Kẹo dừa" in name or "kẹo dừa" in name.lower()
    link.click()
    assert page.locator("h1").inner_text() == name
    assert page.get_by_role("heading", name="Lịch sử chứng nhận").is_visible()
    shot(page, "registry-product")
    product_url = page.url

    page.fill("#f-name", "K")
    page.get_by_role("button", name="Lưu sản phẩm").click()
    assert page.locator("#e-name").is_visible()
    assert page.locator("#f-name").get_attribute("aria-invalid") == "true"
    shot(page, "registry-product-error")

    signed_in(page, HA_NOI)
    page.goto(f"{registry}/console/products?q=keo+dua")
    assert page.locator("p[role=status]").inner_text() == "0 sản phẩm"
    response = page.goto(product_url)
    assert response.status == 404


def test_decisions_and_progress_pages(registry, page, shot):
    page.registry = registry
    signed_in(page)
    page.goto(f"{registry}/console/decisions/new")
    page.fill("#f-number", "12/QĐ-UBND")
    page.fill("#f-issued_by", "UBND tỉnh Vĩnh Long")
    page.fill("#f-product-0", "Không có sản phẩm này")
    page.fill("#f-score-0", "75")
    page.get_by_role("button", name="Ghi quyết định").click()
    assert "Không tìm thấy" in page.locator("#e-product-0").inner_text()
    shot(page, "registry-decision-error")
    page.goto(f"{registry}/console/decisions")
    assert page.locator("table a").count() > 0
    shot(page, "registry-decisions")
    page.goto(f"{registry}/console/progress?year=2023")
    assert page.locator("figure.chart svg").count() >= 5
    shot(page, "registry-progress")
    page.goto(f"{registry}/console/certificates/expiring?days=180")
    shot(page, "registry-expiring")
    page.goto(f"{registry}/console/products?q=keo+dua&lang=en")
    assert page.locator("h1").inner_text() == "OCOP products"
    shot(page, "registry-search-english")
