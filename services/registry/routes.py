"""Registry HTTP API: URL rules and views only; decisions live in operations and domain."""

from __future__ import annotations

from functools import wraps

from flask import Response, g, request, stream_with_context
from flask.views import MethodView
from flask_smorest import Blueprint
from flask_smorest.error_handler import ErrorSchema
from marshmallow import RAISE
from webargs.flaskparser import FlaskParser
from werkzeug.datastructures import CombinedMultiDict

from shared.auth import own_producer_only, require
from shared.errors import NotFound
from shared.instants import vietnam_today
from shared.limits import body_limit
from shared.web import rt

from . import domain, imports, programme, queries
from . import operations as ops
from .import_schemas import ImportIn, ImportReportOut
from .schemas import (
    CertificationIn,
    CertificationOut,
    CriteriaOut,
    ExportQuery,
    ProducerIn,
    ProducerOut,
    ProducerPatch,
    ProductIn,
    ProductOut,
    ProductPage,
    ProductPatch,
    ProductQuery,
    ProgressOut,
    ProgressQuery,
    RevocationIn,
    StatisticsOut,
)


class _Parser(FlaskParser):
    """A multipart body's form fields and files are one body: its location ("files") reads both,
    so one schema declares, validates and documents an upload with its fields."""

    def load_files(self, req, schema):
        return self._makeproxy(CombinedMultiDict([req.files, req.form]), schema)


class _Blueprint(Blueprint):
    ARGUMENTS_PARSER = _Parser()


blp = _Blueprint("registry", __name__, url_prefix="/", description="Producers, products and OCOP certifications")

READERS = ("registry_officer", "trade_officer", "integration", "producer")


def _actor() -> str:
    return g.principal.get("sub") or g.principal["role"]


@blp.route("/producers")
class Producers(MethodView):
    @require("registry_officer")
    @blp.arguments(ProducerIn)
    @blp.response(201, ProducerOut)
    def post(self, data):
        """Record a producer (chủ thể OCOP)."""
        with rt().transaction() as s:
            return ops.register_producer(s, rt().emit, data)


@blp.route("/producers/<producer_id>")
class ProducerById(MethodView):
    @require(*READERS)
    @blp.response(200, ProducerOut)
    def get(self, producer_id):
        """A producer's record; a producer may read only its own."""
        own_producer_only(producer_id)
        with rt().transaction() as s:
            return queries.get_producer(s, producer_id)

    @require("registry_officer")
    @blp.arguments(ProducerPatch)
    @blp.response(200, ProducerOut)
    def patch(self, changes, producer_id):
        """Change a producer's details (only the fields sent); consumers get the full new state."""
        with rt().transaction() as s:
            return ops.update_producer(s, rt().emit, producer_id, changes)


@blp.route("/products")
class Products(MethodView):
    @require(*READERS)
    @blp.arguments(ProductQuery, location="query")
    @blp.response(200, ProductPage)
    def get(self, query):
        """List products with their current certification: filters, diacritic-free search, sort, pages.

        A producer sees only its own products."""
        page, per_page, sort = query.pop("page"), query.pop("per_page"), query.pop("sort")
        if g.principal["role"] == "producer":
            query["producer_id"] = g.principal.get("sub") or ""
        with rt().transaction() as s:
            total, items = queries.list_products(s, query, page, per_page, sort)
        return {"total": total, "page": page, "per_page": per_page, "items": items}

    @require("registry_officer")
    @blp.arguments(ProductIn)
    @blp.response(201, ProductOut)
    def post(self, data):
        """Record a product of a producer."""
        with rt().transaction() as s:
            return ops.register_product(s, rt().emit, data)


@blp.route("/products/export.csv")
class ProductsExport(MethodView):
    @require("registry_officer", "trade_officer", "integration")
    @blp.arguments(ExportQuery, location="query")
    @blp.doc(
        responses={
            "200": {
                "description": "the filtered list as CSV (UTF-8 with BOM)",
                "content": {"text/csv": {"schema": {"type": "string"}}},
            }
        }
    )
    def get(self, query):
        """Export any filtered product list as CSV (same filters as the list)."""
        sort = query.pop("sort")
        session = rt().session_factory()

        def stream():
            try:
                yield from queries.export_csv(session, query, sort)
            finally:
                session.close()

        return Response(
            stream_with_context(stream()),
            mimetype="text/csv",
            headers={"Content-Disposition": 'attachment; filename="ocop-products.csv"'},
        )


@blp.route("/products/<product_id>")
class ProductById(MethodView):
    @require(*READERS)
    @blp.response(200, ProductOut)
    def get(self, product_id):
        """A product; a producer may read only its own products."""
        with rt().transaction() as s:
            product = queries.get_product(s, product_id)
            own_producer_only(product.producer_id)
            return product

    @require("registry_officer")
    @blp.arguments(ProductPatch)
    @blp.response(200, ProductOut)
    def patch(self, changes, product_id):
        """Change a product's details (only the fields sent); the read models follow by event."""
        with rt().transaction() as s:
            return ops.update_product(s, rt().emit, product_id, changes)


@blp.route("/certifications")
class Certifications(MethodView):
    @require("registry_officer")
    @blp.arguments(CertificationIn)
    @blp.response(201, CertificationOut)
    def post(self, data):
        """Record a certificate of a decision; stars are derived from the score and the decision's level.

        Only the national level certifies 5★: a provincial score of 90 or more is 4★ and proposes the
        product for national evaluation (its potential 5★ flag set). The decision (authority, number,
        date) is recorded the first time a certificate names it; later ones attach to it."""
        with rt().transaction() as s:
            return ops.grant_certification(s, rt().emit, data, today=vietnam_today(), actor=_actor())


@blp.route("/certifications/<cert_id>")
class CertificationById(MethodView):
    @require(*READERS)
    @blp.response(200, CertificationOut)
    def get(self, cert_id):
        """A certification with its stars, level, validity and status; a producer may read only its own."""
        with rt().transaction() as s:
            cert = queries.get_certification(s, cert_id)
            own_producer_only(queries.get_product(s, cert.product_id).producer_id)
            return cert


@blp.route("/statistics")
class Statistics(MethodView):
    @require("registry_officer", "trade_officer", "integration")
    @blp.response(200, StatisticsOut)
    def get(self):
        """Programme figures over current certifications: by stars, group, province, region, producer kind."""
        with rt().transaction() as s:
            return queries.statistics(s)


@blp.route("/certifications/<cert_id>/revoke")
class RevokeCertification(MethodView):
    @require("registry_officer")
    @blp.arguments(RevocationIn)
    @blp.response(200, CertificationOut)
    def post(self, data, cert_id):
        """Revoke (thu hồi) a current certification by decision, with its reason (and reason code).

        The revoke decision is recorded (or, by authority, number and date, matched); to revoke every
        certificate of a decision at once: POST /decisions/{id}/revoke."""
        with rt().transaction() as s:
            return ops.revoke_certification(s, rt().emit, cert_id, data, today=vietnam_today(), actor=_actor())


@blp.route("/statistics/progress")
class Progress(MethodView):
    @require("registry_officer", "trade_officer", "integration")
    @blp.arguments(ProgressQuery, location="query")
    @blp.response(200, ProgressOut)
    def get(self, query):
        """A year's progress against the programme targets: new certifications, re-certifications,
        upgrades and community-tourism products, counted by decision date."""
        year = query.get("year") or vietnam_today().year
        with rt().transaction() as s:
            return programme.progress(s, year)


def _criteria_out(version: domain.CriteriaVersion) -> dict:
    return {
        "code": version.code,
        "title": version.title,
        "effective_from": version.effective_from,
        "effective_to": version.effective_to,
        "in_force": version.in_force_on(vietnam_today()),
        "parts": version.parts,
        "bands": {str(stars): minimum for minimum, stars in version.bands},
        "groups": [
            {
                "code": g.code,
                "name": g.name,
                "name_en": g.name_en,
                "subgroups": [{"code": c, "name": n, "name_en": e} for c, (n, e) in g.subgroups.items()],
            }
            for g in version.groups.values()
        ],
    }


@blp.route("/criteria")
class Criteria(MethodView):
    @require(*READERS)
    @blp.response(200, CriteriaOut(many=True))
    def get(self):
        """The OCOP criteria versions (reference data): periods, score parts, star bands, groups and sub-groups."""
        return [_criteria_out(v) for v in domain.CRITERIA.values()]


@blp.route("/criteria/<path:code>")
class CriteriaByCode(MethodView):
    @require(*READERS)
    @blp.response(200, CriteriaOut)
    def get(self, code):
        """One criteria version, by its decision number (e.g. 148/QĐ-TTg)."""
        if code not in domain.CRITERIA:
            raise NotFound(f"no criteria version {code}; known: {', '.join(domain.CRITERIA)}", field="code")
        return _criteria_out(domain.CRITERIA[code])


def _upload_limit(view):
    """413 before a too large upload is read (the multipart envelope gets 64 KiB on top); the file
    itself is measured again once read."""

    @wraps(view)
    def inner(*args, **kwargs):
        limit = _max_upload() + 64 * 1024
        if request.content_length is not None and request.content_length > limit:
            raise imports.FileRefused(f"the upload is larger than the limit of {_max_upload()} bytes", status=413)
        request.max_content_length = limit  # also bounds a body sent without Content-Length
        return view(*args, **kwargs)

    return body_limit(lambda: _max_upload() + 64 * 1024)(inner)  # instead of OCOP_MAX_BODY_BYTES


def _max_upload() -> int:
    return rt().settings.import_max_bytes  # OCOP_IMPORT_MAX_BYTES


@blp.route("/imports")
class Imports(MethodView):
    @require("registry_officer")
    @_upload_limit
    @blp.arguments(ImportIn, location="files", content_type="multipart/form-data", unknown=RAISE)
    @blp.response(200, ImportReportOut)
    @blp.alt_response(413, schema=ErrorSchema, description="the file is larger than the limit (OCOP_IMPORT_MAX_BYTES)")
    @blp.alt_response(415, schema=ErrorSchema, description="the file is neither CSV nor XLSX")
    def post(self, data):
        """Import a decision's list (CSV or XLSX): dry run by default, then apply (all or nothing).

        Each row: a producer (by code: created or matched), a product (by producer and name, ignoring
        diacritics and case: created or matched) and its certification. A dry run reports every bad
        row (line, field, reason) and what an apply would do, and writes nothing; an apply writes
        everything with its events, or refuses with 422 and every bad row. The same file twice
        changes nothing the second time. Columns: README, "Bulk import"."""
        upload = data["file"]
        budget = imports.Budget.of(rt().settings)
        content = upload.read(budget.max_bytes + 1)
        decision = {k: data.get(k) for k in ("issued_by", "decision_number", "decision_date", "level")}
        who = g.principal.get("sub") or g.principal["role"]
        with rt().transaction() as s:
            return imports.run_import(
                s,
                rt().emit,
                content,
                upload.filename or "",
                apply=not data["dry_run"],
                decision=decision,
                today=vietnam_today(),
                applied_by=who,
                budget=budget,
            )
