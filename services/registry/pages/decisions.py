"""Decisions: the list, recording a decision with its certificates (products named, not by id),
a decision's page with its certificates and the revoke form (a revoke decision with its reason
code), and the certificates expiring soon with the notices already sent."""

from __future__ import annotations

from datetime import timedelta

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext

from shared.errors import NotFound, OperationError
from shared.instants import vietnam_today
from shared.web import rt

from .. import decision_ops, decisions, queries
from ..decision_ops import CertificatesRefused
from ..decision_schemas import DecisionIn, DecisionRevocationIn
from ..import_schemas import parse_day_month_year
from . import blp
from .access import officer_province, owns, page
from .forms import load, message, operation_errors
from .reads import decision_listing, expiring, products_named

PER_PAGE = 20
ROWS = 8  # certificate rows of the decision form
HEADER = {"number": "text", "date": "text", "issued_by": "text", "level": "text", "kind": "text"}
REVOKE = {"number": "text", "date": "text", "issued_by": "text", "reason_code": "text", "reason": "optional"}


def _who() -> str:
    from flask import g

    user = getattr(g, "user", None) or {}
    return str(user.get("id") or g.principal.get("sub") or g.principal.get("role"))[:200]


def _dates(form, *names) -> dict:
    """The form with its dd/mm/yyyy dates as ISO (a date that does not parse is left for the schema)."""
    out = dict(form.items())
    for name in names:
        try:
            out[name] = parse_day_month_year(out.get(name) or "").isoformat()
        except ValueError:
            pass
    return out


@blp.get("/decisions")
@page("registry_officer", "admin")
def decision_list():
    page_no = max(1, request.args.get("page", 1, type=int) or 1)
    with rt().transaction() as s:
        total, rows = decision_listing(s, officer_province(), page_no, PER_PAGE)
        items = [{**decisions.out(d), "certificate_count": n} for d, n in rows]
    pages = max(1, -(-total // PER_PAGE))
    return render_template(
        "registry/decisions.html", items=items, total=total, page_no=min(page_no, pages), pages=pages
    )


def _certificate_rows(form) -> tuple[list[dict], list[dict], dict[str, str]]:
    """The form's filled rows as the API's certificates (product found by name), the rows as typed,
    and the rows' errors ("certificates.<row>.<field>")."""
    typed, certificates, errors, index_of_row = [], [], {}, []
    with rt().transaction() as s:
        for row in range(ROWS):
            entry = {k: (form.get(f"{k}-{row}") or "").strip() for k in ("product", "score", "stars")}
            typed.append(entry)
            if not any(entry.values()):
                continue
            found = products_named(s, entry["product"], officer_province()) if entry["product"] else []
            if not entry["product"]:
                errors[f"product-{row}"] = "Ghi tên sản phẩm."
            elif not found:
                errors[f"product-{row}"] = "Không tìm thấy sản phẩm này (trong phạm vi của bạn)."
            elif len(found) > 1:
                errors[f"product-{row}"] = "Nhiều sản phẩm cùng tên: ghi “tên sản phẩm - tên chủ thể”."
            score = int(entry["score"]) if entry["score"].isdigit() else entry["score"] or None
            stars = int(entry["stars"]) if entry["stars"].isdigit() else entry["stars"] or None
            cert = {"product_id": found[0].Product.id if len(found) == 1 else "", "score": score}
            if stars is not None:
                cert["stars"] = stars
            certificates.append(cert)
            index_of_row.append(row)
    return certificates, typed, errors, index_of_row


@blp.route("/decisions/new", methods=["GET", "POST"])
@page("registry_officer", "admin")
def decision_new():
    today = vietnam_today()
    values = {"level": "province", "kind": "certify", "date": today.strftime("%d/%m/%Y")}
    typed = [{} for _ in range(ROWS)]
    errors: dict[str, str] = {}
    if request.method == "GET" and request.args.get("product"):
        with rt().transaction() as s:
            try:
                product = queries.get_product(s, request.args["product"])
            except NotFound:
                abort(404)
            if owns(product.province):
                typed[0] = {"product": f"{product.name} - {queries.get_producer(s, product.producer_id).name}"}
    if request.method == "POST":
        values = dict(request.form.items())
        certificates, typed, errors, rows = _certificate_rows(request.form)
        if not certificates:
            errors["product-0"] = "Ghi ít nhất một sản phẩm."
        data, header_errors = load(
            DecisionIn(), {**_dates(request.form, "date")}, HEADER, extra={"certificates": certificates}
        )
        for key, text in header_errors.items():
            parts = key.split(".")
            if parts[0] == "certificates" and len(parts) == 3 and parts[1].isdigit() and int(parts[1]) < len(rows):
                field = "product" if parts[2] == "product_id" else parts[2]
                errors.setdefault(f"{field}-{rows[int(parts[1])]}", text)
            elif parts[0] != "certificates":
                errors[key] = text
        if not errors:
            try:
                with rt().transaction() as s:
                    decision = decision_ops.create_decision(s, rt().emit, data, today, _who())
                    decision_id = decision.id
            except CertificatesRefused as exc:
                for index, (field, text) in exc.problems.items():
                    errors[f"{'product' if field == 'product_id' else field}-{rows[index]}"] = message(text)
            except OperationError as exc:
                errors.update(operation_errors(exc))
            else:
                flash(gettext("Đã ghi quyết định."), "success")
                return redirect(url_for("registry_pages.decision", decision_id=decision_id))
    status = 422 if errors else 200
    return render_template("registry/decision_new.html", values=values, typed=typed, errors=errors), status


def _decision_or_404(s, decision_id: str):
    try:
        decision = decisions.get(s, decision_id)
    except NotFound:
        abort(404)
    certificates = decisions.certificates(s, decision)
    mine = officer_province()
    if mine is not None:
        provinces = {queries.get_product(s, c["product_id"]).province for c in certificates}
        if mine not in provinces:
            abort(404)
        certificates = [c for c in certificates if queries.get_product(s, c["product_id"]).province == mine]
    return decision, certificates


def _render_decision(decision_id: str, errors=None, values=None, status=200):
    with rt().transaction() as s:
        decision, certificates = _decision_or_404(s, decision_id)
        return (
            render_template(
                "registry/decision.html",
                decision=decisions.out(decision),
                certificates=certificates,
                errors=errors or {},
                values=values or {"issued_by": decision.issued_by},
            ),
            status,
        )


@blp.get("/decisions/<decision_id>")
@page("registry_officer", "admin")
def decision(decision_id):
    return _render_decision(decision_id)


@blp.post("/decisions/<decision_id>/revoke")
@page("registry_officer", "admin")
def decision_revoke(decision_id):
    mine = officer_province()
    with rt().transaction() as s:
        _, certificates = _decision_or_404(s, decision_id)
    picked = request.form.getlist("certificate")
    current = [c["id"] for c in certificates if c["status"] == "current"]
    ids = [c for c in picked if c in current] if picked else current
    if mine is None and not picked:
        ids = None  # every current certificate of the decision
    data, errors = load(DecisionRevocationIn(), _dates(request.form, "date"), REVOKE, extra={"certificate_ids": ids})
    if ids == []:
        errors = {**errors, "certificate_ids": "Không còn chứng nhận nào (trong phạm vi của bạn) để thu hồi."}
    if not errors:
        try:
            with rt().transaction() as s:
                revoking = decision_ops.revoke_decision(s, rt().emit, decision_id, data, vietnam_today(), _who())
                revoking_id = revoking.id
        except OperationError as exc:
            if isinstance(exc, NotFound):
                abort(404)
            errors = operation_errors(exc)
        else:
            flash(gettext("Đã thu hồi theo quyết định."), "success")
            return redirect(url_for("registry_pages.decision", decision_id=revoking_id))
    return _render_decision(decision_id, errors=errors, values=dict(request.form.items()), status=422)


@blp.get("/certificates/expiring")
@page("registry_officer", "admin")
def expiring_soon():
    days = request.args.get("days", 90, type=int) or 90
    days = min(max(days, 1), 730)
    with rt().transaction() as s:
        rows = expiring(s, officer_province(), vietnam_today() + timedelta(days=days))
    return render_template("registry/expiring.html", rows=rows, days=days)
