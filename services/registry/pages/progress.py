"""The year's progress against the programme's targets, and the register's figures, as charts."""

from __future__ import annotations

from flask import render_template, request

from shared.instants import vietnam_today
from shared.web import rt

from .. import programme, queries
from . import blp, labels
from .access import page

MEASURES = {
    "new_certifications": "Chứng nhận mới",
    "recertifications": "Đánh giá lại",
    "upgrades": "Nâng hạng sao",
    "community_tourism": "Du lịch cộng đồng",
}
REGIONS = {"mekong_delta": "Đồng bằng sông Cửu Long"}


@blp.get("/progress")
@page("registry_officer", "admin")
def progress():
    this_year = vietnam_today().year
    year = request.args.get("year", this_year, type=int) or this_year
    year = min(max(year, 2008), 2100)
    with rt().transaction() as s:
        done = programme.progress(s, year)
        stats = queries.statistics(s)
    measures = [{**m, "label": MEASURES.get(m["measure"], m["measure"])} for m in done["measures"]]
    charts = {
        "achieved": [(m["label"], m["achieved"]) for m in measures],
        "percent": [(m["label"], m["percent"] or 0) for m in measures],
        "stars": [(f"{k}★", v) for k, v in stats["by_stars"].items()],
        "group": [(labels.GROUPS.get(int(k), k), v) for k, v in stats["by_group"].items()],
        "kind": [(labels.KINDS.get(k, k), v) for k, v in stats["by_producer_kind"].items()],
        "old_province": [(row["label"], row["certified_products"]) for row in stats["by_old_province"]],
    }
    return render_template(
        "registry/progress.html", year=year, this_year=this_year, measures=measures, stats=stats, charts=charts
    )
