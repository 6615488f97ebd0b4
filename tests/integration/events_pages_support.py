"""What the trade officer's console tests share (integration and browser tiers): an events app of
its own (SQLite) with a small read model, real console sessions (signed with the test issuer key),
a fair's form."""

from __future__ import annotations

import dataclasses
import re
from contextlib import contextmanager
from datetime import date, timedelta

import jwt
from support import TEST_SECRET

VINH_LONG = {"id": "off-vl", "name": "Nguyễn Thị Lan", "role": "trade_officer", "scope": "so-cong-thuong-vinh-long"}
HA_NOI = {"id": "off-hn", "name": "Trần Văn Minh", "role": "trade_officer", "scope": "so-cong-thuong-ha-noi"}


def seed(runtime, n: int = 6):
    from services.events.models import CertifiedProduct, ProducerView, ProductView

    names = ["Bưởi Năm Roi Mỹ Hòa", "Khô cá lóc Tư Bé", "Bánh tráng Phú Quới", "Trà Atiso", "Mật ong Bảy Núi"]
    with runtime.transaction() as s:
        for i in range(n):
            producer, product = f"pr-{i}", f"pd-{i}"
            name = names[i] if i < len(names) else f"Sản phẩm {i}"
            s.add(
                ProducerView(
                    producer_id=producer,
                    name=f"HTX Số {i}",
                    kind="cooperative",
                    province="Vĩnh Long",
                    region="mekong_delta",
                    source_version=1,
                )
            )
            s.add(ProductView(product_id=product, producer_id=producer, name=name, group=1, source_version=1))
            if i < n - 1:  # the last one is never certified: "why not?" says so
                s.add(
                    CertifiedProduct(
                        product_id=product,
                        product_name=name,
                        producer_id=producer,
                        producer_name=f"HTX Số {i}",
                        producer_kind="cooperative",
                        group=1,
                        province="Vĩnh Long",
                        region="mekong_delta",
                        stars=3 + i % 3,
                        certification_id=f"c-{i}",
                        valid_until=date.today() + timedelta(days=900),
                        source_version=1,
                    )
                )


@contextmanager
def events_app(tmp):
    """An events app of its own (SQLite under ``tmp``) with the pages and a seeded read model."""
    from support import TEST_TOKEN_PUBLIC_KEY

    from services.events.app import create_app
    from shared.config import load
    from shared.web import runtime_of

    settings = dataclasses.replace(
        load("events"),
        database_url=f"sqlite:///{tmp / 'events.sqlite'}",
        secret_key=TEST_SECRET,
        token_public_key=TEST_TOKEN_PUBLIC_KEY,
    )
    app = create_app(settings=settings, migrate=True)
    seed(runtime_of(app))
    try:
        yield app
    finally:
        runtime_of(app).engine.dispose()


_SESSIONS: dict[str, tuple[str, str]] = {}


def session_of(user) -> tuple[str, str]:
    """A real console session (shared.sessions, signed with the test issuer key): (cookie, csrf)."""
    from support import TEST_TOKEN_KEY

    from shared.sessions import issue_session  # after shared.auth, which it extends

    if user["id"] not in _SESSIONS:
        token = issue_session(TEST_TOKEN_KEY, {**user, "email": f"{user['id']}@example.vn"})
        _SESSIONS[user["id"]] = (token, jwt.decode(token, options={"verify_signature": False})["csrf"])
    return _SESSIONS[user["id"]]


def get(client, user, url):
    client.set_cookie("ocop_session", session_of(user)[0])
    return client.get(url)


def post(client, user, url, data=None, csrf: bool = True, **headers):
    """A form post as the browser sends it from one of our pages (same origin, with the csrf field)."""
    client.set_cookie("ocop_session", session_of(user)[0])
    fields = {**(data or {}), **({"csrf": session_of(user)[1]} if csrf else {})}
    return client.post(url, data=fields, headers={"Sec-Fetch-Site": "same-origin", **headers})


def form(**over):
    start = date.today() + timedelta(days=60)
    data = {
        "name": "Hội chợ OCOP Vĩnh Long mùa xuân",
        "kind": "trade_fair",
        "organiser": "Sở Công Thương Vĩnh Long",
        "organiser_contact": "Chị Lan",
        "organiser_phone": "0270 3822 123",
        "host_province": "Vinh Long",
        "venue": "Quảng trường Văn hóa",
        "venue_kind": "trade_centre",
        "starts_on": start.strftime("%d/%m/%Y"),
        "ends_on": (start + timedelta(days=4)).isoformat(),
        "invitation_deadline": (start - timedelta(days=20)).strftime("%d/%m/%Y") + " 17:00",
        "capacity": "3",
        "subsidy_per_booth": "12.000.000",
        "budget": "36.000.000",
        "rules.min_stars": "3",
        "rules.top_up": "on",
    }
    data.update(over)
    return data


def text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def create(client, user=VINH_LONG, **over) -> str:
    r = post(client, user, "/console/fairs/new", form(**over))
    assert r.status_code == 302, r.get_data(as_text=True)[:2000]
    return r.headers["Location"].rstrip("/").split("/")[-1]
