"""The programme's year: targets (reference/targets.json, data) against what the register shows.

A year's achievements count the certification decisions dated in that year, whatever their status
since (a product certified in March and revoked in October still counted towards March's target):
new certifications, re-certifications and upgrades by their kind, and community-tourism products
as new certifications of group 6 products."""

from __future__ import annotations

import json
from datetime import date
from functools import lru_cache

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from .domain import REFERENCE
from .models import Certification, Product

MEASURES = ("new_certifications", "recertifications", "upgrades", "community_tourism")
KIND_OF = {"new": "new_certifications", "recertification": "recertifications", "upgrade": "upgrades"}


@lru_cache(maxsize=1)
def _targets() -> dict:
    data = json.loads((REFERENCE / "targets.json").read_text(encoding="utf-8"))
    for year, targets in [("default", data["default"]), *data["years"].items()]:
        if set(targets) != set(MEASURES) or any(not isinstance(v, int) or v < 0 for v in targets.values()):
            raise ValueError(f"targets.json: {year} must set {', '.join(MEASURES)} as counts")
    return data


def targets_for(year: int) -> dict[str, int]:
    data = _targets()
    return dict(data["years"].get(str(year), data["default"]))


def progress(session: Session, year: int) -> dict:
    start, end = date(year, 1, 1), date(year, 12, 31)
    in_year = (Certification.decision_date >= start, Certification.decision_date <= end)
    achieved = dict.fromkeys(MEASURES, 0)
    for kind, n in session.execute(
        select(Certification.kind, func.count()).where(*in_year).group_by(Certification.kind)
    ).all():
        achieved[KIND_OF[kind]] = n
    achieved["community_tourism"] = session.scalar(
        select(func.count())
        .select_from(Certification)
        .join(Product, Product.id == Certification.product_id)
        .where(*in_year, Certification.kind == "new", Product.group == _targets()["community_tourism_group"])
    )
    targets = targets_for(year)
    return {
        "year": year,
        "measures": [
            {
                "measure": m,
                "target": targets[m],
                "achieved": achieved[m],
                "remaining": max(targets[m] - achieved[m], 0),
                "percent": round(100 * achieved[m] / targets[m], 1) if targets[m] else None,
            }
            for m in MEASURES
        ],
    }
