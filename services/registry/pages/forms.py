"""A posted form as the API's schemas read it, and their errors as one message beside each field."""

from __future__ import annotations

import re

from marshmallow import Schema, ValidationError

from shared.errors import OperationError

# Vietnamese for the API's (English) validation messages, where one is known.
MESSAGES = {
    "Missing data for required field.": "Trường này bắt buộc.",
    "Not a valid integer.": "Không phải số nguyên.",
    "Not a valid date.": "Không phải ngày hợp lệ (dd/mm/yyyy).",
    "Not a valid email address.": "Không phải địa chỉ email hợp lệ.",
    "not a phone number": "Không phải số điện thoại.",
    "Must be one of: ": "Giá trị không hợp lệ.",
}


# The import's row reasons (import_rows.py) that officers meet most, in Vietnamese; others as they are.
PATTERNS = [
    (re.compile(r"^(.*) is not a whole number$"), r"\1 không phải là số nguyên"),
    (re.compile(r"^(.*) is not a number$"), r"\1 không phải là số"),
    (re.compile(r"^(.*) is not yes or no .*$"), r"\1 không phải có / không"),
    (re.compile(r"^unknown product group (.*?);.*$"), r"không có nhóm sản phẩm \1"),
    (re.compile(r"^unknown province (.*)$"), r"không có tỉnh/thành \1"),
    (re.compile(r"^a value under no column header$"), "giá trị nằm ngoài các cột có tiêu đề"),
    (re.compile(r"^differs from line (\d+) for the same producer code.*$"), r"khác với dòng \1 của cùng mã chủ thể"),
    (re.compile(r"^already has a current certification.*$"), "đã có chứng nhận còn hiệu lực"),
]


def message(text: str) -> str:
    for pattern, vietnamese in PATTERNS:
        if pattern.match(text):
            return pattern.sub(vietnamese, text)
    for english, vietnamese in MESSAGES.items():
        if text.startswith(english):
            return vietnamese
    if text.startswith("Shorter than minimum length") or text.startswith("Length must be between"):
        return "Độ dài không hợp lệ."
    if text.startswith("Longer than maximum length"):
        return "Quá dài."
    return text


def flatten(messages, prefix: str = "") -> dict[str, str]:
    """marshmallow's nested messages -> {"field" or "parent.child": first message}."""
    out: dict[str, str] = {}
    if isinstance(messages, dict):
        for key, value in messages.items():
            out.update(flatten(value, f"{prefix}{key}." if not isinstance(value, list) else f"{prefix}{key}"))
        return out
    if isinstance(messages, list) and messages:
        first = messages[0]
        if isinstance(first, str):
            out[prefix.rstrip(".")] = message(first)
        else:
            out.update(flatten(first, prefix))
    return out


def operation_errors(exc: OperationError) -> dict[str, str]:
    return {exc.field or "_": message(exc.message)}


def load(schema: Schema, form, fields: dict[str, str], extra: dict | None = None) -> tuple[dict | None, dict[str, str]]:
    """Read ``fields`` (name -> kind: text, optional, int, bool, date) from a posted form and load
    them with ``schema`` (with ``extra`` values as they are). Returns (data, {}) or (None, errors by field)."""
    raw: dict = dict(extra or {})
    for name, kind in fields.items():
        value = (form.get(name) or "").strip()
        if kind == "bool":
            raw[name] = form.get(name) in ("on", "true", "1")
        elif kind == "int":
            if value:
                raw[name] = int(value) if value.lstrip("-").isdigit() and len(value) < 10 else value
        elif kind == "optional":
            raw[name] = value or None
        elif value:
            raw[name] = value
        elif kind == "required":
            raw[name] = value
    try:
        return schema.load(raw), {}
    except ValidationError as exc:
        return None, flatten(exc.messages)
