"""Registry product list and search on a big register, through the API under gunicorn, against a
minimal Flask endpoint under the same gunicorn settings, measured in the same run.

Untimed setup: database ``ocop_bench_search`` (next to ``BENCH_PG_URL``) is dropped, created and
migrated with the registry's own migrations, then loaded with COPY: 200,000 products with
Vietnamese names ("Kẹo dừa lá dứa Bến Tre Thanh Long", "Nước mắm cá cơm Phú Quốc", "Trà Shan
tuyết ...") in the six groups in the national proportions, of 100,000 producers of the four kinds
across the 34 provinces (weighted by region), each product with its current certification (76%
3★, 23.5% 4★, a few 5★; 4% uncertified; 15% with an earlier, superseded certification in their
history), then VACUUM ANALYZE, as autovacuum would have done on a register that size.

Two servers on free loopback ports, both with the gunicorn options ``docker-compose.yml`` gives
the registry API (read from it: ``--workers 2 --timeout 120 --access-logfile -`` today): the
registry API itself, and a minimal Flask app with one endpoint returning a small JSON document
(the baseline). A load generator of ``--clients`` processes on the same machine, one request in
flight each, drives each server in turn; the API gets a mixed list of ``GET /products`` requests
with a trade officer's token: diacritic-free searches ("keo dua", "nuoc mam phu quoc", producer
names), searches within a province or star rating, filters by province, region, group, stars,
producer kind, expiry date, sorted by name, stars, validity or date, on pages 1-40 of 20 or 50
items. Every response is checked (status 200, complete body). Latencies are those the clients
see, so with more clients than workers they include the wait for a free worker.

Phases alternate (baseline, API; then API, baseline; ...) over ``--rounds`` rounds of
``--seconds`` each, so that a neighbour's load weighs on both alike. Figures: the API's requests
per second against the minimal endpoint's (ratio), and the API's median and 99th percentile
latency against the minimal endpoint's. stderr also gets the median and p99 of each kind of
request and the number of hits of a few searches.

The client opens a connection per request and sends ``Connection: close``: gunicorn's sync
workers close every connection after one response anyway, and a raw socket costs the client a
fraction of the CPU of http.client or requests, on a machine whose 2 cores it shares with the
servers and PostgreSQL.

    bench/run search [--products 200000] [--producers 100000] [--rounds 4] [--seconds 8]
                     [--clients 4] [--workers N] [--requests 2000] [--reuse] [--seed 3]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import socket
import subprocess
import sys
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
DEFAULT_BROKER = "amqp://guest:guest@127.0.0.1:5672//"
DATABASE = "ocop_bench_search"
SECRET = "ocop-bench-search-secret-5e1a9c7b3d8f2e6a4c0b"  # strong: required outside embedded
FALLBACK_GUNICORN = ["--workers", "2", "--access-logfile", "-"]


def _log(text: str) -> None:
    print(f"[search] {text}", file=sys.stderr, flush=True)


def _figure(name: str, value: float, unit: str, baseline: float, digits: int = 0) -> None:
    print(
        json.dumps(
            {
                "bench": name,
                "value": round(value, digits) if digits else round(value),
                "unit": unit,
                "baseline": round(baseline, digits) if digits else round(baseline),
                "ratio": round(value / baseline, 3) if baseline else None,
            }
        ),
        flush=True,
    )


# ---- the minimal baseline app (gunicorn 'bench.search:minimal_app()') ---------------------------
def minimal_app():
    from flask import Flask

    app = Flask("bench.minimal")
    app.json.ensure_ascii = False

    @app.get("/hello")
    def hello():
        return {"status": "ok", "service": "minimal"}

    return app


# ---- a register of realistic size ---------------------------------------------------------------
# (base name, qualifiers) per product group; "" = the base alone.
GOODS = {
    1: [
        ("Kẹo dừa", ["", "lá dứa", "sầu riêng", "đậu phộng", "sữa", "ca cao", "gừng"]),
        ("Nước mắm", ["", "cá cơm", "truyền thống", "nhĩ", "cá cơm 40 độ đạm", "cá linh"]),
        ("Bánh tráng", ["", "dừa", "mè đen", "phơi sương", "nướng", "sữa"]),
        ("Mật ong", ["", "hoa nhãn", "rừng", "hoa cà phê", "bạc hà", "hoa vải"]),
        ("Gạo", ["ST25", "thơm", "nếp cái hoa vàng", "tám xoan", "lứt đỏ", "Séng Cù"]),
        ("Chả cá", ["", "thu", "thát lát", "basa"]),
        ("Mắm tôm", ["", "chua", "đặc biệt"]),
        ("Mứt", ["gừng", "dừa", "me", "sen", "mãng cầu", "tắc"]),
        ("Khô cá", ["lóc", "sặc", "dứa", "chỉ vàng"]),
        ("Nem chua", ["", "nướng"]),
        ("Lạp xưởng", ["tôm", "tươi", "mai quế lộ"]),
        ("Miến dong", ["", "rong biển"]),
        ("Hạt điều", ["rang muối", "vỏ lụa", "tẩm mật ong"]),
        ("Hồ tiêu", ["đen", "đỏ", "sọ"]),
        ("Bưởi", ["da xanh", "Năm Roi", "Diễn"]),
        ("Xoài", ["cát Hòa Lộc", "sấy dẻo", "tứ quý"]),
        ("Vải thiều", ["sấy khô", "tươi"]),
        ("Nhãn", ["lồng", "sấy", "xuồng cơm vàng"]),
        ("Tỏi", ["đen", "cô đơn"]),
        ("Muối", ["tôm", "ớt xiêm", "hầm"]),
        ("Đường thốt nốt", ["", "viên"]),
        ("Hủ tiếu", ["khô", "dai"]),
        ("Bánh pía", ["sầu riêng", "đậu xanh", "khoai môn"]),
        ("Bánh phồng", ["sữa", "tôm", "mì"]),
        ("Trà", ["Shan tuyết", "móc câu", "xanh", "sen", "atiso", "mãng cầu", "ô long", "túi lọc"]),
        ("Chè", ["búp", "Tân Cương", "Shan tuyết cổ thụ"]),
        ("Cà phê", ["rang xay", "Robusta", "Arabica", "bột", "hạt rang mộc"]),
        ("Tương ớt", ["", "tỏi"]),
        ("Thịt trâu", ["gác bếp", "sấy"]),
        ("Măng", ["khô", "ớt", "le"]),
        ("Nấm", ["hương", "mèo", "rơm"]),
        ("Ca cao", ["bột", "nguyên chất"]),
    ],
    2: [
        ("Rượu", ["dừa", "nếp cái", "ngô", "Bàu Đá", "Làng Vân", "sim", "chuối hột"]),
        ("Nước ép", ["thanh long", "cam", "dứa"]),
        ("Rượu vang", ["sim", "nho", "dâu tằm"]),
        ("Nước uống", ["đóng chai", "thảo mộc"]),
        ("Sữa", ["dê", "bò tươi", "bắp"]),
    ],
    3: [
        ("Tinh dầu", ["tràm", "sả chanh", "quế", "bưởi", "hồi"]),
        ("Cao", ["atiso", "ích mẫu", "dây thìa canh"]),
        ("Nấm linh chi", ["", "đỏ", "thái lát"]),
        ("Sâm", ["Ngọc Linh", "Bố Chính", "dây"]),
        ("Xà phòng", ["thảo dược", "dầu dừa"]),
        ("Dầu dừa", ["tinh khiết", "ép lạnh"]),
    ],
    4: [
        ("Nón lá", ["", "bài thơ"]),
        ("Chiếu cói", ["", "in hoa"]),
        ("Giỏ lục bình", ["", "đan tay"]),
        ("Gốm", ["Bát Tràng", "Chu Đậu", "Bàu Trúc"]),
        ("Thổ cẩm", ["", "dệt tay"]),
        ("Lụa", ["tơ tằm", "Vạn Phúc"]),
        ("Mây tre đan", ["", "xuất khẩu"]),
        ("Sản phẩm từ gáo dừa", [""]),
        ("Tranh", ["Đông Hồ", "thêu tay"]),
    ],
    5: [
        ("Hoa lan", ["hồ điệp", "rừng"]),
        ("Mai vàng", ["", "bonsai"]),
        ("Cây cảnh", ["bonsai", "sứ"]),
        ("Đào", ["Nhật Tân", "phai"]),
    ],
    6: [
        ("Du lịch cộng đồng", ["làng", "bản", "cồn", "miệt vườn"]),
        ("Điểm du lịch sinh thái", ["", "vườn"]),
        ("Homestay", ["", "nhà vườn"]),
    ],
}
GROUP_WEIGHTS = {1: 79, 2: 7, 3: 4, 4: 6, 5: 1, 6: 3}
PLACES = [
    "Phú Quốc",
    "Mộc Châu",
    "Tân Cương",
    "Lý Sơn",
    "Ba Tri",
    "Chợ Lách",
    "Cái Bè",
    "Đà Lạt",
    "Buôn Ma Thuột",
    "Sa Pa",
    "Hội An",
    "Bảo Lộc",
    "Nam Đàn",
    "Bắc Hà",
    "Cát Hải",
    "Phan Thiết",
    "Cồn Phụng",
    "Hòa Lộc",
    "Đồng Văn",
    "Mù Cang Chải",
    "Tuy Phong",
    "Long Khánh",
    "Châu Đốc",
    "Ninh Kiều",
]
BRANDS = [
    "Thanh Long",
    "Hương Quê",
    "Sáu Hoa",
    "Tư Quý",
    "Minh Phát",
    "An Phú",
    "Phúc Lộc",
    "Bảy Thọ",
    "Hồng Đào",
    "Ba Đức",
    "Quê Hương",
    "Đất Việt",
    "Sơn Thủy",
    "Hoàng Gia",
    "Thành Đạt",
    "Tâm Đức",
    "Việt Hương",
    "Mười Hương",
    "Năm Sánh",
    "Út Lan",
    "Kim Ngân",
    "Hạnh Phúc",
    "Trường Thịnh",
    "Bích Ngọc",
    "Đồng Xanh",
]
SURNAMES = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng", "Bùi", "Đỗ", "Hồ", "Ngô"]
GIVEN = [
    "Văn An",
    "Thị Bình",
    "Minh Châu",
    "Quốc Dũng",
    "Thị Hoa",
    "Văn Hùng",
    "Thị Lan",
    "Đức Long",
    "Thị Mai",
    "Văn Nam",
    "Thị Ngọc",
    "Hữu Phước",
    "Thị Thu",
    "Văn Tài",
    "Thị Xuân",
    "Công Thành",
]
KINDS = [("cooperative", 38), ("enterprise", 24), ("household", 35), ("cooperative_group", 3)]
KIND_PREFIX = {
    "cooperative": ["Hợp tác xã", "Hợp tác xã Nông nghiệp", "Hợp tác xã Dịch vụ nông nghiệp"],
    "enterprise": ["Công ty TNHH", "Công ty Cổ phần", "Công ty TNHH Thực phẩm"],
    "household": ["Cơ sở", "Hộ kinh doanh", "Cơ sở sản xuất"],
    "cooperative_group": ["Tổ hợp tác"],
}
REGION_WEIGHTS = {
    "red_river_delta": 29,
    "mekong_delta": 19,
    "northern_midlands_mountains": 17,
    "north_central_coast": 21,
    "central_highlands": 8,
    "southeast": 6,
}

PRODUCER_COLUMNS = [
    "id",
    "code",
    "name",
    "name_folded",
    "kind",
    "address",
    "province",
    "province_entered",
    "region",
    "representative",
    "email",
    "phone",
    "preferred_language",
    "consent",
    "version",
    "created_at",
]
PRODUCT_COLUMNS = [
    "id",
    "producer_id",
    "name",
    "name_folded",
    "name_en",
    "group",
    "subgroup",
    "description",
    "potential_five_star",
    "version",
    "created_at",
    "province",
    "region",
    "producer_kind",
]
CERT_COLUMNS = [
    "id",
    "product_id",
    "kind",
    "criteria_version",
    "score",
    "stars",
    "level",
    "issued_by",
    "decision_number",
    "decision_date",
    "valid_until",
    "status",
    "created_at",
]


def _provinces() -> list[tuple[str, str, list[str]]]:
    data = json.loads((ROOT / "services" / "registry" / "reference" / "provinces.json").read_text(encoding="utf-8"))
    return [(name, info["region"], list(info["predecessors"])) for name, info in data["provinces"].items()]


def _subgroups() -> dict[int, list[str]]:
    data = json.loads((ROOT / "services" / "registry" / "reference" / "criteria.json").read_text(encoding="utf-8"))
    latest = max(data["versions"], key=lambda v: v["effective_from"])
    return {int(g): list(info["subgroups"]) for g, info in latest["groups"].items()}


def _criteria_dates() -> list[tuple[date, str]]:
    data = json.loads((ROOT / "services" / "registry" / "reference" / "criteria.json").read_text(encoding="utf-8"))
    return sorted((date.fromisoformat(v["effective_from"]), v["code"]) for v in data["versions"])


def _add_months(d: date, months: int) -> date:
    from services.registry.domain import add_months

    return add_months(d, months)


def generate(n_products: int, n_producers: int, seed: int):
    """Rows of producers, products and certifications (tuples in the *_COLUMNS order)."""
    from functools import cache

    from shared.text import fold, nfc

    @cache
    def fold_part(part: str) -> str:
        return fold(part)

    def name_of(*parts) -> tuple[str, str]:
        """The name (NFC) and its search key: folding part by part is folding the whole, once per part."""
        parts = [nfc(str(p)) for p in parts if p]
        return " ".join(parts), " ".join(fold_part(p) for p in parts)[:300]

    rnd = random.Random(seed)
    provinces = _provinces()
    by_region: dict[str, list] = {}
    for p in provinces:
        by_region.setdefault(p[1], []).append(p)
    regions, region_w = zip(*REGION_WEIGHTS.items(), strict=True)
    kinds, kind_w = zip(*KINDS, strict=True)
    groups, group_w = zip(*GROUP_WEIGHTS.items(), strict=True)
    subgroups = _subgroups()
    criteria = _criteria_dates()
    today = date.today()
    now = datetime.now(UTC)

    producers, homes = [], []
    for n in range(n_producers):
        region = rnd.choices(regions, region_w)[0]
        province, _, olds = rnd.choice(by_region[region])
        entered = rnd.choice(olds) if rnd.random() < 0.4 else province
        kind = rnd.choices(kinds, kind_w)[0]
        good = rnd.choice(GOODS[1])[0] if rnd.random() < 0.5 else rnd.choice(["Nông sản", "Đặc sản", "Thương mại"])
        name, folded = name_of(rnd.choice(KIND_PREFIX[kind]), good, rnd.choice(BRANDS), rnd.choice(olds), n % 997 + 1)
        producers.append(
            (
                str(uuid.uuid4()),
                f"OCOP-{n:06d}",
                name,
                folded,
                kind,
                f"Ấp {rnd.randint(1, 12)}, xã {rnd.choice(PLACES)}, {entered}",
                province,
                entered,
                region,
                f"{rnd.choice(SURNAMES)} {rnd.choice(GIVEN)}",
                f"lienhe{n}@ocop.example.vn",
                f"09{rnd.randint(10_000_000, 99_999_999)}",
                "vi",
                "{}",
                1,
                now - timedelta(days=rnd.randint(400, 2000)),
            )
        )
        homes.append((olds, entered))

    products, certs = [], []
    for n in range(n_products):
        owner = rnd.randrange(n_producers) if n >= n_producers else n  # every producer has a product
        olds, entered = homes[owner]
        group = rnd.choices(groups, group_w)[0]
        base, qualifiers = rnd.choice(GOODS[group])
        parts = [base, rnd.choice(qualifiers)]
        if rnd.random() < 0.7:
            parts.append(rnd.choice(PLACES) if rnd.random() < 0.3 else rnd.choice(olds))
        if rnd.random() < 0.5:
            parts.append(rnd.choice(BRANDS))
        name, folded = name_of(*parts)
        created = now - timedelta(days=rnd.randint(30, 1400), seconds=rnd.randint(0, 86_400))
        r = rnd.random()
        stars = None if r < 0.04 else 3 if r < 0.77 else 4 if r < 0.995 else 5
        product_id = str(uuid.uuid4())
        products.append(
            (
                product_id,
                producers[owner][0],
                name,
                folded,
                None,
                group,
                rnd.choice(subgroups[group]),
                f"{name}: sản phẩm OCOP của {entered}.",
                stars == 4 and rnd.random() < 0.15,
                2 if stars else 1,
                created,
                producers[owner][6],
                producers[owner][8],
                producers[owner][4],
            )
        )
        if stars is None:
            continue
        decided = today - timedelta(days=rnd.randint(1, 35 * 30))
        score = rnd.randint({3: 50, 4: 70, 5: 90}[stars], {3: 69, 4: 89, 5: 100}[stars])
        if rnd.random() < 0.15:  # an earlier certificate, replaced by this one
            earlier = decided - timedelta(days=rnd.randint(200, 1000))
            certs.append(
                _cert(rnd, product_id, "new", criteria, earlier, 3, rnd.randint(50, 69), "superseded", entered)
            )
            kind = "upgrade" if stars > 3 else "recertification"
        else:
            kind = "new"
        certs.append(_cert(rnd, product_id, kind, criteria, decided, stars, score, "current", entered))
    return producers, products, certs


def _cert(rnd, product_id, kind, criteria, decided, stars, score, status, province) -> tuple:
    code = [c for start, c in criteria if start <= decided][-1] if decided >= criteria[0][0] else criteria[0][1]
    level = "national" if stars == 5 else "province"
    issuer = "Bộ Nông nghiệp và Môi trường" if stars == 5 else f"UBND tỉnh {province}"
    return (
        str(uuid.uuid4()),
        product_id,
        kind,
        code,
        score,
        stars,
        level,
        issuer,
        f"{rnd.randint(100, 3999)}/QĐ-UBND",
        decided,
        _add_months(decided, 36),
        status,
        datetime.combine(decided, datetime.min.time(), UTC),
    )


def load(url: str, producers, products, certs) -> None:
    """COPY the rows in (one transaction), then VACUUM ANALYZE."""
    import psycopg

    dsn = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn) as conn:
        with conn.cursor() as cur:
            for table, columns, rows in (
                ("producers", PRODUCER_COLUMNS, producers),
                ("products", PRODUCT_COLUMNS, products),
                ("certifications", CERT_COLUMNS, certs),
            ):
                names = ", ".join(f'"{c}"' for c in columns)
                with cur.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
        conn.commit()
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE producers, products, certifications")


def fresh_database(base_url: str, name: str, reuse: bool) -> str:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    base = make_url(base_url)
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        exists = conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name})
        if not (reuse and exists):
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return base.set(database=name).render_as_string(hide_password=False)


def counts(url: str) -> tuple[int, int]:
    import psycopg

    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as conn:
        return (
            conn.execute("SELECT count(*) FROM products").fetchone()[0],
            conn.execute("SELECT count(*) FROM producers").fetchone()[0],
        )


# ---- the mixed load ------------------------------------------------------------------------------
SEARCHES = [
    "keo dua",
    "nuoc mam",
    "nuoc mam phu quoc",
    "tra shan tuyet",
    "ca phe",
    "mat ong",
    "banh trang",
    "gao st25",
    "Kẹo dừa",
    "Nước mắm",
    "ruou",
    "hat dieu",
    "mien dong",
    "tinh dau tram",
    "thanh long",
    "hop tac xa nong nghiep",
    "cong ty tnhh",
    "bu",
    "xoai cat hoa loc",
    "non la",
    "banh pia sau rieng",
    "sam ngoc linh",
    "khong co san pham nay",
]


def request_mix(rnd: random.Random, n: int) -> list[tuple[str, str]]:
    """(kind, path) pairs of GET /products with the filters, sorts and pages a list page sends."""
    provinces = [p[0] for p in _provinces()]
    regions = list(REGION_WEIGHTS)
    kinds = [k for k, _ in KINDS]
    mix = [
        ("search", 30),
        ("search_in_province", 10),
        ("search_stars", 5),
        ("province", 15),
        ("province_group", 10),
        ("stars", 8),
        ("region_kind", 7),
        ("expiring", 5),
        ("all", 10),
    ]
    names, weights = zip(*mix, strict=True)
    out = []
    for _ in range(n):
        kind = rnd.choices(names, weights)[0]
        q: dict = {}
        if kind.startswith("search"):
            q["q"] = rnd.choice(SEARCHES)
        if kind in ("search_in_province", "province", "province_group"):
            q["province"] = rnd.choice(provinces)
        if kind == "province_group":
            q["group"] = rnd.choices(list(GROUP_WEIGHTS), list(GROUP_WEIGHTS.values()))[0]
        if kind in ("search_stars", "stars"):
            q["stars"] = rnd.choice([3, 4, 4, 5])
        if kind == "region_kind":
            q.update(region=rnd.choice(regions), producer_kind=rnd.choice(kinds), certified="true")
        if kind == "expiring":
            q["expiring_before"] = (date.today() + timedelta(days=rnd.choice([30, 60, 90]))).isoformat()
        if kind.startswith("search"):
            q["sort"] = rnd.choice(["name", "name", "name", "-stars"])
        elif kind == "expiring":
            q["sort"] = "valid_until"
        else:
            q["sort"] = rnd.choice(["name", "-stars", "-valid_until", "-created_at", "-name"])
        q["per_page"] = rnd.choice([20, 50])
        pages = 40 if kind == "all" else 5
        q["page"] = 1 if rnd.random() < 0.6 else rnd.randint(2, pages)
        out.append((kind, "/products?" + urlencode(q)))
    return out


def raw_request(path: str, port: int, token: str | None) -> bytes:
    auth = f"Authorization: Bearer {token}\r\n" if token else ""
    return (
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{auth}Accept: application/json\r\nConnection: close\r\n\r\n"
    ).encode()


_LENGTH = re.compile(rb"\r\ncontent-length: *(\d+)", re.IGNORECASE)


def fetch(port: int, request: bytes) -> bytes | None:
    """One request on its own connection; the body, or None unless a complete 200 came back."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.sendall(request)
        chunks = []
        while chunk := s.recv(262_144):
            chunks.append(chunk)
    head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
    length = _LENGTH.search(head)
    if head[9:12] != b"200" or (length is not None and int(length.group(1)) != len(body)):
        return None
    return body


def _client(port: int, requests: list[bytes], start_at: float, seconds: float, offset: int, results) -> None:
    """One load-generating process: requests in turn from ``offset`` until the deadline."""
    from array import array

    latencies, which = array("d"), array("l")
    errors, i, n = 0, offset, len(requests)
    while time.monotonic() < start_at:
        time.sleep(0.001)
    deadline = start_at + seconds
    clock = time.perf_counter
    while time.monotonic() < deadline:
        k = i % n
        t0 = clock()
        try:
            ok = fetch(port, requests[k]) is not None
        except OSError:
            ok = False
        if ok:
            latencies.append(clock() - t0)
            which.append(k)
        else:
            errors += 1
        i += 1
    results.put((latencies.tobytes(), which.tobytes(), errors, time.monotonic()))


def run_phase(port: int, requests: list[bytes], clients: int, seconds: float, offset: int):
    """``clients`` processes for ``seconds``; returns (latencies, request indexes, errors, elapsed)."""
    import multiprocessing as mp
    from array import array

    ctx = mp.get_context("fork")
    results = ctx.Queue()
    start_at = time.monotonic() + 0.2
    procs = [
        ctx.Process(
            target=_client,
            args=(port, requests, start_at, seconds, offset + c * len(requests) // clients, results),
            daemon=True,
        )
        for c in range(clients)
    ]
    for p in procs:
        p.start()
    latencies, which, errors, ends = array("d"), array("l"), 0, []
    for _ in procs:
        lat, idx, err, end = results.get(timeout=seconds + 120)
        latencies.frombytes(lat)
        which.frombytes(idx)
        errors += err
        ends.append(end)
    for p in procs:
        p.join()
    return latencies, which, errors, max(ends) - start_at


def percentile(values, p: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))]


# ---- servers ---------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def compose_gunicorn() -> list[str]:
    """gunicorn's options as docker-compose.yml runs the registry API, without --bind and the app."""
    import shlex

    import yaml

    try:
        command = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]["registry-api"]["command"]
        words = shlex.split(command[-1].split("exec ", 1)[1] if isinstance(command, list) else command)
        words = words[words.index("gunicorn") + 1 : -1]  # the app is the last word
    except (OSError, KeyError, IndexError, ValueError, yaml.YAMLError) as exc:
        _log(f"gunicorn options not read from docker-compose.yml ({exc!r}); using {' '.join(FALLBACK_GUNICORN)}")
        return list(FALLBACK_GUNICORN)
    options, i = [], 0
    while i < len(words):
        if words[i] in ("--bind", "-b"):
            i += 2
            continue
        options.append(words[i])
        i += 1
    return options


def with_workers(options: list[str], workers: int | None) -> list[str]:
    if workers is None:
        return options
    out, i = [], 0
    while i < len(options):
        if options[i] in ("--workers", "-w"):
            i += 2
            continue
        out.append(options[i])
        i += 1
    return [*out, "--workers", str(workers)]


def start_gunicorn(app: str, port: int, options: list[str], env: dict, log: Path) -> subprocess.Popen:
    gunicorn = Path(sys.executable).with_name("gunicorn")
    cmd = [str(gunicorn), "--bind", f"127.0.0.1:{port}", *options, app]
    with open(log, "wb") as err:
        return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=err)


def wait_live(proc: subprocess.Popen, port: int, path: str, log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"gunicorn on port {port} exited: {log.read_text(errors='replace')[-2000:]}")
        try:
            if fetch(port, raw_request(path, port, None)) is not None:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"gunicorn on port {port} not answering {path} after {timeout}s")


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench/run search", description=__doc__.splitlines()[0])
    parser.add_argument("--products", type=int, default=200_000, help="products in the register (default 200000)")
    parser.add_argument("--producers", type=int, default=100_000, help="producers (default 100000)")
    parser.add_argument("--rounds", type=int, default=4, help="rounds of baseline and API phases (default 4)")
    parser.add_argument("--seconds", type=float, default=8.0, help="seconds of each phase (default 8)")
    parser.add_argument(
        "--clients", type=int, default=4, help="load-generating processes, one request in flight each (default 4)"
    )
    parser.add_argument(
        "--workers", type=int, help="gunicorn workers of both servers (default: as docker-compose.yml, 2)"
    )
    parser.add_argument("--requests", type=int, default=2_000, help="distinct API requests in the mix (default 2000)")
    parser.add_argument("--seed", type=int, default=3, help="seed of the register and of the mix (default 3)")
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="keep the database if it already holds a register of this size (migrated to head)",
    )
    args = parser.parse_args(argv)

    sys.path.insert(0, str(ROOT))
    from shared.auth import issue_token
    from shared.db import run_migrations
    from shared.signing import new_pair

    token_key, _ = new_pair()  # the registry signs (and verifies with the key's public half)

    pg = os.environ.get("BENCH_PG_URL", "").strip() or DEFAULT_PG
    broker_url = os.environ.get("OCOP_BROKER_URL", "").strip() or DEFAULT_BROKER
    url = fresh_database(pg, DATABASE, args.reuse)
    started = time.monotonic()
    run_migrations(ROOT / "services" / "registry", url)
    if counts(url) == (args.products, args.producers):
        _log(f"reusing the register in {DATABASE}")
    else:
        if args.reuse:
            url = fresh_database(pg, DATABASE, reuse=False)
            run_migrations(ROOT / "services" / "registry", url)
        rows = generate(args.products, args.producers, args.seed)
        _log(
            f"generated {len(rows[1])} products, {len(rows[0])} producers, {len(rows[2])} certifications "
            f"in {time.monotonic() - started:.1f}s"
        )
        load(url, *rows)
        del rows
        _log(f"loaded into {DATABASE} and analysed at {time.monotonic() - started:.1f}s")

    env = {
        **os.environ,
        "REGISTRY_DATABASE_URL": url,
        "OCOP_SECRET_KEY": SECRET,
        "OCOP_TOKEN_PRIVATE_KEY": token_key,
        "OCOP_BROKER_URL": broker_url,
        "PYTHONPATH": str(ROOT),
    }
    api_port, minimal_port = free_port(), free_port()
    logs = Path(os.environ.get("TMPDIR", "/tmp"))
    api_log, minimal_log = logs / f"bench-search-api-{os.getpid()}.log", logs / f"bench-search-min-{os.getpid()}.log"
    options = with_workers(compose_gunicorn(), args.workers)
    _log(f"gunicorn {' '.join(options)} (as docker-compose.yml runs the registry API), for both servers")
    api = start_gunicorn("services.registry.app:create_app()", api_port, options, env, api_log)
    minimal = start_gunicorn("bench.search:minimal_app()", minimal_port, options, env, minimal_log)
    try:
        wait_live(api, api_port, "/livez", api_log)
        wait_live(minimal, minimal_port, "/hello", minimal_log)
        token = issue_token(token_key, "trade_officer", "bench-search")
        mix = request_mix(random.Random(args.seed), args.requests)
        api_requests = [raw_request(path, api_port, token) for _, path in mix]
        minimal_requests = [raw_request("/hello", minimal_port, token)]
        for q in ("keo dua", "nuoc mam ca com", "hop tac xa nong nghiep"):
            body = fetch(api_port, raw_request("/products?" + urlencode({"q": q, "per_page": 1}), api_port, token))
            if body is None:
                _log(f"GET /products?q={q} failed: see {api_log}")
                return 1
            _log(f"q={q!r}: {json.loads(body)['total']} products")
        warm = time.monotonic()
        for k, request in enumerate(api_requests[:40]):  # warms both workers (every response is checked later)
            if fetch(api_port, request) is None:
                _log(f"{mix[k][1]} failed: see {api_log}")
                return 1
        _log(
            f"40 requests answered in {time.monotonic() - warm:.1f}s; setup took "
            f"{time.monotonic() - started:.0f}s; {args.rounds} rounds of {args.seconds:g}s per phase, "
            f"{args.clients} clients"
        )

        totals = {"api": [0, 0.0], "minimal": [0, 0.0]}
        from array import array

        api_lat, api_which, min_lat = array("d"), array("l"), array("d")
        offset = 0
        for r in range(args.rounds):
            for phase in ("minimal", "api") if r % 2 == 0 else ("api", "minimal"):
                port, requests = (api_port, api_requests) if phase == "api" else (minimal_port, minimal_requests)
                lat, which, errors, elapsed = run_phase(port, requests, args.clients, args.seconds, offset)
                if errors:
                    _log(f"{phase}: {errors} requests failed (see {api_log if phase == 'api' else minimal_log})")
                    return 1
                totals[phase][0] += len(lat)
                totals[phase][1] += elapsed
                if phase == "api":
                    api_lat.extend(lat)
                    api_which.extend(which)
                    offset += len(lat)
                else:
                    min_lat.extend(lat)
                _log(
                    f"round {r + 1}/{args.rounds} {phase}: {len(lat) / elapsed:.0f} req/s, "
                    f"p50 {percentile(lat, 50) * 1000:.1f} ms"
                )
        by_kind: dict[str, list] = {}
        for latency, k in zip(api_lat, api_which, strict=True):
            by_kind.setdefault(mix[k][0], []).append(latency)
        for kind, values in sorted(by_kind.items(), key=lambda kv: -percentile(kv[1], 50)):
            _log(
                f"  {kind:<20} n={len(values):<6} p50 {percentile(values, 50) * 1000:7.1f} ms   "
                f"p99 {percentile(values, 99) * 1000:7.1f} ms"
            )
        api_rps = totals["api"][0] / totals["api"][1]
        minimal_rps = totals["minimal"][0] / totals["minimal"][1]
        _figure("search", api_rps, "req/s", minimal_rps)
        _figure("search_p50", percentile(api_lat, 50) * 1000, "ms", percentile(min_lat, 50) * 1000, 1)
        _figure("search_p99", percentile(api_lat, 99) * 1000, "ms", percentile(min_lat, 99) * 1000, 1)
    finally:
        stop(api)
        stop(minimal)
    for log in (api_log, minimal_log):  # kept only when something failed
        log.unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main(sys.argv[1:]))
