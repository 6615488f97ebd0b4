"""Rebuilding the events read model by replay, in both modes: with the read model corrupted and then
emptied (``python -m services.events.manage rebuild-read-model``), the registry's replay
(``python -m services.registry.manage replay``) brings it back to what it was, row for row, for
every producer and product the registry knows, whatever state their certificates are in (current,
renewed, revoked, expired, never certified); where another test module edited the registry's tables
directly (no event), the rebuilt row follows the registry. The replayed events reach only the events service,
top up no fair, and never overwrite a newer live change; ``--since`` replays only what changed.

Isolation: this module's producers come from Ninh Bình and Hải Phòng, which no other module uses.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta

from events_support import answer, by_producer, create_fair, known, publish, register
from sqlalchemy import delete, select, update
from support import ROOT, wait_for

from services.events.models import CertifiedProduct, ProducerView, ProductView
from services.registry import replay
from services.registry.models import Outbox as RegistryOutbox
from services.registry.models import Producer, Product
from shared.contracts import REPLAY_PREFIX

SKIP = {"updated_at"}


def snapshot(platform) -> dict[str, dict]:
    """The read model, table by table: key -> row values (but when each row last changed)."""
    out = {}
    with platform.runtimes["events"].session_factory() as s:
        for name, model, key in (
            ("producers", ProducerView, "producer_id"),
            ("products", ProductView, "product_id"),
            ("certified", CertifiedProduct, "product_id"),
        ):
            columns = [c.key for c in model.__table__.columns if c.key not in SKIP]
            out[name] = {getattr(row, key): {c: getattr(row, c) for c in columns} for row in s.scalars(select(model))}
    return out


def registry_ids(platform) -> tuple[set[str], set[str]]:
    with platform.runtimes["registry"].session_factory() as s:
        return set(s.scalars(select(Producer.id))), set(s.scalars(select(Product.id)))


def known_to_registry(platform, snap: dict) -> dict:
    """What a replay can rebuild: rows of producers and products the registry knows (other test
    modules put rows straight into the read model for subjects the registry never had)."""
    producers, products = registry_ids(platform)
    return {
        "producers": {k: v for k, v in snap["producers"].items() if k in producers},
        "products": {k: v for k, v in snap["products"].items() if k in products},
        "certified": {k: v for k, v in snap["certified"].items() if k in products},
    }


def registry_edits(platform, snap: dict) -> dict[str, dict]:
    """Certified rows whose certification the registry now holds with another validity or status
    although no event said so: a few test modules edit the registry's tables directly (back-dating
    a certificate, marking one expired). The read model could not know; rebuilt, it follows the
    registry."""
    from services.registry.models import Certification

    rows = snap["certified"]
    with platform.runtimes["registry"].session_factory() as s:
        certs = {
            c.id: c
            for c in s.scalars(
                select(Certification).where(Certification.id.in_([r["certification_id"] for r in rows.values()]))
            )
        }
    out = {}
    for product_id, row in rows.items():
        cert = certs.get(row["certification_id"])
        if cert is None:
            continue
        status = cert.status if cert.status in ("current", "revoked", "expired") else row["status"]
        if (cert.valid_until, status) != (row["valid_until"], row["status"]):
            out[product_id] = {"valid_until": cert.valid_until, "status": status}
    return out


def differences(expected: dict, actual: dict) -> list:
    """What differs, table by table (empty: the same). A product's own row may come back at a newer
    version: a replay sends the product at its current version, which certification events raise."""
    out = []
    for table in ("producers", "products", "certified"):
        for key in sorted(set(expected[table]) | set(actual[table])):
            was, now = expected[table].get(key), actual[table].get(key)
            if table == "products" and was and now and now["source_version"] >= was["source_version"]:
                was, now = {**was, "source_version": 0}, {**now, "source_version": 0}
            if was != now:
                out.append(
                    (
                        table,
                        key,
                        {c: (was or {}).get(c) for c in (was or now) if (was or {}).get(c) != (now or {}).get(c)},
                        {c: (now or {}).get(c) for c in (now or was) if (was or {}).get(c) != (now or {}).get(c)},
                    )
                )
    return out


def replayed_ids(platform, correlation_id: str) -> set[str]:
    with platform.runtimes["registry"].session_factory() as s:
        return set(s.scalars(select(RegistryOutbox.id).where(RegistryOutbox.correlation_id == correlation_id)))


def inbox_ids(platform, service: str) -> set[str]:
    rt = platform.runtimes[service]
    with rt.session_factory() as s:
        return set(s.scalars(select(rt.inbox.event_id)))


def applied(platform, correlation_id: str) -> None:
    """Wait until the events service has handled every event of a replay run."""
    ids = replayed_ids(platform, correlation_id)
    assert ids
    wait_for(
        lambda: ids <= inbox_ids(platform, "events"),
        timeout=120,
        interval=0.2,
        message="the replayed events applied by the events service",
    )


def settled(platform) -> None:
    """Wait until the events service has handled every registry event it handles (so the read model
    is the registry's state before it is compared)."""
    from services.events.consumers import handlers

    types = sorted(handlers(platform.runtimes["events"])["events.registry-feed"])
    with platform.runtimes["registry"].session_factory() as s:
        ids = set(
            s.scalars(select(RegistryOutbox.id).where(RegistryOutbox.type.in_(types), RegistryOutbox.exchange != ""))
        )
    wait_for(
        lambda: ids <= inbox_ids(platform, "events"),
        timeout=120,
        interval=0.2,
        message="every registry event handled by the events service",
    )


def manage(service: str, *args: str) -> dict:
    out = subprocess.run(
        [sys.executable, "-m", f"services.{service}.manage", *args],
        cwd=ROOT,
        env=os.environ.copy(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def certify(api, product_id: str, kind: str, score: int, decided: str) -> dict:
    r = api.call(
        "POST",
        "registry",
        "/certifications",
        "registry_officer",
        json={
            "product_id": product_id,
            "kind": kind,
            "score": score,
            "issued_by": "UBND tỉnh Ninh Bình",
            "decision_number": f"{score}/QĐ-UBND",
            "decision_date": decided,
        },
    )
    assert r.status_code == 201, r.text
    return r.json()


def catalogue(api, product_id: str) -> dict:
    r = api.call("GET", "events", f"/catalogue/{product_id}", "trade_officer")
    return r.json() if r.ok else {}


def every_state(platform, api) -> dict:
    """Producers and products in every state the read model can hold, known to the events service."""
    today = date.today()
    renamed = register(api, "Ninh Bình", name="Hợp tác xã Cói Kim Sơn")
    r = api.call(
        "PATCH",
        "registry",
        f"/producers/{renamed['id']}",
        "registry_officer",
        json={"name": "Hợp tác xã Thủ công mỹ nghệ Cói Kim Sơn", "phone": "0912 345 678"},
    )
    assert r.status_code == 200, r.text
    r = api.call(
        "PATCH",
        "registry",
        f"/products/{renamed['products'][0]['id']}",
        "registry_officer",
        json={"name": "Chiếu cói Kim Sơn dệt tay"},
    )
    assert r.status_code == 200, r.text
    renewed = register(api, "Ninh Bình", score=72, decided="2023-09-15")
    certify(api, renewed["products"][0]["id"], "recertification", 81, (today - timedelta(days=3)).isoformat())
    upgraded = register(api, "Ninh Bình", score=65)
    certify(api, upgraded["products"][0]["id"], "upgrade", 75, today.isoformat())
    revoked = register(api, "Ninh Bình")
    r = api.call(
        "POST",
        "registry",
        f"/certifications/{revoked['certs'][0]['id']}/revoke",
        "registry_officer",
        json={
            "reason": "Vi phạm an toàn thực phẩm",
            "decision_number": "12/QĐ-UBND",
            "decision_date": today.isoformat(),
        },
    )
    assert r.status_code == 200, r.text
    expired = register(api, "Ninh Bình", decided=(today - timedelta(days=3 * 366 + 30)).isoformat())
    from services.registry.worker import run_sweep

    run_sweep(platform.runtimes["registry"])
    potential = register(api, "Ninh Bình", certify=False)
    made = {
        "renamed": renamed,
        "renewed": renewed,
        "upgraded": upgraded,
        "revoked": revoked,
        "expired": expired,
        "potential": potential,
    }
    want = {
        "renamed": ("current", 4),
        "renewed": ("current", 4),
        "upgraded": ("current", 4),
        "revoked": ("revoked", 4),
        "expired": ("expired", 4),
    }
    wait_for(
        lambda: all(
            (
                catalogue(api, made[k]["products"][0]["id"]).get("status"),
                catalogue(api, made[k]["products"][0]["id"]).get("stars"),
            )
            == v
            for k, v in want.items()
        )
        and catalogue(api, renamed["products"][0]["id"]).get("product_name") == "Chiếu cói Kim Sơn dệt tay",
        timeout=60,
        message="every state in the read model",
    )

    def potential_known():
        with platform.runtimes["events"].session_factory() as s:
            return s.get(ProductView, potential["products"][0]["id"]) is not None

    wait_for(potential_known, message="the uncertified product in the read model")
    return made


def test_corrupted_read_model_is_rebuilt_by_the_two_commands(platform, api):
    made = every_state(platform, api)
    # A fair inviting with room and an eligible producer it never invited: a replayed certification
    # must not top it up (only a new one may).
    first, second = register(api, "Hải Phòng", decided="2025-07-20"), register(api, "Hải Phòng", decided="2025-01-20")
    known(api, [first["products"][0]["id"], second["products"][0]["id"]])
    fair = create_fair(api, "Hải Phòng", capacity=1, rules={"waitlist_size": 0, "overbooking_percent": 0})
    publish(api, fair["id"])
    assert set(by_producer(api, fair["id"])) == {first["id"]}
    assert answer(api, by_producer(api, fair["id"])[first["id"]], "decline").status_code == 200

    events = platform.runtimes["events"]
    settled(platform)
    before = known_to_registry(platform, snapshot(platform))
    edited = registry_edits(platform, before)
    mine = {p["id"] for m in [*made.values(), first, second] for p in m["products"]}
    assert not edited.keys() & mine
    expected = {**before, "certified": {k: {**row, **edited.get(k, {})} for k, row in before["certified"].items()}}
    assert before["producers"][made["renamed"]["id"]]["phone"] == "0912 345 678"
    assert before["producers"][made["renamed"]["id"]]["email"] == made["renamed"]["email"]

    # Corrupt it: wrong stars and status, a product and a producer lost, a mangled name.
    with events.transaction() as s:
        s.execute(
            update(CertifiedProduct)
            .where(CertifiedProduct.product_id == made["revoked"]["products"][0]["id"])
            .values(status="current", stars=5)
        )
        s.execute(delete(CertifiedProduct).where(CertifiedProduct.product_id == made["renewed"]["products"][0]["id"]))
        s.execute(delete(ProducerView).where(ProducerView.producer_id == made["expired"]["id"]))
        s.execute(
            update(ProductView).where(ProductView.product_id == made["renamed"]["products"][0]["id"]).values(name="???")
        )
    assert known_to_registry(platform, snapshot(platform)) != before

    removed = manage("events", "rebuild-read-model")["removed"]
    assert removed["certified_products"] >= 5 and removed["producers"] >= 7 and removed["inbox_rows"] > 0
    assert snapshot(platform) == {"producers": {}, "products": {}, "certified": {}}

    report = manage("registry", "replay")
    producers, products = registry_ids(platform)
    assert (report["producers"], report["products"]) == (len(producers), len(products))
    assert report["by_type"]["registry.certification.revoked"] >= 1
    assert report["by_type"]["registry.certification.expired"] >= 1
    assert report["by_type"]["registry.certification.renewed"] >= 1
    assert report["queue"] == "events.registry-feed" and report["correlation_id"].startswith("registry-replay:")
    applied(platform, report["correlation_id"])
    diff = differences(expected, known_to_registry(platform, snapshot(platform)))
    assert not diff, diff

    # Only the events service got them: notifications (which emails expired certificates) saw none.
    ids = replayed_ids(platform, report["correlation_id"])
    assert not ids & inbox_ids(platform, "notifications")
    # ...and the fair with room invited no one from a replayed certification.
    assert set(by_producer(api, fair["id"])) == {first["id"]}

    # Idempotent: a second replay changes nothing.
    again = manage("registry", "replay")
    applied(platform, again["correlation_id"])
    diff = differences(expected, known_to_registry(platform, snapshot(platform)))
    assert not diff, diff

    # A real change (a re-certification) still tops the fair up: the path is live.
    certify(api, second["products"][0]["id"], "recertification", 80, date.today().isoformat())
    wait_for(lambda: second["id"] in by_producer(api, fair["id"]), message="the top-up of a new certification")


def test_a_stale_replay_never_overwrites_a_newer_live_change(platform, api):
    made = register(api, "Ninh Bình", name="Cơ sở Nem chua Yên Mạc")
    product_id = made["products"][0]["id"]
    known(api, [product_id])
    registry = platform.runtimes["registry"]
    with registry.session_factory() as s:  # the replay's snapshot, taken before the change
        stale = replay.product_events(s, [product_id]) + replay.producer_events(s, [made["id"]])
    r = api.call("PATCH", "registry", f"/products/{product_id}", "registry_officer", json={"name": "Nem chua Yên Mạc"})
    assert r.status_code == 200, r.text
    wait_for(lambda: catalogue(api, product_id).get("product_name") == "Nem chua Yên Mạc", message="the rename")
    run = f"{REPLAY_PREFIX}stale-{made['id']}"
    with registry.transaction() as s:  # ...published after it
        assert replay._enqueue(s, stale, run, replay.TARGET_QUEUE) == 3
    applied(platform, run)
    assert catalogue(api, product_id)["product_name"] == "Nem chua Yên Mạc"
    with platform.runtimes["events"].session_factory() as s:
        assert s.get(ProductView, product_id).name == "Nem chua Yên Mạc"


def test_replay_since_sends_only_what_changed_and_fills_what_was_lost(platform, api):
    since = datetime.now(UTC)
    made = [register(api, "Ninh Bình", products=2), register(api, "Ninh Bình", certify=False)]
    product_ids = [p["id"] for m in made for p in m["products"]]
    known(api, [p["id"] for p in made[0]["products"]])
    events = platform.runtimes["events"]
    with events.transaction() as s:  # the read model lost them (say, restored from an older backup)
        s.execute(delete(CertifiedProduct).where(CertifiedProduct.product_id.in_(product_ids)))
        s.execute(delete(ProductView).where(ProductView.product_id.in_(product_ids)))
        s.execute(delete(ProducerView).where(ProducerView.producer_id.in_([m["id"] for m in made])))

    report = replay.replay(platform.runtimes["registry"], since=since, chunk=2)
    assert report["by_type"] == {
        "registry.certification.granted": 2,
        "registry.producer.updated": 2,
        "registry.product.updated": 3,
    }
    applied(platform, report["correlation_id"])
    with events.session_factory() as s:
        assert {
            p.producer_id
            for p in s.scalars(select(ProducerView).where(ProducerView.producer_id.in_([m["id"] for m in made])))
        } == {m["id"] for m in made}
        assert len(list(s.scalars(select(ProductView).where(ProductView.product_id.in_(product_ids))))) == 3
        stars = {
            c.product_id: c.stars
            for c in s.scalars(select(CertifiedProduct).where(CertifiedProduct.product_id.in_(product_ids)))
        }
    assert stars == {p["id"]: 4 for p in made[0]["products"]}


def test_replay_command_refuses_a_bad_since():
    out = subprocess.run(
        [sys.executable, "-m", "services.registry.manage", "replay", "--since", "hôm qua"],
        cwd=ROOT,
        env=os.environ.copy(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 2 and "--since" in out.stderr and "not a date" in out.stderr
