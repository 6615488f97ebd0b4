"""Matching in the console (a page module, not the pure matching package): the preview ranking of a
fair with each candidate's score parts (nothing is sent), and "why not this product?" for any product
found by name (diacritics ignored)."""

from __future__ import annotations

from flask import render_template, request
from sqlalchemy import select

from shared.errors import OperationError
from shared.text import fold
from shared.web import rt

from .. import explain as explaining
from .. import standings
from ..models import ProducerView, ProductView
from . import ROLES, bp, owned_fair, page

SHOWN = 100
FOUND = 20
PART = {
    "stars": "Hạng sao",
    "freshness": "Mới chứng nhận",
    "fairness": "Công bằng",
    "region": "Vùng",
    "quota_fit": "Hợp hạn mức nhóm",
}
RULE = {  # eligibility's rule codes (services/events/eligibility.py), said in Vietnamese
    "status": "Chứng nhận OCOP không còn hiệu lực.",
    "valid_through_end": "Chứng nhận hết hạn trước khi hội chợ kết thúc.",
    "min_stars": "Hạng sao thấp hơn mức tối thiểu của hội chợ.",
    "admit_uncertified": "Sản phẩm chưa được chứng nhận OCOP, hội chợ chỉ nhận sản phẩm đã chứng nhận.",
    "groups": "Nhóm sản phẩm không thuộc các nhóm hội chợ nhận.",
    "subgroups": "Phân nhóm sản phẩm không thuộc các phân nhóm hội chợ nhận.",
    "producer_kinds": "Loại chủ thể không thuộc các loại hội chợ nhận.",
    "regions": "Vùng của chủ thể không thuộc các vùng hội chợ nhận.",
    "provinces": "Tỉnh của chủ thể không thuộc các tỉnh hội chợ nhận.",
    "provinces_or_regions": "Tỉnh, vùng của chủ thể không thuộc nơi hội chợ nhận.",
    "double_booking": "Chủ thể đã nhận lời một hội chợ khác trùng thời gian.",
}


def _search(s, words: str) -> list[dict]:
    wanted = fold(words)
    if len(wanted) < 2:
        return []
    rows = s.execute(
        select(ProductView.product_id, ProductView.name, ProducerView.name).join(
            ProducerView, ProducerView.producer_id == ProductView.producer_id, isouter=True
        )
    ).all()
    found = [
        {"product_id": pid, "name": name, "producer": producer or ""}
        for pid, name, producer in rows
        if wanted in fold(name) or (producer and wanted in fold(producer))
    ]
    return sorted(found, key=lambda r: r["name"])[:FOUND]


@bp.get("/fairs/<fair_id>/matching")
@page(*ROLES)
def fair_matching(fair_id):
    words = (request.args.get("q") or "").strip()[:100]
    product_id = request.args.get("product") or None
    with rt().transaction() as s:
        fair = owned_fair(s, fair_id)
        picks = standings.preview(s, fair)[:SHOWN]
        found = _search(s, words) if words else []
        why = None
        if product_id:
            try:
                why = explaining.explain(s, fair.id, product_id)
            except OperationError as exc:
                why = {"outcome": "unknown", "message": exc.message, "failed_rules": []}
        return render_template(
            "events/matching.html", fair=fair, picks=picks, words=words, found=found, why=why, PART=PART, RULE=RULE
        )
