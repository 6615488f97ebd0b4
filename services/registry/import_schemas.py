"""Schemas of the bulk import (POST /imports, ``manage import``): the multipart form and the report."""

from __future__ import annotations

import re
from datetime import date, datetime

from flask_smorest.fields import Upload
from marshmallow import Schema, fields, validate

from shared.fields import Line
from shared.instants import UtcDateTime
from shared.text import fold

from .domain import LEVELS

# ---- bulk import (imports.py) ----------------------------------------------------------------
_DMY = re.compile(r"(\d{1,2})\s*[/.-]\s*(\d{1,2})\s*[/.-]\s*(\d{2,4})")
_WORDS = re.compile(r"(?:ngay\s+)?(\d{1,2})\s+thang\s+(\d{1,2})\s+nam\s+(\d{2,4})")
_ISO = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})")


def parse_day_month_year(value) -> date:
    """A date as a Vietnamese office writes it: 20/7/2021, 20/07/2021, 20-07-2021, 20.07.2021,
    "ngày 20 tháng 7 năm 2021", or ISO 2021-07-20; a date (or date-time) value as it is. Raises
    ValueError with a message for the user."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = fold(str(value))
    match = _DMY.fullmatch(text) or _WORDS.fullmatch(text)
    if match:
        day, month, year = (int(g) for g in match.groups())
        if len(match.group(3)) != 4:
            raise ValueError(f"{value!r}: write the year in full (day/month/year, e.g. 20/07/2021)")
    elif match := _ISO.fullmatch(text):
        year, month, day = (int(g) for g in match.groups())
    else:
        raise ValueError(f"{value!r} is not a date; write day/month/year, e.g. 20/07/2021")
    try:
        return date(year, month, day)
    except ValueError:
        raise ValueError(
            f"{value!r} is not a date: there is no day {day} in month {month} of {year} (day/month/year)"
        ) from None


class DayMonthYear(fields.Date):
    """A date in Vietnamese day/month/year form (20/7/2021) or ISO (2021-07-20)."""

    def _deserialize(self, value, attr, data, **kwargs):
        try:
            return parse_day_month_year(value)
        except ValueError as exc:
            raise self.make_error("invalid_message", message=str(exc)) from exc

    default_error_messages = {"invalid_message": "{message}"}


class ImportIn(Schema):
    """The multipart body of POST /imports: the file and, optionally, the decision for the whole file."""

    file = Upload(
        required=True,
        metadata={
            "description": "the decision's list: CSV (UTF-8, with or without BOM; "
            "comma, semicolon or tab) or XLSX (first sheet)"
        },
    )
    dry_run = fields.Boolean(
        load_default=True,
        metadata={"description": "true (default): validate and report, write nothing; false: apply, all or nothing"},
    )
    issued_by = Line(
        min_length=2,
        max_length=200,
        metadata={"description": "issuing authority for every row (else the column issued_by / Cơ quan cấp)"},
    )
    decision_number = Line(
        min_length=1,
        max_length=100,
        metadata={"description": "decision number for every row (else the column decision_number / Số quyết định)"},
    )
    decision_date = DayMonthYear(
        metadata={
            "description": "decision date for every row, day/month/year (20/07/2021) or ISO (else the column "
            "decision_date / Ngày quyết định)"
        }
    )
    level = fields.String(
        validate=validate.OneOf(LEVELS),
        metadata={
            "description": "the decision's level for every row (else the column level / Cấp công nhận; default "
            "province): only the national level certifies 5★"
        },
    )


class ImportFileOut(Schema):
    name = fields.String()
    format = fields.String(metadata={"description": "csv or xlsx"})
    sha256 = fields.String()
    rows = fields.Integer(metadata={"description": "data rows read (blank rows skipped)"})
    columns = fields.Dict(
        keys=fields.String(),
        values=fields.String(),
        metadata={"description": "header as typed → the column it was read as"},
    )


class ImportErrorOut(Schema):
    line = fields.Integer(metadata={"description": "line in the file as the user sees it (header = line 1)"})
    field = fields.String(metadata={"description": "the column at fault (its canonical name)"})
    column = fields.String(allow_none=True, metadata={"description": "that column's header as typed in the file"})
    value = fields.String(allow_none=True)
    message = fields.String()


class CreatedMatched(Schema):
    created = fields.Integer()
    matched = fields.Integer()


class CertificationCounts(Schema):
    created = fields.Integer()
    unchanged = fields.Integer(metadata={"description": "already in the register from the same decision"})
    superseded = fields.Integer(
        metadata={"description": "current certifications a re-certification or upgrade replaces"}
    )


class ImportSummaryOut(Schema):
    producers = fields.Nested(CreatedMatched)
    products = fields.Nested(CreatedMatched)
    certifications = fields.Nested(CertificationCounts)
    events = fields.Integer(metadata={"description": "events the apply emits (or emitted) through the outbox"})


class ImportRowOut(Schema):
    line = fields.Integer()
    producer_code = fields.String()
    product_name = fields.String()
    producer = fields.String(metadata={"description": "created or matched"})
    product = fields.String(metadata={"description": "created or matched"})
    certification = fields.String(metadata={"description": "created or unchanged"})
    producer_id = fields.String(allow_none=True, metadata={"description": "once applied (or matched)"})
    product_id = fields.String(allow_none=True)
    certification_id = fields.String(allow_none=True)


class ImportDecisionOut(Schema):
    id = fields.String(allow_none=True, metadata={"description": "once applied (or matched): GET /decisions/{id}"})
    action = fields.String(metadata={"description": "matched (in the register) or created"})
    number = fields.String()
    date = fields.Date()
    issued_by = fields.String()
    level = fields.String()
    kind = fields.String()
    rows = fields.Integer(metadata={"description": "rows of the file naming it"})
    certificates_created = fields.Integer()


class PreviousImportOut(Schema):
    id = fields.String()
    applied_at = UtcDateTime()
    applied_by = fields.String()
    filename = fields.String()
    summary = fields.Dict()


class ImportReportOut(Schema):
    dry_run = fields.Boolean()
    applied = fields.Boolean(metadata={"description": "true when this request wrote its changes (all of them)"})
    valid = fields.Boolean(metadata={"description": "no row has an error"})
    message = fields.String()
    import_id = fields.String(allow_none=True)
    file = fields.Nested(ImportFileOut)
    summary = fields.Nested(
        ImportSummaryOut, metadata={"description": "what an apply creates and matches (over the rows without errors)"}
    )
    error_count = fields.Integer(metadata={"description": "errors found in all (errors lists the first 200)"})
    rows_with_errors = fields.Integer()
    errors = fields.List(
        fields.Nested(ImportErrorOut),
        metadata={
            "description": "the bad rows' errors, the first 200 in line order: line, field, reason (values and "
            "messages quoted up to 200 characters)"
        },
    )
    rows = fields.List(fields.Nested(ImportRowOut))
    decisions = fields.List(
        fields.Nested(ImportDecisionOut),
        metadata={"description": "the decisions the file names (authority, number, date): matched or created"},
    )
    previous_imports = fields.List(
        fields.Nested(PreviousImportOut), metadata={"description": "earlier applies of the same file (by SHA-256)"}
    )
