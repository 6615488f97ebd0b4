"""Replay: re-publish the registry's current state as events, so that a read model built only from
registry events (the events service's) can be rebuilt. ``python -m services.registry.manage
replay [--since ...]``; the procedure is in the README ("Rebuilding the events read model").

What goes out, through the registry's outbox (the running registry worker's relay publishes it):

1. one ``registry.producer.updated`` per producer, at the producer's version;
2. per product, in this order:
   - its current certification's event (``granted``, ``renewed`` or ``upgraded`` by its kind), at
     the product's version; or, when its last certification ended (revoked, expired) and none
     replaced it, that certification's event one version below and then its ``revoked`` /
     ``expired`` event at the product's version, so the read model ends with the product marked
     as it is in the registry;
   - then ``registry.product.updated`` at the product's version (after the certification events:
     a product event of the same version would otherwise leave no room for them).

Every event carries the version the registry holds now, so the read model's version checks make a
replay idempotent (a second run changes nothing) and safe while new events flow (a newer live
event wins whichever comes first; the snapshot is read under a share lock, so a change committed
meanwhile goes out after it).

Where to: straight to the events service's queue (``events.registry-feed``, through the
``ocop.replay`` exchange, which only that queue is bound to), not to ``ocop.events``.
Broadcasting them would have notifications email every producer whose certificate expired again,
and every webhook subscriber and outside queue receive
the whole register. The envelopes' correlation id is ``registry-replay:<run id>``: the events
service applies them to its read model and does not top up fairs from them (a product certified
months ago is not news).
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from shared.bus.outbox import Emitter
from shared.bus.topology import REPLAY_EXCHANGE
from shared.contracts import REPLAY_PREFIX
from shared.db import batches

from . import operations as ops
from .models import Certification, Outbox, Producer, Product

TARGET_QUEUE = "events.registry-feed"
_REPLAYED = Emitter("registry", Outbox, exchange=REPLAY_EXCHANGE)  # routed by type on ocop.replay
ENDED_EVENT = {"revoked": "registry.certification.revoked", "expired": "registry.certification.expired"}
CHUNK = 500


def changed_since(session: Session, since: datetime) -> tuple[set[str], set[str]]:
    """Producers and products with a registry event since ``since``, from the registry's outbox
    (which keeps what it sent; earlier replays left out): a producer event names its producer, a
    product or certification event its product."""
    producers, products = set(), set()
    q = (
        select(Outbox.type, Outbox.payload)
        .where(
            Outbox.created_at >= since,
            Outbox.type.like("registry.%"),
            or_(Outbox.correlation_id.is_(None), Outbox.correlation_id.not_like(f"{REPLAY_PREFIX}%")),
        )
        .execution_options(yield_per=2000)
    )
    for type_, payload in session.execute(q):
        subject = json.loads(payload)["subject"]
        if type_.startswith("registry.producer."):
            producers.add(subject)
        elif type_.startswith(("registry.product.", "registry.certification.")):
            products.add(subject)
    return producers, products


def _lock(q, session: Session):
    # PostgreSQL: FOR SHARE, so a grant or revocation (which locks the product FOR UPDATE) waits for
    # this snapshot's commit and its own event goes out after it. SQLite serialises writers anyway.
    return q.with_for_update(read=True) if session.get_bind().dialect.name == "postgresql" else q


def producer_events(session: Session, ids: list[str]) -> list[tuple]:
    rows = session.scalars(_lock(select(Producer).where(Producer.id.in_(ids)).order_by(Producer.id), session))
    return [("registry.producer.updated", p.id, p.version, ops.producer_event(p)) for p in rows]


def product_events(session: Session, ids: list[str]) -> list[tuple]:
    products = list(session.scalars(_lock(select(Product).where(Product.id.in_(ids)).order_by(Product.id), session)))
    producers = {
        p.id: p
        for p in session.scalars(select(Producer).where(Producer.id.in_(sorted({p.producer_id for p in products}))))
    }
    certs: dict[str, list[Certification]] = {}
    for cert in session.scalars(
        select(Certification)
        .where(Certification.product_id.in_([p.id for p in products]))
        .order_by(Certification.created_at, Certification.decision_date, Certification.id)
    ):
        certs.setdefault(cert.product_id, []).append(cert)
    out = []
    for product in products:
        out += certification_events(product, producers[product.producer_id], certs.get(product.id, []))
        out.append(("registry.product.updated", product.id, product.version, ops.product_event(product)))
    return out


def certification_events(product: Product, producer: Producer, certs: list[Certification]) -> list[tuple]:
    """The events that leave a read model holding the product's certification as it is now
    (``certs`` oldest first): none for a product never certified."""
    current = next((c for c in certs if c.status == "current"), None)
    last = current or next((c for c in reversed(certs) if c.status in ENDED_EVENT), None)
    if last is None:
        return []
    earlier = certs[: certs.index(last)]
    replaces = earlier[-1].id if earlier and last.kind != "new" else None
    granted = (
        ops.CERTIFICATION_EVENT[last.kind],
        product.id,
        ops.certification_event(last, product, producer, replaces=replaces),
    )
    if last is current:
        return [(granted[0], granted[1], product.version, granted[2])]
    ref = {
        "certification_id": last.id,
        "product_id": product.id,
        "product_name": product.name,
        "producer_id": producer.id,
        "producer_name": producer.name,
        "valid_until": last.valid_until,
    }
    if last.status == "revoked":
        ref |= {
            "reason": last.revoked_reason or "",
            "decision_number": last.revocation_decision_number or "",
            "decision_date": last.revocation_decision_date or last.decision_date,
        }
    return [
        (granted[0], granted[1], product.version - 1, granted[2]),
        (ENDED_EVENT[last.status], product.id, product.version, ref),
    ]


def _enqueue(session: Session, events: list[tuple], correlation_id: str, queue: str) -> int:
    """Outbox rows for the events read model's queue (ocop.replay, routed by type), in the order given."""
    return _REPLAYED.many(session, events, correlation_id=correlation_id)


def replay(runtime, since: datetime | None = None, chunk: int = CHUNK, queue: str = TARGET_QUEUE) -> dict:
    """Put the registry's current state (or, with ``since``, that of the producers and products
    changed since then) into the outbox for ``queue``, one transaction per chunk. Returns counts."""
    run = f"{REPLAY_PREFIX}{uuid.uuid4()}"
    with runtime.session_factory() as session:
        if since is None:
            producer_ids = list(session.scalars(select(Producer.id).order_by(Producer.id)))
            product_ids = list(session.scalars(select(Product.id).order_by(Product.id)))
        else:
            producers, products = changed_since(session, since)
            producer_ids, product_ids = sorted(producers), sorted(products)
    by_type: dict[str, int] = {}
    for ids, build in ((producer_ids, producer_events), (product_ids, product_events)):
        for part in batches(ids, chunk):
            with runtime.transaction() as session:
                events = build(session, part)
                _enqueue(session, events, run, queue)
            for type_, *_rest in events:
                by_type[type_] = by_type.get(type_, 0) + 1
    return {
        "producers": by_type.get("registry.producer.updated", 0),
        "products": by_type.get("registry.product.updated", 0),
        "events": sum(by_type.values()),
        "by_type": dict(sorted(by_type.items())),
        "queue": queue,
        "correlation_id": run,
        "since": since.isoformat() if since else None,
    }
