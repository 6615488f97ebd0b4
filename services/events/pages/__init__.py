"""The trade officer's console pages (issue 13): fairs, the live board, matching. Thin views over
the service's queries and operations, under ``/console/`` of the events app; the identity
(``shared.auth.page``, ``actor``) and the layout (``shared/console``) are shared.

Scope: an officer sees and changes only the fairs its scope owns (``Fair.owner_scope``); an
administrator sees every fair. Another scope's fair is "not found", as if it did not exist.
"""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, abort, g

from shared.auth import actor, page  # the contract's identity (docs/console-api.md)

from ..models import Fair
from ..queries import get_fair

SERVICE = Path(__file__).parent.parent
bp = Blueprint(
    "trade",
    __name__,
    url_prefix="/console",
    template_folder=str(SERVICE / "templates"),
    static_folder=str(SERVICE / "static"),
    static_url_path="/static-events",
)
ROLES = ("trade_officer",)
__all__ = ["actor", "bp", "init", "owned_fair", "page", "scope"]

STATUS = {
    "draft": "Bản nháp",
    "published": "Đã công bố",
    "inviting": "Đang mời",
    "closed": "Đã chốt",
    "held": "Đã tổ chức",
    "cancelled": "Đã huỷ",
}
INVITATION = {
    "issued": "Đã mời",
    "waitlisted": "Danh sách chờ",
    "accepted": "Đã nhận lời",
    "declined": "Từ chối",
    "expired": "Quá hạn",
    "withdrawn": "Đã rút",
}
KIND = {"trade_fair": "Hội chợ", "exhibition": "Triển lãm", "showcase_point": "Điểm giới thiệu sản phẩm"}
REGION = {
    "northern_midlands_mountains": "Trung du và miền núi phía Bắc",
    "red_river_delta": "Đồng bằng sông Hồng",
    "north_central_coast": "Bắc Trung Bộ và duyên hải miền Trung",
    "central_highlands": "Tây Nguyên",
    "southeast": "Đông Nam Bộ",
    "mekong_delta": "Đồng bằng sông Cửu Long",
}
ORGANISER_KIND = {
    "trade_department": "Sở Công Thương",
    "trade_promotion_centre": "Trung tâm Xúc tiến thương mại",
    "ministry": "Bộ",
    "peoples_committee": "Uỷ ban nhân dân",
    "other": "Khác",
}
VENUE_KIND = {
    "tourist_site": "Điểm du lịch",
    "airport": "Sân bay",
    "station": "Nhà ga",
    "highway_rest_stop": "Trạm dừng nghỉ",
    "hotel": "Khách sạn",
    "craft_village": "Làng nghề",
    "trade_centre": "Trung tâm thương mại",
}
PRODUCER_KIND = {
    "cooperative": "Hợp tác xã",
    "enterprise": "Doanh nghiệp",
    "household": "Hộ sản xuất",
    "cooperative_group": "Tổ hợp tác",
}


def init(app) -> None:
    """Register the pages on the events app (plain Flask: HTML pages stay out of the OpenAPI document)."""
    app.register_blueprint(bp)


def scope() -> str | None:
    """The signed-in officer's scope; None for an administrator (every fair)."""
    return None if g.user.get("role") == "admin" else (g.user.get("scope") or "")


def owned_fair(session, fair_id: str, lock: bool = False) -> Fair:
    """The fair if the officer's scope owns it, else 404 (another scope's fair is not shown to exist)."""
    try:
        fair = get_fair(session, fair_id, lock=lock)
    except Exception:
        abort(404)
    mine = scope()
    if mine is not None and fair.owner_scope != mine:
        abort(404)
    return fair


@bp.context_processor
def _labels():
    return {
        "STATUS": STATUS,
        "INVITATION": INVITATION,
        "KIND": KIND,
        "REGION": REGION,
        "ORGANISER_KIND": ORGANISER_KIND,
        "VENUE_KIND": VENUE_KIND,
        "PRODUCER_KIND": PRODUCER_KIND,
    }


from . import board, candidates, fairs, programme  # noqa: E402,F401  (the views register on bp)
