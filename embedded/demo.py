"""Demo data: one province's OCOP register (Bến Tre, 2023, now part of Vĩnh Long) and four
fairs across the country. Loaded through the services' own operations, so every record emits
its events exactly as in production."""

from __future__ import annotations

from datetime import UTC, date, datetime

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
                "phone": f"0275 38{n:04d}", "preferred_language": "en" if n == 7 else "vi",
                "consent": {"email": True, "sms": n % 3 == 0}}))
        plan, potential = _plan()
        for k, (p_index, four) in enumerate(plan):
            name = PRODUCTS[k % len(PRODUCTS)]
            product = ops.register_product(s, runtime.emit, {
                "producer_id": producers[p_index].id, "name": f"{name} {PLACES[k % len(PLACES)]}",
                "group": GROUP_OF.get(name, 1),
                "subgroup": SUBGROUP_OF.get(name, "1.3"), "potential_five_star": k in potential})
            number, decided = DECISIONS[k % len(DECISIONS)]
            ops.grant_certification(s, runtime.emit, {
                "product_id": product.id, "kind": "new", "criteria_version": "148/QĐ-TTg",
                "score": (72 + k % 17) if four else (52 + k % 17), "issued_by": "UBND tỉnh Bến Tre",
                "decision_number": number, "decision_date": decided}, today=date.today())
    return True


FAIRS = [
    {"name": "Hội chợ OCOP Thành phố Hồ Chí Minh 2027", "organiser": "Sở Công Thương TP. Hồ Chí Minh",
     "host_province": "Hồ Chí Minh", "region": "southeast", "venue": "Trung tâm Hội chợ và Triển lãm Sài Gòn (SECC)",
     "starts_on": date(2027, 3, 10), "ends_on": date(2027, 3, 15), "capacity": 60, "subsidy_per_booth": 12_000_000,
     "invitation_deadline": datetime(2027, 2, 20, 17, tzinfo=UTC), "rules": {"min_stars": 3}},
    {"name": "Phiên chợ OCOP Đồng bằng sông Cửu Long", "organiser": "Trung tâm Xúc tiến thương mại Cần Thơ",
     "host_province": "Cần Thơ", "region": "mekong_delta", "venue": "Công viên sông Hậu, Cần Thơ",
     "starts_on": date(2027, 1, 15), "ends_on": date(2027, 1, 19), "capacity": 40, "subsidy_per_booth": 8_000_000,
     "invitation_deadline": datetime(2027, 1, 5, 17, tzinfo=UTC), "rules": {"min_stars": 3, "groups": [1, 2]}},
    {"name": "Hội chợ OCOP miền Trung – Đà Nẵng 2027", "organiser": "Sở Công Thương Đà Nẵng",
     "host_province": "Đà Nẵng", "region": "north_central_coast", "venue": "Cung Hội nghị Quốc tế Ariyana",
     "starts_on": date(2027, 4, 5), "ends_on": date(2027, 4, 10), "capacity": 30, "subsidy_per_booth": 10_000_000,
     "invitation_deadline": datetime(2027, 3, 15, 17, tzinfo=UTC), "rules": {"min_stars": 4}},
    {"name": "Lễ hội OCOP toàn quốc – Hà Nội 2027", "organiser": "Bộ Nông nghiệp và Môi trường",
     "host_province": "Hà Nội", "region": "red_river_delta", "venue": "Trung tâm Triển lãm Việt Nam, Đông Anh",
     "starts_on": date(2027, 5, 20), "ends_on": date(2027, 5, 25), "capacity": 25, "subsidy_per_booth": 15_000_000,
     "invitation_deadline": datetime(2027, 4, 30, 17, tzinfo=UTC), "rules": {"min_stars": 4}},
]


def load_events(runtime) -> list[str]:
    from services.events import operations as ops
    from services.events.models import Fair

    with runtime.transaction() as s:
        if s.scalar(select(func.count()).select_from(Fair)):
            return [f.id for f in s.scalars(select(Fair))]
        return [ops.create_fair(s, {"kind": "trade_fair", **fair}).id for fair in FAIRS]
