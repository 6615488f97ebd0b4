"""What the fuzzer found in query parameters, documented responses and response serialisation,
each checked on the shared platform (either mode): a bad parameter is a 422 naming it, never a
500; every instant an API returns carries its time zone (UTC); a producer reads announced fairs
only, without their budget, capacity, subsidy or rules."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from events_support import create_fair, publish

from shared.web import runtime_of

PUBLIC_FAIR_FIELDS = {
    "id",
    "name",
    "kind",
    "organiser",
    "organiser_contact",
    "organiser_phone",
    "organiser_email",
    "host_province",
    "region",
    "venue",
    "venue_kind",
    "starts_on",
    "ends_on",
    "invitation_deadline",
    "status",
    "cancel_reason",
}


def _utc(text: str) -> datetime:
    value = datetime.fromisoformat(text)
    assert value.tzinfo is not None and value.utcoffset() == timedelta(0), f"{text} is not in UTC with its offset"
    return value


def _field_errors(r) -> set:
    body = r.json()
    assert body["code"] == 422 and body["status"] == "Unprocessable Entity", body
    return {name for location in body["errors"].values() for name in location}


def test_a_page_no_database_can_count_to_is_refused_naming_it(api):
    for page in ("9223372036854775807", "1000001"):
        r = api.call("GET", "registry", "/products", "trade_officer", params={"q": "a", "page": page})
        assert r.status_code == 422 and _field_errors(r) == {"page"}, r.text
    r = api.call("GET", "registry", "/products", "trade_officer", params={"q": "a", "page": 1_000_000, "per_page": 500})
    assert r.status_code == 200 and r.json()["items"] == [], r.text  # the last page allowed: past the end, empty


def test_the_status_filter_with_certificate_filters_lists_and_exports(api):
    for params in (
        {"status": "current", "stars": 4},
        {"status": "revoked", "certified": "false"},
        {"status": "expired", "expiring_before": "2030-01-01"},
        {"status": "uncertified", "q": "a"},
    ):
        r = api.call("GET", "registry", "/products", "trade_officer", params=params)
        assert r.status_code == 200, (params, r.text)
        r = api.call("GET", "registry", "/products/export.csv", "trade_officer", params=params)
        assert r.status_code == 200 and r.text.lstrip("\ufeff").startswith("id,name,"), (params, r.text[:200])


def test_figures_over_a_range_outside_the_programme_years_are_refused_naming_the_end(api):
    r = api.call("GET", "events", "/figures", "trade_officer", params={"from": "0001-01-01", "to": "9999-12-31"})
    assert r.status_code == 422 and _field_errors(r) == {"from"}, r.text
    r = api.call("GET", "events", "/figures", "trade_officer", params={"from": "2026-01-01", "to": "9999-12-31"})
    assert r.status_code == 422 and _field_errors(r) == {"to"} and "2100" in r.json()["message"], r.text
    r = api.call("GET", "events", "/figures", "trade_officer", params={"from": "2008-01-01", "to": "2100-12-31"})
    assert r.status_code == 200 and r.json()["period"] == {"from": "2008-01-01", "to": "2100-12-31"}, r.text


def _deliveries(platform, producer_id: str) -> None:
    from services.notifications.models import Delivery

    rt = runtime_of(platform.apps["notifications"])
    with rt.transaction() as s:
        for status in ("sent", "undeliverable"):
            s.add(
                Delivery(
                    cause_event_id=str(uuid.uuid4()),
                    cause_event_type="events.invitation.issued",
                    channel="email" if status == "sent" else "none",
                    template="invitation_issued",
                    producer_id=producer_id,
                    language="vi",
                    subject="Lời mời",
                    body_text="...",
                    status=status,
                    last_error=None if status == "sent" else "email: no address",
                    sent_at=datetime.now(UTC) if status == "sent" else None,
                )
            )


def test_the_delivery_log_and_the_unreachable_list_give_instants_in_utc(platform, api):
    producer_id = str(uuid.uuid4())  # a recipient the service does not know: its name is null
    _deliveries(platform, producer_id)
    r = api.call("GET", "notifications", "/deliveries", "trade_officer", params={"producer_id": producer_id})
    assert r.status_code == 200 and len(r.json()) == 2, r.text
    for row in r.json():
        for name in ("created_at", "next_attempt_at"):
            _utc(row[name])
        assert row["sent_at"] is None if row["status"] == "undeliverable" else _utc(row["sent_at"])
    since = (datetime.now(UTC) - timedelta(minutes=5)).isoformat()
    r = api.call("GET", "notifications", "/unreachable", "trade_officer", params={"since": since})
    assert r.status_code == 200, r.text
    mine = [p for p in r.json() if p["producer_id"] == producer_id]
    assert len(mine) == 1 and mine[0]["name"] is None and len(mine[0]["messages"]) == 1, r.text
    assert _utc(mine[0]["messages"][0]["created_at"]) > datetime.now(UTC) - timedelta(minutes=5)


def test_a_producer_reads_announced_fairs_only_and_none_of_their_internals(api):
    draft = create_fair(api, "Gia Lai", budget=900_000_000)
    announced = publish(api, create_fair(api, "Gia Lai", budget=700_000_000)["id"], invite=False)
    producer = str(uuid.uuid4())

    r = api.call("GET", "events", "/fairs", "producer", sub=producer)
    assert r.status_code == 200, r.text
    ids = {f["id"] for f in r.json()}
    assert announced["id"] in ids and draft["id"] not in ids
    assert all(set(f) == PUBLIC_FAIR_FIELDS and f["status"] != "draft" for f in r.json()), r.json()[:2]
    r = api.call("GET", "events", "/fairs", "producer", sub=producer, params={"status": "draft"})
    assert r.status_code == 200 and r.json() == []

    r = api.call("GET", "events", f"/fairs/{announced['id']}", "producer", sub=producer)
    assert r.status_code == 200 and set(r.json()) == PUBLIC_FAIR_FIELDS, r.text
    _utc(r.json()["invitation_deadline"])
    r = api.call("GET", "events", f"/fairs/{draft['id']}", "producer", sub=producer)
    assert r.status_code == 404 and r.json()["message"] == f"no fair {draft['id']}", r.text

    # the public calendar lists what a producer may read
    feed = api.call("GET", "events", "/calendars/fairs.ics").text
    assert announced["id"] in feed and draft["id"] not in feed
    # staff still see everything, drafts and budgets included
    r = api.call("GET", "events", "/fairs", "trade_officer", params={"status": "draft"})
    assert {f["id"]: f["budget"] for f in r.json()}[draft["id"]] == 900_000_000
