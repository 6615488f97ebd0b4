"""Issue 13, the administrator's pages: the accounts (list, create with errors beside the field,
disable, which refuses the next sign-in) and the audit log; officers are refused them."""

from __future__ import annotations

import secrets

import requests
from sqlalchemy import select

from services.registry import accounts
from services.registry.models import Account
from shared import sessions

PASSWORD = "mật-khẩu-" + secrets.token_urlsafe(8)


def _person(platform, role: str) -> dict:
    email = f"{role}.{secrets.token_hex(4)}@ocop.vinhlong.gov.vn"
    with platform.runtimes["registry"].transaction() as s:
        account = accounts.create(s, email=email, name=f"Người {role}", role=role, password=PASSWORD)
        return {"id": account.id, "email": email}


def _browser(platform, who: dict) -> tuple[requests.Session, str]:
    """A signed-in browser-like client and its session's csrf claim."""
    http = requests.Session()
    base = platform.api.urls["registry"]
    r = http.post(f"{base}/console/sign-in", data={"email": who["email"], "password": PASSWORD}, allow_redirects=False)
    assert r.status_code == 303, r.text
    with platform.apps["registry"].test_request_context("/"):
        csrf = sessions.read_session(http.cookies[sessions.COOKIE])["csrf"]
    return http, csrf


def test_an_administrator_creates_and_disables_accounts(platform):
    admin = _person(platform, "admin")
    http, csrf = _browser(platform, admin)
    base = platform.api.urls["registry"] + "/console"
    listed = http.get(f"{base}/accounts")
    assert listed.status_code == 200 and admin["email"] in listed.text and "Tài khoản mới" in listed.text
    bad = http.post(
        f"{base}/accounts", data={"csrf": csrf, "email": "not-an-email", "name": "", "role": "trade_officer"}
    )
    assert bad.status_code == 400
    for name in ("email", "name", "password"):
        assert f'id="{name}-error"' in bad.text, name
    assert "Không phải địa chỉ thư điện tử." in bad.text
    email = f"hoa.{secrets.token_hex(4)}@xttm.cantho.gov.vn"
    form = {
        "csrf": csrf,
        "email": email,
        "name": "Lê Thị Hoa",
        "role": "trade_officer",
        "scope_id": "trung-tam-xttm-can-tho",
        "scope_name": "Trung tâm XTTM Cần Thơ",
        "password": PASSWORD,
    }
    made = http.post(f"{base}/accounts", data=form, allow_redirects=False)
    assert made.status_code == 303
    with platform.runtimes["registry"].session_factory() as s:
        hoa = s.scalar(select(Account).where(Account.email == email))
        assert (hoa.role, hoa.scope_id) == ("trade_officer", "trung-tam-xttm-can-tho")
    assert http.post(f"{base}/accounts", data={**form, "csrf": "forged"}).status_code == 403
    off = http.post(f"{base}/accounts/{hoa.id}/status", data={"csrf": csrf, "action": "disable"}, allow_redirects=False)
    assert off.status_code == 303
    refused = requests.post(f"{base}/sign-in", data={"email": email, "password": PASSWORD}, allow_redirects=False)
    assert refused.status_code == 401  # a disabled account cannot sign in
    log = http.get(f"{base}/audit", params={"actor": admin["id"]})
    assert log.status_code == 200 and "account.created" in log.text and "account.disabled" in log.text


def test_officers_cannot_open_the_administrators_pages(platform):
    officer = _person(platform, "registry_officer")
    http, _ = _browser(platform, officer)
    base = platform.api.urls["registry"] + "/console"
    assert http.get(f"{base}/accounts").status_code == 403
    assert http.get(f"{base}/audit").status_code == 403
    anonymous = requests.get(f"{base}/accounts", allow_redirects=False)
    assert anonymous.status_code == 303 and "/registry/console/sign-in?next=" in anonymous.headers["Location"]
