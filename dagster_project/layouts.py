"""Layouts whose columns and values the project knows, so a source declares only `layout:`.

- `standard`: our standard work-order export with Chinese headers, specified for senders in
  docs/standard-export.md.
- `open311`: Open311 GeoReport v2 service requests (JSON).
- `message_board`: government message-board exports (问政留言), where the reply plays the close.
A source's own `columns` and `values` are laid over the layout's.
"""

from __future__ import annotations

from typing import Final

# Header -> canonical field, in the order of the specification.
STANDARD_COLUMNS: Final[dict[str, str]] = {
    "工单编号": "ticket_id",
    "受理时间": "received_at",
    "受理渠道": "channel",
    "诉求类型": "request_type",
    "诉求分类": "category",
    "区县": "district",
    "诉求标题": "title",
    "诉求内容": "content",
    "来电号码": "caller_phone",
    "来电人": "caller_name",
    "直接办结": "direct_resolved",
    "派单时间": "dispatched_at",
    "承办单位": "department",
    "首次响应时间": "responded_at",
    "办理时限": "due_at",
    "办结时间": "closed_at",
    "工单状态": "status",
    "是否解决": "resolved",
    "满意度": "satisfaction",
}

STANDARD_VALUES: Final[dict[str, dict[str, str]]] = {
    "channel": {
        "电话": "phone",
        "网站": "web",
        "微信": "wechat",
        "APP": "app",
        "app": "app",
        "短信": "sms",
        "其他": "other",
    },
    "request_type": {
        "咨询": "consult",
        "求助": "help",
        "投诉": "complaint",
        "举报": "report",
        "建议": "suggestion",
        "感谢": "praise",
        "其他": "other",
    },
    "status": {"办理中": "open", "已办结": "closed", "已撤销": "withdrawn"},
    "satisfaction": {
        "满意": "satisfied",
        "基本满意": "basically_satisfied",
        "不满意": "dissatisfied",
        "未评价": "unrated",
    },
}


# Open311 GeoReport v2 service request fields in the order of the specification: the canonical
# field of each, or None for a field present on purpose and not ingested (a street address is
# not a district; Open311 has no district field).
OPEN311_FIELDS: Final[dict[str, str | None]] = {
    "service_request_id": "ticket_id",
    "status": "status",
    "status_notes": None,
    "service_name": "category",
    "service_code": None,
    "description": "content",
    "agency_responsible": "department",
    "service_notice": None,
    "requested_datetime": "received_at",
    "updated_datetime": None,
    "expected_datetime": "due_at",
    "address": None,
    "address_id": None,
    "zipcode": None,
    "lat": None,
    "long": None,
    "media_url": None,
}
# `closed_datetime` is not in the spec: the Open311 reader derives it as updated_datetime of
# requests whose status is closed.
OPEN311_COLUMNS: Final[dict[str, str]] = {
    **{key: field for key, field in OPEN311_FIELDS.items() if field is not None},
    "closed_datetime": "closed_at",
}
OPEN311_VALUES: Final[dict[str, dict[str, str]]] = {"status": {"open": "open", "closed": "closed"}}
OPEN311_IGNORED: Final = tuple(key for key, field in OPEN311_FIELDS.items() if field is None)

# Headers in file order; 答复意见 (the reply) is present on purpose and not ingested.
MESSAGE_BOARD_FIELDS: Final[dict[str, str | None]] = {
    "留言编号": "ticket_id",
    # the user account that posted: who repeats a request where there is no phone number
    "留言用户": "caller_account",
    "留言主题": "title",
    "留言时间": "received_at",
    "留言详情": "content",
    "答复意见": None,
    "答复时间": "closed_at",
    "一级分类": "category",
}
MESSAGE_BOARD_COLUMNS: Final[dict[str, str]] = {
    header: field for header, field in MESSAGE_BOARD_FIELDS.items() if field is not None
}
MESSAGE_BOARD_IGNORED: Final = tuple(
    header for header, field in MESSAGE_BOARD_FIELDS.items() if field is None
)
# Every message arrives through the web; status follows from whether it has been answered.
MESSAGE_BOARD_CONSTANTS: Final[dict[str, str]] = {"channel": "web"}


LAYOUT_COLUMNS: Final[dict[str, dict[str, str]]] = {
    "standard": STANDARD_COLUMNS,
    "open311": OPEN311_COLUMNS,
    "message_board": MESSAGE_BOARD_COLUMNS,
    "custom": {},
}
LAYOUT_VALUES: Final[dict[str, dict[str, dict[str, str]]]] = {
    "standard": STANDARD_VALUES,
    "open311": OPEN311_VALUES,
}
# The headers of a known layout's files in file order, the ignored ones among them.
LAYOUT_HEADERS: Final[dict[str, tuple[str, ...]]] = {
    "standard": tuple(STANDARD_COLUMNS),
    "open311": tuple(OPEN311_FIELDS),
    "message_board": tuple(MESSAGE_BOARD_FIELDS),
}
LAYOUT_IGNORED: Final[dict[str, tuple[str, ...]]] = {
    "open311": OPEN311_IGNORED,
    "message_board": MESSAGE_BOARD_IGNORED,
}
LAYOUT_CONSTANTS: Final[dict[str, dict[str, str]]] = {"message_board": MESSAGE_BOARD_CONSTANTS}
