"""Demo data: one province's OCOP register (Bến Tre, 2023, now part of Vĩnh Long) and four
fairs across the country. Loaded through the services' own operations, so every record emits
its events exactly as in production."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import func, select

PRODUCTS = ["Kẹo dừa", "Bánh tráng dừa", "Rượu dừa", "Mật hoa dừa", "Dầu dừa tinh khiết", "Bánh phồng sữa",
            "Chuối sấy dẻo", "Cacao bột", "Bưởi da xanh", "Tinh dầu bưởi", "Thạch dừa", "Chén gáo dừa",
            "Túi xách sợi dừa", "Bánh canh", "Nước mắm cá cơm", "Mứt chuối", "Chôm chôm sấy", "Trà mãng cầu"]
KINDS = ["cooperative"] * 29 + ["enterprise"] * 18 + ["household"] * 27 + ["cooperative_group"] * 2  # 76
PLACES = ["Chợ Lách", "Mỏ Cày", "Giồng Trôm", "Ba Tri", "Bình Đại", "Châu Thành", "Thạnh Phú"]
DECISIONS = [("1358/QĐ-UBND", date(2024, 7, 20)), ("2140/QĐ-UBND", date(2025, 3, 14)),
             ("845/QĐ-UBND", date(2025, 9, 30)), ("312/QĐ-UBND", date(2026, 4, 10))]
KIND_NAMES = {"cooperative": "Hợp tác xã", "enterprise": "Công ty TNHH", "household": "Cơ sở",
              "cooperative_group": "Tổ hợp tác"}
GROUP_OF = {"Rượu dừa": 2, "Trà mãng cầu": 2, "Tinh dầu bưởi": 3, "Dầu dừa tinh khiết": 3, "Chén gáo dừa": 4,
            "Túi xách sợi dừa": 4}
SUBGROUP_OF = {"Rượu dừa": "2.1", "Trà mãng cầu": "2.2", "Tinh dầu bưởi": "3.3", "Dầu dừa tinh khiết": "3.3",
               "Chén gáo dừa": "4.1", "Túi xách sợi dừa": "4.1", "Bưởi da xanh": "1.1", "Cacao bột": "1.6",
               "Nước mắm cá cơm": "1.4"}


def _plan():
    """76 producers, 200 products: 110 at 3★ and 90 at 4★, 16 of those potential 5★."""
    products = []
    for i in range(200):
        producer = i % 76
        four = i % 20 >= 11  # 9 of every 20 -> 90 of 200
        products.append((producer, four))
    fours = [k for k, (_, four) in enumerate(products) if four]
    potential = set(fours[::5][:16])
    return products, potential


def load_registry(runtime) -> bool:
    from services.registry import operations as ops
    from services.registry.models import Producer

    with runtime.transaction() as s:
        if s.scalar(select(func.count()).select_from(Producer)):
            return False
        producers = []
        for n, kind in enumerate(KINDS, start=1):
            place = PLACES[n % len(PLACES)]
            producers.append(ops.register_producer(s, runtime.emit, {
                "code": f"BT-{n:03d}", "name": f"{KIND_NAMES[kind]} {PRODUCTS[n % len(PRODUCTS)]} {place} {n}",
                "kind": kind, "province": "Bến Tre", "address": f"{place}, Bến Tre",
                "representative": "Nguyễn Thị Hồng", "email": f"chuthe{n:03d}@demo.ocop.vn" if n % 19 else None,
                # a mobile number where SMS is consented (the SMS sink shows those), else a Bến Tre landline
                "phone": f"0912 {n:03d} {n:03d}" if n % 3 == 0 else f"0275 38{n:04d}",
                "preferred_language": "en" if n == 7 else "vi",
                "consent": {"email": True, "sms": n % 3 == 0}}))
        plan, potential = _plan()
        for k, (p_index, four) in enumerate(plan):
            name = PRODUCTS[k % len(PRODUCTS)]
            product = ops.register_product(s, runtime.emit, {
                "producer_id": producers[p_index].id, "name": f"{name} {PLACES[k % len(PLACES)]}",
                "group": GROUP_OF.get(name, 1),
                "subgroup": SUBGROUP_OF.get(name, "1.3"), "potential_five_star": False})
            number, decided = DECISIONS[k % len(DECISIONS)]
            ops.grant_certification(s, runtime.emit, {
                "product_id": product.id, "kind": "new", "criteria_version": "148/QĐ-TTg",
                # a provincial score of 90+ is 4★ and proposes the product for national evaluation (potential 5★)
                "score": (90 + k % 10) if k in potential else (72 + k % 17) if four else (52 + k % 17),
                "issued_by": "UBND tỉnh Bến Tre",
                "decision_number": number, "decision_date": decided}, today=date.today())
    return True


def fairs(today: date) -> list[dict]:
    """Four fairs across the country, as a trade officer would enter them (the API's JSON): a trade
    fair in Ho Chi Minh City with a food quota, a Mekong Delta market that also admits potential OCOP
    products, a year-long showcase point at Đà Nẵng airport (Decision 950/QĐ-BCT) favouring far
    regions, and the national festival in Hà Nội. Dated 2027, moved on by whole years once 2027's
    first deadline is near, so the demo never starts with fairs in the past."""
    year = 2027
    while date(year, 1, 5) <= today + timedelta(days=14):
        year += 1

    def deadline(month: int, day: int) -> str:
        return f"{year}-{month:02d}-{day:02d}T17:00:00+07:00"

    return [
        {"name": f"Hội chợ OCOP Thành phố Hồ Chí Minh {year}", "kind": "trade_fair",
         "organiser": "Sở Công Thương TP. Hồ Chí Minh", "organiser_kind": "trade_department",
         "host_province": "Hồ Chí Minh", "region": "southeast",
         "venue": "Trung tâm Hội chợ và Triển lãm Sài Gòn (SECC), 799 Nguyễn Văn Linh",
         "starts_on": f"{year}-03-10", "ends_on": f"{year}-03-15", "capacity": 60, "subsidy_per_booth": 12_000_000,
         "budget": 720_000_000, "invitation_deadline": deadline(2, 20), "response_days": 14,
         "rules": {"min_stars": 3, "max_products_per_producer": 2, "group_quotas": {"1": 0.6}}},
        {"name": f"Phiên chợ OCOP và đặc sản Đồng bằng sông Cửu Long {year}", "kind": "trade_fair",
         "organiser": "Trung tâm Xúc tiến thương mại Cần Thơ", "organiser_kind": "trade_promotion_centre",
         "host_province": "Cần Thơ", "region": "mekong_delta", "venue": "Công viên sông Hậu, Cần Thơ",
         "starts_on": f"{year}-01-15", "ends_on": f"{year}-01-19", "capacity": 40, "subsidy_per_booth": 8_000_000,
         "budget": 320_000_000, "invitation_deadline": deadline(1, 5), "response_days": 10,
         "rules": {"min_stars": 3, "admit_uncertified": True, "groups": [1, 2], "regions": ["mekong_delta"],
                   "group_quotas": {"1": 0.75}}},
        {"name": "Điểm giới thiệu và bán sản phẩm OCOP – Sân bay quốc tế Đà Nẵng", "kind": "showcase_point",
         "organiser": "Sở Công Thương Đà Nẵng", "organiser_kind": "trade_department", "host_province": "Đà Nẵng",
         "region": "north_central_coast", "venue": "Nhà ga hành khách quốc nội, Sân bay quốc tế Đà Nẵng",
         "starts_on": f"{year}-04-01", "ends_on": f"{year + 1}-03-31", "capacity": 30, "subsidy_per_booth": 3_000_000,
         "invitation_deadline": deadline(3, 15), "response_days": 14,
         "rules": {"min_stars": 4, "groups": [1, 2, 3, 4], "max_products_per_producer": 2,
                   "valid_through_end": False, "regional_weights": {"host": 2, "near": 3, "far": 6}}},
        {"name": f"Lễ hội OCOP toàn quốc – Hà Nội {year}", "kind": "trade_fair",
         "organiser": "Bộ Nông nghiệp và Môi trường", "organiser_kind": "ministry", "host_province": "Hà Nội",
         "region": "red_river_delta", "venue": "Trung tâm Triển lãm Việt Nam, Đông Anh",
         "starts_on": f"{year}-05-20", "ends_on": f"{year}-05-25", "capacity": 25, "subsidy_per_booth": 15_000_000,
         "budget": 375_000_000, "invitation_deadline": deadline(4, 30), "response_days": 14,
         "rules": {"min_stars": 4, "regional_weights": {"host": 6, "near": 3, "far": 6}}},
    ]


def load_events(runtime) -> list[str]:
    from services.events import operations as ops
    from services.events.models import Fair
    from services.events.schemas import FairIn

    with runtime.transaction() as s:
        if s.scalar(select(func.count()).select_from(Fair)):
            return [f.id for f in s.scalars(select(Fair))]
        return [ops.create_fair(s, FairIn().load(fair)).id for fair in fairs(date.today())]
