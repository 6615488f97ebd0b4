"""The events read model keeps the newest state per product, whether events arrive one by one
or as a consumer batch (one round trip), in order or not."""

from __future__ import annotations

import uuid
from datetime import date

from services.events import operations as ops
from services.events.models import CertifiedProduct


def _event(product_id: str, version: int, stars: int):
    data = {"certification_id": str(uuid.uuid4()), "product_id": product_id, "product_name": "Mật hoa dừa",
            "group": 1, "producer_id": "p", "producer_name": "Cơ sở Mật hoa dừa Sokfarm",
            "producer_kind": "household", "province": "Vĩnh Long", "region": "mekong_delta", "stars": stars,
            "score": 75, "kind": "new", "issued_by": "UBND", "decision_number": "1/QĐ", "decision_date": date(2025, 1, 2),
            "valid_until": date(2028, 1, 2), "potential_five_star": False}
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
