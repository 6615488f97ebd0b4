"""Notifications HTTP: the producer's answer page (signed link, and its short form for SMS), the
delivery log, recipients' channel choices, unreachable producers, and template previews."""

from __future__ import annotations

from http import HTTPStatus

from flask import redirect, request
from flask.views import MethodView
from flask_smorest import Blueprint, abort
from marshmallow import ValidationError

from shared import pages
from shared.auth import own_producer_only, require
from shared.errors import Conflict, NotFound
from shared.web import rt

from . import answers, previews, queries, recipients, redrive, rendering
from .channels import producer_channels
from .emitter import FanOutEmitter
from .i18n import LANGUAGES
from .models import Delivery
from .rendering import render_page
from .schemas import (
    AnswerForm,
    ChannelChoiceIn,
    DeliveryOut,
    DeliveryQuery,
    PreviewIn,
    PreviewOut,
    PreviewQuery,
    RecipientOut,
    TemplateOut,
    UnreachableOut,
    UnreachableQuery,
)
from .views import view_dict

blp = Blueprint("notifications", __name__, url_prefix="/", description="Deliveries and producers' answers")
blp.after_request(pages.secure)  # the answer page's headers (CSP, no framing, no referrer, no-store)

# Why a link opens no form, and the HTTP status of that page.
PAGE_STATUS = {
    "tampered": 403,
    "wrong_purpose": 403,
    "link_expired": 410,
    "not_yours": 403,
    "unknown": 404,
    "reused": 409,
    "closed": 409,
    "bad_form": 422,
    "foreign_form": 403,
}


# The pages' statuses as the OpenAPI document lists them: each an HTML page, and a 404 also the
# JSON error body (a path no link can have, refused before the page).
_HTML = {"text/html": {"schema": {"type": "string"}}}
_JSON_ERROR = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
PAGE_RESPONSES = {
    str(code): {"description": HTTPStatus(code).phrase, "content": {**_HTML, **_JSON_ERROR} if code == 404 else _HTML}
    for code in sorted(set(PAGE_STATUS.values()))
}


def _page(state: str, language: str | None, **ctx):
    status = PAGE_STATUS.get(state, 200)
    page = render_page(language, state, nonce=pages.nonce(), **ctx)
    return page, status, {"Content-Type": "text/html; charset=utf-8"}


# While the organiser's verdict is awaited the page reloads itself this often, this many times (ten
# minutes): a meta refresh, which needs no script (the page's policy allows none).
REFRESH_SECONDS = 5
REFRESH_TIMES = 120


def _refresh(token: str, waited: int) -> dict | None:
    """The page's own link to reload (relative: /r/<token> behind any prefix), counting the reloads."""
    if waited >= REFRESH_TIMES:
        return None
    lang = _asked_language()
    return {"seconds": REFRESH_SECONDS, "url": f"{token}?" + (f"lang={lang}&" if lang else "") + f"wait={waited + 1}"}


def _waited() -> int:
    value = request.args.get("wait", "")
    return min(int(value), REFRESH_TIMES) if value.isdigit() and len(value) < 6 else 0


def _asked_language() -> str | None:
    asked = request.args.get("lang")
    return asked if asked in LANGUAGES else None


class _Refusal(Exception):
    def __init__(self, page):
        self.page = page


def _open(session, token: str) -> answers.OpenLink:
    """The link opened (answers.open_link), or a refusal page."""
    try:
        return answers.open_link(session, rt().settings.key_material("answer-link"), token, _asked_language())
    except answers.LinkRefused as refused:
        raise _Refusal(_page(refused.state, refused.language)) from refused


@blp.route("/r/<token>")
class AnswerPage(MethodView):
    # The signed link is the credential here, not a bearer token; the answers are HTML pages.
    @blp.doc(security=[], responses={"200": {"description": "the page", "content": _HTML}, **PAGE_RESPONSES})
    def get(self, token):
        """The page a producer opens from an invitation (in the producer's language; ``?lang=vi|en``)."""
        with rt().transaction() as s:
            try:
                link = _open(s, token)
            except _Refusal as refusal:
                return refusal.page
            lang, state = link.language, answers.page_state(link.view, link.answered)
            return _page(
                state["now_state"],
                lang,
                form=state["now_state"] == "open",
                **state,
                refresh=_refresh(token, _waited()) if state["now_state"] == "answered" else None,
                calendar_url=f"{token}/calendar.ics" if state["now_state"] == "accepted" else None,
            )

    @blp.doc(
        security=[],
        requestBody={"required": True, "content": {"application/x-www-form-urlencoded": {"schema": AnswerForm}}},
        responses={"200": {"description": "the answer was taken", "content": _HTML}, **PAGE_RESPONSES},
    )
    def post(self, token):
        """The producer's answer from that page's form (accept or decline, with a note). A form that a
        browser says was posted from another site is refused (403) and records nothing."""
        if pages.foreign_post(rt().settings.public_base_url):
            return _page("foreign_form", _asked_language())
        try:
            with rt().transaction() as s:
                link = _open(s, token)
                claims, view, lang, answered = link.claims, link.view, link.language, link.answered
                state = answers.page_state(view, answered)
                try:
                    form = AnswerForm().load({k: v for k, v in request.form.items() if k in ("answer", "note")})
                except ValidationError as exc:
                    errors = [(k, v[0] if isinstance(v, list) else v) for k, v in sorted(exc.messages.items())]
                    raise _Refusal(
                        _page("bad_form", lang, errors=errors, form=state["now_state"] == "open", **state)
                    ) from exc
                if answered:
                    raise _Refusal(_page("reused", lang, **state))
                if view.status != "issued":
                    raise _Refusal(_page("closed", lang, **state))
                answers.record_answer(s, FanOutEmitter(rt().emit), claims, form["answer"], form["note"] or None)
        except _Refusal as refusal:
            return refusal.page
        except Conflict:  # answered at the same moment through another request
            with rt().transaction() as s:
                return _page("reused", lang, **answers.page_state(queries.get_view(s, claims["inv"]), True))
        return _page("thanks", lang, inv=state["inv"], answer=form["answer"], refresh=_refresh(token, 0))


@blp.route("/r/<token>/calendar.ics")
class AnswerCalendar(MethodView):
    @blp.doc(
        security=[],
        responses={
            "200": {
                "description": "the fair's calendar entry (iCalendar)",
                "content": {"text/calendar": {"schema": {"type": "string"}}},
            },
            **PAGE_RESPONSES,
        },
    )
    def get(self, token):
        """The fair of an accepted invitation as a calendar file (the same entry the confirmation's
        attachment is: its UID, a later SEQUENCE), linked from the answer page once accepted."""
        with rt().transaction() as s:
            try:
                link = _open(s, token)
            except _Refusal as refusal:
                return refusal.page
            view, lang = link.view, link.language
            if view.status != "accepted":
                return _page("closed", lang, **answers.page_state(view, link.answered))
            content = rendering.fair_calendar(lang, view_dict(view))
        return (
            content,
            200,
            {
                "Content-Type": "text/calendar; charset=utf-8; method=PUBLISH",
                "Content-Disposition": f'attachment; filename="{rendering.slug(view.fair["name"])}.ics"',
            },
        )


@blp.route("/r/s/<code>")
class ShortLinkPage(MethodView):
    @blp.doc(security=[], responses={"302": {"description": "to the signed answer link"}, "404": PAGE_RESPONSES["404"]})
    def get(self, code):
        """The short link an SMS carries: leads to the invitation's signed answer link."""
        try:
            with rt().transaction() as s:
                token = queries.resolve_short_link(s, code)
        except NotFound:
            return _page("unknown", _asked_language())
        query = f"?lang={request.args['lang']}" if _asked_language() else ""
        return redirect(f"/r/{token}{query}", code=302)


@blp.route("/deliveries")
class Deliveries(MethodView):
    @require("trade_officer", "integration")
    @blp.arguments(DeliveryQuery, location="query")
    @blp.response(200, DeliveryOut(many=True))
    def get(self, query):
        """The delivery log: one row per message and channel, its status, attempts and last error."""
        with rt().transaction() as s:
            return queries.deliveries(s, query)


@blp.route("/deliveries/<delivery_id>/retry")
class DeliveryRetry(MethodView):
    @require("trade_officer")
    @blp.response(200, DeliveryOut)
    def post(self, delivery_id):
        """Re-drive a parked delivery: it is queued again, with a fresh count of attempts."""
        with rt().transaction() as s:
            return redrive.redrive(s, Delivery, delivery_id)


def _recipient_out(row) -> dict:
    return queries.reachability(row, producer_channels(rt().settings))


@blp.route("/recipients/<producer_id>")
class RecipientResource(MethodView):
    @require("trade_officer", "producer")
    @blp.response(200, RecipientOut)
    def get(self, producer_id):
        """How a producer is reached: per channel, the masked contact, consent, opt-out, usable or why not."""
        own_producer_only(producer_id)
        with rt().transaction() as s:
            return _recipient_out(queries.get_recipient(s, producer_id))


@blp.route("/recipients/<producer_id>/channels")
class RecipientChannels(MethodView):
    @require("trade_officer", "producer")
    @blp.arguments(ChannelChoiceIn)
    @blp.response(200, RecipientOut)
    def patch(self, choices, producer_id):
        """A producer's channel choices: ``{"sms": false}`` opts out of SMS, ``true`` opts back in."""
        own_producer_only(producer_id)
        with rt().transaction() as s:
            return _recipient_out(recipients.set_channels(s, producer_id, choices))


@blp.route("/unreachable")
class Unreachable(MethodView):
    @require("trade_officer")
    @blp.arguments(UnreachableQuery, location="query")
    @blp.response(200, UnreachableOut(many=True))
    def get(self, query):
        """Producers a message could not reach (no usable channel), with why, and the messages."""
        with rt().transaction() as s:
            return queries.unreachable(s, producer_channels(rt().settings), query.get("since"))


# ---- previews ---------------------------------------------------------------------------------------
def _preview(name: str, language: str, data: dict | None, recipient_name: str) -> dict:
    try:
        return previews.preview(previews.template(name), language, data, recipient_name, rt().settings)
    except previews.UnknownTemplate as exc:
        abort(404, message=str(exc))
    except previews.PreviewRefused as exc:
        abort(422, message=str(exc), errors={"json": {"data": exc.errors}})


@blp.route("/previews")
class Previews(MethodView):
    @require("trade_officer", "registry_officer")
    @blp.response(200, TemplateOut(many=True))
    def get(self):
        """The message templates, the event each answers and who receives it."""
        return previews.templates()


@blp.route("/previews/<name>")
class Preview(MethodView):
    @require("trade_officer", "registry_officer")
    @blp.arguments(PreviewQuery, location="query")
    @blp.response(200, PreviewOut)
    def get(self, query, name):
        """A template rendered for its sample data (the event's golden sample) in vi or en."""
        return _preview(name, query["language"], None, PreviewIn().load({})["recipient_name"])

    @require("trade_officer", "registry_officer")
    @blp.arguments(PreviewIn)
    @blp.response(200, PreviewOut)
    def post(self, body, name):
        """A template rendered for the given event data (checked against the event's contract)."""
        return _preview(name, body["language"], body["data"], body["recipient_name"])
