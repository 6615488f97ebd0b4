"""Issue 13, accounts: sign-in (success, failure beside the field, lock-out), the session cookie's
flags, a session verified by the events and notifications services with the public key only,
sign-out revoking the session everywhere, CSRF refusal, and who did it (the actor in an event and
the audit log)."""

from __future__ import annotations

import json
import re
import secrets

import pytest
import requests
from sqlalchemy import select
from support import wait_for

from services.registry import accounts
from services.registry.models import Account, AuditEntry
from shared import sessions, signing

PASSWORD = "mật-khẩu-" + secrets.token_urlsafe(8)


@pytest.fixture(scope="module")
def officer(platform):
    rt = platform.runtimes["registry"]
    email = f"lan.{secrets.token_hex(4)}@sct.vinhlong.gov.vn"
    with rt.transaction() as s:
        account = accounts.create(
            s,
            email=email,
            name="Nguyễn Thị Lan",
            role="registry_officer",
            password=PASSWORD,
            scope_id="so-cong-thuong-vinh-long",
            scope_name="Sở Công Thương Vĩnh Long",
        )
        return {"id": account.id, "email": email}


def _sign_in(platform, email, password, **headers):
    return requests.post(
        platform.api.urls["registry"] + "/console/sign-in",
        data={"email": email, "password": password, "next": "/events/console/"},
        headers=headers,
        allow_redirects=False,
        timeout=30,
    )


def _session_in(app, token: str):
    """The session as ``app``'s service reads it (its settings, its public key, its deny list)."""
    with app.test_request_context("/", headers={"Cookie": f"{sessions.COOKIE}={token}"}):
        return sessions.current()


def test_sign_in_sets_a_session_cookie_with_its_flags(platform, officer):
    r = _sign_in(platform, officer["email"].upper(), PASSWORD)
    assert r.status_code == 303 and r.headers["Location"] == "/events/console/", r.text
    cookie = r.headers["Set-Cookie"]
    assert cookie.startswith(f"{sessions.COOKIE}=") and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Path=/" in cookie and "Secure" not in cookie  # OCOP_PUBLIC_URL is http here
    token = r.cookies[sessions.COOKIE]
    for service in ("registry", "events", "notifications"):
        claims = _session_in(platform.apps[service], token)
        assert claims["sub"] == officer["id"] and claims["role"] == "registry_officer"
        assert claims["scope"] == "so-cong-thuong-vinh-long" and claims["name"] == "Nguyễn Thị Lan"
    with platform.runtimes["registry"].session_factory() as s:
        assert s.get(Account, officer["id"]).last_sign_in_at is not None


def test_events_and_notifications_verify_but_cannot_mint(platform):
    for service in ("events", "notifications"):
        settings = platform.runtimes[service].settings
        assert settings.token_private_key == ""
        with pytest.raises(signing.MissingKey):
            signing.private_key(settings)
    forged = sessions.issue_session(
        signing.new_pair()[0],
        {"id": "x", "name": "Mallory", "email": "m@x.vn", "role": "admin", "scope": "", "scope_name": ""},
    )
    assert _session_in(platform.apps["events"], forged) is None


def test_a_wrong_password_is_refused_beside_the_field(platform, officer):
    r = _sign_in(platform, officer["email"], "not-the-password")
    assert r.status_code == 401 and sessions.COOKIE not in r.cookies
    assert 'id="password-error"' in r.text and "Thư điện tử hoặc mật khẩu không đúng." in r.text
    r = _sign_in(platform, "", "")
    assert r.status_code == 400 and 'id="email-error"' in r.text and 'id="password-error"' in r.text


def test_five_failures_lock_the_account_even_for_the_right_password(platform):
    rt = platform.runtimes["registry"]
    email = f"minh.{secrets.token_hex(4)}@xttm.vinhlong.gov.vn"
    with rt.transaction() as s:
        accounts.create(s, email=email, name="Trần Văn Minh", role="trade_officer", password=PASSWORD)
    for _ in range(accounts.MAX_FAILURES):
        assert _sign_in(platform, email, "wrong-password-123").status_code == 401
    r = _sign_in(platform, email, PASSWORD)
    assert r.status_code == 429 and "bị khóa" in r.text and sessions.COOKIE not in r.cookies
    with rt.session_factory() as s:
        account = s.scalar(select(Account).where(Account.email == email))
        assert account.locked_until is not None
        locked = s.scalars(select(AuditEntry).where(AuditEntry.subject == account.id)).all()
        assert [e.action for e in locked] == ["account.created", "account.locked"]


def test_many_failures_from_one_address_slow_it_down(platform):
    rt = platform.runtimes["registry"]
    with rt.transaction() as s:
        for i in range(accounts.MAX_ADDRESS_FAILURES):
            with pytest.raises(accounts.SignInRefused):
                accounts.authenticate(s, f"nobody{i}@x.vn", "whatever-password", "203.0.113.7")
        with pytest.raises(accounts.SignInRefused) as refused:
            accounts.authenticate(s, "nobody@x.vn", "whatever-password", "203.0.113.7")
        assert refused.value.kind == "throttled"


def _csrf(platform, token: str) -> str:
    with platform.apps["registry"].test_request_context("/"):
        return sessions.read_session(token)["csrf"]


def test_sign_out_needs_the_csrf_field_and_revokes_the_session_everywhere(platform, officer):
    token = _sign_in(platform, officer["email"], PASSWORD).cookies[sessions.COOKIE]
    url = platform.api.urls["registry"] + "/console/sign-out"
    cookies = {sessions.COOKIE: token}
    refused = requests.post(url, cookies=cookies, data={}, allow_redirects=False, timeout=30)
    assert refused.status_code == 403 and "CSRF" in refused.text
    cross = requests.post(
        url,
        cookies=cookies,
        data={"csrf": _csrf(platform, token)},
        headers={"Sec-Fetch-Site": "cross-site"},
        allow_redirects=False,
        timeout=30,
    )
    assert cross.status_code == 403
    assert _session_in(platform.apps["events"], token) is not None  # still signed in
    out = requests.post(url, cookies=cookies, data={"csrf": _csrf(platform, token)}, allow_redirects=False, timeout=30)
    assert out.status_code == 303 and out.headers["Location"].endswith("/console/sign-in")
    assert re.search(rf"{sessions.COOKIE}=;", out.headers["Set-Cookie"])
    for service in ("registry", "events", "notifications"):
        app = platform.apps[service]
        wait_for(lambda app=app: _session_in(app, token) is None, message=f"{service} refuses the signed-out session")


def test_a_page_redirects_to_sign_in_without_a_session(platform):
    app = platform.apps["events"]

    @sessions.page("trade_officer")
    def view():
        return "ok"

    with app.test_request_context("/console/fairs?status=draft", base_url="http://x/events"):
        response = view()
    assert response.status_code == 303
    assert response.headers["Location"] == "/registry/console/sign-in?next=%2Fevents%2Fconsole%2Ffairs%3Fstatus%3Ddraft"


def test_the_actor_is_in_the_event_and_the_audit_log(platform):
    api = platform.api
    jti = secrets.token_hex(16)
    r = api.call(
        "POST", "registry", "/tokens/revocations", "admin", sub="ops-anna", json={"jti": jti, "reason": "lost"}
    )
    assert r.status_code == 201, r.text
    rt = platform.runtimes["registry"]
    with rt.session_factory() as s:
        payloads = s.scalars(select(rt.outbox.payload).where(rt.outbox.payload.contains(jti))).all()
        [envelope] = [json.loads(p) for p in payloads]
    assert envelope["actor"] == {"id": "ops-anna", "name": "ops-anna", "role": "admin"}
    page = api.call("GET", "registry", f"/audit?subject={jti}", "admin").json()
    assert page["total"] == 1 and page["items"][0]["actor"]["id"] == "ops-anna"
    assert page["items"][0]["action"] == "registry.token.revoked"
    assert api.call("GET", "registry", "/audit", "registry_officer").status_code == 403
    assert api.call("GET", "registry", "/audit?per_page=0", "admin").status_code == 422


def _manage(*args: str, stdin: str = ""):
    import os
    import subprocess
    import sys

    from support import ROOT

    return subprocess.run(
        [sys.executable, "-m", "services.registry.manage", *args],
        cwd=ROOT,
        env=dict(os.environ),  # the platform's (its database, broker and keys)
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_create_admin_makes_an_administrator_who_can_sign_in(platform):
    email = f"admin.{secrets.token_hex(4)}@ocop.gov.vn"
    done = _manage(
        "create-admin", "--email", email, "--name", "Phạm Quản Trị", "--password-stdin", stdin=PASSWORD + "\n"
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["role"] == "admin" and PASSWORD not in done.stdout + done.stderr
    r = _sign_in(platform, email, PASSWORD)
    assert r.status_code == 303
    with platform.apps["registry"].test_request_context("/"):
        assert sessions.read_session(r.cookies[sessions.COOKIE])["role"] == "admin"
    again = _manage("create-admin", "--email", email, "--name", "X", "--password-stdin", stdin="short\n")
    assert again.returncode == 2
    errors = json.loads(again.stdout)["errors"]
    assert set(errors) == {"email", "password"}  # taken, too short


def test_each_service_audits_the_writes_of_its_api(platform):
    from events_support import fair_body

    api = platform.api
    fair = api.call("POST", "events", "/fairs", "trade_officer", sub="officer-hoa", json=fair_body("Bến Tre"))
    assert fair.status_code == 201, fair.text
    fair_id = fair.json()["id"]
    published = api.call("POST", "events", f"/fairs/{fair_id}/publish", "trade_officer", sub="officer-hoa")
    assert published.status_code == 200, published.text
    page = api.call("GET", "events", "/audit?actor=officer-hoa", "admin").json()
    assert {e["actor"]["role"] for e in page["items"]} == {"trade_officer"}
    assert ("POST /fairs", "/fairs") in {(e["action"], e["subject"]) for e in page["items"]}  # a draft: no event
    assert ("events.fair.published", fair_id) in {(e["action"], e["subject"]) for e in page["items"]}
    # a write that publishes no event is recorded after it succeeds (what: method and route)
    hook = api.call(
        "POST",
        "notifications",
        "/webhooks",
        "integration",
        sub="portal-audit",
        json={"url": "https://93.184.216.34/hook", "event_types": ["events.fair.published"]},
    )
    assert hook.status_code == 201, hook.text
    page = api.call("GET", "notifications", "/audit?actor=portal-audit", "admin").json()
    assert page["total"] == 1 and page["items"][0]["action"] == "POST /webhooks"
    assert page["items"][0]["actor"] == {"id": "portal-audit", "name": "portal-audit", "role": "integration"}
    assert api.call("GET", "notifications", "/audit", "integration").status_code == 403


def test_a_password_reset_link_works_once(platform, officer):
    rt = platform.runtimes["registry"]
    base = platform.api.urls["registry"] + "/console/password-reset"
    unknown = requests.post(base, data={"email": "nobody@nowhere.vn"}, timeout=30)
    asked = requests.post(base, data={"email": officer["email"]}, timeout=30)
    assert unknown.status_code == asked.status_code == 200 and unknown.text == asked.text  # says nothing
    with rt.session_factory() as s:
        payloads = s.scalars(
            select(rt.outbox.payload).where(rt.outbox.type == "registry.account.password_reset_requested")
        ).all()
    [data] = [json.loads(p)["data"] for p in payloads if officer["id"] in p]
    assert data["email"] == officer["email"] and data["link"].startswith(
        platform.runtimes["registry"].settings.public_base_url
    )
    path = data["link"].split("/console/password-reset/", 1)[1]
    link = f"{base}/{path}"
    assert requests.get(link, timeout=30).status_code == 200
    short = requests.post(link, data={"password": "short"}, timeout=30)
    assert short.status_code == 400 and 'id="password-error"' in short.text
    new_password = "mật-khẩu-mới-" + secrets.token_urlsafe(8)
    done = requests.post(link, data={"password": new_password}, allow_redirects=False, timeout=30)
    assert done.status_code == 303
    assert requests.get(link, timeout=30).status_code == 410  # spent
    assert requests.post(link, data={"password": new_password}, timeout=30).status_code == 410
    assert _sign_in(platform, officer["email"], PASSWORD).status_code == 401
    assert _sign_in(platform, officer["email"], new_password).status_code == 303
    with rt.transaction() as s:  # put the module's password back for the other tests
        accounts.finish_reset(s, s.get(Account, officer["id"]), PASSWORD)
    assert requests.get(f"{base}/{officer['id']}.forged-nonce", timeout=30).status_code == 410
