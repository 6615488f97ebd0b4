"""Checking a decision's list row by row: each cell read as its column's value, each row loaded
by the API's own input schemas and checked by the same functions of ``operations`` (which call
``domain``), and rows checked against each other. Nothing here is a second rule set; what is
added is what only a file has: cells, line numbers, and conflicts between rows."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from marshmallow import ValidationError

from shared.errors import OperationError
from shared.text import fold

from . import domain
from . import operations as ops
from .import_convert import (
    CERT_FIELDS,
    CONVERT,
    PRODUCER_FIELDS,
    PRODUCT_FIELDS,
    as_text,
)
from .import_files import Budget, FileRefused, Table, header_key, map_columns
from .schemas import CertificationIn, ProducerIn, ProductIn

_PRODUCER_IN = ProducerIn()
_PRODUCT_IN = ProductIn(exclude=("producer_id",))
_CERT_IN = CertificationIn(exclude=("product_id",))


# ---- checking rows ---------------------------------------------------------------------------
@dataclass
class RowError:
    line: int
    field: str
    message: str
    value: object = None


@dataclass
class ProducerPlan:
    line: int  # first line that names it
    fields: dict  # producer_fields() of that line
    id: str | None = None
    existing: dict | None = None  # the register's row, once matched
    created: bool = False


@dataclass
class RowPlan:
    line: int
    producer: ProducerPlan
    product: dict  # product_fields()
    cert: dict  # certification_fields()
    product_id: str | None = None
    existing_product: dict | None = None
    product_version: int = 0  # after this row
    cert_id: str | None = None
    action: str = "created"  # of the certification: created or unchanged
    supersedes: str | None = None
    given: frozenset = frozenset()  # the columns this row has a value in
    decision: dict | None = None  # the decision it names (imports.Resolver: found or to create)


@dataclass
class Checked:
    table: Table
    columns: dict[int, str]
    rows: list[RowPlan] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    producers: dict[str, ProducerPlan] = field(default_factory=dict)
    decisions: dict[tuple, dict] = field(default_factory=dict)  # decision key -> plan (imports.Resolver)


def _schema_errors(messages: dict, names: dict[str, str], prefix: str = "") -> list[tuple[str, str]]:
    out = []
    for key, value in messages.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out += _schema_errors(value, names, f"{name}.")
            continue
        for message in value:
            if message == "Missing data for required field.":
                message = "is empty; a value is required"
            out.append((names.get(name, name), message))
    return out


def _apply_rules(schema, rule, data: dict, names: dict[str, str], default: str) -> tuple[dict | None, list]:
    """The API's input schema, then its rule (a function of ``operations``): the columns, or the
    problems as (column, message). A cell that could not be read is left out, and the schema's
    complaint that it is then missing is not said twice."""
    unread = {names.get(k, k) for k, v in data.items() if v is _INVALID}
    if isinstance(data.get("score_parts"), dict):
        unread |= {names[f"score_parts.{k}"] for k, v in data["score_parts"].items() if v is _INVALID}
        data = {**data, "score_parts": {k: v for k, v in data["score_parts"].items() if v is not _INVALID}}
    clean = {k: v for k, v in data.items() if v is not _INVALID}
    try:
        loaded = schema.load(clean)
    except ValidationError as exc:
        return None, [(c, m) for c, m in _schema_errors(exc.messages, names) if c not in unread]
    if unread:
        return None, []
    try:
        return rule(loaded), []
    except OperationError as exc:
        return None, [(names.get(exc.field, exc.field or default), exc.message)]


class RowChecker:
    """Checks rows one by one with the API's schemas and rules, and rows against each other."""

    def __init__(self, header: list[str], columns: dict[int, str], decision: dict, today: date):
        self.header = header
        self.columns = columns
        self.decision = {k: v for k, v in decision.items() if v is not None}
        self.today = today
        self.producers: dict[str, ProducerPlan] = {}
        self._producer_checks: dict[tuple, tuple[dict | None, list[tuple[str, str]]]] = {}
        self._names: dict[tuple[str, str], tuple[str, int]] = {}  # (folded name, province) -> (code, line)
        self._products: dict[tuple[str, str], int] = {}  # (code, folded name) -> line

    def check(self, line: int, cells: list, errors: list[RowError]) -> RowPlan | None:
        before = len(errors)
        raw = self._values(line, cells, errors)
        producer = self._producer(line, raw, errors)
        product = self._product(line, raw, errors)
        cert = self._certification(line, raw, errors)
        if producer is None or product is None or cert is None or len(errors) > before:
            return None
        try:  # "potential 5★" goes with this row's 4★ (a provincial 90+ sets it)
            domain.check_potential_five_star(product["potential_five_star"], cert["stars"])
        except domain.DomainError as exc:
            errors.append(RowError(line, exc.field, exc.message, raw.get("potential_five_star")))
            return None
        product["potential_five_star"] = domain.potential_after(
            product["potential_five_star"], cert["stars"], cert["proposed_for_national"]
        )
        return self._within_file(line, raw, producer, product, cert, errors)

    def _values(self, line: int, cells: list, errors: list[RowError]) -> dict:
        raw: dict = {}
        for i, value in enumerate(cells):
            if value is None or value == "":
                continue
            name = self.columns.get(i)
            if name is None:
                if i >= len(self.header) or not header_key(self.header[i]):
                    errors.append(RowError(line, f"column {i + 1}", "a value under no column header", as_text(value)))
                continue
            try:
                raw[name] = CONVERT.get(name, as_text)(value)
            except ValueError as exc:
                errors.append(RowError(line, name, str(exc), as_text(value)))
                raw[name] = _INVALID
        for name, value in self.decision.items():
            given = raw.get(name)
            typed = value.isoformat() if isinstance(value, date) else value
            if given is None:
                raw[name] = typed
            elif given is not _INVALID and fold(str(given)) != fold(str(typed)):
                errors.append(
                    RowError(line, name, f"differs from the {name} given for the whole file ({typed})", given)
                )
        return raw

    def _producer(self, line: int, raw: dict, errors: list[RowError]) -> ProducerPlan | None:
        data = {api: raw[col] for api, col in PRODUCER_FIELDS.items() if col in raw}
        key = tuple(sorted((k, str(v)) for k, v in data.items()))
        if key not in self._producer_checks:  # a producer's rows repeat its cells: check them once
            self._producer_checks[key] = _apply_rules(
                _PRODUCER_IN, ops.producer_fields, data, PRODUCER_FIELDS, "producer_code"
            )
        fields, problems = self._producer_checks[key]
        errors += [RowError(line, name, message, raw.get(name)) for name, message in problems]
        if fields is None:
            return None
        plan = self.producers.get(fields["code"])
        if plan is None:
            return ProducerPlan(line, dict(fields))
        for api in ("name_folded", "kind", "province", "address", "representative", "email", "phone"):
            mine, first = fields[api], plan.fields[api]
            if mine is not None and first is not None and mine != first:
                column = "producer_name" if api == "name_folded" else PRODUCER_FIELDS.get(api, api)
                errors.append(
                    RowError(
                        line,
                        column,
                        f"differs from line {plan.line} for the same producer code "
                        f"{fields['code']} ({plan.fields[_shown(api)]!r})",
                        raw.get(column),
                    )
                )
                return None
        for api in ("address", "representative", "email", "phone"):
            if plan.fields[api] is None and fields[api] is not None:
                plan.fields[api] = fields[api]
        return plan

    def _product(self, line: int, raw: dict, errors: list[RowError]) -> dict | None:
        data = {api: raw[col] for api, col in PRODUCT_FIELDS.items() if col in raw}
        fields, problems = _apply_rules(_PRODUCT_IN, ops.product_fields, data, PRODUCT_FIELDS, "product_name")
        errors += [RowError(line, name, message, raw.get(name)) for name, message in problems]
        return fields

    def _certification(self, line: int, raw: dict, errors: list[RowError]) -> dict | None:
        data = {
            api: raw[col] for api, col in CERT_FIELDS.items() if col in raw and "." not in api and api != "product_id"
        }
        parts = {k: raw[f"score_{k}"] for k in "abc" if f"score_{k}" in raw}
        if parts:
            data["score_parts"] = parts
        fields, problems = _apply_rules(
            _CERT_IN, lambda loaded: ops.certification_fields(loaded, self.today), data, CERT_FIELDS, "score"
        )
        errors += [RowError(line, name, message, raw.get(name)) for name, message in problems]
        return fields

    def _within_file(self, line, raw, producer: ProducerPlan, product: dict, cert: dict, errors) -> RowPlan | None:
        code = producer.fields["code"]
        name_key = (producer.fields["name_folded"], producer.fields["province"])
        other = self._names.get(name_key)
        if other is not None and other[0] != code:
            errors.append(
                RowError(
                    line,
                    "producer_code",
                    f"line {other[1]} gives the producer "
                    f"{producer.fields['name']!r} in {name_key[1]} the code "
                    f"{other[0]}; one producer has one code",
                    raw.get("producer_code"),
                )
            )
            return None
        product_key = (code, product["name_folded"])
        if product_key in self._products:
            errors.append(
                RowError(
                    line,
                    "product_name",
                    f"the same product of producer {code} is on line "
                    f"{self._products[product_key]}; a file lists a product "
                    "once",
                    raw.get("product_name"),
                )
            )
            return None
        self._names.setdefault(name_key, (code, line))
        self._products[product_key] = line
        self.producers.setdefault(code, producer)
        return RowPlan(line, producer, product, cert, given=frozenset(raw))


def _shown(api: str) -> str:
    return "name" if api == "name_folded" else api


class _Invalid:
    def __repr__(self):
        return "<invalid>"


_INVALID = _Invalid()


def check_rows(table: Table, decision: dict, today: date, budget: Budget | None = None) -> Checked:
    """Every row checked alone (the API's schemas and rules) and against the rows before it."""
    budget = budget or Budget()
    columns = map_columns(table.header, decision)
    checked = Checked(table, columns)
    checker = RowChecker(table.header, columns, decision, today)
    for n, (line, cells) in enumerate(table.rows):
        if n % 200 == 0:
            budget.check_time()
        plan = checker.check(line, cells, checked.errors)
        if plan is not None:
            checked.rows.append(plan)
    checked.producers = checker.producers
    return checked


def check_decision(decision: dict, today: date) -> None:
    """The decision given for the whole file is checked once, naming the form field."""
    if decision.get("decision_date") is not None:
        try:
            domain.check_decision_date(decision["decision_date"], today)
        except domain.DomainError as exc:
            raise FileRefused(f"decision_date {exc.message}", errors={"decision_date": [exc.message]}) from None
