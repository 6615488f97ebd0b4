"""Bulk import of a decision's list against raw bulk inserts of the same rows, in the same run.

A CSV the size of the national register (20,000 rows by default: about 8,000 producers in the 34
provinces, Vietnamese names, headers as an OCOP office types them, some pre-2025 province names,
dates as day/month/year) is generated, untimed. Each round, on a database emptied first:

- import: ``services.registry.imports.run_import`` with ``apply`` in one transaction, from the
  file's bytes to the commit: decode, parse, check every row with the API's schemas and rules,
  look the register up, insert producers, products, certifications and the outbox rows of their
  events (every one checked against its contract);
- baseline: the rows the import wrote, read back (untimed), inserted again into the same emptied
  tables by plain SQLAlchemy Core executemany (``insert()`` with a list of rows), one transaction.

Rounds alternate which goes first. The figure is file rows per second over all rounds, each way.

    bench/run import [--rows 20000] [--producers 8000] [--rounds 4] [--keep-csv FILE] [--profile FILE]

The database is ``BENCH_DATABASE_URL`` (default ``ocop_bench_import`` on the local PostgreSQL),
dropped and created afresh, then migrated as the registry's.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import random
import sys
import time
from datetime import date, timedelta
from pathlib import Path

DEFAULT_DB = "postgresql+psycopg://postgres@127.0.0.1:5432/ocop_bench_import"
TABLES = ("producers", "products", "certifications", "outbox")

SURNAMES = [
    "Nguyễn",
    "Trần",
    "Lê",
    "Phạm",
    "Hoàng",
    "Huỳnh",
    "Phan",
    "Vũ",
    "Võ",
    "Đặng",
    "Bùi",
    "Đỗ",
    "Hồ",
    "Ngô",
    "Dương",
    "Lý",
    "Đinh",
    "Lâm",
    "Trương",
    "Mai",
]
MIDDLES = ["Văn", "Thị", "Hữu", "Minh", "Thanh", "Ngọc", "Đức", "Thu", "Quốc", "Kim", "Xuân", "Hồng"]
GIVEN = [
    "An",
    "Bình",
    "Cường",
    "Dũng",
    "Hà",
    "Hạnh",
    "Hòa",
    "Hùng",
    "Hương",
    "Lan",
    "Linh",
    "Long",
    "Mai",
    "Nam",
    "Phúc",
    "Quang",
    "Tâm",
    "Thảo",
    "Trang",
    "Tuấn",
    "Yến",
    "Sơn",
    "Nhung",
    "Khoa",
    "Lộc",
    "Hiếu",
    "Oanh",
    "Vy",
]
PLACES = [
    "Tân Phú",
    "Hòa Bình",
    "An Nhơn",
    "Phước Long",
    "Mỹ Thạnh",
    "Thanh Long",
    "Bình Minh",
    "Đông Hòa",
    "Vĩnh Hưng",
    "Long Hải",
    "Tam Nông",
    "Chợ Lách",
    "Cái Bè",
    "Mộc Châu",
    "Sa Pa",
    "Tân Cương",
    "Bảo Lộc",
    "Buôn Đôn",
    "Cù Lao Dung",
    "Thới Bình",
    "Hòa Vang",
    "Điện Bàn",
    "Quỳnh Lưu",
    "Nga Sơn",
    "Ý Yên",
    "Kim Sơn",
    "Lục Ngạn",
    "Hoài Đức",
    "Bát Tràng",
    "Vạn Phúc",
    "Phú Quốc",
    "Cần Giờ",
    "Trảng Bàng",
    "Đức Trọng",
    "Krông Pắc",
    "Sơn Tịnh",
    "Ninh Hòa",
    "Hương Sơn",
    "Đồng Văn",
    "Trùng Khánh",
]
PRODUCTS = [  # (name, group, sub-group under 148/QĐ-TTg)
    ("Kẹo dừa", 1, "1.3"),
    ("Bánh tráng dừa", 1, "1.3"),
    ("Mật ong rừng", 1, "1.3"),
    ("Nước mắm cá cơm", 1, "1.4"),
    ("Chè Shan tuyết", 1, "1.5"),
    ("Trà xanh Tân Cương", 1, "1.5"),
    ("Cà phê rang xay", 1, "1.6"),
    ("Ca cao bột", 1, "1.6"),
    ("Gạo ST25", 1, "1.2"),
    ("Bưởi da xanh", 1, "1.1"),
    ("Xoài cát Hòa Lộc", 1, "1.1"),
    ("Nhãn sấy", 1, "1.2"),
    ("Chuối sấy dẻo", 1, "1.3"),
    ("Mắm tôm chua", 1, "1.4"),
    ("Tiêu đen", 1, "1.4"),
    ("Bánh pía", 1, "1.3"),
    ("Lạp xưởng tươi", 1, "1.3"),
    ("Khô cá lóc", 1, "1.2"),
    ("Hạt điều rang muối", 1, "1.3"),
    ("Mứt gừng", 1, "1.3"),
    ("Rượu Bàu Đá", 2, "2.1"),
    ("Rượu ngô men lá", 2, "2.1"),
    ("Nước cốt dừa", 2, "2.2"),
    ("Nước ép chanh dây", 2, "2.2"),
    ("Tinh dầu tràm", 3, "3.3"),
    ("Cao dược liệu", 3, "3.1"),
    ("Dầu gội bồ kết", 3, "3.2"),
    ("Trà atiso", 3, "3.3"),
    ("Chiếu cói", 4, "4.1"),
    ("Gốm sứ", 4, "4.1"),
    ("Lụa tơ tằm", 4, "4.2"),
    ("Thổ cẩm", 4, "4.2"),
    ("Mai vàng", 5, "5.1"),
    ("Bonsai", 5, "5.2"),
    ("Điểm du lịch cộng đồng", 6, "6.1"),
]
# Food 79%, beverages 7%, herbs 4%, handicrafts 6%, ornamentals 1%, tourism 3% (one province as a proxy).
GROUP_WEIGHTS = {1: 79, 2: 7, 3: 4, 4: 6, 5: 1, 6: 3}
VARIANTS = [
    "",
    "loại 1",
    "hộp 500g",
    "túi 1kg",
    "đặc biệt",
    "truyền thống",
    "hữu cơ",
    "cao cấp",
    "chai 500ml",
    "gói 200g",
    "xuất khẩu",
    "quà biếu",
]
KIND_WORDS = {
    "cooperative": "Hợp tác xã",
    "enterprise": "Doanh nghiệp",
    "household": "Hộ kinh doanh",
    "cooperative_group": "Tổ hợp tác",
}
HEADER = [
    "STT",
    "Mã số thuế",
    "Tên chủ thể",
    "Loại hình",
    "Tỉnh",
    "Địa chỉ",
    "Người đại diện",
    "Điện thoại",
    "Email",
    "Tên sản phẩm",
    "Nhóm",
    "Phân nhóm",
    "Điểm",
    "Điểm phần A",
    "Điểm phần B",
    "Điểm phần C",
    "Số sao",
    "Hình thức",
    "Tiềm năng 5 sao",
    "Cơ quan cấp",
    "Số quyết định",
    "Ngày quyết định",
]


def _log(text: str) -> None:
    print(f"[import] {text}", file=sys.stderr, flush=True)


# ---- the file --------------------------------------------------------------------------------
def _person(rng: random.Random) -> str:
    return f"{rng.choice(SURNAMES)} {rng.choice(MIDDLES)} {rng.choice(GIVEN)}"


def _producer_name(rng: random.Random, kind: str, place: str) -> str:
    if kind == "cooperative":
        return f"Hợp tác xã {rng.choice(['Nông nghiệp', 'Dịch vụ nông nghiệp', 'Sản xuất', 'Thương mại'])} {place}"
    if kind == "enterprise":
        form = rng.choice(["Công ty TNHH", "Công ty Cổ phần", "Công ty TNHH MTV"])
        return f"{form} {rng.choice(['Thực phẩm', 'Nông sản', 'Thương mại', 'Đặc sản'])} {_person(rng)}"
    if kind == "household":
        return f"{rng.choice(['Cơ sở sản xuất', 'Hộ kinh doanh'])} {_person(rng)}"
    return f"Tổ hợp tác {rng.choice(['sản xuất', 'nghề truyền thống', 'trồng trọt'])} {place}"


def _provinces() -> list[tuple[str, list[str]]]:
    from services.registry.domain import REFERENCE

    data = json.loads((REFERENCE / "provinces.json").read_text(encoding="utf-8"))
    return [(name, list(info["predecessors"])) for name, info in data["provinces"].items()]


def _producers(rng: random.Random, n: int) -> list[dict]:
    provinces = _provinces()
    kinds = ["cooperative"] * 38 + ["enterprise"] * 24 + ["household"] * 35 + ["cooperative_group"] * 3
    out, names, codes = [], set(), set()
    while len(out) < n:
        current, predecessors = rng.choice(provinces)
        # a third of the records were made before the 2025 merger and carry the old province's name
        province = rng.choice(predecessors) if rng.random() < 0.33 else current
        kind, place = rng.choice(kinds), rng.choice(PLACES)
        name = _producer_name(rng, kind, place)
        code = f"{rng.choice('0123456')}{rng.randrange(10**8, 10**9)}"
        if (name, current) in names or code in codes:
            continue
        names.add((name, current))
        codes.add(code)
        out.append(
            {
                "code": code,
                "name": name,
                "kind": KIND_WORDS[kind],
                "province": province,
                "address": f"Ấp {rng.randrange(1, 12)}, xã {place}, {province}",
                "representative": _person(rng),
                "phone": f"09{rng.randrange(10**7, 10**8)}" if rng.random() < 0.7 else "",
                "email": f"chuthe{len(out)}@ocop.example.vn" if rng.random() < 0.5 else "",
            }
        )
    return out


def _decisions(rng: random.Random) -> dict[str, list[tuple[str, date]]]:
    """A few decisions per province: most under 148/QĐ-TTg (from 24/02/2023), some under 1048 before it."""
    out = {}
    for current, _ in _provinces():
        days = [date(2021, 3, 1) + timedelta(days=rng.randrange(0, 650)) for _ in range(2)]
        days += [date(2023, 3, 1) + timedelta(days=rng.randrange(0, 1000)) for _ in range(6)]
        out[current] = [(f"{rng.randrange(100, 4000)}/QĐ-UBND", day) for day in days]
    return out


def _score(rng: random.Random) -> int:
    roll = rng.random()  # 67% 3★, 31% 4★, 2% 5★ (end of 2023)
    return rng.randrange(50, 70) if roll < 0.67 else rng.randrange(70, 90) if roll < 0.98 else rng.randrange(90, 101)


def _parts(rng: random.Random, score: int) -> tuple[int, int, int]:
    """A, B, C within 148's maxima (40, 25, 35) adding up to the score."""
    while True:
        a = rng.randrange(max(0, score - 60), min(40, score) + 1)
        b = rng.randrange(max(0, score - a - 35), min(25, score - a) + 1)
        c = score - a - b
        if 0 <= c <= 35:
            return a, b, c


def make_csv(rows: int, producers: int, seed: int = 3) -> bytes:
    """The decision lists of a country, as one CSV (UTF-8 with BOM, as Excel's "CSV UTF-8" saves)."""
    from shared.text import fold

    rng = random.Random(seed)
    people = _producers(rng, producers)
    owner = list(range(producers)) + [rng.randrange(producers) for _ in range(rows - producers)]
    rng.shuffle(owner)
    owner.sort()  # an office lists a producer's products together
    decisions = _decisions(rng)
    current_of = {old: current for current, olds in _provinces() for old in (current, *olds)}
    groups = list(GROUP_WEIGHTS)
    by_group = {g: [p for p in PRODUCTS if p[1] == g] for g in groups}
    taken: set[tuple[int, str]] = set()
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out)
    writer.writerow(HEADER)
    for n, who in enumerate(owner, start=1):
        p = people[who]
        while True:
            group = rng.choices(groups, weights=[GROUP_WEIGHTS[g] for g in groups])[0]
            base, _, subgroup = rng.choice(by_group[group])
            name = " ".join(x for x in (base, rng.choice(PLACES), rng.choice(VARIANTS)) if x)
            if (who, fold(name)) not in taken:
                taken.add((who, fold(name)))
                break
        number, day = rng.choice(decisions[current_of[p["province"]]])
        score = _score(rng)
        parts = _parts(rng, score) if day >= date(2023, 2, 24) and rng.random() < 0.5 else ("", "", "")
        stars = (3 if score < 70 else 4) if rng.random() < 0.7 else ""  # a province decision: 4★ at 90+
        kind = rng.choices(["Mới", "Tái chứng nhận", "Nâng sao"], weights=[85, 10, 5])[0]
        writer.writerow(
            [
                n,
                p["code"],
                p["name"],
                p["kind"],
                p["province"],
                p["address"],
                p["representative"],
                p["phone"],
                p["email"],
                name,
                group,
                subgroup,
                score,
                *parts,
                stars,
                kind,
                "x" if stars == 4 and rng.random() < 0.1 else "",
                f"UBND tỉnh {current_of[p['province']]}",
                number,
                f"{day.day}/{day.month:02d}/{day.year}",
            ]
        )
    return out.getvalue().encode("utf-8")


# ---- the two ways in ---------------------------------------------------------------------------
def empty(engine) -> None:
    from sqlalchemy import text

    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("TRUNCATE imports, certifications, products, producers, outbox RESTART IDENTITY"))
        else:
            for table in ("imports", "certifications", "products", "producers", "outbox"):
                conn.execute(text(f"DELETE FROM {table}"))


def run_import(session_factory, emitter, data: bytes, profile=None) -> tuple[float, dict]:
    from services.registry import imports

    started = time.perf_counter()
    if profile is not None:
        profile.enable()
    with session_factory() as session, session.begin():
        report = imports.run_import(
            session, emitter, data, "ocop-2025.csv", apply=True, decision={}, today=date.today(), applied_by="bench"
        )
    if profile is not None:
        profile.disable()
    return time.perf_counter() - started, report


def read_back(engine) -> dict[str, list[dict]]:
    """What the import wrote, table by table (untimed), for the baseline to insert again."""
    from sqlalchemy import MetaData, select

    meta = MetaData()
    meta.reflect(engine, only=TABLES)
    out = {}
    with engine.connect() as conn:
        for name in TABLES:
            table = meta.tables[name]
            columns = [c for c in table.c if c.name != "seq"]
            out[name] = [dict(r._mapping) for r in conn.execute(select(*columns))]
    return out


def bulk_insert(engine, rows: dict[str, list[dict]]) -> float:
    """The baseline: plain Core executemany of the same rows into the same tables, one transaction."""
    from services.registry.models import Base

    tables = Base.metadata.tables
    started = time.perf_counter()
    with engine.begin() as conn:
        for name in TABLES:
            conn.execute(tables[name].insert(), rows[name])
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench/run import", description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000, help="rows of the file (default 20000)")
    parser.add_argument("--producers", type=int, default=8_000, help="distinct producers (default 8000)")
    parser.add_argument(
        "--rounds", type=int, default=4, help="rounds of import and baseline, alternating which goes first (default 4)"
    )
    parser.add_argument("--keep-csv", metavar="FILE", help="also write the generated CSV to FILE")
    parser.add_argument("--profile", metavar="FILE", help="write a cProfile of the import phases to FILE")
    args = parser.parse_args(argv)
    if args.producers > args.rows:
        parser.error("--producers must not exceed --rows")

    from bench.relay import fresh_database
    from services.registry import app as registry_app
    from services.registry.models import Outbox
    from shared.bus.outbox import Emitter
    from shared.db import make_session_factory, run_migrations

    url = os.environ.get("BENCH_DATABASE_URL", "").strip() or DEFAULT_DB
    engine = fresh_database(url)
    run_migrations(registry_app.SERVICE_DIR, url)
    session_factory = make_session_factory(engine)
    emitter = Emitter("registry", Outbox)
    data = make_csv(args.rows, args.producers)
    if args.keep_csv:
        Path(args.keep_csv).write_bytes(data)
    _log(
        f"database {engine.url.render_as_string(hide_password=True)}; CSV of {args.rows} rows, "
        f"{args.producers} producers, {len(data) / 1e6:.1f} MB"
    )
    profile = None
    if args.profile:
        import cProfile

        profile = cProfile.Profile()
    import_time = baseline_time = 0.0
    rows = None
    for r in range(max(1, args.rounds)):
        order = ("import", "baseline") if r % 2 == 0 or rows is None else ("baseline", "import")
        for phase in order:
            empty(engine)
            if phase == "import":
                took, report = run_import(session_factory, emitter, data, profile)
                if not report["applied"] or report["errors"]:
                    _log(f"import refused: {report['message']}")
                    return 1
                import_time += took
                rows = read_back(engine)
                expected = report["summary"]["events"]
                if len(rows["outbox"]) != expected or len(rows["certifications"]) != args.rows:
                    _log(
                        f"import wrote {len(rows['outbox'])} events (expected {expected}) and "
                        f"{len(rows['certifications'])} certifications (expected {args.rows})"
                    )
                    return 1
                _log(f"round {r + 1}: import {took:.2f} s ({report['message']})")
            else:
                took = bulk_insert(engine, rows)
                baseline_time += took
                _log(f"round {r + 1}: baseline {took:.2f} s ({sum(len(v) for v in rows.values())} rows into 4 tables)")
    if profile is not None:
        profile.dump_stats(args.profile)
    rounds = max(1, args.rounds)
    value, baseline = rounds * args.rows / import_time, rounds * args.rows / baseline_time
    print(
        json.dumps(
            {
                "bench": "import",
                "value": round(value),
                "unit": "rows/s",
                "baseline": round(baseline),
                "ratio": round(value / baseline, 3),
            }
        ),
        flush=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
