"""Producers and products: the search, a product's page with its certification history, and the
product's and its producer's edit forms."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from marshmallow import ValidationError

from shared import reference
from shared.errors import NotFound, OperationError
from shared.web import rt

from .. import operations as ops
from .. import queries
from ..schemas import ProducerPatch, ProductPatch, ProductQuery
from . import blp, labels
from .access import officer_province, owns, page
from .forms import flatten, load, operation_errors
from .reads import certification_history

labels.register(blp)
PER_PAGE = 20
FILTERS = ("q", "province", "old_province", "group", "stars", "status", "expiring_before")
PRODUCT_FIELDS = {
    "name": "text",
    "name_en": "optional",
    "group": "int",
    "subgroup": "optional",
    "description": "optional",
    "potential_five_star": "bool",
    "provincial_key_product": "bool",
}
PRODUCER_FIELDS = {
    "name": "text",
    "kind": "text",
    "address": "optional",
    "province": "text",
    "representative": "optional",
    "email": "optional",
    "phone": "optional",
    "preferred_language": "text",
}


def _search_args() -> tuple[dict, dict[str, str]]:
    """The page's query string as ProductQuery loads it (blank fields left out)."""
    raw = {k: request.args[k].strip() for k in (*FILTERS, "page") if request.args.get(k, "").strip()}
    if "expiring_before" in raw and "/" in raw["expiring_before"]:  # dd/mm/yyyy as typed
        d, _, rest = raw["expiring_before"].partition("/")
        m, _, y = rest.partition("/")
        raw["expiring_before"] = f"{y}-{m.zfill(2)}-{d.zfill(2)}"
    try:
        return ProductQuery().load({**raw, "per_page": PER_PAGE}), {}
    except ValidationError as exc:
        return {}, flatten(exc.messages)


def _in_scope(filters: dict) -> bool:
    """Limit the filters to the officer's province; False when they ask for another province."""
    mine = officer_province()
    if mine is None:
        return True
    if filters.get("province") not in (None, mine):
        return False
    entered = filters.get("province_entered") or filters.get("old_province")
    if entered is not None and reference.resolve_province(entered).name != mine:
        return False
    filters["province"] = mine
    return True


@blp.get("/products")
@page("registry_officer", "admin")
def products():
    query, errors = _search_args()
    total, items, page_no = 0, [], 1
    if not errors:
        page_no, per_page, sort = query.pop("page"), query.pop("per_page"), query.pop("sort")
        if _in_scope(query):
            with rt().transaction() as s:
                total, items = queries.list_products(s, query, page_no, per_page, sort)
    pages = max(1, -(-total // PER_PAGE))
    args = {k: v for k, v in request.args.items() if k in FILTERS and v}
    return render_template(
        "registry/products.html",
        items=items,
        total=total,
        page_no=page_no,
        pages=pages,
        args=args,
        errors=errors,
        province_locked=officer_province(),
        statuses={k: labels.STATUSES[k] for k in ("current", "expired", "revoked", "uncertified")},
    )


def _product_or_404(s, product_id: str):
    try:
        product = queries.get_product(s, product_id)
    except NotFound:
        abort(404)
    if not owns(product.province):
        abort(404)  # another province's record: as if it did not exist
    return product


def _render_product(s, product, product_errors=None, producer_errors=None, status=200):
    producer = queries.get_producer(s, product.producer_id)
    return (
        render_template(
            "registry/product.html",
            prod=product,
            producer=producer,
            history=certification_history(s, product.id),
            product_form=request.form if product_errors else None,
            producer_form=request.form if producer_errors else None,
            product_errors=product_errors or {},
            producer_errors=producer_errors or {},
            provinces=reference.current_provinces(),
        ),
        status,
    )


@blp.get("/products/<product_id>")
@page("registry_officer", "admin")
def product(product_id):
    with rt().transaction() as s:
        return _render_product(s, _product_or_404(s, product_id))


class _Refused(Exception):
    def __init__(self, errors: dict[str, str]):
        self.errors = errors


def _change(product_id: str, change) -> dict[str, str]:
    """Run ``change(session, product)`` in one transaction; its field errors, rolled back, if refused."""
    try:
        with rt().transaction() as s:
            change(s, _product_or_404(s, product_id))
    except _Refused as exc:
        return exc.errors
    except OperationError as exc:
        if isinstance(exc, NotFound):
            abort(404)
        return operation_errors(exc)
    return {}


def _refused_page(product_id: str, **errors):
    with rt().transaction() as s:
        return _render_product(s, _product_or_404(s, product_id), status=422, **errors)


@blp.post("/products/<product_id>")
@page("registry_officer", "admin")
def edit_product(product_id):
    data, errors = load(ProductPatch(), request.form, PRODUCT_FIELDS)
    errors = errors or _change(product_id, lambda s, product: ops.update_product(s, rt().emit, product.id, data))
    if errors:
        return _refused_page(product_id, product_errors=errors)
    flash(gettext("Đã lưu sản phẩm."), "success")
    return redirect(url_for("registry_pages.product", product_id=product_id))


@blp.post("/products/<product_id>/producer")
@page("registry_officer", "admin")
def edit_producer(product_id):
    data, errors = load(ProducerPatch(), request.form, PRODUCER_FIELDS)
    if data is not None:
        data["consent"] = {"email": "consent_email" in request.form, "sms": "consent_sms" in request.form}

    def change(s, product):
        try:
            moved = reference.resolve_province(data["province"]).name
        except reference.UnknownName:
            moved = None  # the operation names the field
        if moved is not None and not owns(moved):
            raise _Refused({"province": "Tỉnh này ngoài phạm vi quản lý của bạn."})
        ops.update_producer(s, rt().emit, product.producer_id, data)

    errors = errors or _change(product_id, change)
    if errors:
        return _refused_page(product_id, producer_errors=errors)
    flash(gettext("Đã lưu chủ thể."), "success")
    return redirect(url_for("registry_pages.product", product_id=product_id))
