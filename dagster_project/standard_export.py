"""The standard work-order export: the Chinese headers and values any city can send as is.

Specified for senders in docs/standard-export.md; a source with `layout: standard` needs no
column or value mapping of its own.
"""

from __future__ import annotations

from typing import Final

# Header -> canonical field, in the order of the specification.
COLUMNS: Final[dict[str, str]] = {
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

VALUES: Final[dict[str, dict[str, str]]] = {
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
