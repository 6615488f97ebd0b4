"""Reading an import's cells: the words a decision's list uses for kinds, levels and yes/no, the
converters from a cell to its column's value, and which column feeds which API field."""

from __future__ import annotations

from datetime import date, datetime

from shared.text import fold

from . import domain
from .import_schemas import parse_day_month_year

PRODUCER_KINDS = {
    fold(w): kind
    for kind, words in {
        "cooperative": ("cooperative", "hợp tác xã", "htx"),
        "enterprise": (
            "enterprise",
            "doanh nghiệp",
            "dn",
            "công ty",
            "công ty tnhh",
            "công ty cổ phần",
            "doanh nghiệp tư nhân",
        ),
        "household": (
            "household",
            "hộ kinh doanh",
            "hkd",
            "cơ sở sản xuất",
            "cơ sở",
            "hộ sản xuất",
            "hộ gia đình",
            "hộ kinh doanh, cơ sở sản xuất",
        ),
        "cooperative_group": ("cooperative_group", "cooperative group", "tổ hợp tác", "tht"),
    }.items()
    for w in words
}
CERT_KINDS = {
    fold(w): kind
    for kind, words in {
        "new": ("new", "mới", "đánh giá mới", "cấp mới", "chứng nhận mới"),
        "recertification": (
            "recertification",
            "re-certification",
            "tái chứng nhận",
            "đánh giá lại",
            "cấp lại",
            "công nhận lại",
        ),
        "upgrade": ("upgrade", "nâng sao", "nâng hạng", "nâng hạng sao"),
    }.items()
    for w in words
}
LEVEL_WORDS = {
    fold(w): level
    for level, words in {
        "commune": ("commune", "xã", "cấp xã"),
        "district": ("district", "huyện", "cấp huyện"),
        "province": ("province", "tỉnh", "cấp tỉnh", "thành phố", "cấp thành phố"),
        "national": ("national", "trung ương", "cấp trung ương", "quốc gia", "cấp quốc gia"),
    }.items()
    for w in words
}
LEVEL_LISTING = "province (Tỉnh), national (Trung ương / Quốc gia), district (Huyện), commune (Xã)"
YES = {fold(w) for w in ("x", "có", "yes", "true", "1", "đúng", "tiềm năng")}
NO = {fold(w) for w in ("không", "no", "false", "0", "sai", "-")}


# ---- cell values -----------------------------------------------------------------------------
def as_text(value) -> str:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value).strip()


def as_whole_number(value) -> int:
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a number")
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if value.is_integer():
            return int(value)
        raise ValueError(f"{value!r} is not a whole number")
    written = str(value).strip().replace(",", ".")
    try:
        number = float(written)
    except ValueError:
        raise ValueError(f"{value!r} is not a number") from None
    if not number.is_integer():
        raise ValueError(f"{value!r} is not a whole number")
    return int(number)


def as_stars(value) -> int:
    """4, "4", "4 sao", "4★" or "★★★★"."""
    written = str(value).strip()
    if written and set(written) == {"★"}:
        return len(written)
    return as_whole_number(fold(written).removesuffix("sao").replace("★", "").strip() or written)


def as_choice(value, choices: dict[str, str], what: str, listing: str) -> str:
    found = choices.get(fold(str(value)))
    if found is None:
        raise ValueError(f"unknown {what} {value!r}; one of: {listing}")
    return found


def as_bool(value) -> bool:
    if isinstance(value, bool):
        return value
    word = fold(as_text(value))
    if word in YES:
        return True
    if word in NO:
        return False
    raise ValueError(f"{value!r} is not yes or no (có / không, x or empty)")


def as_group(value) -> int:
    """A group by number (1, "1", "Nhóm 1") or by name ("Thực phẩm") in the criteria in force."""
    if isinstance(value, int | float):
        return as_whole_number(value)
    written = fold(str(value)).removeprefix("nhom").strip()
    if written.replace(".", "", 1).isdigit():
        return as_whole_number(written)
    groups = domain.criteria_on(date.today(), field="group").groups
    for g in groups.values():
        if written in (fold(g.name), fold(g.name_en)):
            return g.code
    listing = "; ".join(f"{g.code} {g.name}" for g in groups.values())
    raise ValueError(f"unknown product group {value!r}; by number or name: {listing}")


def as_criteria(value) -> str:
    """A criteria version's code, typed with or without diacritics ("148/QD-TTg") or by number ("148")."""
    written = fold(as_text(value))
    for code in domain.CRITERIA:
        if written in (fold(code), fold(code).split("/")[0]):
            return code
    return as_text(value)  # the rule (operations/domain) names the known versions


KIND_LISTING = (
    "cooperative (Hợp tác xã), enterprise (Doanh nghiệp), household (Hộ kinh doanh, Cơ sở sản xuất), "
    "cooperative_group (Tổ hợp tác)"
)
CERT_KIND_LISTING = "new (Mới), recertification (Tái chứng nhận / Đánh giá lại), upgrade (Nâng sao)"

CONVERT = {
    "producer_code": lambda v: str(v) if isinstance(v, int) else as_text(v),
    "producer_kind": lambda v: as_choice(v, PRODUCER_KINDS, "producer kind", KIND_LISTING),
    "group": as_group,
    "potential_five_star": as_bool,
    "score": as_whole_number,
    "score_a": as_whole_number,
    "score_b": as_whole_number,
    "score_c": as_whole_number,
    "stars": as_stars,
    "kind": lambda v: as_choice(v, CERT_KINDS, "certification kind", CERT_KIND_LISTING),
    "criteria_version": as_criteria,
    "decision_date": lambda v: parse_day_month_year(v).isoformat(),
    "level": lambda v: as_choice(v, LEVEL_WORDS, "decision level", LEVEL_LISTING),
    "phone": lambda v: str(v) if isinstance(v, int) else as_text(v),
}

# Which column an error of the API's schemas or rules is about.
PRODUCER_FIELDS = {
    "code": "producer_code",
    "name": "producer_name",
    "kind": "producer_kind",
    "province": "province",
    "address": "address",
    "representative": "representative",
    "email": "email",
    "phone": "phone",
}
PRODUCT_FIELDS = {
    "name": "product_name",
    "name_en": "product_name_en",
    "group": "group",
    "subgroup": "subgroup",
    "description": "description",
    "potential_five_star": "potential_five_star",
}
CERT_FIELDS = {
    "kind": "kind",
    "criteria_version": "criteria_version",
    "score": "score",
    "stars": "stars",
    "issued_by": "issued_by",
    "decision_number": "decision_number",
    "decision_date": "decision_date",
    "level": "level",
    "score_parts": "score_parts",
    "score_parts.a": "score_a",
    "score_parts.b": "score_b",
    "score_parts.c": "score_c",
    # the API's "already has a current certification" names the product; a row fixes it by its kind
    "product_id": "kind",
}
