"""Vietnamese labels of the register's codes, for the pages."""

from __future__ import annotations

from ..domain import CRITERIA, REVOCATION_REASONS

GROUPS = {g.code: g.name for g in CRITERIA["148/QĐ-TTg"].groups.values()}
KINDS = {
    "cooperative": "Hợp tác xã",
    "enterprise": "Doanh nghiệp",
    "household": "Hộ sản xuất",
    "cooperative_group": "Tổ hợp tác",
}
STATUSES = {
    "current": "Còn hiệu lực",
    "expired": "Hết hạn",
    "revoked": "Đã thu hồi",
    "uncertified": "Chưa chứng nhận",
    "superseded": "Đã thay thế",
}
LEVELS = {"commune": "Cấp xã", "province": "Cấp tỉnh", "national": "Cấp trung ương"}
LANGS = {"vi": "Tiếng Việt", "en": "Tiếng Anh"}
REASONS = {code: text.split(" (")[0] for code, text in REVOCATION_REASONS.items()}


def date_vn(value) -> str:
    return value.strftime("%d/%m/%Y") if value else ""


def register(app_or_blueprint) -> None:
    app_or_blueprint.add_app_template_filter(date_vn, "date_vn")
    app_or_blueprint.add_app_template_global(GROUPS, "GROUP_NAMES")
    app_or_blueprint.add_app_template_global(KINDS, "KIND_NAMES")
    app_or_blueprint.add_app_template_global(STATUSES, "STATUS_NAMES")
    app_or_blueprint.add_app_template_global(LEVELS, "LEVEL_NAMES")
    app_or_blueprint.add_app_template_global(REASONS, "REASON_NAMES")
    app_or_blueprint.add_app_template_global(LANGS, "LANG_NAMES")
