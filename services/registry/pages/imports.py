"""Import: upload a decision's list (CSV or XLSX), see the dry run's report row by row (line, field,
reason), apply it, see what it created; and the template file with the Vietnamese headers."""

from __future__ import annotations

import base64
import binascii
from pathlib import Path

from flask import Response, render_template, request
from flask_babel import get_locale

from shared import reference
from shared.errors import OperationError
from shared.instants import vietnam_today
from shared.limits import body_limit
from shared.web import rt

from .. import imports
from ..import_files import HEADERS, header_key, read_table
from . import blp
from .access import officer_province, page
from .forms import message

TEMPLATE = Path(__file__).parent.parent / "reference" / "mau-nhap-quyet-dinh.csv"
# A checked file small enough to travel back in the report's apply form (base64), so that the
# officer applies what was checked without choosing it again; a larger one is chosen again.
CARRY_BYTES = 2 * 1024 * 1024


def _max_bytes() -> int:
    return rt().settings.import_max_bytes  # OCOP_IMPORT_MAX_BYTES


def _limit() -> int:
    return _max_bytes() * 2 + 64 * 1024  # the file, or its base64 in the apply form


def _who() -> str:
    from flask import g

    user = getattr(g, "user", None) or {}
    return str(user.get("id") or user.get("email") or g.principal.get("sub") or "console")[:200]


def _scope_errors(content: bytes, filename: str) -> list[dict]:
    """Rows of a province the officer's scope does not own, as report errors."""
    mine = officer_province()
    if mine is None:
        return []
    table = read_table(content, filename)
    columns = [HEADERS.get(header_key(str(h or ""))) for h in table.header]
    if "province" not in columns:
        return []
    at = columns.index("province")
    errors = []
    for line, cells in table.rows:
        value = str(cells[at] if at < len(cells) and cells[at] is not None else "")
        try:
            province = reference.resolve_province(value).name
        except reference.UnknownName:
            continue  # the import's own check names it
        if province != mine:
            errors.append(
                {
                    "line": line,
                    "field": "province",
                    "column": table.header[at],
                    "value": value,
                    "message": f"{value} ngoài phạm vi quản lý của bạn ({mine})",
                }
            )
    return errors


def _upload() -> tuple[bytes, str]:
    if request.form.get("carried"):
        try:
            return base64.b64decode(request.form["carried"], validate=True), request.form.get("filename", "")
        except (binascii.Error, ValueError):
            return b"", ""
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        return b"", ""
    return upload.read(_max_bytes() + 1), upload.filename


def _run(content: bytes, filename: str, apply: bool) -> dict:
    with rt().transaction() as s:
        return imports.run_import(
            s,
            rt().emit,
            content,
            filename,
            apply=apply,
            decision={},
            today=vietnam_today(),
            applied_by=_who(),
            budget=imports.Budget.of(rt().settings),
        )


@blp.get("/imports")
@page("registry_officer", "admin")
def import_page():
    return render_template("registry/import.html", report=None, errors={}, carried=None, filename=None)


@blp.post("/imports")
@page("registry_officer", "admin")
@body_limit(_limit)
def import_file():
    content, filename = _upload()
    if not content:
        errors = {"file": "Hãy chọn tệp CSV hoặc XLSX."}
        return render_template("registry/import.html", report=None, errors=errors, carried=None, filename=None), 422
    apply = request.form.get("action") == "apply"
    try:
        outside = _scope_errors(content, filename)
        report = _run(content, filename, apply=apply and not outside)
    except imports.RowsRefused as exc:
        report = exc.report  # nothing written: the rows' errors
    except OperationError as exc:
        errors = {"file": message(exc.message)}
        return render_template("registry/import.html", report=None, errors=errors, carried=None, filename=None), 422
    if str(get_locale() or "vi") == "vi":
        report["errors"] = [{**e, "message": message(e["message"])} for e in report["errors"]]
    if outside:
        report["errors"] = sorted(report["errors"] + outside, key=lambda e: e["line"])
        report["valid"], report["applied"] = False, False
        report["rows_with_errors"] = len({e["line"] for e in report["errors"]})
    carried = base64.b64encode(content).decode() if report["valid"] and len(content) <= CARRY_BYTES else None
    status = 200 if report["valid"] else 422
    return render_template("registry/import.html", report=report, errors={}, carried=carried, filename=filename), status


@blp.get("/imports/mau-nhap-quyet-dinh.csv")
@page("registry_officer", "admin")
def import_template():
    # with a BOM, so that a spreadsheet program reads the Vietnamese headers as UTF-8
    return Response(
        b"\xef\xbb\xbf" + TEMPLATE.read_bytes(),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{TEMPLATE.name}"'},
    )
