"""One concept, one implementation (issue 12): the envelope, the retry backoff, the correlation context,
Vietnam's time zone, the route's runtime, IN-list helpers and the replay prefix each live once in
shared/; the services use them. The shared pieces behave as the copies they replaced did."""

from __future__ import annotations

import ast
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine
from sqlalchemy.orm import Session
from support import ROOT

from shared import context
from shared.bus.outbox import Emitter, define_models
from shared.contracts import REPLAY_PREFIX, make_envelope, make_envelopes, parse_envelope, replayed, sample
from shared.db import batches, make_base
from shared.errors import Invalid, OperationError
from shared.instants import VIETNAM, vietnam_today
from shared.retry import Backoff, backoff_seconds

# Files another engineer is moving while a copy is still in them (file -> concepts); empty: every move landed.
PENDING: dict[str, set[str]] = {}
HOMES = {  # concept -> the one module that may implement it
    "zone": {"shared/instants.py"},
    "rt": {"shared/web.py"},
    "replay": {"shared/contracts/__init__.py"},
    "context": {"shared/context.py", "shared/web.py"},  # web: a request's id, set and reset by two hooks
    "envelope": {"shared/contracts/__init__.py"},
    "backoff": {"shared/retry.py"},
    "in-list": {"shared/db.py"},
    "errors": {"shared/errors.py"},
}


def _sources():
    for base in ("services", "shared"):
        for path in sorted((ROOT / base).rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            if "/migrations/" not in rel:
                yield rel, ast.parse(path.read_text(encoding="utf-8"))


def _concepts(tree: ast.AST) -> set[str]:
    """Which of the one-place concepts a module implements."""
    found = set()
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and getattr(node.func, "id", None) == "ZoneInfo"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and node.args[0].value == "Asia/Ho_Chi_Minh"
        ):
            found.add("zone")
        if isinstance(node, ast.Constant) and node.value == "registry-replay:":
            found.add("replay")
        if isinstance(node, ast.FunctionDef) and node.name == "rt":
            found.add("rt")
        if isinstance(node, ast.FunctionDef) and node.name in ("backoff_seconds", "_backoff"):
            found.add("backoff")
        if isinstance(node, ast.FunctionDef) and node.name in ("_chunks", "chunks", "_among", "among", "batches"):
            found.add("in-list")
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "set"
            and getattr(node.func.value, "attr", getattr(node.func.value, "id", None))
            in ("correlation_id", "causation_id")
        ):
            found.add("context")
        if isinstance(node, ast.Dict) and {"occurred_at", "causation_id"} <= {
            k.value for k in node.keys if isinstance(k, ast.Constant)
        }:
            found.add("envelope")
        if (
            isinstance(node, ast.FunctionDef)
            and node.name == "errors"
            and any(isinstance(n, ast.For) for n in ast.walk(node))
            and "split" in ast.unparse(node)
        ):
            found.add("errors")  # a dotted field nested by hand, as OperationError.errors does
    return found


def test_each_concept_is_implemented_in_one_place():
    elsewhere = []
    for rel, tree in _sources():
        for concept in _concepts(tree):
            if rel not in HOMES[concept] and concept not in PENDING.get(rel, ()):
                elsewhere.append(f"{rel}: {concept}")
    assert elsewhere == []


def test_the_scan_finds_the_copies_it_forbids():
    copies = ast.parse("""
VN = ZoneInfo("Asia/Ho_Chi_Minh")
PREFIX = "registry-replay:"
def rt(): return runtime_of(current_app)
def backoff_seconds(a, b, c): return min(b * 2 ** a, c)
def _chunks(ids, n): yield ids
token = context.correlation_id.set(envelope["correlation_id"])
envelope = {"id": i, "occurred_at": now, "causation_id": None}
class E(Invalid):
    def errors(self):
        node = [self.message]
        for part in reversed(self.field.split(".")):
            node = {part: node}
""")
    assert _concepts(copies) == set(HOMES)


def test_the_retry_backoff_is_each_replaced_copy():
    assert [backoff_seconds(n, 0.5, 15) for n in range(8)] == [0.5, 0.5, 1, 2, 4, 8, 15, 15]
    relay = Backoff(0.5, 15)  # the relay's: 0.5 doubled up to 15, from 0.5 again after a success
    assert [relay.next() for _ in range(7)] == [0.5, 1, 2, 4, 8, 15, 15]
    relay.reset()
    assert relay.next() == 0.5
    for attempt in range(1, 6):  # the consumer's handler retry: min(0.2 * 2 ** (attempt - 1), 5)
        assert backoff_seconds(attempt, 0.2, 5) == pytest.approx(min(0.2 * 2 ** (attempt - 1), 5))
    for attempts in range(0, 12):  # a delivery's: min(base * 2 ** max(attempts - 1, 0), cap)
        assert backoff_seconds(attempts, 30, 3600) == min(30 * 2 ** max(attempts - 1, 0), 3600)
    assert backoff_seconds(10_000, 30, 3600) == 3600  # no overflow however many failures


def test_caused_by_sets_both_ids_and_puts_them_back():
    outer = context.correlation_id.set("outer")
    try:
        with context.caused_by({"id": "e-1", "correlation_id": "c-1"}):
            assert (context.correlation_id.get(), context.causation_id.get()) == ("c-1", "e-1")
        assert (context.correlation_id.get(), context.causation_id.get()) == ("outer", None)
        with pytest.raises(RuntimeError), context.caused_by({"id": "e-2", "correlation_id": "c-2"}):
            raise RuntimeError
        assert context.correlation_id.get() == "outer"
    finally:
        context.correlation_id.reset(outer)


def _producer():
    return parse_envelope(sample("registry.producer.registered", 1))[1]


def test_every_outbox_path_writes_the_envelope_make_envelope_builds():
    Base = make_base()
    Outbox, _ = define_models(Base)
    engine = create_engine("sqlite://")
    Base.metadata.create_all(engine)
    emit = Emitter("registry", Outbox)
    data = _producer()
    expected = make_envelope(
        "registry.producer.registered", 1, "registry", "p-1", 1, data, correlation_id="c-1", causation_id="e-0"
    )
    tokens = (context.correlation_id.set("c-1"), context.causation_id.set("e-0"))
    try:
        with Session(engine) as session, session.begin():
            written = [
                emit(session, "registry.producer.registered", "p-1", 1, data),
                emit.insert(session.connection(), "registry.producer.registered", "p-1", 1, data),
            ]
            emit.many(session, [("registry.producer.registered", "p-1", 1, data)])
            assert session.info["has_outbox"]
    finally:
        context.correlation_id.reset(tokens[0])
        context.causation_id.reset(tokens[1])
    with Session(engine) as session:
        rows = session.query(Outbox).order_by(Outbox.seq).all()
    assert len(rows) == 3 and len({r.id for r in rows}) == 3
    same = {k: v for k, v in expected.items() if k not in ("id", "occurred_at")}
    for row in rows:
        payload = json.loads(row.payload)
        assert {k: v for k, v in payload.items() if k not in ("id", "occurred_at")} == same
        assert (row.id, row.type, row.routing_key, row.correlation_id, row.exchange) == (
            payload["id"],
            "registry.producer.registered",
            "registry.producer.registered",
            "c-1",
            "ocop.events",
        )
        assert parse_envelope(payload)[1] == data
    assert {w["id"] for w in written} < {r.id for r in rows}


def test_make_envelopes_is_make_envelope_for_many():
    data = _producer()
    one = make_envelope("registry.producer.registered", 1, "registry", "p-1", 1, data)
    [many] = make_envelopes("registry", [("registry.producer.registered", "p-1", 1, data)], 1, None, None)
    assert {k for k in one} == {k for k in many}
    assert many["correlation_id"] == many["id"] and one["data"] == many["data"]


def test_a_replayed_event_is_known_by_its_correlation_id():
    assert replayed({"correlation_id": f"{REPLAY_PREFIX}run-1"})
    assert not replayed({"correlation_id": "req-1"}) and not replayed({"correlation_id": None})


def test_an_operation_error_names_a_dotted_field_in_its_location():
    assert Invalid("too many", field="rules.subgroups").errors() == {"json": {"rules": {"subgroups": ["too many"]}}}

    class QueryInvalid(Invalid):
        location = "query"

    assert QueryInvalid("unknown", field="region").errors() == {"query": {"region": ["unknown"]}}
    assert OperationError("no field").errors() is None


def test_vietnam_is_seven_hours_ahead_and_has_its_own_date():
    assert datetime(2026, 1, 1, 17, 30, tzinfo=UTC).astimezone(VIETNAM).date().isoformat() == "2026-01-02"
    assert vietnam_today() == datetime.now(VIETNAM).date()


def test_batches_cut_a_list_for_in_lookups():
    assert [len(b) for b in batches(range(1234))] == [500, 500, 234]
    assert list(batches([], 10)) == []


def test_the_pending_list_names_existing_files():
    """A file that moved or went leaves the list (so the list only shrinks as the moves land)."""
    gone = [rel for rel in PENDING if not Path(ROOT / rel).is_file()]
    assert gone == []


def test_every_runs_a_sweep_until_stopped_says_only_what_is_worth_saying_and_survives_a_failure(caplog):
    import logging
    import threading

    from shared.worker import every

    stop, results = threading.Event(), iter([{"expired": 0}, RuntimeError("database down"), {"expired": 2}])

    def run():
        result = next(results)
        if isinstance(result, Exception):
            raise result
        if result["expired"]:
            stop.set()
        return result

    log = logging.getLogger("ocop.test.every")
    with caplog.at_level(logging.INFO, logger="ocop.test.every"):
        every(0.001, run, log, "invitations expired", "expiry sweep failed")(stop)
    assert [(r.getMessage(), getattr(r, "expired", None)) for r in caplog.records] == [
        ("expiry sweep failed", None),
        ("invitations expired", 2),
    ]
