"""Notifications HTTP: the producer's answer page (signed link) and the delivery log."""

from __future__ import annotations

from flask import current_app, request
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import ValidationError
from sqlalchemy import select

from shared.auth import require
from shared.errors import OperationError
from shared.web import runtime_of

from . import links
from . import operations as ops
from .models import Delivery
from .rendering import render_page
from .schemas import AnswerForm, DeliveryOut, DeliveryQuery

blp = Blueprint("notifications", __name__, url_prefix="/", description="Deliveries and producers' answers")

LINK_ERRORS = {
    "tampered": "Đường dẫn không hợp lệ hoặc đã bị sửa đổi.",
    "expired": "Đường dẫn đã hết hạn: đã quá hạn trả lời lời mời này.",
    "wrong_purpose": "Đường dẫn này không dùng để trả lời lời mời.",
}
STATUS_TEXT = {
    "issued": "Lời mời đang chờ quý đơn vị trả lời.",
    "answered": "Câu trả lời đã được gửi, đang chờ ban tổ chức xác nhận.",
    "accepted": "Ban tổ chức đã xác nhận: quý đơn vị tham gia hội chợ, gian hàng số {booth}.",
    "declined": "Ban tổ chức đã ghi nhận lời từ chối. Cảm ơn quý đơn vị.",
    "refused": "Ban tổ chức không thể ghi nhận câu trả lời: {verdict}",
}


def rt():
    return runtime_of(current_app)


def _page(status: int, title: str, **ctx):
    return render_page(title=title, **ctx), status, {"Content-Type": "text/html; charset=utf-8"}


def _claims(token: str):
    try:
        return links.read_token(current_app.config["SECRET_KEY"], token), None
    except links.LinkError as exc:
        code = 410 if exc.kind == "expired" else 403
        return None, _page(code, "Không thể mở lời mời", message=LINK_ERRORS[exc.kind])


def _status_message(view, answered: bool) -> str:
    status = view.status if view.status != "issued" or not answered else "answered"
    return STATUS_TEXT[status].format(booth=view.booth, verdict=view.verdict)


@blp.route("/r/<token>")
class AnswerPage(MethodView):
    # The signed link is the credential here, not a bearer token; the answers are HTML pages.
    @blp.doc(security=[], responses={"200": {"description": "the page", "content": {"text/html": {}}}})
    def get(self, token):
        """The page a producer opens from the invitation email (Vietnamese)."""
        claims, error = _claims(token)
        if error:
            return error
        with rt().transaction() as s:
            view = ops.get_view(s, claims["inv"])
            answered = s.get(ops.Answer, claims["inv"]) is not None
            return _page(200, "Lời mời tham gia hội chợ", inv=view, form=not answered and view.status == "issued",
                         message=_status_message(view, answered))

    @blp.doc(security=[], requestBody={"required": True,
                                       "content": {"application/x-www-form-urlencoded": {"schema": AnswerForm}}},
             responses={"200": {"description": "the answer was taken", "content": {"text/html": {}}}})
    def post(self, token):
        """The producer's answer from that page's form (accept or decline, with a note)."""
        claims, error = _claims(token)
        if error:
            return error
        try:
            form = AnswerForm().load({k: v for k, v in request.form.items() if k in ("answer", "note")})
        except ValidationError as exc:
            return _page(422, "Câu trả lời chưa hợp lệ", message="; ".join(f"{k}: {v[0]}" for k, v in exc.messages.items()))
        try:
            with rt().transaction() as s:
                view = ops.get_view(s, claims["inv"])
                ops.record_answer(s, rt().emit, claims, form["answer"], form["note"] or None)
        except OperationError as exc:
            return _page(exc.status, "Không thể ghi nhận", message="Lời mời này đã được trả lời trước đó."
                         if exc.status == 409 else exc.message)
        word = "đồng ý tham gia" if form["answer"] == "accept" else "từ chối"
        return _page(200, "Đã nhận câu trả lời", inv=view,
                     message=f"Cảm ơn quý đơn vị. Câu trả lời «{word}» đã được gửi tới ban tổ chức.")


@blp.route("/deliveries")
class Deliveries(MethodView):
    @require("trade_officer", "integration")
    @blp.arguments(DeliveryQuery, location="query")
    @blp.response(200, DeliveryOut(many=True))
    def get(self, query):
        """The delivery log: every message, its status, attempts and last error."""
        q = select(Delivery).order_by(Delivery.created_at.desc()).limit(500)
        if "producer_id" in query:
            q = q.where(Delivery.producer_id == query["producer_id"])
        if "status" in query:
            q = q.where(Delivery.status == query["status"])
        with rt().transaction() as s:
            return list(s.scalars(q))
