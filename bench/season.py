"""Planning a season of 100 fairs over 200,000 certified products: wall time and peak memory, against
matching the same fairs one by one, measured in the same run on PostgreSQL.

Untimed setup (``bench/_catalogue.py``): database ``ocop_bench_season`` next to ``BENCH_PG_URL``,
dropped, created and migrated with the events service's migrations, loaded with a read model of
200,000 certified products of 100,000 producers and a year of history, then analysed; then 100
draft fairs over the coming year, created through the API's schema and operation: national trade
fairs and exhibitions (200-350 booths, all regions, food at most 60%, some 4★ only), regional
fairs (their region and its neighbours), provincial fairs (a few provinces, some admitting
potential OCOP products), themed exhibitions (beverages and herbs, handicrafts), and year-long
showcase points (4★, far regions favoured); many overlap.

Timed, each in a fresh process of its own (``python -m bench.season --child ...``) so that its
peak memory is its own:

- season: ``season.queries.preview`` of the 100 fairs, as ``POST /seasons/preview`` does it
  (standings, the plan, picks for the first 100 choices of each fair, the spread of the plan and
  of greedy matching): wall time, and the process's peak resident memory (VmHWM, target at most
  1 GiB); with ``--traced``, once more under ``tracemalloc`` for the peak of Python allocations
  (three times slower: not in the default run, to keep it under five minutes);
- baseline: the same 100 fairs matched one by one, as publishing each alone would (``preview``,
  every decision walked, the picks to invite and waitlist built).

Figures: ``season`` seconds against the baseline's; ``season_memory`` MiB against 1024 MiB (and
``season_traced`` MiB, tracemalloc's peak, against 1024). stderr gets the spread of the plan
against greedy matching.

    bench/run season [--products 200000] [--producers 100000] [--fairs 100] [--seed 3] [--keep]
                     [--traced]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATABASE = "ocop_bench_season"
BENCH = "season"
GIB_MIB = 1024
HOSTS = {
    "red_river_delta": ["Hà Nội", "Hải Phòng", "Ninh Bình"],
    "southeast": ["Hồ Chí Minh", "Đồng Nai"],
    "north_central_coast": ["Đà Nẵng", "Huế", "Nghệ An"],
    "mekong_delta": ["Cần Thơ", "Vĩnh Long", "An Giang"],
    "central_highlands": ["Đắk Lắk", "Lâm Đồng"],
    "northern_midlands_mountains": ["Thái Nguyên", "Lào Cai"],
}


def _log(text: str) -> None:
    print(f"[{BENCH}] {text}", file=sys.stderr, flush=True)


def season_fairs(n: int, seed: int, today: date) -> list[dict]:
    """``n`` fair bodies (as POST /fairs takes them) over the coming year."""
    from bench.search import _provinces
    from services.events.matching import NEIGHBOURS

    rnd = random.Random(seed)
    provinces: dict[str, list[str]] = {}
    for name, region, _ in _provinces():
        provinces.setdefault(region, []).append(name)
    mix = (
        ["national"] * 12
        + ["national_4"] * 8
        + ["regional"] * 35
        + ["provincial"] * 20
        + ["themed"] * 15
        + ["showcase"] * 10
    )
    out = []
    for k in range(n):
        kind = mix[k % len(mix)]
        region = rnd.choice(list(HOSTS))
        host = rnd.choice(HOSTS[region])
        starts = today + timedelta(days=rnd.randint(30, 360))
        days, fair_kind, capacity = rnd.randint(4, 8), "trade_fair", rnd.randint(80, 200)
        rules: dict = {"min_stars": 3}
        if kind.startswith("national"):
            capacity, rules["group_quotas"] = rnd.randint(200, 350), {"1": 0.6}
            if kind == "national_4":
                fair_kind, rules["min_stars"] = "exhibition", 4
        elif kind == "regional":
            rules["regions"] = sorted({region, *NEIGHBOURS[region]})
        elif kind == "provincial":
            capacity = rnd.randint(50, 120)
            rules["provinces"] = rnd.sample(provinces[region], min(len(provinces[region]), rnd.randint(2, 5)))
            rules["admit_uncertified"] = rnd.random() < 0.5
        elif kind == "themed":
            capacity, fair_kind = rnd.randint(60, 150), "exhibition"
            rules["groups"] = rnd.choice([[2, 3], [4], [3], [4, 5]])
        else:
            capacity, fair_kind, days = rnd.randint(30, 60), "showcase_point", rnd.randint(180, 365)
            rules.update(min_stars=4, regional_weights={"host": 0, "near": 3, "far": 8})
        out.append(
            {
                "name": f"{'Điểm giới thiệu sản phẩm OCOP' if fair_kind == 'showcase_point' else 'Hội chợ OCOP'}"
                f" {host} {k + 1}",
                "kind": fair_kind,
                "organiser": f"Sở Công Thương {host}",
                "organiser_kind": "trade_department",
                "host_province": host,
                "region": region,
                "venue": f"Trung tâm Hội chợ Triển lãm {host} {k % 7}",
                "starts_on": starts.isoformat(),
                "ends_on": (starts + timedelta(days=days - 1)).isoformat(),
                "capacity": capacity,
                "invitation_deadline": (datetime.now(UTC) + timedelta(days=20)).isoformat(),
                "subsidy_per_booth": 8_000_000,
                "rules": rules,
            }
        )
    return out


def create_fairs(factory, bodies: list[dict]) -> list[str]:
    from services.events import fairs
    from services.events.schemas import FairIn

    with factory() as s, s.begin():
        return [fairs.create_fair(s, FairIn().load(body)).id for body in bodies]


# ---- the timed work, each in a process of its own --------------------------------------------------
def peak_rss_mib() -> float:
    """This process's peak resident memory: VmHWM (Linux), which starts afresh at exec, unlike
    ru_maxrss, which keeps the parent's size at the fork."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _child(url: str, what: str, traced: bool) -> dict:
    from shared.db import make_engine, make_session_factory

    engine = make_engine(url)
    factory = make_session_factory(engine)
    from sqlalchemy import select

    from services.events import queries, standings
    from services.events.models import Fair
    from services.events.season import queries as sops

    with factory() as s:
        ids = list(s.scalars(select(Fair.id).where(Fair.status == "draft").order_by(Fair.id)))
    before = peak_rss_mib()
    if traced:
        import tracemalloc

        tracemalloc.start()
    now, clock, out = datetime.now(UTC), time.perf_counter(), {}
    with factory() as s, s.begin():
        if what == "season":
            plan = sops.preview(s, fair_ids=ids, limit=100, now=now)
            out = {
                "rounds": plan["rounds"],
                "spread": plan["spread"],
                "invited": sum(f["invited"] for f in plan["fairs"]),
                "waitlisted": sum(f["waitlisted"] for f in plan["fairs"]),
            }
        else:  # each fair alone, as publishing it would match it
            invited = 0
            for fair_id in ids:
                decisions = standings.preview(s, queries.get_fair(s, fair_id), now)
                chosen = [d.pick for d in decisions if d.outcome in ("issue", "waitlist")]
                invited += sum(1 for d in decisions.walked if d == "issue")
                del decisions, chosen
            out = {"invited": invited}
    out["seconds"] = time.perf_counter() - clock
    if traced:
        out["traced_mib"] = tracemalloc.get_traced_memory()[1] / 2**20
    out["rss_mib"] = peak_rss_mib()
    out["rss_before_mib"] = before
    out["fairs"] = len(ids)
    engine.dispose()
    return out


def run_child(url: str, what: str, traced: bool = False) -> dict:
    cmd = [sys.executable, "-m", "bench.season", "--child", what, "--url", url] + (["--traced"] if traced else [])
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    if done.returncode != 0:
        raise RuntimeError(f"{what} failed:\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _figure(name: str, value: float, unit: str, baseline: float) -> None:
    print(
        json.dumps(
            {
                "bench": name,
                "value": round(value, 1),
                "unit": unit,
                "baseline": round(baseline, 1),
                "ratio": round(value / baseline, 3) if baseline else None,
            }
        ),
        flush=True,
    )


def _summary(label: str, s: dict) -> str:
    per = s["invitations_per_producer"]
    return (
        f"{label}: {s['invitations']} invitations to {s['producers_invited']} of {s['eligible_producers']} "
        f"eligible producers (share {s['share_invited']:.3f}), Gini {s['gini']:.3f}, most {s['most_invitations']}, "
        f"per producer {dict(list(per.items())[:6])}, double bookings {s['double_bookings']}, "
        f"fill min/median {s['fill'].get('min')}/{s['fill'].get('median')}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench/run season", description=__doc__.splitlines()[0])
    parser.add_argument("--products", type=int, default=200_000, help="certified products (default 200000)")
    parser.add_argument("--producers", type=int, default=100_000, help="producers (default 100000)")
    parser.add_argument("--fairs", type=int, default=100, help="fairs in the season (default 100)")
    parser.add_argument("--seed", type=int, default=3, help="seed of the read model and the fairs (default 3)")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards (default: drop it)")
    parser.add_argument(
        "--traced",
        action="store_true",
        help="plan once more under tracemalloc for the peak of Python allocations (slow)",
    )
    parser.add_argument("--child", choices=("season", "alone"), help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    sys.path.insert(0, str(ROOT))
    if args.child:
        print(json.dumps(_child(args.url, args.child, args.traced)), flush=True)
        return 0
    from bench import _catalogue

    base = os.environ.get("BENCH_PG_URL", "").strip() or _catalogue.DEFAULT_PG
    url, engine, factory, _ = _catalogue.build(base, DATABASE, args.products, args.producers, args.seed, BENCH)
    try:
        ids = create_fairs(factory, season_fairs(args.fairs, args.seed, date.today()))
        engine.dispose()
        _log(
            f"{len(ids)} draft fairs created; planning them as a season, then matching them one by one "
            f"(each in a process of its own)"
        )
        plan = run_child(url, "season")
        _log(
            f"season: {plan['seconds']:.1f}s, {plan['rounds']} rounds, {plan['invited']} invitations, "
            f"{plan['waitlisted']} waitlisted; peak RSS {plan['rss_mib']:.0f} MiB "
            f"({plan['rss_before_mib']:.0f} MiB before planning)"
        )
        _log(_summary("plan  ", plan["spread"]["plan"]))
        _log(_summary("greedy", plan["spread"]["greedy"]))
        alone = run_child(url, "alone")
        _log(
            f"one by one: {alone['seconds']:.1f}s, {alone['invited']} invitations; peak RSS {alone['rss_mib']:.0f} MiB"
        )
        _figure("season", plan["seconds"], "s", alone["seconds"])
        _figure("season_memory", plan["rss_mib"], "MiB", GIB_MIB)
        if args.traced:
            traced = run_child(url, "season", traced=True)
            _log(
                f"season under tracemalloc: {traced['seconds']:.1f}s, peak of Python allocations "
                f"{traced['traced_mib']:.0f} MiB"
            )
            _figure("season_traced", traced["traced_mib"], "MiB", GIB_MIB)
    finally:
        engine.dispose()
        if not args.keep:
            _catalogue.drop_database(base, DATABASE)
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main(sys.argv[1:]))
