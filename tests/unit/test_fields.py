"""Single-line and multi-line request fields (shared/fields.py): control characters, lone
surrogates and lengths are refused naming the field."""

from __future__ import annotations

import pytest
from marshmallow import Schema, ValidationError

from shared.fields import Email, Line, Paragraphs, Url, bounded_list


class Body(Schema):
    name = Line(min_length=2)
    code = Line(max_length=64)
    description = Paragraphs()
    email = Email()
    url = Url()
    tags = bounded_list(Line(max_length=10), max_items=3)


def refused(data: dict) -> dict:
    with pytest.raises(ValidationError) as caught:
        Body().load(data)
    return caught.value.messages


@pytest.mark.parametrize(
    "bad",
    [
        "HTX Kẹo dừa\r\nBcc: x@example.vn",
        "HTX\nKẹo dừa",
        "HTX\rKẹo",
        "HTX\tKẹo dừa",
        "HTX\x00",
        "HTX\x7f",
        "HTX\x85",
        "HTX\u2028Kẹo",
        "HTX\u2029Kẹo",
        "HTX \u202eaxe.exe",
        "HTX \u2066x\u2069",
        "HTX\u200bKẹo",
        "HTX\ufeff",
        "HTX \ud800 Kẹo",
        "HTX \udfff",
    ],
)
def test_a_single_line_refuses_control_format_and_surrogate_characters(bad):
    messages = refused({"name": bad})
    assert list(messages) == ["name"], messages
    assert "U+" in messages["name"][0]


def test_a_lone_surrogate_is_named_as_such():
    assert "surrogate" in refused({"name": "Kẹo \ud800"})["name"][0]


@pytest.mark.parametrize(
    "good",
    [
        "Hợp tác xã Kẹo dừa Thanh Long",
        "한국 식품",
        "Cà phê\u00a0Buôn Ma Thuột",
        "👩\u200d🌾 Nông trại",
        "O'Neill & Co.",
    ],
)
def test_a_single_line_keeps_every_script_and_the_joiners(good):
    assert Body().load({"name": good})["name"] == good


def test_free_text_keeps_line_breaks_as_lf_and_refuses_other_controls():
    assert (
        Body().load({"description": "Dòng 1\r\nDòng 2\rDòng 3\nDòng 4"})["description"]
        == "Dòng 1\nDòng 2\nDòng 3\nDòng 4"
    )
    for bad in ("a\tb", "a\x00b", "a\u2028b", "a\u202eb", "a\ud800b", "a\x1bb"):
        assert list(refused({"description": bad})) == ["description"], bad


def test_every_field_has_a_maximum_by_default():
    assert "5000" in refused({"description": "x" * 5001})["description"][0]
    Body().load({"description": "x" * 5000})
    assert "200" in refused({"name": "x" * 201})["name"][0]
    assert "64" in refused({"code": "x" * 65})["code"][0]
    assert list(refused({"name": "x"})) == ["name"]  # min_length kept
    assert list(refused({"email": "a" * 250 + "@b.vn"})) == ["email"]
    assert list(refused({"url": "https://example.vn/" + "a" * 2000})) == ["url"]
    assert list(refused({"tags": ["a", "b", "c", "d"]})) == ["tags"]


def test_email_and_url_refuse_what_their_patterns_let_through():
    assert list(refused({"email": "a@b.vn\u2028"})) == ["email"]
    assert list(refused({"url": "https://a\u202eb.vn/"})) == ["url"]


def test_openapi_shows_the_limits():
    from apispec import APISpec
    from apispec.ext.marshmallow import MarshmallowPlugin

    spec = APISpec("t", "1", "3.0.3", plugins=[MarshmallowPlugin()])
    spec.components.schema("Body", schema=Body)
    props = spec.to_dict()["components"]["schemas"]["Body"]["properties"]
    assert (props["name"]["maxLength"], props["name"]["minLength"]) == (200, 2)
    assert props["description"]["maxLength"] == 5000
    assert props["email"]["maxLength"] == 254
    assert props["tags"]["maxItems"] == 3 and props["tags"]["items"]["maxLength"] == 10
