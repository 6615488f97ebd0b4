"""The embedded demo's console accounts: one per role, scoped like the demo's register and fairs
(Bến Tre's products, now Vĩnh Long's department). Their passwords are random, made once per data dir
and kept there (``demo-accounts.json``, owner-only) so that a demo reachable from a network has no
published password; the host prints them at start and ``credentials()`` gives them to the tests."""

from __future__ import annotations

import json
import os
import secrets

from sqlalchemy import select

from shared import config

FILE = "demo-accounts.json"
SCOPE = ("so-cong-thuong-vinh-long", "Sở Công Thương Vĩnh Long")
ACCOUNTS = (
    # email, name, role, scope id, scope name
    ("admin@demo.ocop.vn", "Quản trị viên", "admin", "", ""),
    ("canbo.sotrinh@demo.ocop.vn", "Nguyễn Thị Lan", "registry_officer", *SCOPE),
    ("canbo.xttm@demo.ocop.vn", "Trần Văn Minh", "trade_officer", *SCOPE),
    ("canbo.cantho@demo.ocop.vn", "Lê Thị Thu Hà", "trade_officer", "trung-tam-xttm-can-tho", "Trung tâm XTTM Cần Thơ"),
)


def credentials() -> dict[str, str]:
    """{email: password} of the demo accounts (made on first use)."""
    path = config.data_dir() / FILE
    if not path.exists():
        made = {email: secrets.token_urlsafe(12) for email, *_ in ACCOUNTS}
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(made, f)
    return json.loads(path.read_text())


def load(runtime) -> list[tuple[str, str, str, str]]:
    """Create the demo accounts that do not exist yet; returns (role, email, password, scope name) of each."""
    from services.registry import accounts
    from services.registry.models import Account

    passwords = credentials()
    out = []
    with runtime.transaction() as s:
        for email, name, role, scope_id, scope_name in ACCOUNTS:
            if s.scalar(select(Account.id).where(Account.email == email)) is None:
                accounts.create(
                    s,
                    email=email,
                    name=name,
                    role=role,
                    password=passwords[email],
                    scope_id=scope_id,
                    scope_name=scope_name,
                )
            out.append((role, email, passwords[email], scope_name))
    return out
