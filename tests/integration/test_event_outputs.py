"""The events service's outputs through its HTTP API, in both modes: the public iCalendar feed and a
producer's calendar (bearer or signed link, revoked by changing the secret), the participants'
CSV export, and the programme figures, each parsed back (icalendar, csv) and checked against the
invitations the fairs actually made.

Isolation: every producer here is from Lào Cai, which no other test module uses, and each test's
fairs admit one product group of its own (1 to 4); the figures' fairs start about two years ahead,
where no other test's do, and only the figures test's producers hold certificates valid then.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import uuid
from datetime import date, timedelta

from events_support import answer, by_producer, create_fair, get_fair, invitations, known, publish, register
from icalendar import Calendar
from support import wait_for

from services.events.outputs import figures


def feed(api, params=None, **kw):
    return api.call("GET", "events", "/calendars/fairs.ics", params=params, **kw)


def vevents(response) -> dict[str, object]:
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("text/calendar")
    return {str(e["uid"]): e for e in Calendar.from_ical(response.content).walk("VEVENT")}


def producer_feed(api, producer_id, role=None, sub=None, token=None):
    return api.call(
        "GET",
        "events",
        f"/calendars/producers/{producer_id}.ics",
        role,
        sub=sub,
        params={"token": token} if token is not None else None,
    )


def refused(r, status: int, field: str | None = None, where: str = "query"):
    assert r.status_code == status, f"{r.status_code}: {r.text}"
    if field:
        assert field in r.json()["errors"][where], r.json()
    return r.json()


def offered_per_producer(api, fair_ids) -> dict[str, int]:
    counts: dict[str, int] = {}
    for fair_id in fair_ids:
        for inv in invitations(api, fair_id):
            if inv["issued_at"] is not None:
                counts[inv["producer_id"]] = counts.get(inv["producer_id"], 0) + 1
    return counts


# ---- calendars ---------------------------------------------------------------------------------
def test_public_feed_lists_announced_fairs_and_marks_cancelled_ones(api):
    a, b = register(api, "Lào Cai"), register(api, "Lào Cai")
    known(api, [a["products"][0]["id"], b["products"][0]["id"]])
    fair = create_fair(
        api,
        "Lào Cai",
        capacity=2,
        name="Hội chợ Nông sản OCOP vùng cao Lào Cai",
        venue="Quảng trường Nguyễn Tri Phương",
        rules={"groups": [1]},
    )
    draft = create_fair(api, "Lào Cai", rules={"groups": [1]})
    dropped = create_fair(api, "Lào Cai", rules={"groups": [1]})
    assert api.call("POST", "events", f"/fairs/{dropped['id']}/cancel", "trade_officer", json={}).ok
    announced = create_fair(api, "Lào Cai", kind="exhibition", rules={"groups": [1]})
    publish(api, fair["id"])
    publish(api, announced["id"], invite=False)

    entries = vevents(feed(api))  # no token: calendar apps subscribe by URL
    uid = f"fair-{fair['id']}@ocop.local"
    assert uid in entries and f"fair-{announced['id']}@ocop.local" in entries
    assert f"fair-{draft['id']}@ocop.local" not in entries
    assert f"fair-{dropped['id']}@ocop.local" not in entries  # cancelled as a draft: never public
    event = entries[uid]
    assert str(event["summary"]) == "Hội chợ Nông sản OCOP vùng cao Lào Cai"
    assert str(event["location"]) == "Quảng trường Nguyễn Tri Phương, Cần Thơ"
    assert event["dtstart"].dt == date.fromisoformat(fair["starts_on"])
    assert event["dtend"].dt == date.fromisoformat(fair["ends_on"]) + timedelta(days=1)
    assert str(event["status"]) == "CONFIRMED" and event["sequence"] == get_fair(api, fair["id"])["version"]
    assert event["x-ocop-invitation-deadline"].params["TZID"] == "Asia/Ho_Chi_Minh"

    r = api.call("PATCH", "events", f"/fairs/{fair['id']}", "trade_officer", json={"venue": "Nhà thi đấu Lào Cai"})
    assert r.status_code == 200, r.text
    moved = vevents(feed(api))[uid]
    assert moved["sequence"] > event["sequence"] and str(moved["location"]) == "Nhà thi đấu Lào Cai, Cần Thơ"

    r = api.call("POST", "events", f"/fairs/{fair['id']}/cancel", "trade_officer", json={"reason": "Mưa lũ"})
    assert r.status_code == 200, r.text
    gone = vevents(feed(api))[uid]
    assert str(gone["status"]) == "CANCELLED" and gone["sequence"] > moved["sequence"]
    assert "Mưa lũ" in str(gone["description"])

    only = vevents(feed(api, {"kind": "exhibition"}))
    assert f"fair-{announced['id']}@ocop.local" in only and uid not in only
    refused(feed(api, {"region": "atlantis"}), 422, "region")


def test_producer_calendar_by_bearer_or_signed_link(monkeypatch, platform, api):
    a, b, c = (register(api, "Lào Cai", group=2, decided=d) for d in ("2025-07-20", "2025-06-20", "2025-05-20"))
    known(api, [m["products"][0]["id"] for m in (a, b, c)])
    fair = create_fair(api, "Lào Cai", capacity=3, name="Phiên chợ OCOP Sa Pa — chợ tình Bắc Hà", rules={"groups": [2]})
    publish(api, fair["id"])
    mine = by_producer(api, fair["id"])
    for producer, verdict in ((a, "accept"), (b, "accept"), (c, "decline")):
        assert answer(api, mine[producer["id"]], verdict).status_code == 200

    entries = vevents(producer_feed(api, a["id"], "producer", sub=a["id"]))
    [(uid, event)] = entries.items()
    assert uid == f"booth-{mine[a['id']]['id']}@ocop.local"
    assert str(event["summary"]) == "Phiên chợ OCOP Sa Pa — chợ tình Bắc Hà"
    assert (str(event["status"]), str(event["transp"])) == ("CONFIRMED", "OPAQUE")
    booth = by_producer(api, fair["id"])[a["id"]]["booth"]
    assert f"Gian hàng số: {booth}" in str(event["description"])
    assert vevents(producer_feed(api, c["id"], "producer", sub=c["id"])) == {}  # declined: nothing
    assert len(vevents(producer_feed(api, b["id"], "trade_officer"))) == 1  # staff may read any

    refused(producer_feed(api, b["id"], "producer", sub=a["id"]), 403)  # someone else's
    refused(producer_feed(api, a["id"]), 401)  # neither token nor link
    refused(api.call("GET", "events", f"/calendars/producers/{a['id']}/calendar-link", "producer", sub=b["id"]), 403)
    refused(api.call("GET", "events", f"/calendars/producers/{uuid.uuid4()}/calendar-link", "trade_officer"), 404)

    r = api.call("GET", "events", f"/calendars/producers/{a['id']}/calendar-link", "producer", sub=a["id"])
    assert r.status_code == 200, r.text
    link = r.json()
    assert link["webcal"].startswith("webcal://") and link["url"].endswith(link["webcal"].split("://", 1)[1])
    subscribed = api.http.get(link["url"], timeout=30)  # as a calendar app: no header
    assert set(vevents(subscribed)) == {uid}
    token = link["url"].split("token=", 1)[1]
    refused(producer_feed(api, b["id"], token=token), 403)  # a's link names a
    refused(producer_feed(api, a["id"], token=token[:-3] + "abc"), 401)

    r = api.call(
        "POST",
        "events",
        f"/invitations/{mine[b['id']]['id']}/withdraw",
        "trade_officer",
        json={"reason": "Sản phẩm chưa đạt yêu cầu trưng bày"},
    )
    assert r.status_code == 200, r.text
    [withdrawn] = vevents(producer_feed(api, b["id"], "producer", sub=b["id"])).values()
    assert str(withdrawn["status"]) == "CANCELLED" and "Sản phẩm chưa đạt yêu cầu" in str(withdrawn["description"])

    assert api.call("POST", "events", f"/fairs/{fair['id']}/cancel", "trade_officer", json={}).ok
    cancelled = vevents(api.http.get(link["url"], timeout=30))[uid]
    assert str(cancelled["status"]) == "CANCELLED" and cancelled["sequence"] > event["sequence"]

    events = platform.runtimes["events"]  # OCOP_CALENDAR_SECRET rotated (and the service restarted):
    rotated = {**events.settings.key_overrides, "calendar-link": "rotated-after-a-leak"}
    monkeypatch.setattr(events, "settings", dataclasses.replace(events.settings, key_overrides=rotated))
    refused(api.http.get(link["url"], timeout=30), 401)
    fresh = api.call("GET", "events", f"/calendars/producers/{a['id']}/calendar-link", "producer", sub=a["id"])
    assert fresh.json()["url"] != link["url"] and api.http.get(fresh.json()["url"], timeout=30).status_code == 200


# ---- participants ------------------------------------------------------------------------------
def parse_csv(response) -> list[dict]:
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("text/csv")
    assert response.content.startswith("\ufeff".encode())
    return list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))


def test_participants_export_with_booths_contacts_and_subsidy(api):
    two = register(api, "Lào Cai", group=3, products=2, name="Hợp tác xã Dược liệu Bát Xát", decided="2025-07-20")
    one = register(api, "Lào Cai", group=3, kind="household", decided="2025-06-20")
    late = register(api, "Lào Cai", group=3, decided="2025-01-20")
    known(api, [p["id"] for m in (two, one, late) for p in m["products"]])
    fair = create_fair(
        api,
        "Lào Cai",
        capacity=2,
        subsidy_per_booth=6_500_000,
        rules={"groups": [3], "max_products_per_producer": 2, "waitlist_size": 5},
    )
    publish(api, fair["id"])
    mine = by_producer(api, fair["id"])
    assert mine[late["id"]]["status"] == "waitlisted"
    for producer in (two, one):
        assert answer(api, mine[producer["id"]]).status_code == 200
    booths = {p: i["booth"] for p, i in by_producer(api, fair["id"]).items()}

    url = f"/fairs/{fair['id']}/participants.csv"
    rows = parse_csv(api.call("GET", "events", url, "trade_officer"))
    assert list(rows[0]) == [
        "status",
        "rank",
        "booths",
        "producer_id",
        "producer",
        "producer_kind",
        "province",
        "region",
        "email",
        "phone",
        "product_id",
        "product",
        "group",
        "subgroup",
        "stars",
        "certificate_valid_until",
        "certificate_status",
        "subsidy",
    ]
    assert [r["producer_id"] for r in rows] == sorted(
        [two["id"], two["id"], one["id"]], key=lambda p: booths[p]
    )  # by booth
    first, second = (r for r in rows if r["producer_id"] == two["id"])
    assert first["producer"] == two["producer"]["name"] and first["producer"].startswith("Hợp tác xã Dược liệu Bát Xát")
    assert (first["province"], first["region"], first["email"]) == (
        "Lào Cai",
        "northern_midlands_mountains",
        two["email"],
    )
    assert {first["product"], second["product"]} == {"Mật ong rừng U Minh 1", "Mật ong rừng U Minh 2"}
    assert first["booths"] == str(booths[two["id"]]) and first["stars"] == "4" and first["group"] == "3"
    assert (first["subsidy"], second["subsidy"]) == ("6500000", "")  # once per producer: the column sums up
    assert first["certificate_valid_until"] == "2028-07-20" and first["certificate_status"] == "current"
    household = next(r for r in rows if r["producer_id"] == one["id"])
    assert household["producer_kind"] == "household" and household["subsidy"] == "6500000"
    assert sum(int(r["subsidy"] or 0) for r in rows) == 2 * 6_500_000

    wider = parse_csv(api.call("GET", "events", url, "trade_officer", params={"status": "accepted,waitlisted"}))
    assert [r["status"] for r in wider] == ["accepted"] * 3 + ["waitlisted"]
    assert wider[-1]["producer_id"] == late["id"] and wider[-1]["booths"] == "" and wider[-1]["subsidy"] == ""

    refused(api.call("GET", "events", url, "trade_officer", params={"status": "accepted,invited"}), 422, "status")
    refused(api.call("GET", "events", url, "producer", sub=two["id"]), 403)
    refused(api.call("GET", "events", url, "integration"), 403)
    refused(api.call("GET", "events", f"/fairs/{uuid.uuid4()}/participants.csv", "trade_officer"), 404)


# ---- programme figures -------------------------------------------------------------------------
def test_programme_figures_against_the_invitations_made(api):
    today = date.today().isoformat()
    made = [register(api, "Lào Cai", group=4, decided=today) for _ in range(4)]
    made.append(register(api, "Yên Bái", group=4, kind="household", decided=today))  # merged into Lào Cai
    ended = register(api, "Lào Cai", group=4, decided=today)
    known(api, [m["products"][0]["id"] for m in made + [ended]])
    r = api.call(
        "POST",
        "registry",
        f"/certifications/{ended['certs'][0]['id']}/revoke",
        "registry_officer",
        json={"reason": "Ngừng sản xuất", "decision_number": "77/QĐ-UBND", "decision_date": today},
    )
    assert r.status_code == 200, r.text

    def revoked():
        return (
            api.call("GET", "events", f"/catalogue/{ended['products'][0]['id']}", "trade_officer").json()["status"]
            == "revoked"
        )

    wait_for(revoked, message="revocation in the read model")
    first = create_fair(
        api,
        "Lào Cai",
        capacity=2,
        starts_in=700,
        subsidy_per_booth=5_000_000,
        budget=40_000_000,
        name="Hội chợ OCOP Lào Cai lần thứ nhất",
        rules={"groups": [4]},
    )
    second = create_fair(api, "Lào Cai", capacity=2, starts_in=710, subsidy_per_booth=4_000_000, rules={"groups": [4]})
    for fair in (first, second):
        publish(api, fair["id"])
    accepted = 0
    for fair in (first, second):
        for inv in invitations(api, fair["id"], "issued")[:1]:
            assert answer(api, inv).status_code == 200
            accepted += 1
    start = date.fromisoformat(first["starts_on"])
    params = {
        "from": (start - timedelta(days=3)).isoformat(),
        "to": (start + timedelta(days=20)).isoformat(),
        "province": "Lào Cai",
    }

    r = api.call("GET", "events", "/figures", "trade_officer", params=params)
    assert r.status_code == 200, r.text
    out = r.json()
    offered = offered_per_producer(api, [first["id"], second["id"]])
    assert out["period"] == {"from": params["from"], "to": params["to"]}
    assert out["filters"]["provinces"] == ["Lào Cai"]
    assert out["overall"]["invitations"] == sum(offered.values()) == 4
    assert out["overall"]["acceptances"] == accepted == 2
    assert out["by_region"] == [
        {"key": "northern_midlands_mountains", "invitations": 4, "acceptances": 2, "acceptance_rate": 0.5}
    ]
    assert out["by_province"][0]["key"] == "Lào Cai" and len(out["by_province"]) == 1
    assert out["by_group"] == [{"key": "4", "invitations": 4, "acceptances": 2, "acceptance_rate": 0.5}]
    kinds = {t["key"]: t["invitations"] for t in out["by_producer_kind"]}
    household = offered.get(made[-1]["id"], 0)
    assert kinds.get("cooperative", 0) == 4 - household and kinds.get("household", 0) == household

    fairs = {f["fair_id"]: f for f in out["fairs"]}
    one = fairs[first["id"]]
    assert (one["capacity"], one["booths_assigned"], one["fill_rate"]) == (2, 1, 0.5)
    assert (one["subsidy_committed"], one["budget"], one["budget_used"], one["budget_left"]) == (
        5_000_000,
        40_000_000,
        0.125,
        35_000_000,
    )
    assert (one["invitations"], one["acceptances"], one["name"]) == (2, 1, "Hội chợ OCOP Lào Cai lần thứ nhất")
    assert fairs[second["id"]]["budget_used"] is None and fairs[second["id"]]["subsidy_committed"] == 4_000_000
    assert out["overall"]["capacity"] == sum(f["capacity"] for f in out["fairs"])
    assert out["overall"]["subsidy_committed"] == sum(f["subsidy_committed"] for f in out["fairs"])

    fair_share = out["fairness"]
    eligible = {m["id"] for m in made}  # the revoked one was not certified in the period
    assert fair_share["eligible_producers"] == 5
    assert fair_share["eligible_invited"] == len(eligible & set(offered))
    assert fair_share["invited_share"] == round(len(eligible & set(offered)) / 5, 4)
    amounts = [offered.get(p, 0) for p in eligible | set(offered)]
    assert fair_share["gini"] == figures.gini(amounts) and fair_share["top10_share"] == figures.top_share(amounts)

    elsewhere = api.call("GET", "events", "/figures", "trade_officer", params={**params, "province": "Hưng Yên"})
    assert elsewhere.json()["overall"]["invitations"] == 0 and elsewhere.json()["fairness"]["invited_producers"] == 0
    assert first["id"] in {f["fair_id"] for f in elsewhere.json()["fairs"]}  # the fairs' own figures stay

    year = api.call("GET", "events", "/figures", "integration", params={"year": start.year + 5})
    assert year.status_code == 200 and year.json()["fairs"] == []

    refused(
        api.call("GET", "events", "/figures", "trade_officer", params={"year": 2026, "from": "2026-01-01"}), 422, "year"
    )
    refused(api.call("GET", "events", "/figures", "trade_officer", params={"from": "2026-01-01"}), 422, "to")
    refused(
        api.call("GET", "events", "/figures", "trade_officer", params={"from": "2026-03-01", "to": "2026-02-01"}),
        422,
        "to",
    )
    refused(api.call("GET", "events", "/figures", "trade_officer", params={"province": "Atlantis"}), 422, "province")
    refused(api.call("GET", "events", "/figures", "producer", sub=made[0]["id"]), 403)
