"""Fairs: the list, the month calendar, the fair's form (create, change), publish and cancel."""

from __future__ import annotations

import calendar
from datetime import date, timedelta

from flask import flash, g, redirect, render_template, request, url_for
from sqlalchemy import func, select

from shared import reference
from shared.errors import OperationError
from shared.instants import utc, vietnam_today
from shared.web import rt

from .. import fairs as operations
from ..models import Fair
from ..queries import with_clashes
from . import ROLES, STATUS, bp, owned_fair, page, scope
from .forms import FormErrors, load, operation_errors, shown, values_of, values_of_form

PER_PAGE = 20
HIDDEN_RULES = ("subgroups", "regional_weights")  # set through the API only


def _mine(q):
    mine = scope()
    return q if mine is None else q.where(Fair.owner_scope == mine)


@bp.get("/")
@page(*ROLES)
def home():
    return redirect(url_for("trade.fair_list"))


@bp.get("/fairs")
@page(*ROLES)
def fair_list():
    status = request.args.get("status") or None
    status = status if status in STATUS else None
    number = max(request.args.get("page", 1, type=int) or 1, 1)
    with rt().transaction() as s:
        q = _mine(select(Fair))
        if status:
            q = q.where(Fair.status == status)
        total = s.scalar(select(func.count()).select_from(q.subquery()))
        rows = list(s.scalars(q.order_by(Fair.starts_on, Fair.name).offset((number - 1) * PER_PAGE).limit(PER_PAGE)))
        return render_template(
            "events/fairs.html",
            fairs=rows,
            status=status,
            page=number,
            pages=max((total + PER_PAGE - 1) // PER_PAGE, 1),
            total=total,
        )


@bp.get("/fairs/calendar")
@page(*ROLES)
def fair_calendar():
    today = vietnam_today()
    try:
        first = date.fromisoformat((request.args.get("month") or "") + "-01")
    except ValueError:
        first = today.replace(day=1)
    last = first.replace(day=calendar.monthrange(first.year, first.month)[1])
    with rt().transaction() as s:
        q = _mine(select(Fair)).where(Fair.starts_on <= last, Fair.ends_on >= first).order_by(Fair.starts_on)
        month_fairs = list(s.scalars(q))
        weeks = []
        for week in calendar.Calendar().monthdatescalendar(first.year, first.month):
            weeks.append(
                [
                    {
                        "day": d,
                        "inside": d.month == first.month,
                        "today": d == today,
                        "fairs": [f for f in month_fairs if f.starts_on <= d <= f.ends_on and f.status != "cancelled"],
                    }
                    for d in week
                ]
            )
        previous = (first.replace(day=1) - timedelta(days=1)).strftime("%Y-%m")
        following = (last + timedelta(days=1)).strftime("%Y-%m")
        return render_template(
            "events/calendar.html", weeks=weeks, first=first, previous=previous, following=following, fairs=month_fairs
        )


@bp.route("/fairs/new", methods=["GET", "POST"])
@page(*ROLES)
def fair_new():
    if request.method == "GET":
        return render_template(
            "events/fair_form.html", fair=None, values={"rules.top_up": True, "rules.min_stars": "3"}, errors={}
        )
    try:
        data = load(request.form)
        with rt().transaction() as s:
            fair = operations.create_fair(s, data, owner_scope=g.user.get("scope"))
            with_clashes(s, fair)
            fair_id, clashes = fair.id, [c.name for c in fair.clashes]
    except FormErrors as exc:
        return _form_again(None, exc.errors)
    except OperationError as exc:
        return _form_again(None, operation_errors(exc))
    flash("Đã tạo hội chợ (bản nháp).", "success")
    for name in clashes:
        flash(f"Lưu ý: cùng địa điểm và thời gian với «{name}».", "warning")
    return redirect(url_for("trade.fair_board", fair_id=fair_id))


@bp.route("/fairs/<fair_id>/edit", methods=["GET", "POST"])
@page(*ROLES)
def fair_edit(fair_id):
    with rt().transaction() as s:
        fair = owned_fair(s, fair_id)
        shown = {"id": fair.id, "name": fair.name, "status": fair.status}
        if request.method == "GET":
            return render_template("events/fair_form.html", fair=shown, values=values_of(fair), errors={})
    try:
        changes = load(request.form)
        with rt().transaction() as s:
            current = owned_fair(s, fair_id, lock=True)
            changed = {k: v for k, v in changes.items() if k != "rules" and not _same(getattr(current, k, None), v)}
            stored = current.rules or {}
            # rules merge key by key: only the ones changed, so rules the form does not show (sub-groups,
            # regional weights set through the API) stay as they are
            rules = {k: v for k, v in changes["rules"].items() if k not in HIDDEN_RULES and stored.get(k) != v}
            if rules:
                changed["rules"] = rules
            if changed:
                operations.update_fair(s, rt().emit, fair_id, changed)
    except FormErrors as exc:
        return _form_again(shown, exc.errors)
    except OperationError as exc:
        return _form_again(shown, operation_errors(exc))
    flash("Đã lưu thay đổi.", "success")
    return redirect(url_for("trade.fair_board", fair_id=fair_id))


def _same(stored, entered) -> bool:
    """Only what the officer changed is sent (an inviting fair refuses a change to its rules or dates,
    even to the same value)."""
    if hasattr(stored, "hour") and hasattr(entered, "hour"):
        return utc(stored) == utc(entered)
    if isinstance(stored, str) and isinstance(entered, str) and stored != entered:
        try:  # a province written another way (old name, no diacritics) is the same province
            return reference.resolve_province(entered).name == reference.resolve_province(stored).name
        except reference.UnknownName:
            return False
    return stored == entered


def _form_again(fair, errors):
    values = values_of_form(request.form)
    return render_template("events/fair_form.html", fair=fair, values=values, errors=shown(errors)), 422


@bp.post("/fairs/<fair_id>/publish")
@page(*ROLES)
def fair_publish(fair_id):
    try:
        with rt().transaction() as s:
            owned_fair(s, fair_id)
            operations.publish_fair(s, rt().emit, fair_id, invite=request.form.get("invite", "on") == "on")
    except OperationError as exc:
        flash(f"Không công bố được: {exc.message}", "error")
    else:
        flash("Đã công bố hội chợ và gửi thư mời.", "success")
    return redirect(url_for("trade.fair_board", fair_id=fair_id))


@bp.post("/fairs/<fair_id>/cancel")
@page(*ROLES)
def fair_cancel(fair_id):
    reason = (request.form.get("reason") or "").strip()
    if len(reason) < 3:
        flash("Huỷ hội chợ cần ghi lý do (ít nhất 3 ký tự).", "error")
        return redirect(url_for("trade.fair_board", fair_id=fair_id, _anchor="cancel"))
    try:
        with rt().transaction() as s:
            owned_fair(s, fair_id)
            operations.cancel_fair(s, rt().emit, fair_id, reason[:500])
    except OperationError as exc:
        flash(f"Không huỷ được: {exc.message}", "error")
    else:
        flash("Đã huỷ hội chợ; các thư mời còn mở đã được rút.", "success")
    return redirect(url_for("trade.fair_board", fair_id=fair_id))
