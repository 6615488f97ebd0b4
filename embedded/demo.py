"""Demo data: one province's OCOP register (Bến Tre, now part of Vĩnh Long) told from its decisions,
and five fairs across the country. Loaded through the services' own operations, so every record
emits its events exactly as in production.

The register is the seed's (README, "Two commands"): Bến Tre's programme certified products by
provincial decisions from 2020 (criteria 1048/QĐ-TTg, then 148/QĐ-TTg from 24 Feb 2023); its year
2023 met its targets exactly (45 new products at 3★ or more, two of them community-tourism products
of group 6; 40 re-certifications; 30 star upgrades), leaving at the end of 2023 200 certified
products of 76 producers, 110 at 3★ and 90 at 4★, 16 of those proposed for national evaluation
(potential 5★). A certificate is valid 36 months, so the province re-certifies each decision's
products a month before they expire (after 1 Jul 2025 as UBND tỉnh Vĩnh Long), up to the day the
demo is loaded: today's register is the end-2023 one, every product still current."""

from __future__ import annotations

import heapq
from datetime import date, timedelta

from sqlalchemy import func, select

from shared.instants import vietnam_today

PRODUCTS = [
    "Kẹo dừa",
    "Bánh tráng dừa",
    "Rượu dừa",
    "Mật hoa dừa",
    "Dầu dừa tinh khiết",
    "Bánh phồng sữa",
    "Chuối sấy dẻo",
    "Cacao bột",
    "Bưởi da xanh",
    "Tinh dầu bưởi",
    "Thạch dừa",
    "Chén gáo dừa",
    "Túi xách sợi dừa",
    "Bánh canh",
    "Nước mắm cá cơm",
    "Mứt chuối",
    "Chôm chôm sấy",
    "Trà mãng cầu",
]
KINDS = ["cooperative"] * 29 + ["enterprise"] * 18 + ["household"] * 27 + ["cooperative_group"] * 2  # 76
PLACES = ["Chợ Lách", "Mỏ Cày", "Giồng Trôm", "Ba Tri", "Bình Đại", "Châu Thành", "Thạnh Phú"]
KIND_NAMES = {
    "cooperative": "Hợp tác xã",
    "enterprise": "Công ty TNHH",
    "household": "Cơ sở",
    "cooperative_group": "Tổ hợp tác",
}
GROUP_OF = {
    "Rượu dừa": 2,
    "Trà mãng cầu": 2,
    "Tinh dầu bưởi": 3,
    "Dầu dừa tinh khiết": 3,
    "Chén gáo dừa": 4,
    "Túi xách sợi dừa": 4,
}
SUBGROUP_OF = {
    "Rượu dừa": "2.1",
    "Trà mãng cầu": "2.2",
    "Tinh dầu bưởi": "3.3",
    "Dầu dừa tinh khiết": "3.3",
    "Chén gáo dừa": "4.1",
    "Túi xách sợi dừa": "4.1",
    "Bưởi da xanh": "1.1",
    "Cacao bột": "1.6",
    "Nước mắm cá cơm": "1.4",
}
KEY_PRODUCTS = {"Kẹo dừa", "Bưởi da xanh"}  # the province's key products (sản phẩm chủ lực cấp tỉnh)
# The two community-tourism products (group 6) of 2023's targets, by their place in the register.
TOURISM = {166: "Du lịch cộng đồng Cồn Phụng", 191: "Điểm du lịch sinh thái vườn dừa Chợ Lách"}

# Products by index (0-199) in cohorts of the year they were first certified; each decision below
# lists a range of them. Stars at the end of 2023: 4★ for index % 20 >= 11 (90 of 200), else 3★.
NEW = "certify"
FIRST_DECISIONS = [  # (number, date, kind, indices): new certifications, then 2023's upgrades
    ("1274/QĐ-UBND", date(2020, 6, 15), NEW, range(0, 20)),
    ("2718/QĐ-UBND", date(2020, 11, 20), NEW, range(20, 40)),
    ("1358/QĐ-UBND", date(2021, 7, 20), NEW, range(40, 70)),
    ("2905/QĐ-UBND", date(2021, 12, 10), NEW, range(70, 95)),
    ("806/QĐ-UBND", date(2022, 4, 22), NEW, range(95, 125)),
    ("2012/QĐ-UBND", date(2022, 9, 16), NEW, range(125, 155)),
    ("1297/QĐ-UBND", date(2023, 6, 9), NEW, range(155, 180)),
    ("2546/QĐ-UBND", date(2023, 11, 17), NEW, range(180, 200)),
]
# 2023's 30 star upgrades (nâng hạng sao, 3★ -> 4★): products of 2021 and 2022 that reached 4★.
UPGRADED = [i for i in range(40, 140) if 11 <= i % 20 <= 16]
UPGRADES = [
    ("598/QĐ-UBND", date(2023, 3, 24), "upgrade", [i for i in UPGRADED if i < 90]),
    ("1873/QĐ-UBND", date(2023, 9, 8), "upgrade", [i for i in UPGRADED if i >= 90]),
]
RENEW_AFTER_MONTHS = 35  # re-certified a month before the 36 months of validity run out
MERGED_ON = date(2025, 7, 1)  # Bến Tre merged into Vĩnh Long: later decisions are Vĩnh Long's


def four_star(i: int) -> bool:
    return i % 20 >= 11


def potential_five_star() -> set[int]:
    """16 of the 90 4★ products, proposed for national evaluation by a provincial score of 90+."""
    fours = [i for i in range(200) if four_star(i)]
    return set(fours[::5][:16])


def final_score(i: int, potential: set[int]) -> int:
    """The product's score at the end of 2023 (kept by its re-certifications)."""
    return (90 + i % 10) if i in potential else (72 + i % 17) if four_star(i) else (52 + i % 17)


def issuer(day: date) -> str:
    return "UBND tỉnh Bến Tre" if day < MERGED_ON else "UBND tỉnh Vĩnh Long"


def decisions(today: date) -> list[dict]:
    """Every decision of the demo register in date order, each listing its products by index with
    their scores: the first certifications and upgrades above, and a re-certification of a decision's
    products that have not been re-evaluated since, a month before their certificates expire, while
    that day is not after ``today``."""
    from services.registry.domain import add_months

    potential = potential_five_star()
    upgraded = set(UPGRADED)
    # (date, order, number, kind, indices, date of the decision renewed)
    queue: list[tuple[date, int, str | None, str, list[int], date | None]] = []
    for n, (number, day, kind, indices) in enumerate(FIRST_DECISIONS + UPGRADES):
        heapq.heappush(queue, (day, n, number, kind, list(indices), None))
    last: dict[int, tuple[date, int]] = {}  # index -> (date, score) of its latest certificate
    out, n = [], len(FIRST_DECISIONS + UPGRADES)
    while queue:
        day, _, number, kind, indices, renewed = heapq.heappop(queue)
        if day > today:
            continue
        if kind == "recertify":  # only those not re-evaluated (upgraded) since the decision renewed
            indices = [i for i in indices if last[i][0] == renewed]
        scores = {
            i: last[i][1]
            if kind == "recertify"
            else 52 + i % 17
            if kind == NEW and i in upgraded
            else final_score(i, potential)
            for i in indices
        }
        if not indices:
            continue
        out.append(
            {
                "number": number or f"{day.timetuple().tm_yday * 10 + 3}/QĐ-UBND",
                "date": day,
                "issued_by": issuer(day),
                "kind": kind,
                "scores": scores,
            }
        )
        for i in indices:
            last[i] = (day, scores[i])
        n += 1
        heapq.heappush(queue, (add_months(day, RENEW_AFTER_MONTHS), n, None, "recertify", indices, day))
    return out


def load_registry(runtime, today: date | None = None) -> bool:
    """The 76 producers, their 200 products and every decision of ``decisions`` (one transaction)."""
    from services.registry import decision_ops
    from services.registry import operations as ops
    from services.registry.models import Producer

    today = today or vietnam_today()
    with runtime.transaction() as s:
        if s.scalar(select(func.count()).select_from(Producer)):
            return False
        producers = []
        for n, kind in enumerate(KINDS, start=1):
            place = PLACES[n % len(PLACES)]
            producers.append(
                ops.register_producer(
                    s,
                    runtime.emit,
                    {
                        "code": f"BT-{n:03d}",
                        "name": f"{KIND_NAMES[kind]} {PRODUCTS[n % len(PRODUCTS)]} {place} {n}",
                        "kind": kind,
                        "province": "Bến Tre",
                        "address": f"{place}, Bến Tre",
                        "representative": "Nguyễn Thị Hồng",
                        "email": f"chuthe{n:03d}@demo.ocop.vn" if n % 19 else None,
                        # a mobile number where SMS is consented (the SMS sink shows those), else a Bến Tre landline
                        "phone": f"0912 {n:03d} {n:03d}" if n % 3 == 0 else f"0275 38{n:04d}",
                        "preferred_language": "en" if n == 7 else "vi",
                        "consent": {"email": True, "sms": n % 3 == 0},
                    },
                )
            )
        products = []
        for k in range(200):
            name = PRODUCTS[k % len(PRODUCTS)]
            products.append(
                ops.register_product(
                    s,
                    runtime.emit,
                    {
                        "producer_id": producers[k % len(producers)].id,
                        "name": TOURISM.get(k) or f"{name} {PLACES[k % len(PLACES)]}",
                        "group": 6 if k in TOURISM else GROUP_OF.get(name, 1),
                        "subgroup": "6.1" if k in TOURISM else SUBGROUP_OF.get(name, "1.3"),
                        # the flag comes with a provincial decision's score of 90+ (4★ proposed for national evaluation)
                        "potential_five_star": False,
                        "provincial_key_product": k not in TOURISM and name in KEY_PRODUCTS,
                    },
                )
            )
        for decision in decisions(today):
            decision_ops.create_decision(
                s,
                runtime.emit,
                {
                    "number": decision["number"],
                    "date": decision["date"],
                    "issued_by": decision["issued_by"],
                    "level": "province",
                    "kind": decision["kind"],
                    "certificates": [
                        {"product_id": products[i].id, "score": score} for i, score in decision["scores"].items()
                    ],
                },
                today,
                actor="demo",
            )
    return True


def fairs(today: date) -> list[dict]:
    """Five fairs across the country, as a trade officer would enter them (the API's JSON): a trade
    fair in Ho Chi Minh City with a food quota, a Mekong Delta market that also admits potential OCOP
    products, a year-long showcase point at Đà Nẵng airport (Decision 950/QĐ-BCT) favouring far
    regions, the national festival in Hà Nội, and a year-long showcase at a tourist site at home,
    Cồn Phụng, for the province's 3★+ and key products. Dated 2027, moved on by whole years once
    2027's first deadline is near, so the demo never starts with fairs in the past."""
    year = 2027
    while date(year, 1, 5) <= today + timedelta(days=14):
        year += 1

    def deadline(month: int, day: int) -> str:
        return f"{year}-{month:02d}-{day:02d}T17:00:00+07:00"

    return [
        {
            "name": f"Hội chợ OCOP Thành phố Hồ Chí Minh {year}",
            "kind": "trade_fair",
            "organiser": "Sở Công Thương TP. Hồ Chí Minh",
            "organiser_kind": "trade_department",
            "organiser_contact": "Trần Minh Khoa",
            "organiser_phone": "028 3829 1234",
            "organiser_email": "hoicho@sct-hcm.demo.ocop.vn",
            "host_province": "Hồ Chí Minh",
            "region": "southeast",
            "venue": "Trung tâm Hội chợ và Triển lãm Sài Gòn (SECC), 799 Nguyễn Văn Linh",
            "venue_kind": "trade_centre",
            "starts_on": f"{year}-03-10",
            "ends_on": f"{year}-03-15",
            "capacity": 60,
            "subsidy_per_booth": 12_000_000,
            "budget": 720_000_000,
            "invitation_deadline": deadline(2, 20),
            "response_days": 14,
            "rules": {"min_stars": 3, "max_products_per_producer": 2, "group_quotas": {"1": 0.6}},
        },
        {
            "name": f"Phiên chợ OCOP và đặc sản Đồng bằng sông Cửu Long {year}",
            "kind": "trade_fair",
            "organiser": "Trung tâm Xúc tiến thương mại Cần Thơ",
            "organiser_kind": "trade_promotion_centre",
            "organiser_contact": "Lê Thị Thu Hà",
            "organiser_phone": "0292 3812 345",
            "organiser_email": "xttm@cantho.demo.ocop.vn",
            "host_province": "Cần Thơ",
            "region": "mekong_delta",
            "venue": "Công viên sông Hậu, Cần Thơ",
            "starts_on": f"{year}-01-15",
            "ends_on": f"{year}-01-19",
            "capacity": 40,
            "subsidy_per_booth": 8_000_000,
            "budget": 320_000_000,
            "invitation_deadline": deadline(1, 5),
            "response_days": 10,
            "rules": {
                "min_stars": 3,
                "admit_uncertified": True,
                "groups": [1, 2],
                "regions": ["mekong_delta"],
                "group_quotas": {"1": 0.75},
            },
        },
        {
            "name": "Điểm giới thiệu và bán sản phẩm OCOP – Sân bay quốc tế Đà Nẵng",
            "kind": "showcase_point",
            "organiser": "Sở Công Thương Đà Nẵng",
            "organiser_kind": "trade_department",
            "organiser_contact": "Phan Văn Đức",
            "organiser_phone": "0236 3822 456",
            "organiser_email": "ocop@sct-danang.demo.ocop.vn",
            "host_province": "Đà Nẵng",
            "region": "north_central_coast",
            "venue": "Nhà ga hành khách quốc nội, Sân bay quốc tế Đà Nẵng",
            "venue_kind": "airport",
            "starts_on": f"{year}-04-01",
            "ends_on": f"{year + 1}-03-31",
            "capacity": 30,
            "subsidy_per_booth": 3_000_000,
            "invitation_deadline": deadline(3, 15),
            "response_days": 14,
            "rules": {
                "min_stars": 4,
                "groups": [1, 2, 3, 4],
                "max_products_per_producer": 2,
                "valid_through_end": False,
                "regional_weights": {"host": 2, "near": 3, "far": 6},
            },
        },
        {
            "name": f"Lễ hội OCOP toàn quốc – Hà Nội {year}",
            "kind": "trade_fair",
            "organiser": "Bộ Nông nghiệp và Môi trường",
            "organiser_kind": "ministry",
            "organiser_contact": "Văn phòng Điều phối nông thôn mới Trung ương",
            "organiser_phone": "024 3734 5678",
            "organiser_email": "ocop@mae.demo.ocop.vn",
            "host_province": "Hà Nội",
            "region": "red_river_delta",
            "venue": "Trung tâm Triển lãm Việt Nam, Đông Anh",
            "venue_kind": "trade_centre",
            "starts_on": f"{year}-05-20",
            "ends_on": f"{year}-05-25",
            "capacity": 25,
            "subsidy_per_booth": 15_000_000,
            "budget": 375_000_000,
            "invitation_deadline": deadline(4, 30),
            "response_days": 14,
            "rules": {"min_stars": 4, "regional_weights": {"host": 6, "near": 3, "far": 6}},
        },
        {
            "name": "Điểm giới thiệu và bán sản phẩm OCOP – Khu du lịch Cồn Phụng",
            "kind": "showcase_point",
            "organiser": "Sở Công Thương Vĩnh Long",
            "organiser_kind": "trade_department",
            "organiser_contact": "Võ Thị Ngọc Trâm",
            "organiser_phone": "0275 3822 789",
            "organiser_email": "ocop@sct-vinhlong.demo.ocop.vn",
            "host_province": "Bến Tre",
            "region": "mekong_delta",
            "venue": "Khu du lịch Cồn Phụng, xã Tân Thạch, Châu Thành (Bến Tre cũ)",
            "venue_kind": "tourist_site",
            "starts_on": f"{year}-02-01",
            "ends_on": f"{year + 1}-01-31",
            "capacity": 20,
            "subsidy_per_booth": 2_000_000,
            "invitation_deadline": deadline(1, 20),
            "response_days": 14,
            "rules": {
                "min_stars": 3,
                "admit_provincial_key": True,
                "provinces": ["Bến Tre"],
                "groups": [1, 2, 3, 4],
                "max_products_per_producer": 1,
                "valid_through_end": False,
            },
        },
    ]


def load_events(runtime) -> list[str]:
    from services.events import fairs as fair_ops
    from services.events.models import Fair
    from services.events.schemas import FairIn

    with runtime.transaction() as s:
        if s.scalar(select(func.count()).select_from(Fair)):
            return [f.id for f in s.scalars(select(Fair))]
        # owned by the demo trade officer's department (embedded/demo_accounts.py), as if it entered them
        owner = "so-cong-thuong-vinh-long"
        return [fair_ops.create_fair(s, FairIn().load(fair), owner_scope=owner).id for fair in fairs(date.today())]
