"""Message contracts: golden samples, envelope validation, and the generated AsyncAPI document.

Pure: nothing here touches a broker, a database or the network; it only reads files.
"""

from __future__ import annotations

import copy
import json
import unicodedata
import uuid
from datetime import datetime, timedelta

import pytest
import yaml

from shared.contracts import (
    CONTRACTS,
    SAMPLES,
    ContractError,
    asyncapi,
    contract_for,
    make_envelope,
    parse_envelope,
    sample,
)

KEYS = sorted(CONTRACTS)
IDS = [f"{t}.v{v}" for t, v in KEYS]
ENVELOPE_FIELDS = [
    "id",
    "type",
    "version",
    "occurred_at",
    "source",
    "subject",
    "subject_version",
    "correlation_id",
    "causation_id",
    "data",
]
PRODUCER = ("registry.producer.registered", 1)


def _strings(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def _refuse(raw: dict) -> ContractError:
    with pytest.raises(ContractError) as caught:
        parse_envelope(raw)
    return caught.value


# -- golden samples ---------------------------------------------------------------------------


def test_every_sample_file_belongs_to_a_contract():
    names = {p.name for p in SAMPLES.glob("*.json")}
    assert names == {f"{t}.v{v}.json" for t, v in KEYS}


@pytest.mark.parametrize("key", KEYS, ids=IDS)
def test_sample_is_a_full_envelope_of_its_contract(key):
    raw = sample(*key)
    assert list(raw) == ENVELOPE_FIELDS
    assert (raw["type"], raw["version"]) == key
    assert str(uuid.UUID(raw["id"])) == raw["id"]
    assert datetime.fromisoformat(raw["occurred_at"]).utcoffset() == timedelta(0)
    assert raw["source"] == contract_for(*key).source


@pytest.mark.parametrize("key", KEYS, ids=IDS)
def test_sample_passes_parse_envelope_in_canonical_form(key):
    raw = sample(*key)
    envelope, data = parse_envelope(copy.deepcopy(raw))
    assert envelope["id"] == raw["id"]
    assert envelope["correlation_id"] == raw["correlation_id"]
    # what a producer would emit for this data is exactly the sample: nothing lost, nothing reworded
    assert contract_for(*key).schema().dump(data) == raw["data"]


@pytest.mark.parametrize("key", KEYS, ids=IDS)
def test_sample_file_keeps_diacritics_as_written(key):
    path = SAMPLES / f"{key[0]}.v{key[1]}.json"
    text = path.read_text(encoding="utf-8")
    raw = json.loads(text)
    assert "\\u" not in text  # written with ensure_ascii=False: Vietnamese stays readable
    assert text == json.dumps(raw, ensure_ascii=False, indent=2) + "\n"
    assert all(unicodedata.is_normalized("NFC", s) for s in _strings(raw))


def test_vietnamese_text_survives_parse_envelope():
    raw = json.loads((SAMPLES / "registry.producer.registered.v1.json").read_bytes().decode("utf-8"))
    _, data = parse_envelope(raw)
    assert data["name"] == "Hợp tác xã Kẹo dừa Thanh Long"
    assert data["province"] == "Vĩnh Long"
    assert data["region"] == "mekong_delta"
    wire = json.dumps(make_envelope(*PRODUCER, "registry", data["producer_id"], 1, data), ensure_ascii=False)
    assert "Hợp tác xã Kẹo dừa Thanh Long" in wire


def test_samples_tell_a_story_in_vietnamese():
    texts = [s for key in KEYS for s in _strings(sample(*key)["data"])]
    assert sum(1 for s in texts if not s.isascii()) >= 10


# -- parse_envelope refuses -------------------------------------------------------------------


@pytest.mark.parametrize("field", [f for f in ENVELOPE_FIELDS if f != "causation_id"])
def test_missing_envelope_field_is_refused_by_name(field):
    raw = sample(*PRODUCER)
    del raw[field]
    error = _refuse(raw)
    assert error.details == {field: ["Missing data for required field."]}


@pytest.mark.parametrize("version", ["1", 1.5, True, None])
def test_version_of_the_wrong_type_is_refused(version):
    raw = sample(*PRODUCER)
    raw["version"] = version
    assert "version" in _refuse(raw).details


@pytest.mark.parametrize("type_, version", [("registry.producer.registered", 99), ("registry.producer.exploded", 1)])
def test_unknown_type_or_version_is_refused(type_, version):
    raw = sample(*PRODUCER)
    raw.update(type=type_, version=version)
    error = _refuse(raw)
    assert error.reason == f"unknown message type {type_} v{version}"


@pytest.mark.parametrize("key", KEYS, ids=IDS)
def test_data_missing_a_required_field_is_refused_by_name(key):
    schema = contract_for(*key).schema()
    for name, field in schema.fields.items():
        if field.required:
            raw = sample(*key)
            del raw["data"][name]
            error = _refuse(raw)
            assert error.details == {name: ["Missing data for required field."]}, name


def test_nested_required_field_is_named_with_its_parent():
    raw = sample(*PRODUCER)
    del raw["data"]["consent"]["sms"]
    assert _refuse(raw).details == {"consent": {"sms": ["Missing data for required field."]}}


@pytest.mark.parametrize(
    "key, field, value",
    [
        (PRODUCER, "kind", "corporation"),
        (PRODUCER, "preferred_language", "fr"),
        (("registry.certification.granted", 1), "kind", "revocation"),
        (("events.invitation.answer_refused", 1), "answer", "maybe"),
        (("notifications.delivery.sent", 1), "channel", "zalo"),
    ],
)
def test_wrong_enum_value_is_refused_by_name(key, field, value):
    raw = sample(*key)
    raw["data"][field] = value
    error = _refuse(raw)
    assert list(error.details) == [field]
    assert error.details[field][0].startswith("Must be one of:")


def test_wrong_envelope_enum_value_is_refused_by_name():
    raw = sample(*PRODUCER)
    raw["source"] = "marketing"
    assert list(_refuse(raw).details) == ["source"]


def test_out_of_range_value_is_refused_by_name():
    raw = sample("registry.certification.granted", 1)
    raw["data"]["stars"] = 2  # 1★ and 2★ products are not certified OCOP
    assert list(_refuse(raw).details) == ["stars"]


def test_body_that_is_not_an_object_is_refused():
    with pytest.raises(ContractError):
        parse_envelope(["not", "an", "envelope"])


def test_unknown_fields_are_ignored_for_forward_compatibility():
    raw = sample(*PRODUCER)
    raw["trace_flags"] = "01"
    raw["data"]["zalo_id"] = "0907318426"  # a field a later minor change might add
    envelope, data = parse_envelope(raw)
    assert "trace_flags" not in envelope
    assert "zalo_id" not in data
    assert data["name"] == "Hợp tác xã Kẹo dừa Thanh Long"


def test_unknown_fields_in_nested_data_are_ignored():
    raw = sample(*PRODUCER)
    raw["data"]["consent"]["zalo"] = True
    _, data = parse_envelope(raw)
    assert data["consent"] == {"email": True, "sms": False}


# -- make_envelope refuses ---------------------------------------------------------------------


def test_make_envelope_refuses_invalid_outgoing_data():
    data = sample(*PRODUCER)["data"]
    del data["name"]
    data["kind"] = "corporation"
    with pytest.raises(ContractError) as caught:
        make_envelope(*PRODUCER, "registry", data["producer_id"], 1, data)
    assert set(caught.value.details) == {"name", "kind"}


def test_make_envelope_builds_what_parse_envelope_accepts():
    data = sample(*PRODUCER)["data"]
    built = make_envelope(*PRODUCER, "registry", data["producer_id"], 3, data, correlation_id="req-42")
    envelope, parsed = parse_envelope(json.loads(json.dumps(built, ensure_ascii=False)))
    assert (envelope["subject_version"], envelope["correlation_id"]) == (3, "req-42")
    assert parsed["consent"] == {"email": True, "sms": False}


# -- topic patterns -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "pattern, key, expected",
    [
        ("registry.producer.registered", "registry.producer.registered", True),
        ("registry.producer.registered", "registry.producer.updated", False),
        ("registry.#", "registry.producer.registered", True),
        ("registry.#", "registry", True),  # '#' also matches zero words
        ("registry.#", "registryx.producer", False),
        ("registry.#", "events.registry.feed", False),
        ("#", "events.invitation.issued", True),
        ("events.#.issued", "events.issued", True),
        ("events.#.issued", "events.invitation.issued", True),
        ("events.#.issued", "events.a.b.issued", True),
        ("events.#.issued", "events.invitation.accepted", False),
        ("*.invitation.*", "events.invitation.issued", True),
        ("*.invitation.*", "events.invitation", False),  # '*' is exactly one word
        ("*.invitation.*", "events.invitation.issued.late", False),
        ("events.*", "events", False),
        ("*.#", "events", True),
        ("#.answered", "notifications.invitation.answered", True),
    ],
)
def test_topic_pattern_matching(pattern, key, expected):
    assert asyncapi.topic_matches(pattern, key) is expected


def test_consumers_come_from_the_events_exchange_bindings_only():
    queues = [c["queue"] for c in asyncapi.consumers("registry.producer.registered")]
    assert queues == ["events.registry-feed", "notifications.main"]  # not registry.commands (ocop.commands)
    assert [c["queue"] for c in asyncapi.consumers("notifications.invitation.answered")] == ["events.responses"]


# -- the AsyncAPI document ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def document() -> dict:
    return yaml.safe_load(asyncapi.DOC_PATH.read_text(encoding="utf-8"))


def _resolve(doc: dict, node: dict) -> dict:
    ref = node.get("$ref")
    if ref is None:
        return node
    assert ref.startswith("#/")
    for part in ref[2:].split("/"):
        doc = doc[part]
    return doc


def _messages(doc: dict, channel: dict) -> list[dict]:
    message = channel["subscribe"]["message"]
    return [_resolve(doc, m) for m in message.get("oneOf", [message])]


def test_document_is_up_to_date():
    assert asyncapi.is_current(), "run: python -m shared.contracts.asyncapi"
    assert asyncapi.main(["--check"]) == 0


def test_check_fails_when_the_document_differs(monkeypatch):
    real = asyncapi.render()
    monkeypatch.setattr(asyncapi, "render", lambda: real + "# edited\n")
    assert asyncapi.main(["--check"]) == 1


def test_document_is_asyncapi_2_6_with_both_servers(document):
    assert document["asyncapi"] == "2.6.0"
    assert document["servers"]["production"]["protocol"] == "amqp"
    assert "embedded" in document["servers"]


@pytest.mark.parametrize("key", KEYS, ids=IDS)
def test_every_contract_has_a_channel_whose_data_is_its_schema(document, key):
    contract = contract_for(*key)
    channel = document["channels"][contract.routing_key]
    binding = channel["bindings"]["amqp"]
    assert binding["is"] == "routingKey"
    exchange = "ocop.commands" if contract.source == "external" else "ocop.events"  # commands vs events
    assert binding["exchange"] == {**binding["exchange"], "name": exchange, "type": "topic", "durable": True}
    [message] = [m for m in _messages(document, channel) if m["messageId"] == f"{key[0]}.v{key[1]}"]
    assert message["summary"] == contract.summary
    assert message["contentType"] == "application/json"
    assert {"message_id", "type", "correlation_id"} <= set(message["headers"]["properties"])
    data = message["payload"]["properties"]["data"]
    assert data == {"$ref": f"#/components/schemas/{contract.schema.__name__}"}
    assert set(_resolve(document, data)["properties"]) == set(contract.schema().fields)
    assert message["examples"][0]["payload"] == sample(*key)


@pytest.mark.parametrize("key", KEYS, ids=IDS)
def test_golden_sample_validates_against_the_documented_payload(document, key):
    jsonschema = pytest.importorskip("jsonschema")
    [message] = [
        m for m in _messages(document, document["channels"][key[0]]) if m["messageId"] == f"{key[0]}.v{key[1]}"
    ]
    schema = {**message["payload"], "components": document["components"]}  # so '#/components/...' resolves
    validator = jsonschema.Draft7Validator(schema, format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER)
    validator.validate(sample(*key))
    extended = sample(*key)
    extended["data"]["added_in_a_later_minor_version"] = 1
    validator.validate(extended)  # the document promises consumers tolerate additions
    broken = sample(*key)
    del broken["data"][next(n for n, f in contract_for(*key).schema().fields.items() if f.required)]
    assert not validator.is_valid(broken)


def test_channels_list_the_queues_that_consume_them(document):
    channels = document["channels"]
    assert [c["queue"] for c in channels["registry.certification.granted"]["x-consumers"]] == ["events.registry-feed"]
    assert [c["queue"] for c in channels["events.invitation.issued"]["x-consumers"]] == ["notifications.main"]


def test_every_reference_in_the_document_resolves(document):
    def walk(node):
        if isinstance(node, dict):
            if "$ref" in node:
                assert _resolve(document, node), node["$ref"]
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(document)
