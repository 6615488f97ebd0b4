"""The demo register's history (embedded/demo.py) whatever day it is loaded: 2023 stays the seed's
year, every product stays current (re-certified a month before its 36 months run out), none is
within the 30-day notice, and no decision is dated after the day of loading."""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta

import pytest

from embedded import demo
from services.registry.domain import valid_until


@pytest.mark.parametrize("today", [date(2026, 12, 4), date(2027, 8, 1), date(2029, 3, 1), date(2031, 12, 31)])
def test_the_history_keeps_2023_and_a_current_register(today):
    decisions = demo.decisions(today)
    assert all(d["date"] <= today for d in decisions)
    assert [d["date"] for d in decisions] == sorted(d["date"] for d in decisions)
    year = Counter(d["kind"] for d in decisions if d["date"].year == 2023 for _ in d["scores"])
    assert year == {"certify": 45, "recertify": 40, "upgrade": 30}
    assert {i for d in decisions if d["date"].year == 2023 and d["kind"] == "certify" for i in d["scores"]} >= set(
        demo.TOURISM
    )
    latest: dict[int, tuple[date, int]] = {}
    for d in decisions:
        for i, score in d["scores"].items():
            assert i not in latest or valid_until(latest[i][0]) > d["date"]  # never lapsed before renewal
            latest[i] = (d["date"], score)
    assert len(latest) == 200
    assert all(valid_until(day) > today + timedelta(days=30) for day, _ in latest.values())
    assert Counter(4 if score >= 70 else 3 for _, score in latest.values()) == {3: 110, 4: 90}
    assert sum(score >= 90 for _, score in latest.values()) == 16
    assert {d["issued_by"] for d in decisions if d["date"] >= date(2025, 7, 1)} <= {"UBND tỉnh Vĩnh Long"}
