"""Events-service HTTP outputs: calendar feeds, the participants' export, the programme figures.
URL rules and views only (``queries`` does the reading)."""

from __future__ import annotations

from flask import Response, request, stream_with_context
from flask.views import MethodView
from flask_smorest import Blueprint, abort

from shared.auth import own_producer_only, require
from shared.web import rt

from ..queries import get_fair
from . import calendars, queries
from .schemas import (
    FeedArgs,
    FeedLinkOut,
    FiguresArgs,
    FiguresOut,
    ParticipantsArgs,
    ProducerFeedArgs,
)

blp = Blueprint(
    "event-outputs", __name__, url_prefix="/", description="Calendar feeds, participants' export and programme figures"
)
STAFF = ("trade_officer", "integration")
ICS = "text/calendar; charset=utf-8"
_CALENDAR_DOC = {
    "200": {"description": "an iCalendar (RFC 5545) file", "content": {"text/calendar": {"schema": {"type": "string"}}}}
}


def feed_secret() -> str:
    """What calendar links are signed from: OCOP_CALENDAR_SECRET when set, else the master secret (the
    calendar-link key is derived from it: shared.keys). Rotating OCOP_CALENDAR_SECRET (and restarting)
    revokes every link handed out (API tokens stay valid)."""
    return rt().settings.key_material("calendar-link")


def _calendar(body: bytes, name: str) -> Response:
    return Response(
        body,
        content_type=ICS,
        headers={"Content-Disposition": f'inline; filename="{name}"', "Cache-Control": "private, max-age=300"},
    )


@blp.route("/calendars/fairs.ics")
class FairsCalendar(MethodView):
    @blp.arguments(FeedArgs, location="query")
    @blp.doc(security=[], responses=_CALENDAR_DOC)
    def get(self, args):
        """Public iCalendar feed of the announced fairs (no token: calendar apps subscribe by URL). A
        cancelled fair stays in it with STATUS:CANCELLED, so subscribed calendars drop it."""
        with rt().transaction() as s:
            return _calendar(queries.fairs_calendar(s, args["region"], args["kind"]), "ocop-fairs.ics")


@blp.route("/calendars/producers/<producer_id>.ics")
class ProducerCalendar(MethodView):
    @blp.arguments(ProducerFeedArgs, location="query")
    @blp.doc(security=[{"bearer": []}, {}], responses=_CALENDAR_DOC)
    def get(self, args, producer_id):
        """A producer's calendar of the fairs it accepted (CANCELLED once it no longer goes). With a
        bearer token (the producer itself, or staff), or with the signed link's `token`."""
        if args["token"] is not None:
            signed_for = calendars.feed_producer(feed_secret(), args["token"])
            if signed_for is None:
                abort(401, message="invalid or revoked calendar link; ask for a new one")
            if signed_for != producer_id:
                abort(403, message="this calendar link is for another producer")
        else:
            require(*STAFF, "producer")(lambda: None)()
            own_producer_only(producer_id)
        with rt().transaction() as s:
            return _calendar(queries.producer_calendar(s, producer_id), f"ocop-{producer_id}.ics")


@blp.route("/calendars/producers/<producer_id>/calendar-link")
class ProducerCalendarLink(MethodView):
    @require(*STAFF, "producer")
    @blp.response(200, FeedLinkOut)
    def get(self, producer_id):
        """The signed URL of a producer's calendar, for a calendar app to subscribe to (the producer
        itself, or staff)."""
        own_producer_only(producer_id)
        with rt().transaction() as s:
            if not queries.producer_known(s, producer_id):
                abort(404, message=f"the events service knows no producer {producer_id}")
        url = (
            f"{request.host_url.rstrip('/')}/calendars/producers/{producer_id}.ics"
            f"?token={calendars.feed_token(feed_secret(), producer_id)}"
        )
        return {
            "producer_id": producer_id,
            "url": url,
            "webcal": "webcal://" + url.split("://", 1)[1],
            "revocation": "changing OCOP_CALENDAR_SECRET revokes every calendar link",
        }


@blp.route("/fairs/<fair_id>/participants.csv")
class FairParticipants(MethodView):
    @require("trade_officer")
    @blp.arguments(ParticipantsArgs, location="query")
    @blp.doc(
        responses={
            "200": {
                "description": "the participants as CSV (UTF-8 with BOM), one row per product",
                "content": {"text/csv": {"schema": {"type": "string"}}},
            }
        }
    )
    def get(self, args, fair_id):
        """Export a fair's participants: accepted producers with their booths (and, with `status`, the
        invited, waitlisted...), their products, stars, province, region, contacts and subsidy."""
        session = rt().session_factory()
        try:
            fair = get_fair(session, fair_id)
        except Exception:
            session.close()
            raise

        def stream():
            try:
                yield from queries.participants_csv(session, fair, args["status"])
            finally:
                session.close()

        return Response(
            stream_with_context(stream()),
            mimetype="text/csv",
            headers={"Content-Disposition": f'attachment; filename="participants-{fair.id}.csv"'},
        )


@blp.route("/figures")
class ProgrammeFigures(MethodView):
    @require(*STAFF)
    @blp.arguments(FiguresArgs, location="query")
    @blp.response(200, FiguresOut)
    def get(self, args):
        """Programme figures of the fairs starting in a year (or from/to): invitations and acceptances by
        region, province, group and producer kind; fill rate and subsidy against budget per fair and
        overall; fairness (share of eligible producers invited, Gini, top-10% share)."""
        with rt().transaction() as s:
            return queries.programme_figures(
                s, args["year"], args["from_"], args["to"], args["province"], args["region"]
            )
