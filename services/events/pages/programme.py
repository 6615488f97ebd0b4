"""Season planning (choose fairs, preview the plan and its spread, apply) and the programme
figures (fill rate, subsidy against budget, fairness) as charts. Only the officer's own fairs."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from sqlalchemy import select

from shared.errors import OperationError
from shared.instants import vietnam_today
from shared.web import rt

from ..models import Fair
from ..outputs.queries import programme_figures
from ..season import operations as season_operations
from ..season import queries as season_queries
from . import REGION, ROLES, bp, page, scope

PLANNABLE = ("draft", "published")
SHOWN = 20  # choices listed per fair


def _own(q):
    mine = scope()
    return q if mine is None else q.where(Fair.owner_scope == mine)


def _plannable(s) -> list[Fair]:
    return list(s.scalars(_own(select(Fair)).where(Fair.status.in_(PLANNABLE)).order_by(Fair.starts_on, Fair.name)))


def _chosen(s) -> list[str]:
    """The fairs ticked, kept only if the officer's scope owns them and they can be planned."""
    wanted = set(request.values.getlist("fair"))
    return [f.id for f in _plannable(s) if f.id in wanted]


@bp.get("/season")
@page(*ROLES)
def season():
    plan, error = None, None
    with rt().transaction() as s:
        fairs = _plannable(s)
        chosen = _chosen(s)
        if request.args.get("preview"):
            if not chosen:
                error = "Chọn ít nhất một hội chợ."
            else:
                try:
                    plan = season_queries.preview(s, fair_ids=chosen, limit=SHOWN)
                except OperationError as exc:
                    error = exc.message
        return render_template("events/season.html", fairs=fairs, chosen=chosen, plan=plan, error=error)


@bp.post("/season")
@page(*ROLES)
def season_apply():
    with rt().transaction() as s:
        chosen = _chosen(s)
    if not chosen:
        flash("Chọn ít nhất một hội chợ.", "error")
        return redirect(url_for("trade.season"))
    try:
        with rt().transaction() as s:
            done = season_operations.apply(s, rt().emit, fair_ids=chosen, limit=0)
    except OperationError as exc:
        flash(f"Chưa áp dụng được kế hoạch: {exc.message}", "error")
        return redirect(url_for("trade.season", fair=chosen, preview=1))
    invited = sum(f["invited"] for f in done["fairs"])
    flash(f"Đã áp dụng kế hoạch: {len(done['fairs'])} hội chợ, {invited} thư mời đã gửi.", "success")
    return redirect(url_for("trade.fair_list"))


@bp.get("/figures")
@page(*ROLES)
def figures():
    year = request.args.get("year", type=int) or vietnam_today().year
    year = min(max(year, 2000), 2100)
    with rt().transaction() as s:
        mine = scope()
        owned = None if mine is None else set(s.scalars(select(Fair.id).where(Fair.owner_scope == mine)))
        data = programme_figures(s, year=year)
        rows = [f for f in data["fairs"] if owned is None or f["fair_id"] in owned]
    fill = [(f["name"], round((f["fill_rate"] or 0) * 100)) for f in rows]
    budget = [(f["name"], round((f["budget_used"] or 0) * 100)) for f in rows if f["budget"] is not None]
    regions = [(REGION.get(t["key"], t["key"]), t["invitations"]) for t in data["by_region"]]
    return render_template(
        "events/figures.html",
        year=year,
        rows=rows,
        fill=fill,
        budget=budget,
        regions=regions,
        fairness=data["fairness"],
        overall=data["overall"],
    )
