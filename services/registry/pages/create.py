"""Create forms: a producer, and a product of a producer named by its code (its business or tax
code, which the officer knows; never an internal id). Errors beside their fields (the API's schemas
and operations)."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext
from sqlalchemy import select

from shared import reference
from shared.errors import OperationError
from shared.web import rt

from .. import operations as ops
from ..models import Producer
from ..schemas import ProducerIn, ProductIn
from . import blp
from .access import officer_province, owns, page
from .forms import load, operation_errors
from .products import PRODUCER_FIELDS, PRODUCT_FIELDS

OUTSIDE = "Tỉnh này ngoài phạm vi quản lý của bạn."
# a new producer's optional fields are left out when blank (ProducerIn takes no null for some)
BLANK_OMITTED = dict.fromkeys(("address", "representative", "email", "phone"), "text")
NEW_PRODUCER = {"code": "text", **PRODUCER_FIELDS, **BLANK_OMITTED}


def _province_refused(entered: str | None) -> bool:
    try:
        return not owns(reference.resolve_province(entered or "").name)
    except reference.UnknownName:
        return False  # the operation names the field


@blp.route("/producers/new", methods=["GET", "POST"])
@page("registry_officer", "admin")
def producer_new():
    values = {"province": officer_province() or "", "kind": "cooperative", "preferred_language": "vi"}
    errors: dict[str, str] = {}
    if request.method == "POST":
        values = dict(request.form.items())
        data, errors = load(ProducerIn(), request.form, NEW_PRODUCER)
        if data is not None:
            data["consent"] = {"email": "consent_email" in request.form, "sms": "consent_sms" in request.form}
            if _province_refused(data.get("province")):
                errors = {"province": OUTSIDE}
        if not errors:
            try:
                with rt().transaction() as s:
                    producer = ops.register_producer(s, rt().emit, data)
                    code = producer.code
            except OperationError as exc:
                errors = operation_errors(exc)
            else:
                flash(gettext("Đã thêm chủ thể."), "success")
                return redirect(url_for("registry_pages.product_new", producer=code))
    return render_template("registry/producer_new.html", values=values, errors=errors), 422 if errors else 200


@blp.route("/products/new", methods=["GET", "POST"])
@page("registry_officer", "admin")
def product_new():
    values = {"producer": request.args.get("producer", ""), "group": "1"}
    errors: dict[str, str] = {}
    if request.method == "POST":
        values = dict(request.form.items())
        code = (request.form.get("producer") or "").strip()
        with rt().transaction() as s:
            producer = s.scalar(select(Producer).where(Producer.code == code)) if code else None
            producer_id = producer.id if producer is not None and owns(producer.province) else ""
        data, errors = load(ProductIn(), request.form, PRODUCT_FIELDS, extra={"producer_id": producer_id})
        if not producer_id:
            errors = {**errors, "producer": "Không tìm thấy chủ thể có mã số này (trong phạm vi của bạn)."}
        errors.pop("producer_id", None) if producer_id else None
        if not errors:
            try:
                with rt().transaction() as s:
                    product = ops.register_product(s, rt().emit, data)
                    product_id = product.id
            except OperationError as exc:
                errors = operation_errors(exc)
            else:
                flash(gettext("Đã thêm sản phẩm."), "success")
                return redirect(url_for("registry_pages.product", product_id=product_id))
    return render_template("registry/product_new.html", values=values, errors=errors), 422 if errors else 200
