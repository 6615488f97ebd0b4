"""Capacity holds when many producers accept the last booths at the same moment.

Concurrent HTTP requests against the events API, each in its own thread and database session.
On PostgreSQL (real mode) they really run at once: the fair's row lock serialises booth
assignment and the producer's advisory lock serialises one producer's acceptances. On SQLite the
same test passes because writers serialise at BEGIN IMMEDIATE.
"""

from __future__ import annotations

import threading
from collections import Counter

from events_support import answer, by_producer, create_fair, events_of, get_fair, invitations, publish, register_many

ROUNDS = 3
PRODUCERS = 15
CAPACITY = 5


def at_once(calls):
    """Run the calls in threads released together by a barrier; their responses in order."""
    barrier = threading.Barrier(len(calls))
    out = [None] * len(calls)

    def run(i, call):
        barrier.wait()
        out[i] = call()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return out


def test_many_producers_accepting_the_last_booths_at_once_never_exceed_capacity(platform, api, mode):
    producers = register_many(api, PRODUCERS, "Đồng Nai")
    mine = {p["id"] for p in producers}
    for n in range(ROUNDS):  # fairs on dates that do not overlap, so every producer is free for each
        fair = create_fair(
            api, "Đồng Nai", capacity=CAPACITY, starts_in=60 + 20 * n, rules={"overbooking_percent": 200}
        )
        publish(api, fair["id"])
        offered = [i for i in invitations(api, fair["id"], "issued") if i["producer_id"] in mine]
        assert len(offered) == PRODUCERS  # 5 booths, offered to 15 (overbooked by 200%)

        responses = at_once([lambda inv=inv: answer(api, inv) for inv in offered])
        codes = Counter(r.status_code for r in responses)
        assert codes == {200: CAPACITY, 409: PRODUCERS - CAPACITY}, (mode, codes)
        won = sorted(b for r in responses if r.status_code == 200 for b in r.json()["booths"])
        assert won == list(range(1, CAPACITY + 1))

        after = get_fair(api, fair["id"])
        assert after["booths_assigned"] == CAPACITY
        states = Counter(i["status"] for i in by_producer(api, fair["id"]).values())
        assert states == {"accepted": CAPACITY, "withdrawn": PRODUCERS - CAPACITY}
        assigned = events_of(platform, "events.booth.assigned", fair["id"])
        assert sorted(e["data"]["booths_assigned"] for e in assigned) == list(range(1, CAPACITY + 1))
        assert sorted(b for e in assigned for b in e["data"]["booths"]) == list(range(1, CAPACITY + 1))
        assert len({e["subject_version"] for e in assigned}) == CAPACITY  # each a newer state of the fair


def test_one_producer_accepting_two_overlapping_fairs_at_once_gets_one(platform, api):
    [producer] = register_many(api, 1, "Tây Ninh")
    fairs = [create_fair(api, "Tây Ninh", capacity=2) for _ in range(2)]  # the same dates
    for fair in fairs:
        publish(api, fair["id"])
    offers = [by_producer(api, fair["id"])[producer["id"]] for fair in fairs]
    responses = at_once([lambda inv=inv: answer(api, inv) for inv in offers])
    assert sorted(r.status_code for r in responses) == [200, 409]
    refused = next(r for r in responses if r.status_code == 409)
    assert "already exhibiting at" in refused.json()["message"]
    assert sorted(get_fair(api, f["id"])["booths_assigned"] for f in fairs) == [0, 1]
