"""Commands over the queue: an outside system (an evaluation council's software) sends
registry.record_certification to ocop.commands; the registry applies it with the same schema and
operation as the HTTP API and answers accepted or rejected, naming the fields at fault."""

from __future__ import annotations

import json
import uuid

from sqlalchemy import select
from support import wait_for
from test_flow import register_certified

from services.registry.models import Certification, Outbox
from shared.bus.publisher import Publisher, from_envelope
from shared.bus.topology import COMMANDS_EXCHANGE
from shared.contracts import make_envelope


def send(platform, certification: dict) -> str:
    command_id = f"council-{uuid.uuid4().hex[:8]}"
    envelope = make_envelope(
        "registry.record_certification",
        1,
        "external",
        command_id,
        1,
        {"command_id": command_id, "certification": certification},
    )
    publisher = Publisher(platform.runtimes["registry"].settings.broker_url)
    try:
        publisher.publish_batch([from_envelope(COMMANDS_EXCHANGE, envelope)])
    finally:
        publisher.close()
    return command_id


def answer(platform, command_id: str):
    with platform.runtimes["registry"].transaction() as s:
        for type_, payload in s.execute(
            select(Outbox.type, Outbox.payload).where(
                Outbox.type.in_(["registry.command.accepted", "registry.command.rejected"])
            )
        ):
            data = json.loads(payload)["data"]
            if data["command_id"] == command_id:
                return type_, data
    return None


def test_command_recertifies_and_is_answered(platform, api):
    _, product, first, _ = register_certified(api)
    command_id = send(
        platform,
        {
            "product_id": product["id"],
            "kind": "upgrade",
            "score": 91,
            "issued_by": "Bộ Nông nghiệp và Môi trường",
            "decision_number": "88/QĐ-BNNMT",
            "decision_date": "2026-01-15",
            "level": "national",
        },
    )
    type_, data = wait_for(lambda: answer(platform, command_id), message="command answer")
    assert type_ == "registry.command.accepted"
    with platform.runtimes["registry"].transaction() as s:
        new = s.get(Certification, data["result_id"])
        assert (new.stars, new.level, new.status) == (5, "national", "current")
        assert s.get(Certification, first["id"]).status == "superseded"


def test_bad_command_is_rejected_with_field_errors_and_writes_nothing(platform, api):
    _, product, _, _ = register_certified(api)
    with platform.runtimes["registry"].transaction() as s:
        before = s.scalar(
            select(Certification.id).where(Certification.product_id == product["id"], Certification.status == "current")
        )
    bad = send(
        platform,
        {
            "product_id": product["id"],
            "kind": "upgrade",
            "score": 95,
            "stars": 4,
            "issued_by": "Bộ",
            "decision_number": "1",
            "decision_date": "31/12/2025",
        },
    )
    type_, data = wait_for(lambda: answer(platform, bad), message="rejection")
    assert type_ == "registry.command.rejected"
    assert set(data["errors"]) == {"decision_date"}  # schema errors first; stars checked after
    wrong_stars = send(
        platform,
        {
            "product_id": product["id"],
            "kind": "upgrade",
            "score": 95,
            "stars": 4,
            "issued_by": "Bộ",
            "decision_number": "1",
            "decision_date": "2025-12-31",
            "level": "national",
        },
    )
    type_, data = wait_for(lambda: answer(platform, wrong_stars), message="rejection")
    assert type_ == "registry.command.rejected" and "disagrees with score 95" in data["errors"]["stars"][0]
    unknown = send(
        platform,
        {
            "product_id": "no-such-product",
            "score": 70,
            "issued_by": "UBND",
            "decision_number": "2",
            "decision_date": "2025-12-31",
        },
    )
    type_, data = wait_for(lambda: answer(platform, unknown), message="rejection")
    assert type_ == "registry.command.rejected" and "product_id" in data["errors"]
    with platform.runtimes["registry"].transaction() as s:
        assert (
            s.scalar(
                select(Certification.id).where(
                    Certification.product_id == product["id"], Certification.status == "current"
                )
            )
            == before
        )
