"""The events service's read model of the registry: certified products, producers and products,
updated from registry events (newer versions only). Flush, never commit."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import bindparam, text
from sqlalchemy.orm import Session

from .models import CertifiedProduct, ProducerView, ProductView


def apply_certification(session: Session, envelope: dict, data: dict) -> bool:
    """Upsert the product's row only when the event is newer than what we hold.

    One statement: ``INSERT ... ON CONFLICT (product_id) DO UPDATE ... WHERE the stored
    source_version < the event's``. The database locks the product's row (as ``SELECT ... FOR
    UPDATE`` did, so concurrent consumers still serialise per product) and compares the versions
    itself; a stale or replayed event changes nothing and returns False. It replaced a locking
    SELECT plus an ORM INSERT or UPDATE: two round trips and the ORM's load and flush for every
    event of the events service's busiest handler (see bench/pipeline.py).
    """
    values = _certification_values(envelope, data)
    conn = session.connection()
    if conn.dialect.name == "postgresql":
        # On the DBAPI cursor of the session's connection (so in its transaction): SQLAlchemy's
        # execution layer took more CPU than psycopg and the round trip together. psycopg
        # adapts these values (str, int, date, aware datetime) natively. PostgreSQL only, so run
        # by the real mode of the tests (.ci/run runs it in CI): tests/integration/test_read_model.py
        # (stale, replayed and out-of-order events, the producer overlay), test_replay.py.
        with conn.connection.cursor() as cursor:
            cursor.execute(_UPSERT_PG, values)
            applied = cursor.fetchone() is not None
    else:
        applied = conn.execute(_UPSERT, values).first() is not None  # SQLite: its types' bind processing
    _overlay_producers(session, [data["producer_id"]])
    return applied


def _certification_values(envelope: dict, data: dict) -> dict:
    return {
        "product_id": data["product_id"],
        "product_name": data["product_name"],
        "producer_id": data["producer_id"],
        "producer_name": data["producer_name"],
        "producer_kind": data["producer_kind"],
        "group": data["group"],
        "province": data["province"],
        "province_entered": data.get("province_entered"),
        "region": data["region"],
        "stars": data["stars"],
        "certification_id": data["certification_id"],
        "valid_until": data["valid_until"],
        "status": "current",
        "subgroup": data.get("subgroup"),
        "potential_five_star": data.get("potential_five_star", False),
        "source_version": envelope["subject_version"],
        "updated_at": datetime.now(UTC),
    }


def apply_certifications(session: Session, batch: list[tuple[dict, dict]]) -> None:
    """``apply_certification`` for a batch of events, in order, in one round trip on PostgreSQL
    (psycopg pipelines ``executemany``). Same statement, so the same stale-version rule. The
    PostgreSQL path is run in CI by the real mode of tests/integration/test_read_model.py
    (test_batch_applies_in_order_and_drops_stale) and by every consumer batch of the registry feed."""
    conn = session.connection()
    if conn.dialect.name != "postgresql":
        for envelope, data in batch:
            apply_certification(session, envelope, data)
        return
    with conn.connection.cursor() as cursor:
        cursor.executemany(_UPSERT_PG, [_certification_values(envelope, data) for envelope, data in batch])
    _overlay_producers(session, sorted({data["producer_id"] for _, data in batch}))


def _overlay_producers(session: Session, producer_ids: list[str]) -> None:
    """A certification event carries its producer as it was when the certificate was granted. Once
    the registry has changed a producer (registry.producer.updated, version 2 on), the producers
    read model holds its newest state and wins, whichever of the two events arrived first (events
    of two subjects are not ordered with each other). One statement for a whole batch."""
    c, p = CertifiedProduct.__table__, ProducerView.__table__
    session.execute(
        c.update()
        .where(c.c.producer_id == p.c.producer_id, c.c.producer_id.in_(producer_ids), p.c.source_version > 1)
        .values(
            producer_name=p.c.name,
            producer_kind=p.c.kind,
            province=p.c.province,
            province_entered=p.c.province_entered,
            region=p.c.region,
        )
    )


_FROM_PRODUCTS = "provincial_key_product"  # a certified row's column that the products row supplies


def _certification_upsert(param) -> str:
    """The upsert's SQL, which PostgreSQL and SQLite both accept, with ``param(name)`` for the
    placeholders. Text: SQLAlchemy 2.0 does not cache the dialects' ``on_conflict_do_update``
    statements and compiled one anew for every event."""
    table = CertifiedProduct.__table__
    names = [c.name for c in table.c]
    quoted = {n: f'"{n}"' for n in names}  # "group" is a reserved word
    values = {n: param(n) for n in names}
    # Only product events carry the provincial key designation: the products row's, when there is one.
    values[_FROM_PRODUCTS] = (
        f"COALESCE((SELECT p.{_FROM_PRODUCTS} FROM {ProductView.__tablename__} p "
        f"WHERE p.product_id = CAST({param('product_id')} AS VARCHAR(36))), false)"
    )
    return (
        f"INSERT INTO {table.name} ({', '.join(quoted.values())}) "
        f"VALUES ({', '.join(values.values())}) ON CONFLICT (product_id) DO UPDATE SET "
        + ", ".join(f"{quoted[n]} = excluded.{quoted[n]}" for n in names if n != "product_id")
        + f" WHERE {table.name}.source_version < excluded.source_version RETURNING product_id"
    )


def _typed_upsert():
    return text(_certification_upsert(lambda n: f":{n}")).bindparams(
        *[bindparam(c.name, type_=c.type) for c in CertifiedProduct.__table__.c if c.name != _FROM_PRODUCTS]
    )


_UPSERT_PG = _certification_upsert(lambda n: f"%({n})s")


_UPSERT = _typed_upsert()


def apply_producer(session: Session, envelope: dict, data: dict) -> bool:
    """registry.producer.registered/updated: the producers read model (newer versions only), and
    the producer's name, kind and province on its certified products."""
    row = session.get(ProducerView, data["producer_id"], with_for_update=True)
    if row is not None and row.source_version >= envelope["subject_version"]:
        return False
    if row is None:
        row = ProducerView(producer_id=data["producer_id"])
        session.add(row)
    row.name, row.kind, row.province, row.region = data["name"], data["kind"], data["province"], data["region"]
    row.province_entered = data.get("province_entered")
    row.email, row.phone = data.get("email"), data.get("phone")
    row.source_version = envelope["subject_version"]
    session.flush()
    _overlay_producers(session, [row.producer_id])
    return True


def apply_product(session: Session, envelope: dict, data: dict) -> bool:
    """registry.product.registered/updated: the products read model, and a renamed or regrouped
    product's certified row (newer versions only)."""
    row = session.get(ProductView, data["product_id"], with_for_update=True)
    if row is not None and row.source_version >= envelope["subject_version"]:
        return False
    if row is None:
        row = ProductView(product_id=data["product_id"])
        session.add(row)
    row.producer_id, row.name, row.group = data["producer_id"], data["name"], data["group"]
    row.subgroup, row.potential_five_star = data.get("subgroup"), data["potential_five_star"]
    row.provincial_key_product = data.get("provincial_key_product", False)
    row.source_version = envelope["subject_version"]
    certified = session.get(CertifiedProduct, data["product_id"], with_for_update=True)
    if certified is not None:
        # Only product events carry the designation: the newest product event's, whatever the row's version.
        certified.provincial_key_product = row.provincial_key_product
    if certified is not None and certified.source_version < envelope["subject_version"]:
        certified.product_name, certified.group = data["name"], data["group"]
        certified.subgroup, certified.potential_five_star = data.get("subgroup"), data["potential_five_star"]
        certified.source_version = envelope["subject_version"]
    session.flush()
    return True


def apply_certification_ended(session: Session, envelope: dict, data: dict) -> bool:
    """A revoked or expired certificate takes the product out of matching (newer versions only)."""
    status = "revoked" if envelope["type"].endswith(".revoked") else "expired"
    row = session.get(CertifiedProduct, data["product_id"], with_for_update=True)
    if (
        row is None
        or row.source_version >= envelope["subject_version"]
        or row.certification_id != data["certification_id"]
    ):
        return False
    row.status = status
    row.source_version = envelope["subject_version"]
    session.flush()
    return True
