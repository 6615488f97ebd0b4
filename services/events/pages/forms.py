"""The fair's form: an HTML form's fields read into the API's FairIn payload (so the console and the
API check a fair with the same schema and the same operations), and errors flattened to the form's
field names ("rules.min_stars") so each shows beside its field."""

from __future__ import annotations

import re
from datetime import date, datetime

from marshmallow import ValidationError

from shared import reference
from shared.errors import OperationError
from shared.instants import VIETNAM

from ..schemas import FairIn, FairPatch

TEXT = (
    "name",
    "kind",
    "organiser",
    "organiser_kind",
    "organiser_contact",
    "organiser_phone",
    "organiser_email",
    "host_province",
    "venue",
    "venue_kind",
    "starts_on",
    "ends_on",
)
NUMBERS = ("capacity", "response_days", "subsidy_per_booth", "budget")
RULE_NUMBERS = (
    "min_stars",
    "max_products_per_producer",
    "max_booths_per_producer",
    "overbooking_percent",
    "waitlist_size",
)
RULE_LISTS = ("groups", "regions", "producer_kinds")
RULE_FLAGS = ("admit_uncertified", "admit_provincial_key", "top_up")
GROUPS = range(1, 7)


class FormErrors(Exception):
    def __init__(self, errors: dict[str, list[str]]):
        super().__init__("invalid form")
        self.errors = errors


MESSAGES = (  # the schema's and the fields' messages, said in Vietnamese beside the field
    (r"Missing data for required field\.", "Bắt buộc nhập."),
    (r"Field may not be null\.", "Bắt buộc nhập."),
    (r"Not a valid integer\.|Not a valid number\.", "Phải là một số."),
    (r"Not a valid date\.", "Ngày không hợp lệ (dd/mm/yyyy)."),
    (r"Not a valid datetime\.|Not a valid aware datetime\.", "Thời điểm không hợp lệ (dd/mm/yyyy hh:mm)."),
    (r"Must be greater than or equal to (\S+) and less than or equal to (\S+)\.", r"Phải từ \1 đến \2."),
    (r"Must be greater than or equal to (\S+)\.", r"Ít nhất là \1."),
    (r"Shorter than minimum length (\d+)\.", r"Ít nhất \1 ký tự."),
    (r"Longer than maximum length (\d+)\.", r"Nhiều nhất \1 ký tự."),
    (r"Length must be between (\d+) and (\d+)\.", r"Từ \1 đến \2 ký tự."),
    (r"Unknown province '(.*)'\.", r"Không có tỉnh, thành phố «\1»."),
    (r"Not a valid email address\.", "Email không hợp lệ."),
    (r"not a phone number", "Không phải số điện thoại."),
    (r"Must be one of: .*", "Giá trị không hợp lệ."),
    (r"Lists a value twice\.", "Có giá trị bị lặp."),
    # the fair's rules (services/events/domain.py), as operations raise them
    (r"is before starts_on", "Ngày kết thúc trước ngày bắt đầu."),
    (r"a \S+ lasts at most (\d+) days, this one (\d+).*", r"Tối đa \1 ngày, hội chợ này \2 ngày."),
    (r"is after the fair starts", "Hạn trả lời phải trước ngày khai mạc."),
    (r"is in the past \(.*\)", "Hạn trả lời đã qua."),
    (r"(\d+) booths are already assigned; capacity cannot be (\d+)", r"Đã xếp \1 gian, không thể giảm còn \2 gian."),
    (
        r"subsidising (\d+) booths at ([\d,]+) đồng costs ([\d,]+) đồng, more than the budget of ([\d,]+)",
        r"Hỗ trợ \1 gian × \2 đồng = \3 đồng, vượt tổng kinh phí \4 đồng.",
    ),
    (r"cannot change (\S+) while the fair is (\S+); only .*", "Không được sửa khi hội chợ đang mời thư."),
    (r"a (\S+) fair cannot be changed", "Hội chợ ở trạng thái này không sửa được nữa."),
    (r"a quota for group (\d), which the fair does not admit .*", r"Hạn mức cho nhóm \1, nhóm hội chợ không nhận."),
    (r"(\S+) is in (\S+), not (\S+)", "Tỉnh đăng cai không thuộc vùng đã chọn."),
)


def vietnamese(message: str) -> str:
    for pattern, words in MESSAGES:
        if re.fullmatch(pattern, message):
            return re.sub(pattern, words, message)
    return message


def flatten(messages, prefix: str = "") -> dict[str, list[str]]:
    """marshmallow's nested messages as {"rules.min_stars": [...], "name": [...]}."""
    out: dict[str, list[str]] = {}
    if isinstance(messages, dict):
        for key, value in messages.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            if isinstance(value, dict) and not all(isinstance(k, int) for k in value):
                out.update(flatten(value, name))
            elif isinstance(value, dict):  # a list's item errors: {0: [...]}
                items = [m for msgs in value.values() for m in (msgs if isinstance(msgs, list) else [str(msgs)])]
                out[name] = [vietnamese(str(m)) for m in items]
            else:
                out[name] = [vietnamese(str(m)) for m in (value if isinstance(value, list) else [value])]
    return out


def shown(errors: dict[str, list[str]]) -> dict[str, list[str]]:
    """Errors keyed by the form's fields; one about something the form has no field for (the rules as a
    whole, the status) goes to the top of the form ("form")."""
    fields = {*TEXT, *NUMBERS, "invitation_deadline", "region", "rules.provinces", "rules.group_quotas"}
    fields |= {f"rules.{name}" for name in (*RULE_NUMBERS, *RULE_LISTS)}
    out: dict[str, list[str]] = {}
    for key, messages in errors.items():
        out.setdefault(key if key in fields else "form", []).extend(messages)
    return out


def operation_errors(exc: OperationError) -> dict[str, list[str]]:
    words = re.sub(r"(?<=\d),(?=\d{3})", ".", vietnamese(exc.message))  # 12,000,000 -> 12.000.000 (đồng)
    return {exc.field or "form": [words]}


def _number(raw: str):
    raw = raw.strip().replace(".", "").replace(" ", "") if raw else ""
    if not raw:
        return None
    try:
        return int(raw)
    except ValueError:
        return raw  # the schema says it is not a number, beside the field


DAY = re.compile(r"(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})")


def _day(raw: str):
    """dd/mm/yyyy (as Vietnam writes a date; yyyy-mm-dd too) as ISO; anything else as typed."""
    raw = (raw or "").strip()
    match = DAY.fullmatch(raw)
    if match:
        try:
            return date(int(match[3]), int(match[2]), int(match[1])).isoformat()
        except ValueError:
            return raw
    return raw or None


def _deadline(raw: str):
    """dd/mm/yyyy hh:mm in Vietnam time (a day alone: its end, 23:59)."""
    raw = " ".join((raw or "").replace("T", " ").split())
    if not raw:
        return None
    day, _, clock = raw.partition(" ")
    iso = _day(day)
    try:
        hour, minute = (int(x) for x in (clock or "23:59").split(":"))
        return (
            datetime.combine(date.fromisoformat(iso), datetime.min.time())
            .replace(hour=hour, minute=minute, tzinfo=VIETNAM)
            .isoformat()
        )
    except (ValueError, TypeError):
        return raw


def payload(form) -> dict:
    """The FairIn payload of a submitted form (blank optional fields left out)."""
    data: dict = {}
    for name in TEXT:
        value = (form.get(name) or "").strip()
        if value:
            data[name] = _day(value) if name in ("starts_on", "ends_on") else value
    for name in NUMBERS:
        value = _number(form.get(name, ""))
        if value is not None:
            data[name] = value
    deadline = _deadline(form.get("invitation_deadline", ""))
    if deadline is not None:
        data["invitation_deadline"] = deadline
    region = (form.get("region") or "").strip()
    if region:
        data["region"] = region
    elif data.get("host_province"):
        try:
            data["region"] = reference.resolve_province(data["host_province"]).region
        except reference.UnknownName:
            pass  # the province's own error says so
    rules: dict = {}
    for name in RULE_NUMBERS:
        value = _number(form.get(f"rules.{name}", ""))
        if value is not None:
            rules[name] = value
    for name in RULE_LISTS:
        values = form.getlist(f"rules.{name}")
        if values:
            rules[name] = [int(v) if name == "groups" and v.isdigit() else v for v in values]
    for name in RULE_FLAGS:
        rules[name] = form.get(f"rules.{name}") == "on"
    provinces = [p.strip() for p in (form.get("rules.provinces") or "").split(",") if p.strip()]
    if provinces:
        rules["provinces"] = provinces
    quotas = {}
    for group in GROUPS:
        value = _number(form.get(f"rules.quota_{group}", ""))
        if value is not None:
            quotas[str(group)] = value / 100 if isinstance(value, int) else value
    if quotas:
        rules["group_quotas"] = quotas
    data["rules"] = rules
    return data


def load(form, partial: bool = False) -> dict:
    """The form checked by the API's schema; FormErrors with each field's messages."""
    schema = FairPatch(partial=True) if partial else FairIn()
    try:
        return schema.load(payload(form))
    except ValidationError as exc:
        raise FormErrors(flatten(exc.messages)) from None


def values_of(fair) -> dict:
    """A stored fair as the form's values (for the edit form)."""
    rules = fair.rules or {}
    values = {name: getattr(fair, name) or "" for name in TEXT}
    values["starts_on"] = fair.starts_on.strftime("%d/%m/%Y")
    values["ends_on"] = fair.ends_on.strftime("%d/%m/%Y")
    for name in NUMBERS:
        value = getattr(fair, name)
        values[name] = "" if value is None else str(value)
    values["region"] = fair.region
    values["invitation_deadline"] = fair.invitation_deadline.astimezone(VIETNAM).strftime("%d/%m/%Y %H:%M")
    for name in RULE_NUMBERS:
        value = rules.get(name)
        values[f"rules.{name}"] = "" if value is None else str(value)
    for name in RULE_LISTS:
        values[f"rules.{name}"] = [str(v) for v in rules.get(name) or ()]
    for name in RULE_FLAGS:
        values[f"rules.{name}"] = bool(rules.get(name, name == "top_up"))
    values["rules.provinces"] = ", ".join(rules.get("provinces") or ())
    for group, share in (rules.get("group_quotas") or {}).items():
        values[f"rules.quota_{group}"] = str(round(share * 100))
    return values


def values_of_form(form) -> dict:
    """What was typed, to show again beside the errors."""
    values = {k: form.get(k, "") for k in form}
    for name in RULE_LISTS:
        values[f"rules.{name}"] = form.getlist(f"rules.{name}")
    for name in RULE_FLAGS:
        values[f"rules.{name}"] = form.get(f"rules.{name}") == "on"
    return values
