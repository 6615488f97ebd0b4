"""Matching one fair against 200,000 certified products, against just selecting the eligible rows,
measured in the same run on PostgreSQL.

Untimed setup (``bench/_catalogue.py``): database ``ocop_bench_match`` next to ``BENCH_PG_URL``,
dropped, created and migrated with the events service's migrations, loaded with a read model of
200,000 certified products of 100,000 producers (realistic names, groups, stars, regions,
validity; some expired or revoked) and a year of history (60 fairs held, 20 coming with
acceptances), then analysed. One fair is created through the API's schema and operation: the
national OCOP fair in Hà Nội, 220 booths, food at most 60%, the default rules (3★ and up, valid
through its last day: about 186,000 products of 97,000 producers admit).

Timed, in alternating order over ``--rounds`` rounds, each in its own transaction:

- select (the baseline): the eligible rows, with every column a candidate has, by the same SQL
  filter matching uses, fetched into Python as tuples through the driver's cursor (the fastest
  way this stack reads rows);
- match: what publishing the fair computes before it writes anything: ``standings.preview``
  (the rows matching reads, the producers' last 12 months, who is busy at an overlapping fair,
  the ranking, the selection) and then every decision walked and the pick of each producer to
  invite or waitlist built with its products, parts and reasons, as ``_start_inviting`` does.

Figures (medians): ``match`` seconds against ``select`` seconds (ratio: target at most 2). stderr
gets the parts of one match (rows, history and busy, ranking, selection, picks).

    bench/run match [--products 200000] [--producers 100000] [--rounds 5] [--seed 3]
                    [--profile FILE] [--keep]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATABASE = "ocop_bench_match"
BENCH = "match"


def _log(text: str) -> None:
    print(f"[{BENCH}] {text}", file=sys.stderr, flush=True)


def national_fair(today: date) -> dict:
    starts = today + timedelta(days=60)
    return {
        "name": "Hội chợ triển lãm sản phẩm OCOP toàn quốc",
        "kind": "trade_fair",
        "organiser": "Bộ Công Thương",
        "organiser_kind": "ministry",
        "host_province": "Hà Nội",
        "region": "red_river_delta",
        "venue": "Trung tâm Triển lãm Giảng Võ",
        "starts_on": starts.isoformat(),
        "ends_on": (starts + timedelta(days=4)).isoformat(),
        "capacity": 220,
        "invitation_deadline": (datetime.now(UTC) + timedelta(days=30)).isoformat(),
        "subsidy_per_booth": 12_000_000,
        "rules": {"min_stars": 3, "group_quotas": {"1": 0.6}},
    }


def create_fair(factory, body: dict) -> str:
    from services.events import fairs
    from services.events.schemas import FairIn

    with factory() as s, s.begin():
        return fairs.create_fair(s, FairIn().load(body)).id


def select_eligible(factory, fair_id: str) -> int:
    """The baseline: the eligible rows, every candidate column, same filter, through the driver."""
    from sqlalchemy import select

    from services.events import queries, selection, standings

    with factory() as s, s.begin():
        t = standings.terms(queries.get_fair(s, fair_id))
        return len(selection.fetch(s, select(*selection._FULL).where(*selection.certified_filter(t))))


def match(factory, fair_id: str, now: datetime, parts: dict | None = None) -> tuple[Counter, int]:
    """Publishing's matching, short of writing: preview, then every decision walked and the picks
    to invite or waitlist built (products, parts, reasons). ``parts``: filled with the time of
    each step of ``standings.preview`` and of the picks."""
    from services.events import matching, queries, selection, standings

    clock = [time.perf_counter()]

    def lap(name: str) -> None:
        if parts is not None:
            parts[name], clock[0] = time.perf_counter() - clock[0], time.perf_counter()

    with factory() as s, s.begin():
        fair = queries.get_fair(s, fair_id)
        if parts is None:
            decisions = standings.preview(s, fair, now)
        else:  # the same steps as standings.preview, one by one
            t = standings.terms(fair)
            rows = selection.rows(s, t)
            lap("rows")
            history, busy = standings.history(s, fair, now), standings.busy(s, fair)
            lap("history_busy")
            ranking = matching.rank_rows(rows, t, history, busy, selection.details(s))
            lap("ranking")
            decisions = matching.select(ranking, t)
            lap("selection")
        counts = Counter(d.outcome for d in decisions)
        chosen = [
            (d.pick.producer_id, d.pick.score, len(d.pick.reasons), len(d.pick.products))
            for d in decisions
            if d.outcome in ("issue", "waitlist")
        ]
        lap("picks")
        return counts, len(chosen)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench/run match", description=__doc__.splitlines()[0])
    parser.add_argument("--products", type=int, default=200_000, help="certified products (default 200000)")
    parser.add_argument("--producers", type=int, default=100_000, help="producers (default 100000)")
    parser.add_argument("--rounds", type=int, default=5, help="rounds of select and match (default 5)")
    parser.add_argument("--seed", type=int, default=3, help="seed of the read model (default 3)")
    parser.add_argument("--profile", help="write a cProfile of one more match to this file")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards (default: drop it)")
    args = parser.parse_args(argv)

    sys.path.insert(0, str(ROOT))
    from bench import _catalogue

    base = os.environ.get("BENCH_PG_URL", "").strip() or _catalogue.DEFAULT_PG
    url, engine, factory, _ = _catalogue.build(base, DATABASE, args.products, args.producers, args.seed, BENCH)
    try:
        fair_id = create_fair(factory, national_fair(date.today()))
        now = datetime.now(UTC)
        eligible = select_eligible(factory, fair_id)
        counts, chosen = match(factory, fair_id, now)  # warms both paths' caches and statements
        _log(
            f"{eligible} eligible rows; {sum(counts.values())} producers ranked: {counts['issue']} to invite, "
            f"{counts['waitlist']} waitlisted, {counts['below_cut']} below the cut ({chosen} picks built)"
        )
        timings: dict[str, list[float]] = {"select": [], "match": []}
        for r in range(args.rounds):
            for phase in ("select", "match") if r % 2 == 0 else ("match", "select"):
                clock = time.perf_counter()
                if phase == "select":
                    select_eligible(factory, fair_id)
                else:
                    match(factory, fair_id, now)
                timings[phase].append(time.perf_counter() - clock)
            _log(f"round {r + 1}/{args.rounds}: select {timings['select'][-1]:.3f}s, match {timings['match'][-1]:.3f}s")
        parts: dict = {}
        match(factory, fair_id, now, parts)
        _log("one match, by part: " + ", ".join(f"{k} {v:.3f}s" for k, v in parts.items()))
        if args.profile:
            import cProfile

            profiler = cProfile.Profile()
            profiler.runcall(match, factory, fair_id, now)
            profiler.dump_stats(args.profile)
            _log(f"profile of one match in {args.profile}")
        value, baseline = statistics.median(timings["match"]), statistics.median(timings["select"])
        print(
            json.dumps(
                {
                    "bench": BENCH,
                    "value": round(value, 3),
                    "unit": "s",
                    "baseline": round(baseline, 3),
                    "ratio": round(value / baseline, 3),
                }
            ),
            flush=True,
        )
    finally:
        engine.dispose()
        if not args.keep:
            _catalogue.drop_database(base, DATABASE)
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main(sys.argv[1:]))
