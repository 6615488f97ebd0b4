"""Notifications HTTP: the producer's answer page (signed link, and its short form for SMS), the
delivery log, recipients' channel choices, unreachable producers, and template previews."""

from __future__ import annotations

from http import HTTPStatus

from flask import current_app, redirect, request
from flask.views import MethodView
from flask_smorest import Blueprint, abort
from jinja2 import UndefinedError
from marshmallow import EXCLUDE, ValidationError
from sqlalchemy import select

from shared import pages
from shared.auth import own_producer_only, require
from shared.contracts import contract_for, sample
from shared.errors import Conflict, NotFound
from shared.web import runtime_of

from . import domain, links, rendering
from . import operations as ops
from .channels import producer_channels
from .i18n import LANGUAGES
from .models import Delivery, InvitationView, Recipient
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

blp = Blueprint("notifications", __name__, url_prefix="/", description="Deliveries and producers' answers")
blp.after_request(pages.secure)  # the answer page's headers (CSP, no framing, no referrer, no-store)

# Why a link opens no form, and the HTTP status of that page.
PAGE_STATUS = {"tampered": 403, "wrong_purpose": 403, "link_expired": 410, "not_yours": 403, "unknown": 404,
               "reused": 409, "closed": 409, "bad_form": 422, "foreign_form": 403}


# The pages' statuses as the OpenAPI document lists them: each an HTML page, and a 404 also the
# JSON error body (a path no link can have, refused before the page).
_HTML = {"text/html": {"schema": {"type": "string"}}}
_JSON_ERROR = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
PAGE_RESPONSES = {str(code): {"description": HTTPStatus(code).phrase,
                              "content": {**_HTML, **_JSON_ERROR} if code == 404 else _HTML}
                  for code in sorted(set(PAGE_STATUS.values()))}


def rt():
    return runtime_of(current_app)


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


def _open(session, token: str):
    """The link's claims, the invitation as its producer knows it, the page's language and whether
    it was answered through this link; a refusal page when the link cannot be used."""
    try:
        claims = links.read_token(rt().settings.secret_key, token)
    except links.LinkError as exc:
        known = exc.claims and session.get(Recipient, exc.claims.get("prod"))
        lang = _asked_language() or (known.language if known else None)
        raise _Refusal(_page("link_expired" if exc.kind == "expired" else exc.kind, lang)) from exc
    recipient = session.get(Recipient, claims["prod"])
    lang = _asked_language() or (recipient.language if recipient else None)
    view = session.get(InvitationView, claims["inv"])
    if view is None:
        raise _Refusal(_page("unknown", lang))
    if view.producer_id != claims["prod"]:  # signed for another producer than the invitation's
        raise _Refusal(_page("not_yours", lang))
    answered = session.get(ops.Answer, claims["inv"]) is not None
    return claims, view, lang, answered


def _state_of(view, answered: bool) -> dict:
    """What the page says about the invitation now (see templates/page.html)."""
    state = "answered" if view.status == "issued" and answered else view.status
    out = {"now_state": "open" if state == "issued" else state, "inv": ops.view_dict(view),
           "booths": view.booths or ([view.booth] if view.booth else [])}
    if state == "refused":
        out["cause"], out["detail"] = domain.refusal_cause(view.verdict or "")
    elif state == "withdrawn":
        cause, detail = domain.withdrawal_cause(view.verdict or "")
        # the code the event carried; what the words name only when they say the same
        out["cause"] = view.withdrawn_cause or cause
        out["detail"] = detail if cause == out["cause"] else None
    return out


@blp.route("/r/<token>")
class AnswerPage(MethodView):
    # The signed link is the credential here, not a bearer token; the answers are HTML pages.
    @blp.doc(security=[], responses={"200": {"description": "the page", "content": _HTML}, **PAGE_RESPONSES})
    def get(self, token):
        """The page a producer opens from an invitation (in the producer's language; ``?lang=vi|en``)."""
        with rt().transaction() as s:
            try:
                _, view, lang, answered = _open(s, token)
            except _Refusal as refusal:
                return refusal.page
            state = _state_of(view, answered)
            return _page(state["now_state"], lang, form=state["now_state"] == "open", **state,
                         refresh=_refresh(token, _waited()) if state["now_state"] == "answered" else None,
                         calendar_url=f"{token}/calendar.ics" if state["now_state"] == "accepted" else None)

    @blp.doc(security=[], requestBody={"required": True,
                                       "content": {"application/x-www-form-urlencoded": {"schema": AnswerForm}}},
             responses={"200": {"description": "the answer was taken", "content": _HTML}, **PAGE_RESPONSES})
    def post(self, token):
        """The producer's answer from that page's form (accept or decline, with a note). A form that a
        browser says was posted from another site is refused (403) and records nothing."""
        if pages.foreign_post(rt().settings.public_base_url):
            return _page("foreign_form", _asked_language())
        try:
            with rt().transaction() as s:
                claims, view, lang, answered = _open(s, token)
                state = _state_of(view, answered)
                try:
                    form = AnswerForm().load({k: v for k, v in request.form.items() if k in ("answer", "note")})
                except ValidationError as exc:
                    errors = [(k, v[0] if isinstance(v, list) else v) for k, v in sorted(exc.messages.items())]
                    raise _Refusal(_page("bad_form", lang, errors=errors, form=state["now_state"] == "open",
                                         **state)) from exc
                if answered:
                    raise _Refusal(_page("reused", lang, **state))
                if view.status != "issued":
                    raise _Refusal(_page("closed", lang, **state))
                ops.record_answer(s, ops.FanOutEmitter(rt().emit), claims, form["answer"], form["note"] or None)
        except _Refusal as refusal:
            return refusal.page
        except Conflict:  # answered at the same moment through another request
            with rt().transaction() as s:
                return _page("reused", lang, **_state_of(ops.get_view(s, claims["inv"]), True))
        return _page("thanks", lang, inv=state["inv"], answer=form["answer"], refresh=_refresh(token, 0))


@blp.route("/r/<token>/calendar.ics")
class AnswerCalendar(MethodView):
    @blp.doc(security=[], responses={"200": {"description": "the fair's calendar entry (iCalendar)",
                                             "content": {"text/calendar": {"schema": {"type": "string"}}}},
                                     **PAGE_RESPONSES})
    def get(self, token):
        """The fair of an accepted invitation as a calendar file (the same entry the confirmation's
        attachment is: its UID, a later SEQUENCE), linked from the answer page once accepted."""
        with rt().transaction() as s:
            try:
                _, view, lang, answered = _open(s, token)
            except _Refusal as refusal:
                return refusal.page
            if view.status != "accepted":
                return _page("closed", lang, **_state_of(view, answered))
            content = rendering.fair_calendar(lang, ops.view_dict(view))
        return content, 200, {"Content-Type": "text/calendar; charset=utf-8; method=PUBLISH",
                              "Content-Disposition": f'attachment; filename="{rendering.slug(view.fair["name"])}.ics"'}


@blp.route("/r/s/<code>")
class ShortLinkPage(MethodView):
    @blp.doc(security=[], responses={"302": {"description": "to the signed answer link"},
                                     "404": PAGE_RESPONSES["404"]})
    def get(self, code):
        """The short link an SMS carries: leads to the invitation's signed answer link."""
        try:
            with rt().transaction() as s:
                token = ops.resolve_short_link(s, code)
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
        q = select(Delivery).order_by(Delivery.created_at.desc()).limit(500)
        for name in ("producer_id", "status", "channel", "ref_id"):
            if name in query:
                q = q.where(getattr(Delivery, name) == query[name])
        with rt().transaction() as s:
            return list(s.scalars(q))


@blp.route("/deliveries/<delivery_id>/retry")
class DeliveryRetry(MethodView):
    @require("trade_officer")
    @blp.response(200, DeliveryOut)
    def post(self, delivery_id):
        """Re-drive a parked delivery: it is queued again, with a fresh count of attempts."""
        with rt().transaction() as s:
            return ops.redrive(s, delivery_id)


def _recipient_out(row: Recipient) -> dict:
    adapters = producer_channels(rt().settings)
    problems = ops.channel_problems(row, adapters)
    contacts = {"email": domain.mask_email(row.email), "sms": domain.mask_phone(domain.mobile_number(row.phone))}
    return {"producer_id": row.producer_id, "name": row.name, "language": row.language,
            "channels": {c: {"contact": contacts[c], "consent": getattr(row, f"consent_{c}"),
                             "opted_out": getattr(row, f"opt_out_{c}"), "usable": problems[c] is None,
                             "problem": problems[c]} for c in domain.PRODUCER_CHANNELS}}


@blp.route("/recipients/<producer_id>")
class RecipientResource(MethodView):
    @require("trade_officer", "producer")
    @blp.response(200, RecipientOut)
    def get(self, producer_id):
        """How a producer is reached: per channel, the masked contact, consent, opt-out, usable or why not."""
        own_producer_only(producer_id)
        with rt().transaction() as s:
            return _recipient_out(ops.get_recipient(s, producer_id))


@blp.route("/recipients/<producer_id>/channels")
class RecipientChannels(MethodView):
    @require("trade_officer", "producer")
    @blp.arguments(ChannelChoiceIn)
    @blp.response(200, RecipientOut)
    def patch(self, choices, producer_id):
        """A producer's channel choices: ``{"sms": false}`` opts out of SMS, ``true`` opts back in."""
        own_producer_only(producer_id)
        with rt().transaction() as s:
            return _recipient_out(ops.set_channels(s, producer_id, choices))


@blp.route("/unreachable")
class Unreachable(MethodView):
    @require("trade_officer")
    @blp.arguments(UnreachableQuery, location="query")
    @blp.response(200, UnreachableOut(many=True))
    def get(self, query):
        """Producers a message could not reach (no usable channel), with why, and the messages."""
        q = select(Delivery).where(Delivery.status == "undeliverable").order_by(Delivery.created_at)
        if "since" in query:
            q = q.where(Delivery.created_at >= query["since"])
        adapters = producer_channels(rt().settings)
        out: dict[str, dict] = {}
        with rt().transaction() as s:
            for d in s.scalars(q.limit(5000)):
                entry = out.get(d.producer_id)
                if entry is None:
                    row = s.get(Recipient, d.producer_id)
                    entry = out[d.producer_id] = {
                        "producer_id": d.producer_id, "name": row.name if row else None, "messages": [],
                        "problems": ops.channel_problems(row, adapters) if row else {}}
                entry["messages"].append({"delivery_id": d.id, "template": d.template,
                                          "cause_event_id": d.cause_event_id, "ref_id": d.ref_id,
                                          "reasons": d.last_error, "created_at": d.created_at})
        return list(out.values())


# ---- previews ---------------------------------------------------------------------------------------
def _kind(name: str) -> domain.MessageKind:
    kind = domain.MESSAGES.get(name)
    if kind is None:
        abort(404, message=f"no template {name!r}; templates: {', '.join(sorted(domain.MESSAGES))}")
    return kind


def _preview(kind: domain.MessageKind, language: str, data: dict | None, recipient_name: str) -> dict:
    schema = contract_for(kind.event_type, 1).schema(unknown=EXCLUDE)
    try:
        loaded = schema.load(data if data is not None else sample(kind.event_type, 1)["data"])
    except ValidationError as exc:
        abort(422, message=f"data does not satisfy {kind.event_type}; see errors",
              errors={"json": {"data": exc.messages}})
    s = rt().settings
    ctx = ops.preview_context(kind.name, loaded, recipient_name, s.public_base_url)
    try:
        out = rendering.render(kind.name, language, ctx, sms_link=ctx.get("short_link"), sms_mode=s.sms_mode,
                               sms_max_segments=s.sms_max_segments, calendar_uid=ctx.get("ref_id") or "preview")
    except UndefinedError as exc:
        abort(422, message="the template needs a field the data lacks", errors={"json": {"data": [str(exc)]}})
    return {"template": kind.name, "event_type": kind.event_type, "language": out.language, "subject": out.subject,
            "text": out.text, "html": out.html, "sms": out.sms.__dict__,
            "attachments": [a.as_dict() for a in out.attachments]}


@blp.route("/previews")
class Previews(MethodView):
    @require("trade_officer", "registry_officer")
    @blp.response(200, TemplateOut(many=True))
    def get(self):
        """The message templates, the event each answers and who receives it."""
        return [{"name": k.name, "event_type": k.event_type, "audience": k.audience, "calendar": k.calendar,
                 "answer_link": k.answer_link, "languages": list(LANGUAGES)} for k in domain.MESSAGES.values()]


@blp.route("/previews/<name>")
class Preview(MethodView):
    @require("trade_officer", "registry_officer")
    @blp.arguments(PreviewQuery, location="query")
    @blp.response(200, PreviewOut)
    def get(self, query, name):
        """A template rendered for its sample data (the event's golden sample) in vi or en."""
        return _preview(_kind(name), query["language"], None, PreviewIn().load({})["recipient_name"])

    @require("trade_officer", "registry_officer")
    @blp.arguments(PreviewIn)
    @blp.response(200, PreviewOut)
    def post(self, body, name):
        """A template rendered for the given event data (checked against the event's contract)."""
        return _preview(_kind(name), body["language"], body["data"], body["recipient_name"])
