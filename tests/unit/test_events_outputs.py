"""The events service's outputs, pure parts: programme figures (Gini, top-10% share, fairness,
tallies, fill and subsidy, periods) and the iCalendar feeds, parsed back with icalendar."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from icalendar import Calendar
from icalendar.prop import vDDDTypes

from services.events.domain import RuleError
from services.events.outputs import calendars, figures


# ---- figures -----------------------------------------------------------------------------------
def test_gini_of_even_and_of_concentrated_spreads():
    assert figures.gini([3, 3, 3, 3]) == 0.0
    assert figures.gini([0, 0, 0, 10]) == 0.75  # one of four has everything: 1 - 1/4
    assert figures.gini([]) == 0.0 and figures.gini([0, 0]) == 0.0
    # 1, 2, 3, 4: (2 * (1 + 4 + 9 + 16)) / (4 * 10) - 5/4 = 0.25
    assert figures.gini([4, 1, 3, 2]) == 0.25
    with pytest.raises(ValueError):
        figures.gini([1, -1])


def test_gini_grows_as_invitations_concentrate():
    spread = figures.gini([2, 2, 1, 1, 0])
    narrower = figures.gini([4, 1, 1, 0, 0])
    assert 0 < spread < narrower < 1


def test_top_share_rounds_the_top_decile_up():
    assert figures.top_share([5] + [1] * 9) == round(5 / 14, 4)  # 10 holders: the top 1
    assert figures.top_share([5, 4] + [1] * 13) == round(9 / 22, 4)  # 15 holders: the top 2
    assert figures.top_share([7]) == 1.0
    assert figures.top_share([]) is None and figures.top_share([0, 0]) is None


def test_fairness_counts_eligible_producers_never_invited_as_zeros():
    eligible = {"a", "b", "c", "d"}
    result = figures.fairness(eligible, {"a": 3, "b": 1, "x": 1, "z": 0})
    assert result.eligible_producers == 4 and result.eligible_invited == 2
    assert result.invited_share == 0.5
    assert result.invited_producers == 3 and result.invitations == 5  # x was invited without being eligible
    assert result.spread_over == 5 and result.max_per_producer == 3
    assert result.gini == figures.gini([3, 1, 0, 0, 1])
    assert result.top10_share == 0.6  # the top 1 of 5 had 3 of 5


def test_fairness_of_nothing():
    result = figures.fairness(set(), {})
    assert (result.invited_share, result.gini, result.top10_share) == (None, 0.0, None)


def test_tallies_sum_per_key_and_order_known_keys_first():
    rows = [("mekong_delta", 3, 1), ("southeast", 1, 1), ("mekong_delta", 2, 2), (None, 4, 0), ("zzz", 4, 1)]
    out = figures.tallies(rows, order=["red_river_delta", "southeast", "mekong_delta"])
    assert [t["key"] for t in out] == ["southeast", "mekong_delta", "unknown", "zzz"]
    assert out[1] == {"key": "mekong_delta", "invitations": 5, "acceptances": 3, "acceptance_rate": 0.6}
    assert out[2]["acceptance_rate"] == 0.0


def test_fair_figures_fill_rate_and_subsidy_against_budget():
    out = figures.fair_figures(capacity=200, booths_assigned=150, subsidy_per_booth=8_000_000, budget=2_000_000_000)
    assert out["fill_rate"] == 0.75 and out["subsidy_committed"] == 1_200_000_000
    assert out["budget_used"] == 0.6 and out["budget_left"] == 800_000_000
    none = figures.fair_figures(capacity=10, booths_assigned=0, subsidy_per_booth=0, budget=None)
    assert (none["fill_rate"], none["budget_used"], none["budget_left"]) == (0.0, None, None)


def test_periods_and_the_certificates_valid_in_them():
    today = date(2026, 5, 3)
    assert figures.period(2025, None, None, today) == (date(2025, 1, 1), date(2025, 12, 31))
    assert figures.period(None, None, None, today) == (date(2026, 1, 1), date(2026, 12, 31))
    assert figures.period(None, date(2026, 3, 1), date(2026, 3, 31), today) == (date(2026, 3, 1), date(2026, 3, 31))
    with pytest.raises(RuleError) as err:
        figures.period(None, date(2026, 3, 1), None, today)
    assert err.value.field == "to"
    with pytest.raises(RuleError) as err:
        figures.period(None, date(2026, 3, 1), date(2026, 2, 1), today)
    assert err.value.field == "to" and "before from" in err.value.message
    # valid 36 months from the decision: a certificate decided on 31 Dec 2026 at the latest
    assert figures.certified_window(date(2026, 1, 1), date(2026, 12, 31)) == (date(2026, 1, 1), date(2029, 12, 31))
    assert figures.add_months(date(2024, 1, 31), 1) == date(2024, 2, 29)


# ---- calendars ---------------------------------------------------------------------------------
def _fair(**over) -> calendars.FairEntry:
    values = {
        "id": "f1",
        "name": "Hội chợ OCOP Đồng bằng sông Cửu Long 2026",
        "kind": "trade_fair",
        "organiser": "Sở Công Thương Cần Thơ",
        "venue": "Công viên sông Hậu",
        "host_province": "Cần Thơ",
        "starts_on": date(2026, 7, 1),
        "ends_on": date(2026, 7, 5),
        "status": "inviting",
        "version": 3,
        "invitation_deadline": datetime(2026, 6, 1, 10, 0, tzinfo=UTC),
        "cancel_reason": None,
        "created_at": datetime(2026, 5, 1, tzinfo=UTC),
        "updated_at": datetime(2026, 5, 2, 8, tzinfo=UTC),
    }
    return calendars.FairEntry(**{**values, **over})


def _events(body: bytes) -> list:
    return Calendar.from_ical(body).walk("VEVENT")


def test_public_feed_entry_all_day_with_vietnamese_text_and_location():
    cal = Calendar.from_ical(calendars.fairs_feed([_fair()]))
    assert str(cal["x-wr-timezone"]) == "Asia/Ho_Chi_Minh"
    [event] = cal.walk("VEVENT")
    assert str(event["uid"]) == "fair-f1@ocop.local"
    assert str(event["summary"]) == "Hội chợ OCOP Đồng bằng sông Cửu Long 2026"
    assert str(event["location"]) == "Công viên sông Hậu, Cần Thơ"
    assert event["dtstart"].dt == date(2026, 7, 1) and event["dtend"].dt == date(2026, 7, 6)  # exclusive
    assert not isinstance(event["dtstart"].dt, datetime)
    assert event["sequence"] == 3 and str(event["status"]) == "CONFIRMED" and str(event["transp"]) == "TRANSPARENT"
    assert "17:00 01/06/2026 (giờ Việt Nam)" in str(event["description"])  # 10:00 UTC is 17:00 in Vietnam
    deadline = event["x-ocop-invitation-deadline"]
    assert deadline.params["TZID"] == "Asia/Ho_Chi_Minh"
    assert vDDDTypes.from_ical(deadline.to_ical().decode(), timezone="Asia/Ho_Chi_Minh") == datetime(
        2026, 6, 1, 10, 0, tzinfo=UTC
    )
    [zone] = cal.walk("VTIMEZONE")
    assert str(zone["tzid"]) == "Asia/Ho_Chi_Minh"


def test_cancelled_fair_keeps_its_uid_with_a_higher_sequence():
    before = _events(calendars.fairs_feed([_fair()]))[0]
    after = _events(calendars.fairs_feed([_fair(status="cancelled", version=4, cancel_reason="Bão số 3")]))[0]
    assert after["uid"] == before["uid"] and after["sequence"] > before["sequence"]
    assert str(after["status"]) == "CANCELLED" and "Bão số 3" in str(after["description"])
    assert "x-ocop-invitation-deadline" not in after


def test_producer_feed_confirms_accepted_and_cancels_the_rest():
    going = calendars.BoothEntry("i1", "accepted", 2, [17, 18], None, _fair())
    withdrawn = calendars.BoothEntry(
        "i2",
        "withdrawn",
        3,
        [],
        "the certificate of Mắm tôm was revoked",
        _fair(id="f2", name="Triển lãm Hà Nội", starts_on=date(2026, 9, 1), ends_on=date(2026, 9, 1)),
    )
    off = calendars.BoothEntry("i3", "accepted", 2, [4], None, _fair(id="f3", status="cancelled", version=9))
    cal = Calendar.from_ical(calendars.producer_feed("Hợp tác xã Dừa Xanh", [going, withdrawn, off]))
    assert str(cal["x-wr-calname"]) == "Lịch hội chợ OCOP — Hợp tác xã Dừa Xanh"
    first, second, third = cal.walk("VEVENT")
    assert str(first["uid"]) == "booth-i1@ocop.local" and first["sequence"] == 3 + 2
    assert (str(first["status"]), str(first["transp"])) == ("CONFIRMED", "OPAQUE")
    assert "Gian hàng số: 17, 18" in str(first["description"])
    assert str(second["status"]) == "CANCELLED" and "revoked" in str(second["description"])
    assert second["dtend"].dt == date(2026, 9, 2)  # a one-day fair ends the next day (exclusive)
    assert str(third["status"]) == "CANCELLED" and str(third["transp"]) == "TRANSPARENT"


def test_feed_tokens_are_bound_to_producer_and_secret():
    token = calendars.feed_token("s3cret", "p-1")
    assert calendars.feed_producer("s3cret", token) == "p-1"
    assert calendars.feed_producer("rotated", token) is None  # a new secret revokes every link
    assert calendars.feed_producer("s3cret", token[:-2] + "xx") is None


def test_signed_links_use_hmac_sha256_not_itsdangerous_sha1_default():
    from itsdangerous import URLSafeSerializer

    from shared import keys

    key = keys.key("calendar-link", "s3cret")
    sha1_feed = URLSafeSerializer(key, salt=calendars.FEED_SALT).dumps({"producer_id": "p-1"})
    assert calendars.feed_producer("s3cret", sha1_feed) is None
