"""The events read model keeps the newest state per product, whether events arrive one by one
or as a consumer batch (one round trip), in order or not."""

from __future__ import annotations

import uuid
from datetime import date

from services.events import read_model as ops
from services.events.models import CertifiedProduct


def _event(product_id: str, version: int, stars: int):
    data = {
        "certification_id": str(uuid.uuid4()),
        "product_id": product_id,
        "product_name": "Mật hoa dừa",
        "group": 1,
        "producer_id": "p",
        "producer_name": "Cơ sở Mật hoa dừa Sokfarm",
        "producer_kind": "household",
        "province": "Vĩnh Long",
        "region": "mekong_delta",
        "stars": stars,
        "score": 75,
        "kind": "new",
        "issued_by": "UBND",
        "decision_number": "1/QĐ",
        "decision_date": date(2025, 1, 2),
        "valid_until": date(2028, 1, 2),
        "potential_five_star": False,
    }
    return {"subject_version": version}, data


def test_batch_applies_in_order_and_drops_stale(platform):
    rt = platform.runtimes["events"]
    a, b = str(uuid.uuid4()), str(uuid.uuid4())
    with rt.transaction() as s:
        ops.apply_certifications(s, [_event(a, 2, 3), _event(a, 1, 5), _event(b, 1, 4), _event(a, 3, 4)])
    with rt.transaction() as s:
        row_a, row_b = s.get(CertifiedProduct, a), s.get(CertifiedProduct, b)
        assert (row_a.source_version, row_a.stars) == (3, 4)
        assert (row_b.source_version, row_b.stars) == (1, 4)
        assert row_a.producer_name == "Cơ sở Mật hoa dừa Sokfarm"


def test_single_event_older_than_stored_changes_nothing(platform):
    rt = platform.runtimes["events"]
    a = str(uuid.uuid4())
    with rt.transaction() as s:
        assert ops.apply_certification(s, *_event(a, 5, 4)) is True
        assert ops.apply_certification(s, *_event(a, 4, 3)) is False
        assert ops.apply_certification(s, *_event(a, 5, 3)) is False
    with rt.transaction() as s:
        assert s.get(CertifiedProduct, a).stars == 4


def _producer(producer_id: str, version: int, name: str, province: str = "Vĩnh Long", region: str = "mekong_delta"):
    return {"subject_version": version}, {
        "producer_id": producer_id,
        "code": "BT-1",
        "name": name,
        "kind": "enterprise",
        "province": province,
        "region": region,
        "email": None,
        "phone": None,
        "preferred_language": "vi",
        "consent": {"email": False, "sms": False},
    }


def _product(product_id: str, producer_id: str, version: int, name: str, subgroup: str | None = None):
    return {"subject_version": version}, {
        "product_id": product_id,
        "producer_id": producer_id,
        "name": name,
        "name_en": None,
        "group": 1,
        "potential_five_star": True,
        "subgroup": subgroup,
    }


def test_producer_changes_reach_its_certified_products_in_any_order(platform):
    """A producer's newer state wins over the snapshot a certification event carries, whichever
    arrives first (events of two subjects are not ordered with each other)."""
    from services.events.models import ProducerView

    rt = platform.runtimes["events"]
    producer, a, b = str(uuid.uuid4()), str(uuid.uuid4()), str(uuid.uuid4())
    envelope, data = _event(a, 2, 4)
    with rt.transaction() as s:
        ops.apply_certification(s, envelope, {**data, "producer_id": producer})
        assert (
            ops.apply_producer(s, *_producer(producer, 2, "Công ty TNHH Dừa Xanh Bến Tre", "Hồ Chí Minh", "southeast"))
            is True
        )
        assert ops.apply_producer(s, *_producer(producer, 1, "tên cũ")) is False  # stale
    with rt.transaction() as s:
        row = s.get(CertifiedProduct, a)
        assert (row.producer_name, row.province, row.region, row.producer_kind) == (
            "Công ty TNHH Dừa Xanh Bến Tre",
            "Hồ Chí Minh",
            "southeast",
            "enterprise",
        )
        envelope, data = _event(b, 2, 3)  # granted later, carrying the producer's old snapshot
        ops.apply_certification(s, envelope, {**data, "producer_id": producer})
    with rt.transaction() as s:
        assert s.get(CertifiedProduct, b).producer_name == "Công ty TNHH Dừa Xanh Bến Tre"
        assert s.get(ProducerView, producer).source_version == 2


def test_products_are_known_before_certification_with_their_sub_group(platform):
    from services.events.models import ProductView

    rt = platform.runtimes["events"]
    producer, product = str(uuid.uuid4()), str(uuid.uuid4())
    with rt.transaction() as s:
        ops.apply_producer(s, *_producer(producer, 1, "Hộ kinh doanh Mật hoa dừa"))
        assert ops.apply_product(s, *_product(product, producer, 1, "Mật hoa dừa cô đặc", "1.3")) is True
        assert ops.apply_product(s, *_product(product, producer, 1, "bản trùng")) is False  # same version again
    with rt.transaction() as s:
        row = s.get(ProductView, product)
        assert (row.name, row.subgroup, row.potential_five_star) == ("Mật hoa dừa cô đặc", "1.3", True)
        assert s.get(CertifiedProduct, product) is None  # not certified: only a fair admitting potential OCOP sees it
        envelope, data = _event(product, 2, 4)
        ops.apply_certification(s, envelope, {**data, "producer_id": producer, "subgroup": "1.3"})
        ops.apply_product(s, *_product(product, producer, 3, "Mật hoa dừa Sokfarm", "1.4"))
    with rt.transaction() as s:
        row = s.get(CertifiedProduct, product)
        assert (row.product_name, row.subgroup, row.stars, row.source_version) == ("Mật hoa dừa Sokfarm", "1.4", 4, 3)
