"""The fair's live board: its invitations by status with producer and product names (from the read
model), an answer a producer gave by phone recorded by the officer, an invitation withdrawn with a
reason, the participants' export. The page refreshes itself (meta refresh) while the fair invites."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Response, flash, redirect, render_template, request, stream_with_context, url_for
from sqlalchemy import select

from shared.errors import OperationError
from shared.web import rt

from .. import invitations as operations
from ..models import Invitation, ProducerView
from ..outputs.queries import participants_csv
from ..queries import counts, get_invitation, with_clashes
from . import INVITATION, ROLES, actor, bp, owned_fair, page

ORDER = ("accepted", "issued", "waitlisted", "declined", "expired", "withdrawn")
LIVE = ("published", "inviting")


@bp.get("/fairs/<fair_id>")
@page(*ROLES)
def fair_board(fair_id):
    with rt().transaction() as s:
        fair = with_clashes(s, owned_fair(s, fair_id))
        rows = list(s.scalars(select(Invitation).where(Invitation.fair_id == fair.id).order_by(Invitation.rank)))
        ids = sorted({r.producer_id for r in rows})
        names = (
            dict(
                s.execute(
                    select(ProducerView.producer_id, ProducerView.name).where(ProducerView.producer_id.in_(ids))
                ).all()
            )
            if ids
            else {}
        )
        groups = {status: [] for status in ORDER}
        for row in rows:
            groups.setdefault(row.status, []).append(row)
        return render_template(
            "events/board.html",
            fair=fair,
            groups=groups,
            order=ORDER,
            counts=counts(s, fair.id),
            names=names,
            refresh=30 if fair.status in LIVE else None,
        )


@bp.get("/invitations/<invitation_id>")
@page(*ROLES)
def invitation(invitation_id):
    """One invitation, with the phone answer and withdraw forms (apart from the board, whose refresh
    would wipe what an officer is typing)."""
    with rt().transaction() as s:
        inv = _owned_invitation(s, invitation_id)
        fair = owned_fair(s, inv.fair_id)
        name = s.scalar(select(ProducerView.name).where(ProducerView.producer_id == inv.producer_id))
        return render_template("events/invitation.html", inv=inv, fair=fair, producer=name)


def _owned_invitation(s, invitation_id):
    inv = get_invitation(s, invitation_id)
    owned_fair(s, inv.fair_id)
    return inv


@bp.post("/invitations/<invitation_id>/phone-answer")
@page(*ROLES)
def phone_answer(invitation_id):
    answer = request.form.get("answer")
    note = (request.form.get("note") or "").strip()[:500]
    with rt().transaction() as s:
        fair_id = _owned_invitation(s, invitation_id).fair_id
    if answer not in ("accept", "decline"):
        flash("Chọn câu trả lời: nhận lời hoặc từ chối.", "error")
        return redirect(url_for("trade.fair_board", fair_id=fair_id))
    who = actor()
    recorded = f"trả lời qua điện thoại, {who.get('name') or who.get('id')} ghi nhận"
    try:
        with rt().transaction() as s:
            inv = get_invitation(s, invitation_id)
            now = datetime.now(UTC)
            operations.answer_invitation(
                s, rt().emit, inv.id, inv.producer_id, answer, f"{recorded}: {note}" if note else recorded, now
            )
    except OperationError as exc:
        flash(f"Không ghi nhận được: {exc.message}", "error")
    else:
        flash("Đã ghi nhận câu trả lời qua điện thoại.", "success")
    return redirect(url_for("trade.fair_board", fair_id=fair_id))


@bp.post("/invitations/<invitation_id>/withdraw")
@page(*ROLES)
def withdraw(invitation_id):
    reason = (request.form.get("reason") or "").strip()
    with rt().transaction() as s:
        fair_id = _owned_invitation(s, invitation_id).fair_id
    if len(reason) < 3:
        flash("Rút thư mời cần ghi lý do (ít nhất 3 ký tự).", "error")
        return redirect(url_for("trade.fair_board", fair_id=fair_id))
    try:
        with rt().transaction() as s:
            operations.withdraw_invitation(s, rt().emit, invitation_id, reason[:500])
    except OperationError as exc:
        flash(f"Không rút được: {exc.message}", "error")
    else:
        flash("Đã rút thư mời; người kế tiếp trong danh sách chờ được mời.", "success")
    return redirect(url_for("trade.fair_board", fair_id=fair_id))


@bp.get("/fairs/<fair_id>/participants.csv")
@page(*ROLES)
def participants(fair_id):
    statuses = [s for s in request.args.getlist("status") if s in INVITATION] or ["accepted"]
    session = rt().session_factory()
    try:
        fair = owned_fair(session, fair_id)
    except Exception:
        session.close()
        raise

    def stream():
        try:
            yield from participants_csv(session, fair, statuses)
        finally:
            session.close()

    return Response(
        stream_with_context(stream()),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="participants-{fair.id}.csv"'},
    )
