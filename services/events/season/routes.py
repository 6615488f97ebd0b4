"""Season planning over HTTP: URL rules and views only (``queries`` plans, ``operations`` acts)."""

from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint

from shared.auth import require
from shared.web import rt

from . import operations, queries
from .schemas import SeasonIn, SeasonOut

blp = Blueprint("seasons", __name__, url_prefix="/", description="Season planning: a season of fairs matched at once")


@blp.route("/seasons/preview")
class SeasonPreview(MethodView):
    @require("trade_officer")
    @blp.arguments(SeasonIn)
    @blp.response(200, SeasonOut)
    def post(self, data):
        """Plan a season of fairs at once, spreading invitations across producers and regions: who each
        fair would invite and waitlist, and the spread against matching each fair alone. Nothing is sent."""
        with rt().transaction() as s:
            return queries.preview(s, **data)


@blp.route("/seasons/apply")
class SeasonApply(MethodView):
    @require("trade_officer")
    @blp.arguments(SeasonIn)
    @blp.response(200, SeasonOut)
    def post(self, data):
        """Plan the season and act on it in one transaction: every fair published (if a draft) and inviting,
        with the plan's invitations and waitlists and the events of publishing each fair alone."""
        with rt().transaction() as s:
            return operations.apply(s, rt().emit, **data)
