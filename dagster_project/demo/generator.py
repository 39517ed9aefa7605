"""Deterministic, vectorised demo landing data: ten cities' work-order exports and D3 test calls.

Everything is built column-wise with numpy and pyarrow compute (no Python loop over tickets), so
the same code scales from a few thousand to millions of tickets; CSV and JSON are rendered by
Arrow too. The one exception is the XLSX work-order export: xlsxwriter's constant_memory mode
takes cells in row order, so its prepared columns are handed over row by row. The same seed gives
byte-identical files. Each city's files are laid out as its source configuration
(config/sources/<source_id>.yaml, read with the project's loader) says, so ingestion and the demo
share one description; DEMO_CITIES holds only what the demo makes up about each city. Dirt is
injected at the rates defined in the "Dirt" block below. Titles and contents are worded several
ways per taxonomy leaf, short or long, with words shared between classes; hot issues (many
tickets about one problem at one place within days) are planted in every city-year and listed
in a ground-truth file beside the landing directory. The layouts, the texts, the hot issues and
the dirt are described in docs/demo-data.md.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import functools
import itertools
import math
import re
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Final, NamedTuple
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import xlsxwriter

from dagster_project import layouts
from dagster_project.canonical import CHANNELS, REQUEST_TYPES, SATISFACTIONS, STATUSES
from dagster_project.ingest.pseudonymise import mark_demo_sources
from dagster_project.settings import BUNDLED_SOURCES_DIR
from dagster_project.sources import SourceConfig, load_source_config

YEARS: Final = (2018, 2019)
DEFAULT_SEED: Final = 2019
DEFAULT_TOTAL_TICKETS: Final = 150_000
DEFAULT_CITIES_CSV: Final = Path(__file__).resolve().parents[2] / "dbt" / "seeds" / "cities.csv"
DEFAULT_CATEGORY_MAPPINGS_CSV: Final = DEFAULT_CITIES_CSV.with_name("category_mappings.csv")

# ---------------------------------------------------------------------------------------------
# Dirt: share of the work-order rows of every file that carries each defect. The one place
# where the rates live; docs/demo-data.md and the tests refer to these names.
# ---------------------------------------------------------------------------------------------
EMPTY_TICKET_ID_RATE: Final = 0.001
BAD_RECEIVED_AT_RATE: Final = 0.001  # 受理时间 text that no timestamp format parses
CLOSED_BEFORE_RECEIVED_RATE: Final = 0.002
DUPLICATE_ROW_RATE: Final = 0.005  # re-exported rows (same ticket id), identical or later status
PHONE_IN_CONTENT_RATE: Final = 0.03
ID_CARD_IN_CONTENT_RATE: Final = 0.005
NAME_IN_CONTENT_RATE: Final = 0.02
UNMATCHED_CATEGORY_RATE: Final = 0.01  # category whose top level no national class matches
PADDED_SPACES_RATE: Final = 0.005  # of the non-empty values of each field in PADDED_FIELDS
FULLWIDTH_DIGITS_RATE: Final = 0.005  # likewise, FULLWIDTH_FIELDS
LINE_BREAK_IN_CONTENT_RATE: Final = 0.002  # quoted multi-line content
EMPTY_PHONE_RATE: Final = 0.02
EMPTY_NAME_RATE: Final = 0.05
EMPTY_DISTRICT_RATE: Final = 0.01
EMPTY_TITLE_RATE: Final = 0.005
EMPTY_DEPARTMENT_RATE: Final = 0.005  # of dispatched tickets
NEVER_RESPONDED_RATE: Final = 0.01  # of dispatched tickets
# A common homophone typo in the content (噪音 → 躁音, 反映 → 反应 …, _TYPOS); one per content.
TYPO_RATE: Final = 0.02
# The category of another leaf, the text unchanged: a call taker's misclassification; of those,
# CONFUSABLE_LABEL_SHARE take a leaf whose wording overlaps (_CONFUSABLE), the rest any leaf of
# another top-level class.
LABEL_NOISE_RATE: Final = 0.04
CONFUSABLE_LABEL_SHARE: Final = 0.6

PADDED_FIELDS: Final = ("ticket_id", "category", "district", "department", "caller_name")
FULLWIDTH_FIELDS: Final = ("ticket_id", "caller_phone")
BAD_TIMESTAMP_TEXTS: Final = (
    "N/A",
    "{year}-13-45 25:61:00",
    "0000-00-00 00:00:00",
    "#VALUE!",
    "待补录",
)
UNMATCHED_CATEGORIES: Final = (
    "其他/其他诉求",
    "综合类/无法归类",
    "无效来电/骚扰电话",
    "系统测试/测试工单",
    "重复来电/重复诉求",
)

# ---------------------------------------------------------------------------------------------
# Realistic ticket behaviour (not dirt).
# ---------------------------------------------------------------------------------------------
GROWTH_2019: Final = 1.10  # 2019 volume relative to 2018
# How much a city's residents use its hotline, relative to the others': the large cities' lines
# take the most requests per resident, the message boards and small lines the fewest, so
# 每万人受理 differs from city to city as it does in the published results. By city code.
REQUESTS_PER_RESIDENT: Final = {
    "110000": 1.6, "310000": 1.25, "440100": 1.35, "460100": 1.5, "331000": 0.9,
    "320700": 0.8, "511500": 0.7, "371500": 0.75, "610600": 1.0, "511900": 0.55,
}  # fmt: skip
CHANNEL_MIX: Final = (0.85, 0.04, 0.05, 0.04, 0.01, 0.01)  # in canonical.CHANNELS order
# 唐山 2024-11, in canonical.REQUEST_TYPES order.
REQUEST_TYPE_MIX: Final = (0.637, 0.290, 0.010, 0.005, 0.006, 0.002, 0.050)
DIRECT_RESOLVED_BY_TYPE: Final = (0.70, 0.30, 0.08, 0.05, 0.30, 0.80, 0.45)  # ~55 % overall
SLA_DAYS_BY_TYPE: Final = (1, 5, 7, 7, 15, 5, 5)
ON_TIME_RATE: Final = 0.88  # dispatched tickets closed by their due time
OPEN_AT_YEAR_END_RATE: Final = 0.03
WITHDRAWN_RATE: Final = 0.005
CALLBACK_RATE: Final = 0.70  # closed tickets with a 已解决/未解决 callback result
SOLVED_BY_TYPE: Final = (0.95, 0.80, 0.60, 0.60, 0.70, 1.00, 0.85)
SATISFACTION_MIX: Final = (0.75, 0.12, 0.05, 0.08)  # in canonical.SATISFACTIONS order
SATISFACTION_IF_UNSOLVED: Final = (0.30, 0.25, 0.35, 0.10)
REPEAT_CALLER_SHARE: Final = 0.15  # tickets whose caller phoned the same city before
FREQUENT_CALLER_SHARE: Final = 0.01  # tickets from a handful of very frequent callers
FREQUENT_CALLERS: Final = 20
HOUR_PROFILE: Final = (
    0.4, 0.25, 0.15, 0.1, 0.1, 0.2, 0.6, 1.8, 4.5, 7.5, 8.2, 7.6,
    5.6, 5.4, 7.0, 7.4, 7.0, 6.2, 4.6, 3.8, 3.4, 2.8, 1.9, 1.0,
)  # fmt: skip
MONTH_PROFILE: Final = (0.95, 0.85, 1.0, 1.0, 1.0, 1.05, 1.15, 1.15, 1.0, 0.95, 0.95, 0.95)
WEEKDAY_PROFILE: Final = (1.0, 1.0, 1.0, 1.0, 1.0, 0.8, 0.75)  # Monday first
# Texts: each leaf has several topics and problem sentences (_TOPICS). A share of contents is one
# short colloquial sentence (GENERIC_TITLE_SHARE of them under a generic title: 市民来电 …),
# another share gets EXTRA_SENTENCES more sentences shared by all classes (_EXTRA_SENTENCES).
SHORT_TEXT_RATE: Final = 0.10
GENERIC_TITLE_SHARE: Final = 0.5
LONG_TEXT_RATE: Final = 0.10
EXTRA_SENTENCES: Final = (1, 3)
# Tickets whose caller raised a second problem in passing: the content ends with "另外，" and a
# sentence of another leaf, while the title and the category name the main one.
ASIDE_RATE: Final = 0.08
# Tickets an operator classified by what the call was routed as: the title and the category
# name its leaf, while the caller's words (the content) describe a related problem of a leaf
# whose wording overlaps or of another class. Only the title tells the class.
ROUTED_BY_TITLE_RATE: Final = 0.06
# Message-board posts that the board's editors left without a category (未分类 in the warehouse):
# under the 5 % of missing categories the WARN suite lake_field_nulls accepts, so the demo
# passes every suite; a real board may leave all of them (docs/text-analysis.md).
UNLABELED_POST_RATE: Final = 0.04
# Hot issues (热点议题) planted in every city-year: HOT_ISSUE_GROUPS groups, each of
# HOT_ISSUE_TICKETS tickets (uniform, capped by what the window holds; a group with fewer than
# HOT_ISSUE_MIN_TICKETS is not planted) about one problem at one place (_HOT_ISSUES), received
# within HOT_ISSUE_WINDOW_DAYS days; taken from that window's tickets of these request types.
# Their ground truth is written to PLANTED_HOT_ISSUES_FILE under the data root.
HOT_ISSUE_GROUPS: Final = 2
HOT_ISSUE_TICKETS: Final = (15, 40)
HOT_ISSUE_WINDOW_DAYS: Final = (5, 14)
HOT_ISSUE_MIN_TICKETS: Final = 8
HOT_ISSUE_REQUEST_TYPES: Final = ("help", "complaint", "report", "other")
PLANTED_HOT_ISSUES_FILE: Final = Path("demo_truth") / "planted_hot_issues.csv"

# ---------------------------------------------------------------------------------------------
# Test calls (监测拨测).
# ---------------------------------------------------------------------------------------------
SEED_ARTICLE_CITIES: Final = (
    "110000", "310000", "440100", "460100", "331000",
    "320700", "511500", "371500", "610600", "511900",
)  # fmt: skip
HOTLINES_LEFT_OUT_2018: Final = 6
CALLS_PER_HOTLINE: Final = (10, 15)
CONNECT_MEAN: Final = {2018: 0.65, 2019: 0.71}
CONNECT_SPREAD: Final = 0.17  # per standard deviation of latent quality
SEED_CITY_BOOST: Final = 1.2  # latent quality added to the ten seed-article cities in 2019
# The seed article's year: its ten best hotlines answer every test call then (all 热线), so the
# demo's 全国十佳热线 of that year are the article's ten whatever the draw of the scores.
SEED_ARTICLE_YEAR: Final = 2019
SEED_CITY_MARGIN: Final = 0.5  # latent quality between the ten and the best of the others then
# Hotline-years with no connected call (死线) and with a connect rate forced under 30 % (冷线),
# per LINE_CLASS_HOTLINES hotlines monitored (the seed's 41); scaled with the number of hotlines.
DEAD_HOTLINES: Final = {2018: 2, 2019: 1}
COLD_HOTLINES: Final = {2018: 3, 2019: 3}
LINE_CLASS_HOTLINES: Final = 41
SCORE_MEANS: Final = {"etiquette": 88.5, "communication": 92.0, "resolution": 82.0}
SCORE_YEAR_SHIFT: Final = {2018: -1.0, 2019: 1.0}
SECONDS_TO_HUMAN_MEDIAN: Final = 24.0
SCENARIOS: Final = (
    "社保咨询", "公积金查询", "户籍办理", "交通违章", "医保报销", "燃气报修",
    "噪音投诉", "物业纠纷", "不动产登记", "子女入学", "营业执照办理", "消费维权",
)  # fmt: skip
EVALUATORS: Final = 24
TEST_CALL_COLUMNS: Final = (
    "监测年度", "城市代码", "热线名称", "拨测编号", "拨测时间", "拨测场景", "是否接通",
    "转人工时长(秒)", "接待礼仪", "沟通规范", "问题解决", "测评员",
)  # fmt: skip
XLSX_CREATED: Final = datetime(2019, 9, 1, 9, 0, 0)
CSV_CHUNK_ROWS: Final = 200_000  # bounds the size of one Arrow string buffer while writing

# ---------------------------------------------------------------------------------------------
# Work-order files that are not CSV (not dirt: every value here is readable).
# ---------------------------------------------------------------------------------------------
# XLSX (连云港): one sheet per quarter of the receive time; 受理时间 is mostly a real Excel
# datetime cell, but some cells were typed or pasted by people as text (2019/3/1 8:05:00, to the
# minute) and some hold the bare serial day number (43525.33680556) without a date format.
QUARTER_SHEETS: Final = ("一季度", "二季度", "三季度", "四季度")
RECEIVED_AS_EXPORTED, RECEIVED_TYPED_TEXT, RECEIVED_SERIAL, RECEIVED_BAD_TEXT = range(4)
XLSX_TEXT_TIME_SHARE: Final = 0.10
XLSX_SERIAL_TIME_SHARE: Final = 0.05
XLSX_DATETIME_FORMAT: Final = "yyyy-mm-dd hh:mm:ss"
XLSX_TYPED_TIME: Final = "%Y/%-m/%-d %-H:%M:%S"  # as people type it: no zero padding
XLSX_MAX_ROWS: Final = 1_048_576  # of a sheet, header included
# Open311 (巴中) and message boards (延安).
MEDIA_URL_SHARE: Final = 0.12  # requests with a photo
ADDRESS_ID_SHARE: Final = 0.35  # requests whose address matched the city's address register
NICKNAME_SHARE: Final = 0.55  # message-board users known by a nickname, not by their name
_NICKNAME_EMOJI: Final = ("🌸", "🍀", "🌙", "🐼", "🎈", "☀")
_BASE36: Final = "0123456789abcdefghijklmnopqrstuvwxyz"
_REPLY_OK: Final = (
    "相关政策和办理流程已向您详细说明。",
    "已协调相关单位现场处理，问题已解决。",
    "经调查核实，已责令相关责任方整改到位。",
    "经调查核实，已依法依规处理。",
    "您的建议已转相关部门研究采纳。",
    "感谢您的肯定，我们将继续做好服务。",
    "已转相关单位办理并答复。",
)  # by type
_REPLY_PENDING: Final = "该问题涉及多个部门，目前正在协调处理，请您耐心等待。"
_WITHDRAWN_NOTE: Final = "诉求人已撤回诉求，本件不再办理。"
_OPEN_NOTE: Final = "已受理，正在办理。"

# ---------------------------------------------------------------------------------------------
# Vocabulary.
# ---------------------------------------------------------------------------------------------
# (top class, level 2, level 3, weight, is a question); the words of each level 3 in _TOPICS.
_LEAVES: Final = (
    ("城乡建设", "市政设施", "路灯维修", 3.0, False),
    ("城乡建设", "市政设施", "道路破损", 2.5, False),
    ("城乡建设", "供水供气", "停水停气", 2.5, False),
    ("城乡建设", "供水供气", "燃气维修", 1.5, False),
    ("城乡建设", "物业管理", "物业服务", 4.0, False),
    ("城乡建设", "房屋管理", "违章搭建", 1.5, False),
    ("城乡建设", "建筑施工", "夜间施工", 2.0, False),
    ("城乡建设", "住房保障", "公租房申请", 2.0, True),
    ("劳动和社会保障", "社会保险", "社保缴费", 4.0, True),
    ("劳动和社会保障", "社会保险", "养老金领取", 2.5, True),
    ("劳动和社会保障", "劳动关系", "拖欠工资", 2.0, False),
    ("劳动和社会保障", "就业服务", "职业培训", 1.5, True),
    ("劳动和社会保障", "医疗保险", "医保报销", 3.0, True),
    ("交通运输", "公共交通", "公交线路", 2.5, False),
    ("交通运输", "出租汽车", "出租车拒载", 1.0, False),
    ("交通运输", "道路交通", "交通违法处理", 3.0, True),
    ("交通运输", "道路交通", "占道停车", 2.0, False),
    ("经济管理", "市场监管", "消费维权", 3.5, False),
    ("经济管理", "市场监管", "食品安全", 2.0, False),
    ("经济管理", "价格管理", "价格欺诈", 1.0, False),
    ("经济管理", "企业服务", "营业执照", 2.5, True),
    ("环境保护", "大气污染", "油烟扰民", 1.5, False),
    ("环境保护", "噪声污染", "社会生活噪声", 2.0, False),
    ("环境保护", "水污染", "河道污染", 0.8, False),
    ("卫生计生", "医疗服务", "医院服务", 2.0, False),
    ("卫生计生", "疾病预防", "疫苗接种", 2.0, True),
    ("卫生计生", "计划生育", "生育登记", 1.5, True),
    ("教育文体", "学前教育", "幼儿园入园", 1.5, True),
    ("教育文体", "义务教育", "入学报名", 2.5, True),
    ("教育文体", "校外培训", "培训机构退费", 1.0, False),
    ("政法", "户籍管理", "户口迁移", 3.0, True),
    ("政法", "出入境管理", "护照办理", 1.5, True),
    ("政法", "治安管理", "治安问题", 1.0, False),
    ("民政", "社会救助", "低保申请", 1.5, True),
    ("民政", "养老服务", "社区养老", 1.0, True),
    ("民政", "婚姻登记", "登记预约", 1.0, True),
    ("国土资源", "不动产登记", "不动产证办理", 2.0, False),
    ("国土资源", "土地管理", "违法占地", 0.6, False),
    ("商贸旅游", "旅游服务", "旅游纠纷", 1.0, False),
    ("商贸旅游", "商贸流通", "预付卡", 1.5, False),
    ("农村农业", "农业生产", "农资质量", 0.8, False),
    ("农村农业", "农村管理", "农村道路", 1.0, False),
    ("科技与信息产业", "通信服务", "网络信号", 1.2, False),
    ("科技与信息产业", "通信服务", "宽带故障", 1.0, False),
    ("党务政务", "政务服务", "办事效率", 1.5, False),
    ("党务政务", "政务服务", "政策咨询", 2.5, True),
    ("纪检监察", "作风建设", "工作人员作风", 0.4, False),
)
# level 3 -> how citizens and call takers word it: (title topics, problem or question sentences,
# short colloquial contents). The first topic and the first sentence are the original ones. A
# sentence follows "<district><place>" (a question has no place); one starting with "*" names
# no place. Words are shared across classes on purpose (噪音, 收费/退费/押金, 停车, 医保/医院,
# 入学/户口, 补贴 …), so that a classifier of the texts has something to learn.
_TOPICS: Final[dict[str, tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]]] = {
    "路灯维修": (
        ("路灯不亮", "路灯损坏", "路灯报修"),
        ("附近路灯已经多日不亮，夜间出行存在安全隐患",
         "一带有好几盏路灯坏了，晚上黑灯瞎火的，老人孩子出门很不方便",
         "的路灯时亮时灭，已经持续一个多星期，之前报修过一直没人来修",
         "路口的路灯杆被车撞歪了，灯也不亮，随时可能倒下来"),
        ("楼下路灯坏了好几天了。", "我们这条路晚上路灯不亮"),
    ),
    "道路破损": (
        ("道路破损", "路面坑洼", "路面破损"),
        ("路面出现大面积坑洼破损，车辆行人通行困难",
         "有一段路面塌陷，下雨天积水很深，已经有电动车在这里摔倒",
         "的人行道地砖松动破损，一踩就溅一身泥水",
         "路中间的井盖破损下沉，车辆经过时声音很大，存在安全隐患"),
        ("门口那条路全是坑，麻烦修一下。",),
    ),
    "停水停气": (
        ("停水问题", "停水停气", "供水供气"),
        ("小区突然停水，事先没有任何通知，影响正常生活",
         "一带已经连续两天停气了，家里没法做饭，燃气公司也没给个说法",
         "的高层住户水压太低，一到用水高峰就没水，物业说是二次供水泵房的问题",
         "这个月已经停了好几次水，每次都没有提前通知"),
        ("我家又停水了，什么时候能来水？", "小区停气一整天了"),
    ),
    "燃气维修": (
        ("燃气故障", "燃气报修"),
        ("家中燃气无法正常使用，怀疑管道存在问题",
         "的楼道里能闻到明显的燃气味，担心管道漏气，请尽快派人检查",
         "*家里燃气表不走字，已经交了燃气费还是打不着火"),
        ("家里燃气打不着火了。",),
    ),
    "物业服务": (
        ("物业服务问题", "物业收费", "物业管理"),
        ("物业公司服务不到位，公共区域卫生长期无人打扫",
         "的物业擅自上调物业费，停车费也一起涨了，业主都不认可",
         "的物业收了装修押金，装修完一年多了一直不给退",
         "的物业把小区绿地改成停车位对外出租，业主自己的车反而没地方停"),
        ("物业什么都不管，还年年涨价。", "小区电梯坏了物业一直不修"),
    ),
    "违章搭建": (
        ("违章搭建", "违法建设"),
        ("有住户在楼顶违章搭建，存在安全隐患",
         "的一楼住户私自扩建院子，占用了公共绿地和消防通道",
         "有商户在楼下违规加盖铁皮房，物业劝阻无效"),
        ("邻居在楼顶搭了个棚子，没人管吗？",),
    ),
    "夜间施工": (
        ("夜间施工噪音", "工地扰民", "施工扰民"),
        ("工地夜间施工噪音扰民，影响居民休息",
         "的工地每天晚上施工到凌晨，打桩机噪音特别大，根本睡不着",
         "附近工地的渣土车夜里进进出出，噪声和扬尘都很严重",
         "有个工地节假日和夜里都在施工，不知道有没有办夜间施工许可"),
        ("工地半夜还在施工，吵得睡不着。",),
    ),
    "公租房申请": (
        ("公租房申请", "保障房申请"),
        ("公共租赁住房的申请条件和办理流程",
         "外地户口在本市工作能不能申请公租房，需要哪些材料",
         "公租房申请提交后多长时间能轮候到，租金怎么收取"),
        ("想问一下公租房怎么申请？",),
    ),
    "社保缴费": (
        ("社保缴费", "社保补缴"),
        ("灵活就业人员社保缴费的办理流程",
         "单位没有给缴纳社保，个人能不能自己补缴",
         "社保缴费基数是怎么核定的，今年的缴费标准是多少",
         "辞职后社保断缴了，会不会影响医保报销和买房资格"),
        ("社保断了几个月怎么补交？",),
    ),
    "养老金领取": (
        ("养老金领取", "退休待遇"),
        ("退休后养老金领取的条件和手续",
         "养老金每个月什么时候发放，今年调整后的标准是多少",
         "在外地缴了几年养老保险，退休时能不能合并计算"),
        ("我妈的养老金这个月还没到账。",),
    ),
    "拖欠工资": (
        ("拖欠工资", "讨薪求助", "工资拖欠"),
        ("所在单位拖欠工资已有三个月，多次讨要未果",
         "的一个工地拖欠农民工工资，包工头现在联系不上了",
         "的一家公司以各种理由克扣工资，辞职后押金和最后一个月工资都不给结",
         "的一家培训机构欠员工两个月工资，老板说没钱，让我们再等等"),
        ("工资三个月没发了", "老板欠钱不给，怎么办？"),
    ),
    "职业培训": (
        ("职业培训", "技能培训补贴"),
        ("政府补贴职业技能培训的报名方式",
         "参加了职业技能培训并拿到证书，培训补贴什么时候发放",
         "失业人员参加免费技能培训有没有年龄和户口限制"),
        ("想报个电工培训，有补贴吗？",),
    ),
    "医保报销": (
        ("医保报销", "医保结算"),
        ("异地就医医保报销的比例和手续",
         "在医院住院花了两万多，出院时医保报销的比例比说好的低很多",
         "门诊慢性病医保怎么办理，去哪个医院可以直接结算",
         "孩子的城乡居民医保怎么缴费，户口还没办下来能不能先交"),
        ("医保卡在医院刷不了，怎么回事？",),
    ),
    "公交线路": (
        ("公交线路", "公交服务", "公交班次"),
        ("公交车发车间隔过长，高峰期等车时间太久",
         "附近新建的几个小区没有公交车经过，居民出行很不方便，希望增设站点",
         "的公交车经常提前收班，司机开车急刹急停，乘客差点摔倒"),
        ("公交车等了四十分钟都没来。",),
    ),
    "出租车拒载": (
        ("出租车拒载", "出租车服务"),
        ("出租车司机拒载并且态度恶劣",
         "*打出租车司机不打表，一口价要五十元，明显高于正常收费",
         "的出租车排队点司机挑客拒载，嫌路程近不愿意走"),
        ("出租车拒载，车牌号我记下来了。",),
    ),
    "交通违法处理": (
        ("交通违章处理", "违章罚款"),
        ("交通违章罚款的缴纳方式和地点",
         "车辆在小区门口临时停车被贴了罚单，怎么申诉",
         "外地车辆在本市的违章记录怎么查询和处理"),
        ("收到违章短信，罚款怎么交？",),
    ),
    "占道停车": (
        ("占道停车", "乱停乱放", "停车问题"),
        ("车辆长期占用消防通道停放，无人管理",
         "的商户把车停在人行道上，行人只能走机动车道",
         "有人用地锁占用公共停车位，物业说管不了",
         "的路口每天早晚接送学生的车辆乱停，造成严重拥堵"),
        ("楼下消防通道又被车堵死了。",),
    ),
    "消费维权": (
        ("消费纠纷", "商品质量", "退换货纠纷"),
        ("在商家购买的商品存在质量问题，商家拒绝退换",
         "的一家手机店买的手机用了一周就坏了，店家不给退也不给修",
         "的一家家具店收了定金迟迟不发货，现在要求退款商家不同意",
         "*在网上买的东西和描述严重不符，商家电话一直打不通"),
        ("买的东西坏了商家不给退。",),
    ),
    "食品安全": (
        ("食品安全", "餐饮卫生"),
        ("在餐馆就餐后出现身体不适，怀疑食品不卫生",
         "的一家超市出售过期食品，生产日期明显被改过",
         "的一家小吃店后厨卫生极差，老鼠蟑螂到处跑",
         "的学校门口有小摊卖三无食品，学生吃了拉肚子"),
        ("在超市买到过期的牛奶。",),
    ),
    "价格欺诈": (
        ("价格问题", "乱收费", "价格欺诈"),
        ("商家明码标价与实际收费不一致",
         "的一家停车场收费标准没有公示，停两个小时收了四十元",
         "的一家药店同一种药比别家贵一倍，结账时还多收了钱",
         "的一家理发店先说办卡打折，结账时收费翻了好几倍"),
        ("结账时多收了钱。",),
    ),
    "营业执照": (
        ("营业执照办理", "企业开办"),
        ("个体工商户营业执照的办理材料",
         "开一家小饭馆需要办理营业执照和食品经营许可证，流程是怎样的",
         "营业执照地址变更能不能网上办理，需要多长时间"),
        ("营业执照怎么办？",),
    ),
    "油烟扰民": (
        ("餐饮油烟扰民", "油烟污染"),
        ("楼下餐馆油烟直排，严重影响居民生活",
         "的几家烧烤店在路边露天烧烤，油烟和噪音一直持续到半夜",
         "的一家饭店排烟管道正对着居民窗户，夏天都不敢开窗",
         "的餐馆没有安装油烟净化设备，整栋楼都是油烟味"),
        ("楼下饭店油烟太大了。",),
    ),
    "社会生活噪声": (
        ("噪音扰民", "噪声污染", "生活噪音"),
        ("附近商铺使用高音喇叭招揽生意，噪音扰民",
         "的广场上每天晚上跳广场舞，音响开得很大，十点以后还不停",
         "楼上住户装修噪音从早到晚不停，周末也不休息",
         "附近的酒吧夜里音乐声太大，凌晨还有人在门口喧哗"),
        ("楼下广场舞太吵了。", "晚上噪音太大睡不着"),
    ),
    "河道污染": (
        ("河道污染", "污水排放"),
        ("河道水体发黑发臭，疑似有污水直排",
         "附近有工厂夜里偷排污水，河里经常出现死鱼",
         "的河道里垃圾漂浮，长期没有人清理，夏天臭味很大"),
        ("小河沟臭得不行。",),
    ),
    "医院服务": (
        ("医院服务", "就医问题", "医疗纠纷"),
        ("医院挂号排队时间过长，工作人员服务态度较差",
         "的一家医院收费不透明，住院清单上有很多没用过的项目",
         "的医院看病时医生让去指定药店买药，医保卡还不能用",
         "的医院停车位太少，看个病光排队停车就要一个小时"),
        ("医院挂号太难了。",),
    ),
    "疫苗接种": (
        ("疫苗接种", "预防接种"),
        ("儿童疫苗接种的时间和地点",
         "孩子上幼儿园前需要补种哪些疫苗，在哪里开具接种证明",
         "自费疫苗和免费疫苗有什么区别，社区医院能不能接种"),
        ("打疫苗要预约吗？",),
    ),
    "生育登记": (
        ("生育登记", "生育服务"),
        ("生育服务登记需要准备的材料",
         "二孩生育登记能不能网上办理，户口不在本地怎么登记",
         "生育津贴怎么申领，和生育登记有什么关系"),
        ("生孩子要先办登记吗？",),
    ),
    "幼儿园入园": (
        ("幼儿园入园", "入园报名"),
        ("公办幼儿园入园报名的条件",
         "孩子户口不在本区，能不能在居住地附近的公办幼儿园入园",
         "普惠性幼儿园的收费标准是多少，有没有补贴"),
        ("孩子明年上幼儿园怎么报名？",),
    ),
    "入学报名": (
        ("入学报名", "小学入学", "学位申请"),
        ("小学入学报名的时间和所需材料",
         "随迁子女入学需要哪些证明，居住证和户口本都要吗",
         "刚买的房子还没办下不动产证，孩子能不能按学区报名入学",
         "孩子户口迁过来不满一年，能不能在本学区上初中"),
        ("孩子上小学要准备什么？",),
    ),
    "培训机构退费": (
        ("培训机构退费", "校外培训纠纷"),
        ("校外培训机构拒绝退还剩余课时费用",
         "的一家培训机构突然关门，交的一万多学费和押金都退不了",
         "*给孩子报的辅导班办了预付课时卡，现在想退费机构一直拖着"),
        ("培训班跑路了，学费怎么要回来？",),
    ),
    "户口迁移": (
        ("户口迁移", "户籍办理", "落户办理"),
        ("户口迁入需要办理的手续",
         "孩子要上学，户口从老家迁过来需要开什么证明",
         "买了房子以后户口能不能迁到新房，需要不动产证吗",
         "大学毕业后户口从学校迁出，可以落到人才市场吗"),
        ("户口迁过来要多久？",),
    ),
    "护照办理": (
        ("护照办理", "出入境证件"),
        ("护照办理的流程和所需时间",
         "户口不在本地能不能在这里办护照和港澳通行证",
         "护照快过期了，换发需要预约吗，要带哪些材料"),
        ("办护照要多久？",),
    ),
    "治安问题": (
        ("治安问题", "治安隐患"),
        ("附近夜间经常有人聚集滋事，存在治安隐患",
         "最近连续发生几起电动车被盗，小区监控好多都是坏的",
         "的一家网吧有未成年人出入，夜里经常有人打架"),
        ("楼下有人打架，快来人看看。",),
    ),
    "低保申请": (
        ("低保申请", "社会救助"),
        ("最低生活保障的申请条件",
         "家里老人生病没有收入，能不能申请低保和临时救助补贴",
         "低保每个月发多少钱，审批需要多长时间"),
        ("家里困难，想申请低保。",),
    ),
    "社区养老": (
        ("养老服务", "居家养老"),
        ("社区养老服务的收费标准",
         "高龄老人的养老服务补贴怎么申请，社区能不能上门服务",
         "社区日间照料中心收不收费，失能老人能不能入住"),
        ("老人没人照顾，社区有养老服务吗？",),
    ),
    "登记预约": (
        ("婚姻登记", "结婚登记预约"),
        ("婚姻登记的预约方式",
         "一方户口在外地，能不能在本地办理结婚登记",
         "网上预约离婚登记一直约不上，现场能不能直接办理"),
        ("结婚登记要预约吗？",),
    ),
    "不动产证办理": (
        ("不动产证办理", "房产证办理", "办证难"),
        ("购房多年仍未办理不动产权证书",
         "的一个小区交房五年了，开发商一直不给业主办房产证，孩子入学都受影响",
         "*二手房过户到不动产登记中心跑了好几次都没办成"),
        ("房子买了好几年了房产证还没下来。",),
    ),
    "违法占地": (
        ("违法占地", "乱占耕地"),
        ("有人违法占用耕地建房",
         "附近有人在基本农田上挖塘建厂，村委会也不管",
         "一带有人私自占地建仓库，没有办理任何手续"),
        ("村里有人占地盖房。",),
    ),
    "旅游纠纷": (
        ("旅游纠纷", "旅游投诉"),
        ("跟团旅游被导游强制购物",
         "*报名的旅行团临时取消行程，旅行社拒绝全额退款",
         "的景区门票标价和实际收费不一样，还捆绑销售观光车票"),
        ("旅行社收了钱不退。",),
    ),
    "预付卡": (
        ("预付卡退费", "办卡纠纷"),
        ("商家关门停业，预付卡余额无法退还",
         "的一家健身房突然停业，会员卡里还有好几千元没用",
         "的一家美容店换了老板，不认之前办的储值卡",
         "的一家洗车店突然提价，办的年卡要补差价才能继续用"),
        ("健身房跑路了，卡里的钱怎么办？",),
    ),
    "农资质量": (
        ("农资质量", "假冒农资"),
        ("购买的种子发芽率很低，怀疑是假种子",
         "*买的化肥用了以后庄稼长势很差，怀疑是假化肥",
         "的农药店卖的农药没效果，店家说是天气原因不给退",
         "*购买的农机和宣传的不一样，农机购置补贴也申请不下来"),
        ("买到假化肥了。",),
    ),
    "农村道路": (
        ("农村道路", "村道维修"),
        ("村里道路年久失修，雨天泥泞难行",
         "村里通往镇上的道路路面破损严重，校车都开不进来",
         "村道上的桥出现裂缝，大车照样通行，存在安全隐患"),
        ("村里的路坑坑洼洼的，能不能修一修？",),
    ),
    "网络信号": (
        ("网络信号差", "手机信号"),
        ("小区手机信号差，经常无法正常通话",
         "的手机信号很弱，在家里打电话要跑到阳台上",
         "附近的信号基站被拆了以后，手机上网特别慢"),
        ("家里手机没信号。",),
    ),
    "宽带故障": (
        ("宽带故障", "宽带服务"),
        ("家中宽带故障报修后迟迟无人上门",
         "*宽带经常断网，运营商照样收费，要求退费也不给办",
         "的小区宽带只能装一家运营商的，物业不让其他公司进场"),
        ("宽带断网两天了没人修。",),
    ),
    "办事效率": (
        ("办事效率", "办事难"),
        ("到政务服务中心办事多次往返仍未办成",
         "*在政务大厅办理业务，窗口说材料不全，每次只说缺一样，来回跑了四趟",
         "*网上办事平台提交申请后一个月没有回音，打电话也问不到进度",
         "的社区开个证明要盖好几个章，找不到负责的人"),
        ("办个事跑了好几趟都没办成。",),
    ),
    "政策咨询": (
        ("政策咨询", "人才政策"),
        ("人才落户相关政策",
         "高校毕业生来本市就业有哪些补贴政策，怎么申请",
         "首次购房有没有补贴，申请需要什么条件",
         "个体户有哪些税费减免政策"),
        ("咨询一下人才补贴的事。",),
    ),
    "工作人员作风": (
        ("工作人员作风", "服务态度"),
        ("窗口工作人员工作时间玩手机，态度冷漠",
         "的一个办事窗口工作人员上班时间经常离岗，群众排长队没人管",
         "*去办事时工作人员推诿，让去找别的部门，来回踢皮球"),
        ("窗口工作人员态度太差了。",),
    ),
}
# Titles of short contents, in place of type and topic (GENERIC_TITLE_SHARE of them).
_GENERIC_TITLES: Final = ("市民来电", "问题反映", "咨询一个问题", "反映问题", "求助", "来电求助")
# Extra sentences of long contents, shared by all classes: (context sentences, closing wishes)
# after a problem, and after a question. A run is context sentences, then maybe a closing wish.
_EXTRA_SENTENCES: Final = (
    (("此前已多次反映，一直没有得到解决。",
      "周边很多居民都有同样的问题。",
      "这个问题已经持续很长时间了。",
      "之前打过电话，说会转给相关单位，到现在也没有人联系我。",
      "家里有老人和小孩，实在等不起。",
      "希望有关部门重视，不要再推来推去。",
      "已经向社区反映过，社区说不归他们管。",
      "如果再不解决，准备向上级部门投诉。",
      "上个月也出现过一次，当时说处理了，没过多久又这样。"),
     ("希望尽快处理，谢谢。", "请尽快给予答复。", "麻烦处理后回个电话。", "辛苦了。")),
    (("之前在网上查过，没有找到明确的说法。",
      "打过几次电话，每次得到的说法都不一样。",
      "家里老人不会用手机，只能打电话问。",
      "听说今年政策有调整，想确认一下。",
      "材料比较多，怕漏了白跑一趟。"),
     ("谢谢。", "请尽快答复。", "麻烦说得详细一点。")),
)
# Homophone typos (TYPO_RATE): the right word -> the wrong one; one per content.
_TYPOS: Final = {
    "反映": "反应", "已经": "以经", "投诉": "投述", "噪音": "躁音", "咨询": "资询",
    "部门": "部们", "联系": "连系", "押金": "压金", "报销": "报消", "希望": "希忘",
    "处理": "处里", "安全": "按全",
}  # fmt: skip
# Leaves an operator confuses with each leaf (LABEL_NOISE_RATE): their wording overlaps.
_CONFUSABLE: Final = {
    "夜间施工": ("社会生活噪声", "违章搭建"),
    "社会生活噪声": ("夜间施工", "油烟扰民", "治安问题"),
    "油烟扰民": ("社会生活噪声", "食品安全"),
    "物业服务": ("占道停车", "价格欺诈", "停水停气"),
    "占道停车": ("物业服务", "交通违法处理"),
    "交通违法处理": ("占道停车",),
    "培训机构退费": ("预付卡", "消费维权", "职业培训"),
    "预付卡": ("消费维权", "价格欺诈", "培训机构退费"),
    "价格欺诈": ("消费维权", "预付卡"),
    "消费维权": ("价格欺诈", "预付卡", "食品安全"),
    "旅游纠纷": ("消费维权", "价格欺诈"),
    "医保报销": ("医院服务", "社保缴费"),
    "医院服务": ("医保报销",),
    "入学报名": ("户口迁移", "幼儿园入园"),
    "幼儿园入园": ("入学报名",),
    "户口迁移": ("入学报名", "政策咨询"),
    "职业培训": ("政策咨询", "培训机构退费"),
    "农资质量": ("消费维权",),
    "低保申请": ("社区养老", "政策咨询"),
    "道路破损": ("农村道路",),
    "农村道路": ("道路破损",),
    "违章搭建": ("违法占地", "物业服务"),
    "违法占地": ("违章搭建",),
    "办事效率": ("工作人员作风",),
    "工作人员作风": ("办事效率",),
    "网络信号": ("宽带故障",),
    "拖欠工资": ("社保缴费",),
    "不动产证办理": ("办事效率",),
    "停水停气": ("物业服务", "燃气维修"),
}
# Planted hot issues: (leaf, sites, phrasings, short phrasings, title topics). A site is (what,
# anchor kinds, abbreviation): the place is anchor + what, the anchor a road (_PLACE_ROOTS +
# 路/街/大道) or an estate (+ 小区/花园/家园/新村); "{x}" in `what` is another road (a crossing).
# Phrasings name the place in full ({p}) or abbreviated ({s}: the abbreviation, with the anchor
# for {a}), so that every one of them holds the anchor.
_ROAD, _ESTATE = ("路", "街", "大道"), ("小区", "花园", "家园", "新村")
_HOT_ISSUES: Final = (
    ("夜间施工",
     (("地铁站施工工地", _ROAD, "{a}地铁站那个工地"), ("道路改造工地", _ROAD, "{a}修路的工地"),
      ("商业综合体工地", _ROAD, "{a}那个大工地"), ("二期工地", _ESTATE, "{a}二期那边的工地")),
     ("{p}每天晚上施工到凌晨一两点，噪音特别大，根本没法睡觉",
      "{p}连续多天夜间施工，打桩机和电钻声音不断，严重影响周边居民休息",
      "{s}晚上十点以后还在施工，渣土车进进出出，家里老人孩子都休息不好",
      "{p}夜间违规施工，不知道有没有办理夜间施工许可，附近居民意见很大",
      "{s}这几天又开始通宵施工了，噪音扰民问题一直没解决"),
     ("{s}半夜还在施工，吵死了。", "{p}晚上又在施工，睡不着觉"),
     ("夜间施工噪音", "工地夜间施工扰民")),
    ("停水停气",
     (("3号楼", _ESTATE, "{a}"), ("5号楼", _ESTATE, "{a}"), ("二期", _ESTATE, "{a}二期"),
      ("东区", _ESTATE, "{a}东区")),
     ("{p}这周已经是第三次停水了，每次都没有提前通知",
      "{p}反复停水，物业说是泵房设备故障，一直修不好",
      "{s}又停水了，高层住户一滴水都没有，老人只能下楼提水",
      "{p}一到用水高峰就没水，断断续续已经十几天了",
      "{s}这半个月停了好几次水，供水公司和物业互相推诿"),
     ("{s}又停水了，到底什么时候能修好？", "{p}又没水了"),
     ("停水问题", "小区反复停水")),
    ("道路破损",
     (("与{x}交叉口", _ROAD, "{a}那个路口"), ("北段", _ROAD, "{a}那一段"),
      ("与{x}路口", _ROAD, "{a}路口")),
     ("{p}路面塌陷出一个大坑，已经有好几辆电动车在这里摔倒",
      "{p}路面坑洼不平，下雨后积水很深，车辆经过溅人一身",
      "{s}的路面破了个大洞，晚上看不清，很容易出事故",
      "{p}的井盖破损下沉，车辆经过哐当作响，存在安全隐患"),
     ("{s}有个大坑，赶紧修一下。",),
     ("道路破损", "路面塌陷")),
    ("油烟扰民",
     (("夜市", _ROAD, "{a}那几家烧烤店"), ("烧烤一条街", _ROAD, "{a}烧烤街"),
      ("美食广场", _ESTATE, "{a}楼下的饭店")),
     ("{p}的烧烤摊油烟直排，整栋楼都是油烟味，窗户都不敢开",
      "{p}的几家餐馆没有安装油烟净化设备，油烟直接往居民楼里飘",
      "{s}每天从傍晚烤到半夜，油烟呛人，家里孩子一直咳嗽",
      "{p}露天烧烤油烟很大，晚上还很吵"),
     ("{s}油烟太呛了，管管吧。",),
     ("餐饮油烟扰民", "烧烤油烟扰民")),
    ("路灯维修",
     (("北段", _ROAD, "{a}那一段"), ("南段", _ROAD, "{a}那一段"),
      ("东侧辅路", _ROAD, "{a}辅路")),
     ("{p}一整段路灯都不亮，晚上漆黑一片，行人和电动车都很危险",
      "{p}的路灯已经坏了十几天，之前报修过一直没有人来修",
      "{s}路灯全灭了，晚上下班回家只能摸黑走",
      "{p}路灯时亮时灭，最近干脆全都不亮了"),
     ("{s}的路灯又全灭了。",),
     ("路灯不亮", "整段路灯不亮")),
    ("社会生活噪声",
     (("菜市场", _ROAD, "{a}菜市场那边"), ("农贸市场", _ROAD, "{a}市场门口"),
      ("文化广场", _ESTATE, "{a}门口的广场")),
     ("{p}每天早上五点就有商贩用高音喇叭叫卖，吵得人没法休息",
      "{p}的商户用喇叭循环播放促销广告，噪音一整天不停",
      "{s}早上装卸货的声音特别大，天不亮就开始了",
      "{p}的音响声音开得很大，附近居民多次劝说无效"),
     ("{s}喇叭太吵了。",),
     ("噪音扰民", "市场喇叭噪音")),
    ("占道停车",
     (("小学门口", _ROAD, "{a}学校门口"), ("医院门口", _ROAD, "{a}医院那边")),
     ("{p}每天早晚接送时段车辆乱停乱放，把路堵得水泄不通",
      "{p}的人行道上停满了车，行人只能走机动车道，很危险",
      "{s}的车辆随意停放，交警也很少来管",
      "{p}周边违停严重，公交车都过不去"),
     ("{s}又堵死了，车乱停。",),
     ("占道停车", "门口乱停车")),
)

# National top-level class (HOTLINE.md) -> the department that handles it.
_DEPARTMENTS: Final = {
    "城乡建设": "住房和城乡建设局",
    "党务政务": "政务服务管理局",
    "国土资源": "自然资源和规划局",
    "环境保护": "生态环境局",
    "纪检监察": "纪律检查委员会",
    "交通运输": "交通运输局",
    "经济管理": "市场监督管理局",
    "科技与信息产业": "工业和信息化局",
    "民政": "民政局",
    "农村农业": "农业农村局",
    "商贸旅游": "文化广电旅游局",
    "卫生计生": "卫生健康委员会",
    "政法": "公安局",
    "教育文体": "教育局",
    "劳动和社会保障": "人力资源和社会保障局",
}

_TITLE_PREFIX: Final = ("咨询", "求助：", "投诉", "举报", "建议改进", "表扬", "反映")  # by type
_ASK: Final = (
    "，请相关部门予以解答。",
    "，希望相关部门帮助解决。",
    "，要求相关部门核实处理。",
    "，请相关部门依法查处。",
    "，建议相关部门加以改进。",
    "，对相关工作人员的热心帮助表示感谢。",
    "，请相关部门知悉。",
)  # by type
_PLACE_ROOTS: Final = (
    "幸福", "和平", "建设", "人民", "光明", "新华", "解放", "文化", "长安", "东风",
    "胜利", "友谊", "朝阳", "阳光", "金色", "滨江", "锦绣", "翠苑", "丽景", "康乐",
    "永安", "兴业", "育才", "迎宾", "春晖", "书香", "海棠", "紫荆", "桂花", "凤凰",
)  # fmt: skip
_PLACE_SUFFIXES: Final = (
    "路",
    "街",
    "大道",
    "小区",
    "花园",
    "家园",
    "新村",
    "公寓",
    "广场",
    "商业街",
)
_SURNAMES: Final = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程"
    "苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛段雷侯龙史陶黎贺顾毛郝龚邵"
)
_GIVEN_CHARS: Final = (
    "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红建国志文斌宇浩婷雪琳鹏辉晨欣怡涵"
    "梓轩思雨俊峰海燕波宁佳嘉慧颖鑫凯博瑞琪晓东春梅秋菊荣昊天翔坤鸿飞云龙凤娇倩亮"
)
_MOBILE_PREFIXES: Final = (
    "130", "131", "132", "133", "135", "136", "137", "138", "139", "150", "151",
    "152", "155", "156", "157", "158", "159", "166", "176", "177", "178", "180",
    "181", "182", "183", "185", "186", "187", "188", "189", "199",
)  # fmt: skip
_ID_CARD_WEIGHTS: Final = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_REMARKS: Final = ("已电话回复", "市民要求保密", "已合并处理", "需二次回访")


# ---------------------------------------------------------------------------------------------
# The ten cities. How each one's files are laid out (format, encoding, headers and their order,
# value words, time format, title and totals rows) is its source's YAML in config/sources, read
# with the project's own loader; DEMO_CITIES holds only what the demo makes up about each city.
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class City:
    """What the demo makes up about one city's exports; their layout is its source's YAML."""

    source_id: str
    ticket_id: tuple[str, bool, int]  # (prefix with {year}, per-day sequence?, digits)
    # Its files' name with {year}; empty: its YAML's file_pattern with {year} for the '*'.
    file_name: str = ""
    category_depth: int = 3  # levels of the category path it writes
    title_rows: tuple[str, ...] = ()  # as many as its YAML's skip_rows; with {year}, {exported}
    # Saved by Excel: CRLF line ends, title rows padded with commas, times without zero padding.
    saved_by_excel: bool = False
    # field -> {code: word} where its YAML reads several words for a code (booleans: "true",
    # "false"); otherwise the first word the YAML maps to the code.
    spellings: dict[str, dict[str, str]] = field(default_factory=dict)
    left_out: tuple[str, ...] = ()  # fields whose columns its YAML expects and its files lack
    extra_name_chars: str = ""  # GB18030-only characters used in given names
    districts: tuple[str, ...] = ()  # the city's districts; empty: DISTRICTS[city_code]


DEMO_CITIES: Final[tuple[City, ...]] = (
    City("beijing_12345", ("BJ{year}", False, 8)),
    City("shanghai_12345", ("SH-{year}-", False, 7), spellings={"channel": {"app": "app"}}),
    City("haikou_12345", ("HK", True, 5),
         title_rows=("海口市12345热线工单明细（{year}年）", "导出时间：{exported}"),
         saved_by_excel=True, spellings={"direct_resolved": {"true": "Y", "false": "N"}}),
    City("guangzhou_12345", ("GZ", True, 6), file_name="广州12345工单_{year}年度.csv",
         title_rows=("广州市12345政府服务热线工单明细表（{year}年度）",), extra_name_chars="䶮"),
    City("taizhou_12345", ("{year}", False, 9), category_depth=2),
    City("yibin_12345", ("YB", True, 5), left_out=("caller_name", "due_at")),
    City("lianyungang_12345", ("LYG", True, 5)),
    City("liaocheng_12345", ("LC", True, 5)),
    City("bazhong_12345", ("{year}", False, 6)),
    City("yanan_12345", ("YA{year}", False, 6), category_depth=1),  # 一级分类: the top level
)  # fmt: skip


def own_top_levels(path: Path = DEFAULT_CATEGORY_MAPPINGS_CSV) -> dict[str, dict[str, str]]:
    """Each city's own wording of national top-level classes, as the category mappings seed
    maps it back: city code -> {national class: the city's label} (the first label listed)."""
    frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")
    wording: dict[str, dict[str, str]] = {}
    for code, label, national in frame[
            ["city_code", "source_label", "national_category_name"]].itertuples(index=False):
        wording.setdefault(code, {}).setdefault(national, label)
    return wording


# The codes of each enumerated field, in the order of the integer codes of _tickets; the demo's
# tickets always say their status (no source writes `unknown`).
_CODES: Final = {
    "channel": CHANNELS,
    "request_type": REQUEST_TYPES,
    "status": tuple(s for s in STATUSES if s != "unknown"),
    "satisfaction": SATISFACTIONS,
}
# A code a source has no word for is written as another's: GeoReport v2 knows open and closed
# only, so a withdrawn request is closed.
_WRITTEN_AS: Final = {"withdrawn": "closed"}
# (true, false) of a source whose YAML declares no words of its own: JSON's literals in JSON
# files, else the standard export's words (docs/standard-export.md).
_JSON_BOOLEANS: Final = ("true", "false")
_STANDARD_BOOLEANS: Final = {"direct_resolved": ("是", "否"), "resolved": ("已解决", "未解决")}
# What the columns a YAML ignores (and Open311's address) hold in the demo's files.
_IGNORED_HOLD: Final = {
    "序号": "_row_no",  # a spreadsheet's row number: the first column
    "备注": "_remark",
    "operatorNo": "_operator",
    "答复意见": "_reply",
    "status_notes": "_status_notes",
    "service_code": "_service_code",
    "service_notice": "_service_notice",
    "updated_datetime": "_updated_at",
    "address": "district",  # a street address in the district
    "address_id": "_address_id",
    "zipcode": "_zipcode",
    "lat": "_lat",
    "long": "_long",
    "media_url": "_media_url",
}
# In JSON files, these are literals (booleans, numbers), not strings.
_JSON_LITERALS: Final = frozenset({"direct_resolved", "resolved", "_lat", "_long"})
_JSON_FORMATS: Final = ("jsonl", "open311")
# How padded values look (PADDED_SPACES_RATE): (before, after), one of three kinds per value.
SPACE_PADDING: Final = ((" ", ""), ("", "  "), ("\u3000", " "))
CELL_PADDING: Final = (("\t", ""), ("", "\n"), ("\n", "\t"))  # typed into spreadsheet cells


@dataclass(frozen=True)
class Layout:
    """How the demo writes one source's files: its YAML read for writing, and its City."""

    source_id: str
    city_code: str
    file_name: str  # with {year}
    file_format: str  # csv, xlsx (one sheet per quarter), jsonl or open311 (JSON array)
    encoding: str  # Python codec, or "xlsx"
    # (header, what it holds: a canonical field or one of the derived columns of _tickets)
    columns: tuple[tuple[str, str], ...]
    timestamp_style: str  # strftime fields (%-m: without zero padding) and literal text
    words: dict[str, tuple[str, ...]]  # field -> word of each code (booleans: true, false)
    json_literals: frozenset[str]  # headers whose JSON values are not quoted
    totals: str | None  # first cell of the totals row below the data, if any
    line_terminator: str
    padding: tuple[tuple[str, str], ...]
    # A government message board: every message arrives on the web and is answered by a
    # department (none is resolved on the spot); a withdrawal is answered too.
    message_board: bool
    top_aliases: dict[str, str]  # national top-level class -> the city's own wording
    city: City


def layout_of(config: SourceConfig, city: City) -> Layout:
    """The layout of a source's files as its YAML describes it, with the city's demo choices.

    What a YAML leaves at its default says something too: without `timestamp_formats` its
    times carry their UTC offset (ISO 8601); without true/false values it writes the standard
    export's words (JSON files: true and false); a `footer_prefix` it states is the first cell
    of a totals row below the data. The city's wording of top-level classes is what the
    category mappings seed maps back for its code."""
    where = f"{config.source_id}.yaml"
    file_name = city.file_name or config.file_pattern.replace("*", "{year}", 1)
    if config.source_id != city.source_id or not fnmatch.fnmatchcase(
            file_name.format(year=YEARS[0]), config.file_pattern):
        raise ValueError(f"{where}: not {city.source_id}'s, or file_pattern does not match "
                         f"{file_name}")
    if len(city.title_rows) != config.skip_rows:
        raise ValueError(f"{where}: skip_rows {config.skip_rows}, demo title rows "
                         f"{len(city.title_rows)}")
    columns = _columns(config, city)
    is_json = config.format in _JSON_FORMATS
    return Layout(
        source_id=config.source_id,
        city_code=str(config.city_code),
        file_name=file_name,
        file_format=config.format,
        encoding="xlsx" if config.format == "xlsx" else config.encoding,
        columns=columns,
        timestamp_style=_timestamp_style(config, city),
        words=_words(config, city),
        json_literals=frozenset(h for h, held in columns if is_json and held in _JSON_LITERALS),
        totals=config.footer_prefix if "footer_prefix" in config.model_fields_set else None,
        line_terminator="\r\n" if city.saved_by_excel else "\n",
        padding=CELL_PADDING if config.format == "xlsx" else SPACE_PADDING,
        message_board=config.layout == "message_board",
        top_aliases=_OWN_TOP_LEVELS.get(str(config.city_code), {}),
        city=city,
    )


def _columns(config: SourceConfig, city: City) -> tuple[tuple[str, str], ...]:
    """(header, what it holds) in file order: the layout's headers, the source's own and the
    ones it ignores, a row number first; without the columns of the city's left-out fields."""
    holds = {**_IGNORED_HOLD, **config.column_map}
    headers = dict.fromkeys([*layouts.LAYOUT_HEADERS.get(config.layout, ()), *config.columns,
                             *config.ignore_columns])
    unknown = [h for h in headers if h not in holds]
    if unknown:
        raise ValueError(f"{config.source_id}.yaml: the demo has nothing to write under {unknown}")
    columns = [(h, holds[h]) for h in headers if holds[h] not in city.left_out]
    return tuple(sorted(columns, key=lambda column: column[1] != "_row_no"))  # stable


def _timestamp_style(config: SourceConfig, city: City) -> str:
    if "timestamp_formats" in config.model_fields_set:
        style = config.timestamp_formats[0]
    else:  # ISO 8601 with the offset of the source's zone (at the start of the demo years)
        offset = datetime(YEARS[0], 1, 1, tzinfo=ZoneInfo(config.timezone)).strftime("%z")
        style = f"%Y-%m-%dT%H:%M:%S{offset[:3]}:{offset[3:]}"
    return re.sub(r"%([mdH])", r"%-\1", style) if city.saved_by_excel else style


def _words(config: SourceConfig, city: City) -> dict[str, tuple[str, ...]]:
    """The words a source writes for each code of its enumerated fields (the city's spelling,
    else the first word its YAML maps to the code or to the code it is written as) and for
    true and false; a word its YAML would not read back is an error."""
    words: dict[str, tuple[str, ...]] = {}
    for name, codes in _CODES.items():
        first: dict[str, str] = {}
        for word, code in config.value_map.get(name, {}).items():
            first.setdefault(code, word)
        if not first:
            continue
        first |= city.spellings.get(name, {})
        first |= {c: first[w] for c, w in _WRITTEN_AS.items() if c not in first and w in first}
        if set(codes) - set(first):
            raise ValueError(f"{config.source_id}.yaml: values.{name} has no word for "
                             f"{sorted(set(codes) - set(first))}")
        words[name] = tuple(first[code] for code in codes)
    declared = "true_values" in config.model_fields_set
    for name, standard in _STANDARD_BOOLEANS.items():
        default = (config.true_values[0], config.false_values[0]) if declared else (
            _JSON_BOOLEANS if config.format in _JSON_FORMATS else standard)
        spelled = city.spellings.get(name, {})
        words[name] = (spelled.get("true", default[0]), spelled.get("false", default[1]))
    checked = {**city.spellings, **{name: dict(zip(("true", "false"), words[name], strict=True))
                                     for name in _STANDARD_BOOLEANS}}
    for name, spelled in checked.items():
        if any(_read_back(config, name, word) != code for code, word in spelled.items()):
            raise ValueError(f"{config.source_id}.yaml does not read {name} as {spelled}")
    return words


def _read_back(config: SourceConfig, name: str, word: str) -> str | None:
    """The code a source's YAML reads a word of a field as (booleans: "true", "false")."""
    if name not in _STANDARD_BOOLEANS:
        return config.value_map.get(name, {}).get(word)
    return "true" if word in config.true_values else (
        "false" if word in config.false_values else None)


def load_layouts(demo_cities: Sequence[City] = DEMO_CITIES,
                 directory: Path = BUNDLED_SOURCES_DIR) -> tuple[Layout, ...]:
    """The layouts of the cities' sources, from their YAML in `directory`."""
    return tuple(layout_of(load_source_config(directory / f"{c.source_id}.yaml"), c)
                 for c in demo_cities)


_OWN_TOP_LEVELS: Final = own_top_levels()
LAYOUTS: Final[tuple[Layout, ...]] = load_layouts()

DISTRICTS: Final[dict[str, tuple[str, ...]]] = {
    "110000": (
        "东城区", "西城区", "朝阳区", "海淀区", "丰台区", "石景山区", "通州区", "昌平区",
        "大兴区", "顺义区", "房山区", "门头沟区", "怀柔区", "平谷区", "密云区", "延庆区",
    ),
    "310000": (
        "黄浦区", "徐汇区", "长宁区", "静安区", "普陀区", "虹口区", "杨浦区", "闵行区",
        "宝山区", "嘉定区", "浦东新区", "金山区", "松江区", "青浦区", "奉贤区", "崇明区",
    ),
    "460100": ("秀英区", "龙华区", "琼山区", "美兰区"),
    "440100": (
        "越秀区", "海珠区", "荔湾区", "天河区", "白云区", "黄埔区", "番禺区", "花都区",
        "南沙区", "从化区", "增城区",
    ),
    "331000": (
        "椒江区", "黄岩区", "路桥区", "临海市", "温岭市", "玉环市", "天台县", "仙居县", "三门县",
    ),
    "511500": (
        "翠屏区", "南溪区", "叙州区", "江安县", "长宁县", "高县", "珙县", "筠连县", "兴文县",
        "屏山县",
    ),
    "320700": ("海州区", "连云区", "赣榆区", "东海县", "灌云县", "灌南县"),
    "371500": (
        "东昌府区", "临清市", "茌平县", "阳谷县", "莘县", "东阿县", "冠县", "高唐县",
    ),
    "511900": ("巴州区", "恩阳区", "平昌县", "通江县", "南江县"),
    "610600": (
        "宝塔区", "安塞区", "子长县", "延长县", "延川县", "志丹县", "吴起县", "甘泉县", "富县",
        "洛川县", "宜川县", "黄龙县", "黄陵县",
    ),
}  # fmt: skip
# Open311 requests of 巴中: (zipcode, latitude, longitude) of each district's seat.
BAZHONG_GEO: Final[dict[str, tuple[str, float, float]]] = {
    "巴州区": ("636000", 31.8516, 106.7687),
    "恩阳区": ("636064", 31.7871, 106.6545),
    "平昌县": ("636400", 31.5601, 107.1044),
    "通江县": ("636700", 31.9123, 107.2453),
    "南江县": ("636600", 32.3465, 106.8286),
}


# ---------------------------------------------------------------------------------------------
# Result.
# ---------------------------------------------------------------------------------------------
class PlantedTicket(NamedTuple):
    """A ticket of a planted hot issue: a row of PLANTED_HOT_ISSUES_FILE."""

    city_code: str
    year: int
    group_id: str  # <city_code>-<year>-<number in the city-year>
    ticket_id: str  # as exported, before the dirt of ids (padding, full-width digits)
    district: str
    place: str
    leaf: str  # national category path, 城乡建设/建筑施工/夜间施工


@dataclass(frozen=True)
class DemoFile:
    """One file written to landing."""

    source_id: str
    path: Path
    year: int
    encoding: str
    rows: int  # data rows: title, header and totals rows excluded, re-exported duplicates included
    planted_hot_issues: tuple[PlantedTicket, ...] = ()  # the file's planted hot-issue tickets


@dataclass(frozen=True)
class DemoSummary:
    """What `generate_demo` wrote."""

    landing_root: Path
    seed: int
    total_tickets: int
    files: tuple[DemoFile, ...]

    @property
    def planted_hot_issues(self) -> pd.DataFrame:
        """The tickets of the planted hot issues, one a row, as PLANTED_HOT_ISSUES_FILE."""
        records = [r for f in self.files for r in f.planted_hot_issues]
        return pd.DataFrame(records, columns=list(PlantedTicket._fields)).astype({"year": "int64"})

    def rows_by_source(self) -> dict[str, int]:
        totals: dict[str, int] = {}
        for f in self.files:
            totals[f.source_id] = totals.get(f.source_id, 0) + f.rows
        return totals

    def table(self) -> str:
        """A plain-text table of the files, for the command line."""
        lines = [f"{'source':<18} {'year':>4} {'rows':>9}  {'encoding':<9} file"]
        for f in self.files:
            rel = f.path.relative_to(self.landing_root)
            lines.append(f"{f.source_id:<18} {f.year:>4} {f.rows:>9,}  {f.encoding:<9} {rel}")
        lines.append(f"{'total':<18} {'':>4} {sum(f.rows for f in self.files):>9,}")
        return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# Vectorised helpers.
# ---------------------------------------------------------------------------------------------
def _rng(seed: int, stream: str) -> np.random.Generator:
    """An independent generator per stream, so one source's data does not shift another's."""
    return np.random.default_rng([seed, zlib.crc32(stream.encode("utf-8"))])


def _count(rng: np.random.Generator, expected: float) -> int:
    """Stochastic rounding: an integer whose mean is exactly `expected`."""
    base = math.floor(expected)
    return base + int(rng.random() < expected - base)


def _choose(
    rng: np.random.Generator, candidates: np.ndarray, n_rows: int, rate: float
) -> np.ndarray:
    """A boolean mask of about rate × n_rows rows, drawn among the candidate rows (a mask)."""
    idx = np.flatnonzero(candidates)
    k = min(len(idx), _count(rng, rate * n_rows))
    mask = np.zeros(len(candidates), dtype=bool)
    if k:
        mask[rng.choice(idx, size=k, replace=False)] = True
    return mask


def _pick(vocab: Sequence[str], idx: np.ndarray) -> pa.Array:
    """vocab[idx] as an Arrow string array; negative indices become nulls (a validity bitmap
    packed by numpy: much faster than pa.array's mask)."""
    values = np.ascontiguousarray(idx, dtype=np.int64)
    missing = values < 0
    validity = pa.py_buffer(np.packbits(~missing, bitorder="little")) if missing.any() else None
    indices = pa.Array.from_buffers(pa.int64(), len(values), [validity, pa.py_buffer(values)])
    return pa.array(list(vocab), pa.string()).take(indices)


def _cat(*parts: pa.Array | str) -> pa.Array:
    """Element-wise concatenation of string arrays and scalars."""
    return pc.binary_join_element_wise(*parts, "")


def _digits(values: np.ndarray, width: int) -> pa.Array:
    return pc.utf8_lpad(pc.cast(pa.array(values.astype(np.int64)), pa.string()), width, "0")


def _null_where(mask: np.ndarray, arr: pa.Array) -> pa.Array:
    return pc.if_else(pa.array(mask), pa.scalar(None, pa.string()), arr)


def _replace_where(mask: np.ndarray, new: pa.Array | str, arr: pa.Array) -> pa.Array:
    return pc.if_else(pa.array(mask), new, arr)


def _edit_where(
    mask: np.ndarray, arr: pa.Array, edit: Callable[[np.ndarray, pa.Array], pa.Array]
) -> pa.Array:
    """arr with the masked rows replaced by edit(their indices, their values); the edit runs on
    those rows only, which matters when they are a fraction of a percent of millions."""
    idx = np.flatnonzero(mask)
    if not len(idx):
        return arr
    new = edit(idx, arr.take(pa.array(idx))).cast(arr.type)
    source = np.arange(len(arr))
    source[idx] = len(arr) + np.arange(len(idx))
    return pa.concat_arrays([arr, new]).take(pa.array(source))


def _mix64(x: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser: a fixed pseudo-random function of an integer (wraps by design)."""
    z = x.astype(np.uint64) + np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def _format_ts(ts: np.ndarray, style: str) -> pa.Array:
    """datetime64 (NaT → null) rendered in a layout's style: a strftime format of %Y %m %d %H %M
    %S fields and literal text, each field zero-padded unless written %-m, %-d, %-H ..."""
    secs = ts.astype("datetime64[s]")
    nat = np.isnat(secs)
    secs = np.where(nat, np.datetime64("2000-01-01", "s"), secs)
    day = secs.astype("datetime64[D]")
    month_start = day.astype("datetime64[M]")
    of_day = (secs - day).astype(np.int64)
    fields = {
        "%Y": (day.astype("datetime64[Y]").astype(np.int64) + 1970, 4),
        "%m": (month_start.astype(np.int64) % 12 + 1, 2),
        "%d": ((day - month_start.astype("datetime64[D]")).astype(np.int64) + 1, 2),
        "%H": (of_day // 3600, 2),
        "%M": (of_day // 60 % 60, 2),
        "%S": (of_day % 60, 2),
    }
    tokens = [t for t in re.split(r"(%-?[YmdHMS])", style) if t]
    if any(t.startswith("%-") for t in tokens):  # variable width: concatenated by Arrow

        def part(token: str) -> pa.Array | str:
            if token.replace("-", "") not in fields:
                return token
            value, width = fields[token.replace("-", "")]
            digits = pc.cast(pa.array(value), pa.string())
            return digits if "-" in token else pc.utf8_lpad(digits, width, "0")

        return _null_where(nat, _cat(*(part(t) for t in tokens)))
    # Fixed width: build the UTF-8 bytes of every value as one uint8 matrix, two digits at a
    # time from a table, and hand its memory to Arrow as the data of a string array.
    widths = [fields[t][1] if t in fields else len(t.encode("utf-8")) for t in tokens]
    matrix = np.empty((len(secs), sum(widths)), dtype=np.uint8)
    column = 0
    for token, width in zip(tokens, widths, strict=True):
        if token in fields:
            value = fields[token][0]
            for pair in range(width // 2 - 1, -1, -1):  # 2 digits, or 4 as two pairs
                matrix[:, column : column + 2] = _DIGIT_PAIRS[value // 100**pair % 100]
                column += 2
        else:
            matrix[:, column : column + width] = np.frombuffer(token.encode("utf-8"), np.uint8)
            column += width
    offsets = np.arange(0, matrix.size + 1, matrix.shape[1], dtype=np.int32)
    text = pa.Array.from_buffers(
        pa.string(), len(secs), [None, pa.py_buffer(offsets), pa.py_buffer(matrix)]
    )
    return _null_where(nat, text)


_DIGIT_PAIRS: Final = np.asarray([[48 + i // 10, 48 + i % 10] for i in range(100)], np.uint8)


def _rows_containing(text: pa.Array, chars: str) -> np.ndarray:
    """Mask of the values of a string array (without nulls) that contain any of the ASCII
    characters: a scan of its UTF-8 bytes (an ASCII byte is never part of another character)."""
    _, offsets_buffer, data_buffer = text.buffers()
    mask = np.zeros(len(text), dtype=bool)
    if data_buffer is None or not len(text):
        return mask
    offsets = np.frombuffer(offsets_buffer, np.int32, len(text) + 1, text.offset * 4)
    data = np.frombuffer(data_buffer, np.uint8, offsets[-1] - offsets[0], offsets[0])
    hit = np.zeros(len(data), dtype=bool)
    for char in chars.encode("ascii"):
        hit |= data == char
    mask[np.searchsorted(offsets, np.flatnonzero(hit) + offsets[0], side="right") - 1] = True
    return mask


def _quote(_: np.ndarray, values: pa.Array) -> pa.Array:
    return _cat('"', pc.replace_substring(values, '"', '""'), '"')


def _csv_lines(columns: Sequence[pa.Array], line_terminator: str) -> pa.Buffer:
    """RFC 4180 lines, quoting only fields that need it (as Python's csv.QUOTE_MINIMAL), each
    but the last followed by the line terminator."""
    fields = []
    for col in columns:
        text = pc.fill_null(col, "")
        needs = _rows_containing(text, '",\r\n')
        fields.append(_edit_where(needs, text, _quote))
    return _joined(pc.binary_join_element_wise(*fields, ","), line_terminator)


def _fullwidth(arr: pa.Array) -> pa.Array:
    for d in range(10):
        arr = pc.replace_substring(arr, str(d), chr(0xFF10 + d))
    return arr


def _seconds(values: np.ndarray) -> np.ndarray:
    return np.round(values).astype(np.int64).astype("timedelta64[s]")


# ---------------------------------------------------------------------------------------------
# Work orders.
# ---------------------------------------------------------------------------------------------
def _allocate(total: int, weights: np.ndarray) -> np.ndarray:
    """Integers proportional to weights that sum exactly to total (largest remainder)."""
    exact = total * weights / weights.sum()
    counts = np.floor(exact).astype(np.int64)
    short = total - int(counts.sum())
    order = np.argsort(-(exact - counts).ravel(), kind="stable")[:short]
    counts.ravel()[order] += 1
    return counts


def _received_times(rng: np.random.Generator, year: int, n: int) -> np.ndarray:
    start = np.datetime64(f"{year}-01-01", "D")
    days = np.arange(start, np.datetime64(f"{year + 1}-01-01", "D"))
    month = days.astype("datetime64[M]").astype(np.int64) % 12
    weekday = (days.astype(np.int64) + 3) % 7  # 1970-01-01 was a Thursday
    w = np.asarray(MONTH_PROFILE)[month] * np.asarray(WEEKDAY_PROFILE)[weekday]
    day = rng.choice(len(days), size=n, p=w / w.sum())
    hour_p = np.asarray(HOUR_PROFILE) / sum(HOUR_PROFILE)
    secs = day * 86_400 + rng.choice(24, size=n, p=hour_p) * 3_600 + rng.integers(0, 3_600, n)
    return np.sort(start.astype("datetime64[s]") + secs.astype("timedelta64[s]"))


def _repeat_pool_size(n: int) -> int:
    """Callers in the uniform pool so that about REPEAT_CALLER_SHARE of tickets are repeats."""
    target = (REPEAT_CALLER_SHARE - FREQUENT_CALLER_SHARE) / (1 - FREQUENT_CALLER_SHARE)
    lo, hi = 1e-6, 20.0  # x = draws / pool; repeat share = 1 - (1 - e^-x) / x, increasing in x
    for _ in range(60):
        x = (lo + hi) / 2
        lo, hi = (x, hi) if 1 - (1 - math.exp(-x)) / x < target else (lo, x)
    return max(1, round(n * (1 - FREQUENT_CALLER_SHARE) / x))


def _callers(rng: np.random.Generator, n: int) -> np.ndarray:
    """A caller index per ticket: a few very frequent callers, the rest from a uniform pool."""
    pool = _repeat_pool_size(n)
    idx = FREQUENT_CALLERS + rng.integers(0, pool, n)
    frequent = rng.random(n) < FREQUENT_CALLER_SHARE
    idx[frequent] = rng.integers(0, FREQUENT_CALLERS, int(frequent.sum()))
    return idx


def _phones(caller: np.ndarray, salt: int) -> pa.Array:
    """A distinct 11-digit mobile number per caller index (a bijection modulo the number space)."""
    space = len(_MOBILE_PREFIXES) * 10**8
    value = (caller.astype(np.int64) * 2_654_435_761 + salt) % space
    return _cat(_pick(_MOBILE_PREFIXES, value // 10**8), _digits(value % 10**8, 8))


def _names(caller: np.ndarray, salt: int, extra_chars: str) -> pa.Array:
    """A Chinese name per caller index, the same one every time the caller phones."""
    h = _mix64(caller.astype(np.uint64) + np.uint64(salt))
    given = _GIVEN_CHARS + extra_chars
    surname = _pick(_SURNAMES, ((h >> np.uint64(8)) % np.uint64(len(_SURNAMES))).astype(np.int64))
    g1 = _pick(given, ((h >> np.uint64(20)) % np.uint64(len(given))).astype(np.int64))
    g2 = ((h >> np.uint64(32)) % np.uint64(len(given) + 12)).astype(np.int64)
    g2[g2 >= len(given)] = -1  # a one-character given name
    second = pc.fill_null(_pick(given, g2), "")
    honorific = _pick(("先生", "女士"), ((h >> np.uint64(44)) % np.uint64(2)).astype(np.int64))
    full = _cat(surname, g1, second)
    return _replace_where(
        ((h >> np.uint64(50)) % np.uint64(100)) < 45, _cat(surname, honorific), full
    )


def _id_cards(rng: np.random.Generator, city_code: str, n: int) -> pa.Array:
    """Valid-looking 18-digit resident ID numbers (correct check digit)."""
    region = int(city_code[:4]) * 100 + rng.integers(1, 13, n)
    birth = np.datetime64("1950-01-01", "D") + rng.integers(0, 18_250, n).astype("timedelta64[D]")
    month_start = birth.astype("datetime64[M]")
    year = birth.astype("datetime64[Y]").astype(np.int64) + 1970
    month = month_start.astype(np.int64) % 12 + 1
    day = (birth - month_start.astype("datetime64[D]")).astype(np.int64) + 1
    birth_num = year * 10_000 + month * 100 + day
    body = region * 10**11 + birth_num * 1_000 + rng.integers(0, 1_000, n)
    digits = (body[:, None] // 10 ** np.arange(16, -1, -1)) % 10
    check = (digits * np.asarray(_ID_CARD_WEIGHTS)).sum(axis=1) % 11
    return _cat(_digits(body, 17), _pick("10X98765432", check))


def _ticket_ids(layout: Layout, year: int, received: np.ndarray) -> pa.Array:
    prefix, daily, width = layout.city.ticket_id
    prefix = prefix.format(year=year)
    n = len(received)
    if not daily:
        return _cat(prefix, _digits(np.arange(1, n + 1), width))
    day = received.astype("datetime64[D]")  # sorted, so each day is one run
    seq = np.arange(n) - np.searchsorted(day, day, side="left") + 1
    return _cat(prefix, _format_ts(day, "%Y%m%d"), _digits(seq, width))


def _leaves_for(rng: np.random.Generator, rtype: np.ndarray) -> np.ndarray:
    """A taxonomy leaf per ticket: questions mostly for consultations, problems otherwise."""
    weight = np.asarray([leaf[3] for leaf in _LEAVES])
    question = np.asarray([leaf[4] for leaf in _LEAVES])
    leaf = np.empty(len(rtype), dtype=np.int64)
    for t in range(len(REQUEST_TYPES)):  # seven types, not tickets
        rows = np.flatnonzero(rtype == t)
        share = 0.8 if REQUEST_TYPES[t] == "consult" else 0.1
        w = weight * np.where(question, share, 1 - share)
        leaf[rows] = rng.choice(len(_LEAVES), size=len(rows), p=w / w.sum())
    return leaf


# ---------------------------------------------------------------------------------------------
# Texts and hot issues. The words of a ticket are indices into a few vocabularies, chosen per
# ticket with numpy and turned into text by Arrow; only leaves, groups and phrasings are looped.
# ---------------------------------------------------------------------------------------------
def _flat(parts: Sequence[Sequence[str]]) -> tuple[list[str], np.ndarray, np.ndarray]:
    """The words of several vocabularies in one list, with the start and the size of each."""
    sizes = np.asarray([len(part) for part in parts], np.int64)
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
    return [w for part in parts for w in part], starts, sizes


def _extra_runs() -> tuple[list[str], np.ndarray, np.ndarray]:
    """Every run of EXTRA_SENTENCES sentences of _EXTRA_SENTENCES (context sentences in some
    order, then maybe a closing wish), grouped by kind (after a problem, after a question), then
    by the number of sentences."""
    low, high = EXTRA_SENTENCES
    groups: list[list[str]] = []
    for contexts, closings in _EXTRA_SENTENCES:
        runs: list[list[str]] = [[] for _ in range(high - low + 1)]
        for k in range(high + 1):
            for context in itertools.permutations(contexts, k):
                for closing in ((), *((c,) for c in closings)):
                    if low <= k + len(closing) <= high:
                        runs[k + len(closing) - low].append("".join(context + closing))
        groups += runs
    return _flat(groups)


_LEAF_INDEX: Final = {leaf[2]: i for i, leaf in enumerate(_LEAVES)}
_QUESTION: Final = np.asarray([leaf[4] for leaf in _LEAVES], np.int64)
_TOPIC_WORDS, _TOPIC_START, _TOPIC_COUNT = _flat([_TOPICS[leaf[2]][0] for leaf in _LEAVES])
_PROBLEM_WORDS, _PROBLEM_START, _PROBLEM_COUNT = _flat(
    [[w.removeprefix("*") for w in _TOPICS[leaf[2]][1]] for leaf in _LEAVES])
_PROBLEM_PLACED: Final = np.asarray(
    [not w.startswith("*") for leaf in _LEAVES for w in _TOPICS[leaf[2]][1]])
_SHORT_WORDS, _SHORT_START, _SHORT_COUNT = _flat([_TOPICS[leaf[2]][2] for leaf in _LEAVES])
_EXTRA_WORDS, _EXTRA_START, _EXTRA_COUNT = _extra_runs()


def _label_noise_cdf() -> np.ndarray:
    """Per leaf (a row), the cumulative probabilities of the leaves whose category a
    misclassified ticket of it carries: a confusable leaf (CONFUSABLE_LABEL_SHARE, where it has
    any) or any leaf of another top-level class; never its own."""
    tops = np.asarray([leaf[0] for leaf in _LEAVES])
    p = np.zeros((len(_LEAVES), len(_LEAVES)))
    for i, (top, _, name, *_) in enumerate(_LEAVES):
        other = (tops != top) / (tops != top).sum()
        confusable = [_LEAF_INDEX[c] for c in _CONFUSABLE.get(name, ())]
        share = CONFUSABLE_LABEL_SHARE if confusable else 0.0
        p[i] = (1 - share) * other
        p[i, confusable] += share / max(1, len(confusable))
    cdf = np.cumsum(p, axis=1)
    return cdf / cdf[:, -1:]


_LABEL_NOISE_CDF: Final = _label_noise_cdf()


@dataclass(frozen=True)
class _HotIssue:
    """A hot issue planted in a city-year: its tickets (row indices) and what they say."""

    number: int  # 1, 2 … in the city-year
    rows: np.ndarray
    district: str
    leaf: int
    place: str
    anchor: str  # the road or estate the place is on
    phrasings: tuple[str, ...]  # the place named in full or abbreviated
    shorts: tuple[str, ...]
    topics: tuple[str, ...]  # of their titles


def _plant_hot_issues(
    rng: np.random.Generator,
    year: int,
    received: np.ndarray,
    rtype: np.ndarray,
    leaf: np.ndarray,
    district: np.ndarray,
    districts: Sequence[str],
) -> list[_HotIssue]:
    """HOT_ISSUE_GROUPS hot issues of different problems (_HOT_ISSUES), each at a place of its
    own in a district, in a window of days: it takes HOT_ISSUE_TICKETS of the window's tickets
    of HOT_ISSUE_REQUEST_TYPES (none taken twice) and sets their leaf and district (in place).
    A window holding fewer than HOT_ISSUE_MIN_TICKETS such tickets plants nothing."""
    free = np.isin(rtype, [REQUEST_TYPES.index(t) for t in HOT_ISSUE_REQUEST_TYPES])
    issues = rng.permutation(len(_HOT_ISSUES))[:HOT_ISSUE_GROUPS]
    roots = rng.permutation(len(_PLACE_ROOTS))  # a root per place, crossing roads from the end
    first_day = np.datetime64(f"{year}-01-01", "D")
    days = int((np.datetime64(f"{year + 1}-01-01", "D") - first_day).astype(np.int64))
    planted: list[_HotIssue] = []
    for g, issue in enumerate(issues):  # groups, not tickets
        name, sites, phrasings, shorts, topics = _HOT_ISSUES[issue]
        what, kinds, abbreviation = sites[rng.integers(len(sites))]
        anchor = _PLACE_ROOTS[roots[g]] + kinds[rng.integers(len(kinds))]
        crossing = _PLACE_ROOTS[roots[-1 - g]] + _ROAD[rng.integers(len(_ROAD))]
        place = anchor + what.format(x=crossing)
        short_name = abbreviation.format(a=anchor)
        length = int(rng.integers(HOT_ISSUE_WINDOW_DAYS[0], HOT_ISSUE_WINDOW_DAYS[1] + 1))
        start = (first_day + int(rng.integers(0, days - length + 1))).astype("datetime64[s]")
        size = int(rng.integers(HOT_ISSUE_TICKETS[0], HOT_ISSUE_TICKETS[1] + 1))
        where = int(rng.integers(len(districts)))
        lo, hi = np.searchsorted(received, [start, start + np.timedelta64(length, "D")])
        window = lo + np.flatnonzero(free[lo:hi])
        if len(window) < HOT_ISSUE_MIN_TICKETS:
            continue
        rows = np.sort(window[rng.permutation(len(window))[:size]])
        free[rows] = False
        leaf[rows] = _LEAF_INDEX[name]
        district[rows] = where
        planted.append(_HotIssue(
            number=len(planted) + 1, rows=rows, district=districts[where],
            leaf=_LEAF_INDEX[name], place=place, anchor=anchor,
            phrasings=tuple(p.format(p=place, s=short_name) for p in phrasings),
            shorts=tuple(p.format(p=place, s=short_name) for p in shorts), topics=topics))
    return planted


@dataclass(frozen=True)
class _Words:
    """What the tickets of a city-year say, as indices into vocabularies (-1: nothing)."""

    title_words: list[str]  # the topics, _GENERIC_TITLES, then the hot issues' topics
    topic: np.ndarray  # the ticket's topic
    title: np.ndarray  # its title's topic or a generic title (then without the type prefix)
    generic_title: np.ndarray
    body_words: list[str]  # problem sentences, short texts, then the hot issues' phrasings
    body: np.ndarray
    placed: np.ndarray  # the body follows the place (district, road or estate)
    short: np.ndarray  # the body is a short text: no opening (unless named), no ask
    extra: np.ndarray  # a run of extra sentences (_EXTRA_WORDS) after the ask
    typo: np.ndarray  # rows with a homophone typo
    typo_u: np.ndarray  # of those rows: which of the words of _TYPOS they hold is mistyped
    label: np.ndarray  # the leaf whose category the ticket carries
    unlabeled: np.ndarray  # message boards: no category
    hot: np.ndarray  # in a planted hot issue
    hot_issue: np.ndarray  # its index in the city-year's hot issues


def _variant(rng: np.random.Generator, start: np.ndarray, count: np.ndarray,
             of: np.ndarray) -> np.ndarray:
    """Per ticket, one of the count[of] words from start[of], uniformly."""
    return start[of] + (rng.random(len(of)) * count[of]).astype(np.int64)


def _wording(
    rng: np.random.Generator,
    leaf: np.ndarray,
    hot_issues: Sequence[_HotIssue],
    message_board: bool,
) -> _Words:
    """The words of each ticket, from a random stream of their own."""
    n = len(leaf)
    topic = _variant(rng, _TOPIC_START, _TOPIC_COUNT, leaf)
    body = _variant(rng, _PROBLEM_START, _PROBLEM_COUNT, leaf)
    placed = _PROBLEM_PLACED[body]
    u = rng.random(n)
    short = u < SHORT_TEXT_RATE
    long = ~short & (u < SHORT_TEXT_RATE + LONG_TEXT_RATE)
    short_body = len(_PROBLEM_WORDS) + _variant(rng, _SHORT_START, _SHORT_COUNT, leaf)
    body = np.where(short, short_body, body)
    placed &= ~short
    body_words = _PROBLEM_WORDS + _SHORT_WORDS
    title_words = _TOPIC_WORDS + list(_GENERIC_TITLES)
    hot_issue = np.full(n, -1, np.int64)
    for g, issue in enumerate(hot_issues):  # groups, not tickets
        rows, k = issue.rows, len(issue.rows)
        topic[rows] = len(title_words) + rng.integers(0, len(issue.topics), k)
        title_words = title_words + list(issue.topics)
        full = len(body_words) + rng.integers(0, len(issue.phrasings), k)
        brief = len(body_words) + len(issue.phrasings) + rng.integers(0, len(issue.shorts), k)
        body_words = body_words + list(issue.phrasings) + list(issue.shorts)
        body[rows] = np.where(short[rows], brief, full)
        placed[rows] = ~short[rows]
        hot_issue[rows] = g
    generic = short & (rng.random(n) < GENERIC_TITLE_SHARE)
    title = np.where(generic, len(_TOPIC_WORDS) + rng.integers(0, len(_GENERIC_TITLES), n), topic)
    lengths = EXTRA_SENTENCES[1] - EXTRA_SENTENCES[0] + 1
    group = _QUESTION[leaf] * lengths + rng.integers(0, lengths, n)  # kind, number of sentences
    runs = _variant(rng, _EXTRA_START, _EXTRA_COUNT, group)
    typo = _choose(rng, np.ones(n, bool), n, TYPO_RATE)
    label = leaf.copy()
    noised = np.flatnonzero(_choose(rng, np.ones(n, bool), n, LABEL_NOISE_RATE))
    cdf = _LABEL_NOISE_CDF[leaf[noised]]
    label[noised] = np.argmax(cdf > rng.random(len(noised))[:, None], axis=1)
    return _Words(
        title_words=title_words,
        topic=topic,
        title=title,
        generic_title=generic,
        body_words=body_words,
        body=body,
        placed=placed,
        short=short,
        extra=np.where(long, runs, -1),
        typo=typo,
        typo_u=rng.random(int(typo.sum())),
        label=label,
        unlabeled=(_choose(rng, np.ones(n, bool), n, UNLABELED_POST_RATE) if message_board
                   else np.zeros(n, bool)),
        hot=hot_issue >= 0,
        hot_issue=hot_issue,
    )


def _routed_by_title(rng: np.random.Generator, words: _Words, leaf: np.ndarray) -> _Words:
    """ROUTED_BY_TITLE_RATE of the tickets with a specific title and a full sentence say, in
    their content, a problem of another leaf (drawn as label noise draws one)."""
    n = len(leaf)
    rows = np.flatnonzero(_choose(rng, ~words.short & ~words.hot & ~words.generic_title, n,
                                  ROUTED_BY_TITLE_RATE))
    other = np.argmax(_LABEL_NOISE_CDF[leaf[rows]] > rng.random(len(rows))[:, None], axis=1)
    body, placed = words.body.copy(), words.placed.copy()
    body[rows] = _variant(rng, _PROBLEM_START, _PROBLEM_COUNT, other)
    placed[rows] = _PROBLEM_PLACED[body[rows]]
    return dataclasses.replace(words, body=body, placed=placed)


@functools.lru_cache(maxsize=64)
def _typo_variants(vocab: tuple[str, ...]) -> tuple[list[str], np.ndarray, np.ndarray]:
    """vocab followed by its words mistyped (for each word of _TYPOS a word holds, the word with
    its first occurrence of it mistyped), with the start and the number of each word's."""
    extended, starts, counts = list(vocab), [], []
    for word in vocab:  # words, not tickets
        variants = [word.replace(right, wrong, 1) for right, wrong in _TYPOS.items()
                    if right in word]
        starts.append(len(extended))
        counts.append(len(variants))
        extended += variants
    return extended, np.asarray(starts, np.int64), np.asarray(counts, np.int64)


def _typo_parts(
    parts: Sequence[tuple[Sequence[str], np.ndarray]], rows: np.ndarray, u: np.ndarray
) -> list[tuple[list[str], np.ndarray]]:
    """The parts of the contents (a vocabulary and each ticket's word in it, -1 for none), with
    one typo in each of `rows`: among the (part, word of _TYPOS) pairs the row's words hold, one
    at random (u, one a row). A row whose words hold none keeps them. No text is searched: the
    mistyped words are in the returned vocabularies."""
    tables = [_typo_variants(tuple(vocab)) for vocab, _ in parts]
    held = np.asarray([np.where(idx[rows] >= 0, count[np.maximum(idx[rows], 0)], 0)
                       for (_, idx), (_, _, count) in zip(parts, tables, strict=True)])
    after = np.cumsum(held, axis=0)  # parts × rows
    pick = (u * after[-1]).astype(np.int64)  # the pair, where the row holds any
    out = []
    for (_, idx), (extended, start, _), before, upto in zip(
            parts, tables, after - held, after, strict=True):
        mine = (pick >= before) & (pick < upto)
        idx = idx.copy()
        idx[rows[mine]] = start[idx[rows[mine]]] + (pick - before)[mine]
        out.append((extended, idx))
    return out


def _category_labels(layout: Layout) -> list[str]:
    labels = []
    for top, l2, l3, *_ in _LEAVES:
        parts = [layout.top_aliases.get(top, top), l2, l3][: layout.city.category_depth]
        labels.append("/".join(parts))
    return labels


def _tickets(
    layout: Layout,
    city_name: str,
    year: int,
    n: int,
    caller: np.ndarray,
    rng: np.random.Generator,
    salt: int,
    seed: int,
) -> tuple[dict[str, np.ndarray | pa.Array], list[_HotIssue]]:
    """One city-year of tickets in canonical form (codes and datetime64), dirt included, and
    the hot issues planted in it. What this task added to the texts (wording, short and long
    texts, typos, label noise, unlabelled posts, hot issues) draws from streams of its own, so
    every other value is what `rng` alone gives."""
    nat = np.datetime64("NaT", "s")
    received = _received_times(rng, year, n)
    cutoff = np.datetime64(f"{year + 1}-01-01T00:00:00", "s")
    channel = rng.choice(len(CHANNELS), size=n, p=CHANNEL_MIX)
    if layout.message_board:
        channel[:] = CHANNELS.index("web")
    rtype = rng.choice(len(REQUEST_TYPES), size=n, p=REQUEST_TYPE_MIX)
    leaf = _leaves_for(rng, rtype)
    districts = layout.city.districts or DISTRICTS[layout.city_code]
    dw = np.linspace(2.0, 0.6, len(districts))  # inner districts busier
    district = rng.choice(len(districts), size=n, p=dw / dw.sum())
    # Hot issues: their tickets' leaf and district are set before anything is derived from them.
    hot_issues = _plant_hot_issues(
        _rng(seed, f"hot_issues/{layout.source_id}/{year}"), year, received, rtype, leaf, district,
        districts)

    # Handling times.
    direct = rng.random(n) < np.asarray(DIRECT_RESOLVED_BY_TYPE)[rtype]
    if layout.message_board:
        direct[:] = False
    sla = _seconds(np.asarray(SLA_DAYS_BY_TYPE)[rtype] * 86_400.0)
    dispatch_delay = _seconds(np.clip(rng.lognormal(math.log(25 * 60), 1.0, n), 120, 48 * 3600))
    dispatched = np.where(direct, nat, received + dispatch_delay)
    response_delay = _seconds(np.clip(rng.lognormal(math.log(4 * 3600), 1.3, n), 300, 20 * 86_400))
    responded = dispatched + response_delay
    due = dispatched + sla
    span = (due - responded).astype(np.int64)
    on_time = (rng.random(n) < ON_TIME_RATE) & (span > 0)
    closed_in_time = responded + _seconds(rng.beta(1.2, 2.5, n) * np.maximum(span, 0))
    late = np.maximum(due, responded) + _seconds(rng.lognormal(math.log(36 * 3600), 1.0, n))
    closed = np.where(on_time, closed_in_time, late)
    closed = np.where(direct, received + _seconds(rng.uniform(120, 900, n)), closed)
    responded = np.where(rng.random(n) < NEVER_RESPONDED_RATE, nat, responded)

    # Status at the export (midnight after the year): open, withdrawn or closed.
    is_open = closed > cutoff
    is_open |= _choose(rng, ~direct & ~is_open, n, max(0.0, OPEN_AT_YEAR_END_RATE - is_open.mean()))
    withdrawn = _choose(rng, ~is_open, n, WITHDRAWN_RATE)
    status = np.where(is_open, 0, np.where(withdrawn, 2, 1))
    # Withdrawn somewhere between the receipt and the close that did not happen.
    withdrawn_at = received + ((closed - received) * rng.uniform(0.1, 0.9, n)).astype(
        "timedelta64[s]"
    )
    withdrawn_at = np.where(withdrawn, withdrawn_at, nat)
    closed = np.where(status == 1, closed, nat)
    dispatched = np.where(dispatched > cutoff, nat, dispatched)
    responded = np.where(responded > cutoff, nat, responded)

    # Callback and satisfaction, for closed tickets only.
    is_closed = status == 1
    callback = is_closed & (rng.random(n) < CALLBACK_RATE)
    solved = rng.random(n) < np.asarray(SOLVED_BY_TYPE)[rtype]
    resolved = np.where(callback, solved.astype(np.int8), -1)
    unsolved = resolved == 0
    share = unsolved.sum() / max(1, is_closed.sum())
    base = np.clip(
        (np.asarray(SATISFACTION_MIX) - share * np.asarray(SATISFACTION_IF_UNSOLVED)) / (1 - share),
        0,
        None,
    )
    cum_base = np.cumsum(base / base.sum())
    cum_unsolved = np.cumsum(SATISFACTION_IF_UNSOLVED)
    u = rng.random(n)
    sat_base = np.minimum(np.searchsorted(cum_base, u, side="right"), 3)
    sat_unsolved = np.minimum(np.searchsorted(cum_unsolved, u, side="right"), 3)
    satisfaction = np.where(is_closed, np.where(unsolved, sat_unsolved, sat_base), -1)

    # Dirt on values: closes before the receive time.
    early = _choose(rng, is_closed, n, CLOSED_BEFORE_RECEIVED_RATE)
    closed = np.where(early, received - _seconds(rng.uniform(600, 2 * 86_400, n)), closed)

    # Text.
    root_idx = rng.integers(0, len(_PLACE_ROOTS), n)
    suffix_idx = rng.integers(0, len(_PLACE_SUFFIXES), n)
    district_name = _pick(districts, district)
    words = _wording(_rng(seed, f"texts/{layout.source_id}/{year}"), leaf, hot_issues,
                     layout.message_board)
    words = _routed_by_title(_rng(seed, f"routed/{layout.source_id}/{year}"), words, leaf)
    question = _QUESTION[leaf] == 1
    title = pc.binary_join_element_wise(
        _pick(_TITLE_PREFIX, np.where(words.generic_title, -1, rtype)),
        _pick(words.title_words, words.title), "", null_handling="skip")
    asking = "网友咨询：" if layout.message_board else "市民咨询："
    opening_idx = np.where(question, 2, (channel != 0).astype(np.int64))
    (openings, opening_idx), body, ask, extra_run = _typo_parts(
        [(("市民来电反映：", "网友留言反映：", asking), np.where(words.short, -1, opening_idx)),
         (words.body_words, words.body),
         (_ASK, np.where(words.short, -1, rtype)),  # a short text has no opening, no ask
         (_EXTRA_WORDS, words.extra)],
        np.flatnonzero(words.typo), words.typo_u)
    phones = _phones(caller, salt)
    names = _names(caller, salt, layout.city.extra_name_chars)
    named = _choose(rng, np.ones(n, bool), n, NAME_IN_CONTENT_RATE)
    said = "留言反映：" if layout.message_board else "来电反映："
    opening = _edit_where(named, _pick(openings, opening_idx),
                          lambda i, _: _cat(names.take(pa.array(i)), said))
    placed = words.placed & ~question  # questions have no place
    aside_rng = _rng(seed, f"asides/{layout.source_id}/{year}")
    aside = _choose(aside_rng, ~words.short, n, ASIDE_RATE)
    other_leaf = (leaf + aside_rng.integers(1, len(_LEAVES), n)) % len(_LEAVES)
    aside_body = np.where(aside, _variant(aside_rng, _PROBLEM_START, _PROBLEM_COUNT, other_leaf),
                          -1)
    content = pc.binary_join_element_wise(
        opening,
        _pick(districts, np.where(placed, district, -1)),
        _pick(_PLACE_ROOTS, np.where(placed & ~words.hot, root_idx, -1)),
        _pick(_PLACE_SUFFIXES, np.where(placed & ~words.hot, suffix_idx, -1)),
        _pick(*body),
        _pick(*ask),
        _pick(*extra_run),
        _cat("另外，", _pick(_PROBLEM_WORDS, aside_body), "。"),
        "",
        null_handling="skip",
    )
    with_phone = _choose(rng, np.ones(n, bool), n, PHONE_IN_CONTENT_RATE)
    content = _edit_where(
        with_phone, content, lambda i, v: _cat(v, "联系电话：", phones.take(pa.array(i)), "。")
    )
    with_id = _choose(rng, np.ones(n, bool), n, ID_CARD_IN_CONTENT_RATE)
    id_cards = _id_cards(rng, layout.city_code, int(with_id.sum()))
    content = _edit_where(with_id, content, lambda i, v: _cat(v, "本人身份证号", id_cards, "。"))
    broken = _choose(rng, np.ones(n, bool), n, LINE_BREAK_IN_CONTENT_RATE)
    content = _edit_where(broken, content, lambda i, v: _cat(v, "\n（补充）市民来电再次催办。"))

    category = _pick(_category_labels(layout), words.label)
    unmatched = _choose(rng, np.ones(n, bool), n, UNMATCHED_CATEGORY_RATE)
    odd_idx = rng.integers(0, len(UNMATCHED_CATEGORIES), n)
    depth = layout.city.category_depth
    odd_labels = ["/".join(c.split("/")[:depth]) for c in UNMATCHED_CATEGORIES]
    category = _replace_where(unmatched, _pick(odd_labels, odd_idx), category)

    suffix = _pick([_DEPARTMENTS[leaf_[0]] for leaf_ in _LEAVES], leaf)
    city_level = rng.random(n) < 0.4
    department = _cat(_replace_where(city_level, f"{city_name}市", district_name), suffix)
    no_department = np.isnat(dispatched) | _choose(rng, ~direct, n, EMPTY_DEPARTMENT_RATE)
    district_value = district_name
    no_district = _choose(rng, np.ones(n, bool), n, EMPTY_DISTRICT_RATE)
    extra: dict[str, np.ndarray | pa.Array] = {}
    wanted = {name for _, name in layout.columns}
    if "_operator" in wanted:
        extra["_operator"] = _cat("GH", _digits(rng.integers(1, 80, n), 3))
    if wanted & {"_reply", "_status_notes"}:
        topic = _pick(words.title_words, words.topic)
        extra["_reply"] = _replies(topic, department, rtype, resolved, direct)
    if layout.file_format == "open311":
        place = _cat(_pick(_PLACE_ROOTS, root_idx), _pick(_PLACE_SUFFIXES, suffix_idx))
        anchor = _pick([h.anchor for h in hot_issues], words.hot_issue)  # a hot issue's road
        place = pc.coalesce(anchor, place)
        street = _cat(place, pc.cast(pa.array(rng.integers(1, 300, n)), pa.string()), "号")
        district_value = _cat(district_name, street)
        extra |= _open311_columns(rng, words.label, rtype, unmatched, odd_idx, district,
                                  no_district)
    if layout.message_board:
        names = _nicknames(caller, salt, names)
        # Posts left without a category: blanked by _render, after the dirt of values (whose
        # draws depend on how many values are present).
        extra["_unlabeled"] = words.unlabeled

    rows: dict[str, np.ndarray | pa.Array] = {
        "ticket_id": _ticket_ids(layout, year, received),
        "received_at": received,
        "channel": channel,
        "request_type": rtype,
        "category": category,
        "district": _null_where(no_district, district_value),
        "title": _null_where(_choose(rng, np.ones(n, bool), n, EMPTY_TITLE_RATE), title),
        "content": content,
        "caller_phone": _null_where(_choose(rng, np.ones(n, bool), n, EMPTY_PHONE_RATE), phones),
        "caller_name": _null_where(_choose(rng, np.ones(n, bool), n, EMPTY_NAME_RATE), names),
        # a message board's user account (the nickname a citizen posts under)
        "caller_account": names,
        "direct_resolved": direct,
        "dispatched_at": dispatched,
        "department": _null_where(no_department, department),
        "responded_at": responded,
        "due_at": np.where(np.isnat(dispatched), nat, due),
        "closed_at": closed,
        "status": status,
        "resolved": resolved,
        "satisfaction": satisfaction,
        "_remark": _pick(_REMARKS, np.where(rng.random(n) < 0.03, rng.integers(0, 4, n), -1)),
        "_withdrawn_at": withdrawn_at,
        **extra,
    }
    return rows, hot_issues


def _nicknames(caller: np.ndarray, salt: int, names: pa.Array) -> pa.Array:
    """Message-board user names: the caller's name, a 网友 handle or an emoji nickname."""
    h = _mix64(caller.astype(np.uint64) + np.uint64(salt) * np.uint64(3))
    code = [
        _pick(_BASE36, ((h >> np.uint64(6 * k)) % np.uint64(36)).astype(np.int64))
        for k in range(6)
    ]
    handle = _cat("网友", *code)
    emoji = _pick(_NICKNAME_EMOJI, ((h >> np.uint64(40)) % np.uint64(6)).astype(np.int64))
    given = [
        _pick(_GIVEN_CHARS, ((h >> np.uint64(b)) % np.uint64(len(_GIVEN_CHARS))).astype(np.int64))
        for b in (44, 52)
    ]
    fancy = _cat(emoji, *given, emoji)
    kind = _mix64(h) % np.uint64(100)
    nick = _replace_where(kind < 30, fancy, handle)
    return _replace_where(kind < 100 * NICKNAME_SHARE, nick, names)


def _replies(
    topic: pa.Array,
    department: pa.Array,
    rtype: np.ndarray,
    resolved: np.ndarray,
    direct: np.ndarray,
) -> pa.Array:
    """The answer to a request once closed (答复意见, Open311 status_notes)."""
    answer = _replace_where(resolved == 0, _REPLY_PENDING, _pick(_REPLY_OK, rtype))
    route = _replace_where(direct, "热线已当场答复。", _cat("已转", department, "办理。"))
    return _cat("您好！关于您反映的“", topic, "”，", route, answer, "感谢您的监督！")


def _open311_columns(
    rng: np.random.Generator,
    leaf: np.ndarray,
    rtype: np.ndarray,
    unmatched: np.ndarray,
    odd_idx: np.ndarray,
    district: np.ndarray,
    no_address: np.ndarray,
) -> dict[str, pa.Array]:
    """GeoReport v2 fields that carry no canonical meaning: codes, notice, geography, media."""
    n = len(leaf)
    tops = list(_DEPARTMENTS)
    seconds: dict[str, list[str]] = {}
    thirds: dict[tuple[str, str], int] = {}
    codes = []
    for top, l2, *_ in _LEAVES:  # the taxonomy, not tickets
        l2s = seconds.setdefault(top, [])
        if l2 not in l2s:
            l2s.append(l2)
        thirds[top, l2] = thirds.get((top, l2), 0) + 1
        codes.append(f"{tops.index(top) + 1:02d}{l2s.index(l2) + 1:02d}{thirds[top, l2]:02d}")
    code = _pick(codes, leaf)
    code = _replace_where(unmatched, _pick([f"99{i + 1:04d}" for i in range(5)], odd_idx), code)
    notice = _pick([f"承诺{d}个工作日内办结" for d in SLA_DAYS_BY_TYPE], rtype)
    geo = [BAZHONG_GEO[name] for name in DISTRICTS["511900"]]
    zipcode, lat, long = (np.asarray(v) for v in zip(*geo, strict=True))

    def coordinate(centre: np.ndarray) -> pa.Array:
        value = np.round(centre[district] + rng.normal(0.0, 0.02, n), 6)
        return _null_where(no_address, pc.cast(pa.array(value), pa.string()))

    has_id = ~no_address & (rng.random(n) < ADDRESS_ID_SHARE)
    photo = rng.random(n) < MEDIA_URL_SHARE
    return {
        "_service_code": code,
        "_service_notice": notice,
        "_zipcode": _null_where(no_address, _pick(list(zipcode), district)),
        "_lat": coordinate(lat.astype(float)),
        "_long": coordinate(long.astype(float)),
        "_address_id": _null_where(~has_id, _digits(rng.integers(0, 10**9, n), 9)),
        "_media_url": _null_where(
            ~photo,
            _cat("https://12345.cnbz.gov.cn/media/", _digits(rng.integers(0, 10**12, n), 12),
                 ".jpg"),
        ),
    }


def _with_duplicates(
    rng: np.random.Generator, rows: dict[str, np.ndarray | pa.Array], n: int
) -> tuple[dict[str, np.ndarray | pa.Array], np.ndarray]:
    """Add re-exported copies at later positions; half of the copied closed tickets show an
    earlier state (still open) in their first row. Returns the rows and the take index."""
    has_id = ~np.asarray(pc.is_null(rows["ticket_id"]))
    source = np.flatnonzero(_choose(rng, has_id, n, DUPLICATE_ROW_RATE))
    key = np.concatenate([np.arange(n, dtype=np.float64), source + rng.uniform(0.5, n - source)])
    take = np.concatenate([np.arange(n), source])[np.argsort(key, kind="stable")]
    earlier = np.zeros(n, dtype=bool)
    earlier[source] = (rng.random(len(source)) < 0.5) & (rows["status"][source] == 1)
    # Rows that are the first occurrence of a ticket exported again later in a newer state.
    first = np.zeros(len(take), dtype=bool)
    _, first_pos = np.unique(take, return_index=True)
    first[first_pos] = earlier[take[first_pos]]

    out: dict[str, np.ndarray | pa.Array] = {}
    for name, col in rows.items():
        out[name] = col.take(pa.array(take)) if isinstance(col, pa.Array) else col[take]
    out["status"] = np.where(first, 0, out["status"])
    out["closed_at"] = np.where(first, np.datetime64("NaT", "s"), out["closed_at"])
    out["resolved"] = np.where(first, -1, out["resolved"])
    out["satisfaction"] = np.where(first, -1, out["satisfaction"])
    return out, take


def _render(
    layout: Layout,
    year: int,
    rows: dict[str, np.ndarray | pa.Array],
    take: np.ndarray,
    rng: np.random.Generator,
    n: int,
) -> tuple[pa.Table, np.ndarray]:
    """The export's text columns, string-level dirt included, and how each 受理时间 is written
    (one of the RECEIVED_* kinds; spreadsheet cells are typed by _write_xlsx_tickets)."""
    # Dirt masks are drawn on the n original rows so that identical duplicates stay identical.
    empty_id = _choose(rng, np.ones(n, bool), n, EMPTY_TICKET_ID_RATE)[take]
    bad_time = _choose(rng, np.ones(n, bool), n, BAD_RECEIVED_AT_RATE)[take]
    bad_text = _pick(
        [t.format(year=year) for t in BAD_TIMESTAMP_TEXTS],
        rng.integers(0, len(BAD_TIMESTAMP_TEXTS), n)[take],
    )
    kind = np.where(bad_time, RECEIVED_BAD_TEXT, RECEIVED_AS_EXPORTED)
    if layout.file_format == "xlsx":
        u = rng.random(n)[take]
        kind = np.where(u < XLSX_TEXT_TIME_SHARE, RECEIVED_TYPED_TEXT, kind)
        kind = np.where(u > 1 - XLSX_SERIAL_TIME_SHARE, RECEIVED_SERIAL, kind)
        kind = np.where(bad_time, RECEIVED_BAD_TEXT, kind)
    rows = dict(rows)
    rows["ticket_id"] = _null_where(empty_id, rows["ticket_id"])
    _derive_after_export(layout, rows)

    def among_values(name: str, rate: float) -> np.ndarray:
        present = np.zeros(n, dtype=bool)
        present[take] = ~np.asarray(pc.is_null(rows[name]))
        return _choose(rng, present, int(present.sum()), rate)[take]

    padded = {f: among_values(f, PADDED_SPACES_RATE) for f in PADDED_FIELDS}
    pad_kind = rng.integers(0, 3, n)[take]
    wide = {f: among_values(f, FULLWIDTH_DIGITS_RATE) for f in FULLWIDTH_FIELDS}

    def pad(idx: np.ndarray, values: pa.Array) -> pa.Array:
        which = pad_kind[idx]
        (b0, a0), (b1, a1), (b2, a2) = layout.padding
        out = pc.if_else(pa.array(which == 1), _cat(b1, values, a1), _cat(b2, values, a2))
        return pc.if_else(pa.array(which == 0), _cat(b0, values, a0), out)

    for f, mask in wide.items():
        rows[f] = _edit_where(mask, rows[f], lambda _, v: _fullwidth(v))
    for f, mask in padded.items():
        rows[f] = _edit_where(mask, rows[f], pad)
    if "_unlabeled" in rows:
        rows["category"] = _null_where(rows["_unlabeled"], rows["category"])

    def text(name: str) -> pa.Array:
        if name == "_row_no":
            return pc.cast(pa.array(np.arange(1, len(take) + 1)), pa.string())
        col = rows[name]
        if name == "received_at":
            out = _format_ts(col, layout.timestamp_style)
            if layout.file_format == "xlsx":  # typed by people, to the minute
                typed = _format_ts(col.astype("datetime64[m]"), XLSX_TYPED_TIME)
                out = _replace_where(kind == RECEIVED_TYPED_TEXT, typed, out)
            return _replace_where(bad_time, bad_text, out)
        if name.endswith("_at"):
            return _format_ts(col, layout.timestamp_style)
        if name in layout.words:
            return _pick(layout.words[name], _WORD_INDEX.get(name, np.asarray)(col))
        return col

    return pa.table({header: text(name) for header, name in layout.columns}), kind


# The index of each value's word, where it is not the value itself: booleans (true first), and
# the callback result (-1 without a callback).
_WORD_INDEX: Final[dict[str, Callable[[np.ndarray], np.ndarray]]] = {
    "direct_resolved": lambda col: (~col).astype(np.int64),
    "resolved": lambda col: np.where(col < 0, -1, 1 - col),
}


def _derive_after_export(layout: Layout, rows: dict[str, np.ndarray | pa.Array]) -> None:
    """Columns that depend on the state a row was exported in (duplicates may show an earlier
    one): replies, Open311's status notes and last update, a message board's reply time."""
    status = rows["status"]
    close = np.where(status == 2, rows["_withdrawn_at"], rows["closed_at"])
    if layout.message_board:
        rows["closed_at"] = close  # a withdrawal is answered, and the answer has a time
    if "_reply" in rows:
        notes = _replace_where(status == 2, _WITHDRAWN_NOTE, rows["_reply"])
        rows["_reply"] = _null_where(status == 0, notes)
        rows["_status_notes"] = _replace_where(status == 0, _OPEN_NOTE, notes)
    if layout.file_format == "open311":
        responded, dispatched = rows["responded_at"], rows["dispatched_at"]
        latest = np.where(np.isnat(responded), dispatched, responded)
        latest = np.where(np.isnat(latest), rows["received_at"], latest)
        rows["_updated_at"] = np.where(np.isnat(close), latest, close)


def _write_csv(layout: Layout, table: pa.Table, path: Path, year: int, *_: object) -> None:
    """Title rows, header, data in chunks and the totals row, in the layout's encoding."""
    n_cols = table.num_columns
    lt = layout.line_terminator
    exported = f"{year + 1}-01-01 00:00:00"
    head = ""
    for title in layout.city.title_rows:
        head += title.format(year=year, exported=exported)
        head += ("," * (n_cols - 1) if layout.city.saved_by_excel else "") + lt
    head += ",".join(table.column_names) + lt
    utf8 = layout.encoding in ("utf-8", "utf-8-sig")
    with path.open("wb") as fh:
        fh.write(head.encode(layout.encoding))
        for start in range(0, table.num_rows, CSV_CHUNK_ROWS):
            chunk = table.slice(start, CSV_CHUNK_ROWS)
            data = _csv_lines([c.combine_chunks() for c in chunk.columns], lt)
            fh.write(data if utf8 else str(data, "utf-8").encode(layout.encoding))
            fh.write(lt.encode("ascii"))
        if layout.totals is not None:
            cells = [layout.totals, f"共{table.num_rows}条"] + [""] * (n_cols - 2)
            fh.write((",".join(cells) + lt).encode(layout.encoding))


def _json_records(layout: Layout, table: pa.Table) -> pa.Array:
    """One compact JSON object per row (keys in column order, null for missing values)."""
    members = []
    for key, col in zip(table.column_names, table.columns, strict=True):
        values = col.combine_chunks()
        if key not in layout.json_literals:
            escape = _rows_containing(pc.fill_null(values, ""), '\\"\n\r\t')
            values = _cat('"', _edit_where(escape, values, _json_escape), '"')
        members.append(_cat(f'"{key}":', pc.fill_null(values, "null")))
    return _cat("{", pc.binary_join_element_wise(*members, ","), "}")


_JSON_ESCAPES: Final = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _json_escape(_: np.ndarray, values: pa.Array) -> pa.Array:
    for char in ("\\", '"', "\n", "\r", "\t"):
        values = pc.replace_substring(values, char, _JSON_ESCAPES[char])
    return values


def _joined(lines: pa.Array, separator: str) -> pa.Buffer:
    """The values joined by the separator: Arrow's buffer, written as it is (a copy into
    Python bytes and a pass to end every line cost as much again)."""
    one_list = pa.ListArray.from_arrays(pa.array([0, len(lines)], pa.int32()), lines)
    return pc.binary_join(one_list, separator)[0].as_buffer()


def _write_json(layout: Layout, table: pa.Table, path: Path, *_: object) -> None:
    """JSON Lines (one object a line) or a JSON array (Open311), UTF-8, in chunks."""
    lines = layout.file_format == "jsonl"
    with path.open("wb") as fh:
        if not lines:
            fh.write(b"[")
        for start in range(0, table.num_rows, CSV_CHUNK_ROWS):
            records = _json_records(layout, table.slice(start, CSV_CHUNK_ROWS))
            if not lines and start:
                fh.write(b",")
            fh.write(_joined(records, "\n" if lines else ","))
            if lines:
                fh.write(b"\n")
        if not lines:
            fh.write(b"]")


def _excel_serial(ts: np.ndarray) -> np.ndarray:
    """Excel's serial day number (1900 date system) of datetime64 values."""
    seconds = (ts.astype("datetime64[s]") - np.datetime64("1899-12-30T00:00:00", "s"))
    return seconds.astype(np.int64) / 86_400.0


def _write_xlsx_tickets(
    layout: Layout,
    table: pa.Table,
    path: Path,
    year: int,
    rows: dict[str, np.ndarray | pa.Array],
    received_kind: np.ndarray,
) -> None:
    """One workbook a year, one sheet per quarter of the receive time, each with the header.

    Values are prepared column by column; xlsxwriter's constant_memory mode then needs the cells
    in row order (it flushes a row as soon as the next one starts), so rows are handed over one
    at a time. Times are real datetime cells, except 受理时间 cells typed as text or holding a
    bare serial number (received_kind)."""
    quarter = (rows["received_at"].astype("datetime64[M]").astype(np.int64) % 12) // 3
    order = np.argsort(quarter, kind="stable")  # file order kept within each quarter
    bounds = np.searchsorted(quarter[order], np.arange(5))
    if np.diff(bounds).max() >= XLSX_MAX_ROWS:
        raise ValueError(f"{path.name}: a quarter has more rows than an Excel sheet holds")
    columns: list[list[object]] = []
    for (_, name), col in zip(layout.columns, table.columns, strict=True):
        if name.endswith("_at"):
            cells = rows[name].astype("datetime64[s]").astype(object)
            if name == "received_at":
                text = np.asarray(col.to_pylist(), dtype=object)
                serial = _excel_serial(rows[name]).astype(object)
                is_text = np.isin(received_kind, (RECEIVED_TYPED_TEXT, RECEIVED_BAD_TEXT))
                cells = np.where(is_text, text, cells)
                cells = np.where(received_kind == RECEIVED_SERIAL, serial, cells)
        else:
            cells = np.asarray(col.to_pylist(), dtype=object)
        columns.append(cells[order].tolist())
    workbook = xlsxwriter.Workbook(
        str(path),
        {
            "constant_memory": True,
            "default_date_format": XLSX_DATETIME_FORMAT,
            "strings_to_formulas": False,
            "strings_to_urls": False,
        },
    )
    workbook.set_properties(
        {
            "title": f"12345热线工单导出（{year}年）",
            "author": "12345热线工单系统",
            "created": datetime(year + 1, 1, 1, 0, 5, 0),
        }
    )
    header = workbook.add_format({"bold": True})
    for q, sheet_name in enumerate(QUARTER_SHEETS):
        sheet = workbook.add_worksheet(sheet_name)
        sheet.set_column(0, len(columns) - 1, 18)
        sheet.write_row(0, 0, table.column_names, header)
        lo, hi = int(bounds[q]), int(bounds[q + 1])
        for r, cells in enumerate(zip(*(c[lo:hi] for c in columns), strict=True), start=1):
            sheet.write_row(r, 0, cells)
    workbook.close()


# Writers by file format: (layout, table, path, year, rows, how each 受理时间 is written).
_WRITERS: Final[dict[str, Callable[..., None]]] = {
    "csv": _write_csv,
    "xlsx": _write_xlsx_tickets,
    "jsonl": _write_json,
    "open311": _write_json,
}


def _source_work_orders(
    landing_root: Path, seed: int, layout: Layout, city_name: str, per_year: Sequence[int]
) -> list[DemoFile]:
    """The files of one source, one a year (per_year[i] distinct tickets in YEARS[i]). Each
    source draws from its own random stream, so sources can be written in any order or in
    parallel processes with the same result."""
    rng = _rng(seed, layout.source_id)
    salt = int(rng.integers(0, 2**31))
    caller = _callers(rng, int(sum(per_year)))  # one pool over both years: repeats span years
    folder = landing_root / layout.source_id
    folder.mkdir(parents=True, exist_ok=True)
    files: list[DemoFile] = []
    start = 0
    for year, n in zip(YEARS, per_year, strict=True):
        rows, hot_issues = _tickets(
            layout, city_name, year, n, caller[start : start + n], rng, salt, seed)
        start += n
        ids = rows["ticket_id"]
        rows, take = _with_duplicates(rng, rows, n)
        table, received_kind = _render(layout, year, rows, take, rng, n)
        path = folder / layout.file_name.format(year=year)
        _WRITERS[layout.file_format](layout, table, path, year, rows, received_kind)
        planted = _planted_tickets(layout, year, hot_issues, ids, table, take)
        files.append(
            DemoFile(layout.source_id, path, year, layout.encoding, table.num_rows, planted))
    return files


def _planted_tickets(
    layout: Layout,
    year: int,
    hot_issues: Sequence[_HotIssue],
    ids: pa.Array,
    table: pa.Table,
    take: np.ndarray,
) -> tuple[PlantedTicket, ...]:
    """The ground truth of a file's hot issues: their tickets with the id as exported, but for
    those whose id the export left empty (EMPTY_TICKET_ID_RATE)."""
    header = next(h for h, name in layout.columns if name == "ticket_id")
    first_row = np.empty(len(ids), np.int64)  # of each ticket in the file
    first_row[take[::-1]] = np.arange(len(take))[::-1]
    exported = ~pc.is_null(table.column(header)).to_numpy()[first_row]
    out = []
    for issue in hot_issues:  # groups, not tickets
        group_id = f"{layout.city_code}-{year}-{issue.number}"
        leaf = "/".join(_LEAVES[issue.leaf][:3])
        rows = issue.rows[exported[issue.rows]]
        out += [PlantedTicket(layout.city_code, year, group_id, ticket_id, issue.district,
                              issue.place, leaf)
                for ticket_id in ids.take(pa.array(rows)).to_pylist()]
    return tuple(out)


def _ticket_counts(layouts_: Sequence[Layout], total: int, cities: pd.DataFrame) -> np.ndarray:
    """Distinct tickets per source (rows) and year (columns): by population and the city's
    use of its hotline (REQUESTS_PER_RESIDENT, 1 for a city not listed), 2019 larger."""
    by_code = cities.set_index("city_code")
    requests = np.asarray(
        [by_code.loc[lay.city_code, "population_2019"]
         * REQUESTS_PER_RESIDENT.get(lay.city_code, 1.0) for lay in layouts_], float
    )
    year_weight = np.asarray([1.0, GROWTH_2019])
    return _allocate(total, requests[:, None] * year_weight[None, :])


def _city_name(cities: pd.DataFrame, city_code: str) -> str:
    return str(cities.set_index("city_code").loc[city_code, "city_name"])


def _work_orders(landing_root: Path, seed: int, total: int, cities: pd.DataFrame) -> list[DemoFile]:
    counts = _ticket_counts(LAYOUTS, total, cities)
    files: list[DemoFile] = []
    for layout, per_year in zip(LAYOUTS, counts, strict=True):
        city_name = _city_name(cities, layout.city_code)
        files += _source_work_orders(landing_root, seed, layout, city_name, per_year.tolist())
    return files


# ---------------------------------------------------------------------------------------------
# Test calls.
# ---------------------------------------------------------------------------------------------
def _left_out_2018(rng: np.random.Generator, cities: pd.DataFrame) -> set[str]:
    """Hotlines not monitored in 2018: none of the seed-article ten, at most one per region."""
    candidates = cities[~cities["city_code"].isin(SEED_ARTICLE_CITIES)]
    shuffled = candidates.iloc[rng.permutation(len(candidates))]
    return set(shuffled.drop_duplicates("region")["city_code"].head(HOTLINES_LEFT_OUT_2018))


def _test_calls_year(
    rng: np.random.Generator,
    cities: pd.DataFrame,
    quality: np.ndarray,
    year: int,
    line_class_scale: float = 1.0,
) -> pd.DataFrame:
    h = len(cities)
    q = (quality - quality.mean()) / quality.std()
    calls = rng.integers(CALLS_PER_HOTLINE[0], CALLS_PER_HOTLINE[1] + 1, h)
    p = np.clip(CONNECT_MEAN[year] + CONNECT_SPREAD * q, 0.05, 0.98)
    connected_n = rng.binomial(calls, p)
    seed_city = cities["city_code"].isin(SEED_ARTICLE_CITIES).to_numpy()
    if year == SEED_ARTICLE_YEAR:
        connected_n[seed_city] = calls[seed_city]
    worst = np.argsort(np.where(seed_city, np.inf, q), kind="stable")
    n_dead = round(DEAD_HOTLINES[year] * line_class_scale)
    n_cold = round(COLD_HOTLINES[year] * line_class_scale)
    dead = worst[:n_dead]
    cold = worst[n_dead : n_dead + n_cold]
    connected_n[dead] = 0
    connected_n[cold] = np.clip(connected_n[cold], 1, np.floor(0.29 * calls[cold]).astype(int))

    hotline = np.repeat(np.arange(h), calls)
    m = len(hotline)
    order = np.lexsort((rng.random(m), hotline))  # random order of each hotline's calls
    pos_in_hotline = np.arange(m) - np.searchsorted(hotline, hotline, side="left")
    connected = np.empty(m, dtype=bool)
    connected[order] = pos_in_hotline < connected_n[hotline]

    first = np.datetime64(f"{year}-03-01", "D")
    day = first + rng.integers(0, 184, m).astype("timedelta64[D]")  # March to August
    called = day.astype("datetime64[s]") + _seconds(rng.uniform(9 * 3600, 17.5 * 3600, m))
    qc = q[hotline]
    shift = SCORE_YEAR_SHIFT[year]

    def score(mean: float, slope: float, sd: float) -> np.ndarray:
        value = np.round(np.clip(rng.normal(mean + shift + slope * qc, sd), 0, 100), 1)
        return np.where(connected, value, np.nan)

    seconds = np.round(
        np.clip(rng.lognormal(math.log(SECONDS_TO_HUMAN_MEDIAN) - 0.35 * qc, 0.6), 5, 150)
    )
    frame = pd.DataFrame(
        {
            "监测年度": year,
            "城市代码": cities["city_code"].to_numpy()[hotline],
            "热线名称": cities["city_name"].to_numpy()[hotline] + "12345",
            "拨测时间": called,
            "拨测场景": np.asarray(SCENARIOS)[rng.integers(0, len(SCENARIOS), m)],
            "是否接通": np.where(connected, "是", "否"),
            "转人工时长(秒)": np.where(connected, seconds, np.nan),
            "接待礼仪": score(SCORE_MEANS["etiquette"], 3.5, 5.0),
            "沟通规范": score(SCORE_MEANS["communication"], 2.5, 4.0),
            "问题解决": score(SCORE_MEANS["resolution"], 6.0, 11.0),
            "测评员": np.char.add(
                "E", np.char.zfill(rng.integers(1, EVALUATORS + 1, m).astype(str), 2)
            ),
        }
    )
    frame = frame.sort_values(["拨测时间", "城市代码"], kind="stable").reset_index(drop=True)
    frame.insert(
        3, "拨测编号", np.char.add(f"D3-{year}-", np.char.zfill(np.arange(1, m + 1).astype(str), 6))
    )
    return frame


def _write_xlsx(frame: pd.DataFrame, path: Path) -> None:
    workbook = xlsxwriter.Workbook(str(path))
    workbook.set_properties(
        {"title": "12345热线监测拨测明细", "author": "D3", "created": XLSX_CREATED}
    )
    sheet = workbook.add_worksheet("拨测明细")
    bold = workbook.add_format({"bold": True})
    when = workbook.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"})
    one_decimal = workbook.add_format({"num_format": "0.0"})
    sheet.write_row(0, 0, list(TEST_CALL_COLUMNS), bold)
    for j, name in enumerate(TEST_CALL_COLUMNS):
        col = frame[name]
        if name == "拨测时间":
            values = list(pd.DatetimeIndex(col).to_pydatetime())  # a few hundred calls
            sheet.write_column(1, j, values, when)
            sheet.set_column(j, j, 20)
        elif col.dtype.kind == "f":
            values = [None if math.isnan(v) else v for v in col.tolist()]
            sheet.write_column(1, j, values, one_decimal if name != "转人工时长(秒)" else None)
        else:
            sheet.write_column(1, j, col.tolist())
    workbook.close()


def _test_calls(landing_root: Path, seed: int, cities: pd.DataFrame) -> list[DemoFile]:
    rng = _rng(seed, "evaluator_d3")
    base = rng.normal(0.0, 1.0, len(cities))
    seed_city = cities["city_code"].isin(SEED_ARTICLE_CITIES).to_numpy()
    base = np.where(seed_city, np.abs(base), base)  # award winners are at least average hotlines
    seed_year = base + SEED_CITY_BOOST * seed_city + rng.normal(0.0, 0.35, len(cities))
    # In the article's year no other hotline is better, in latent quality, than its ten.
    best_other = seed_year[seed_city].min() - SEED_CITY_MARGIN
    quality = {
        2018: base + rng.normal(0.0, 0.35, len(cities)),
        SEED_ARTICLE_YEAR: np.where(seed_city, seed_year, np.minimum(seed_year, best_other)),
    }
    left_out = _left_out_2018(rng, cities)
    folder = landing_root / "evaluator_d3"
    folder.mkdir(parents=True, exist_ok=True)
    files = []
    for year in YEARS:
        present = (
            ~cities["city_code"].isin(left_out).to_numpy()
            if year == 2018
            else np.ones(len(cities), bool)
        )
        frame = _test_calls_year(
            rng,
            cities[present].reset_index(drop=True),
            quality[year][present],
            year,
            line_class_scale=len(cities) / LINE_CLASS_HOTLINES,
        )
        path = folder / f"监测拨测_{year}.xlsx"
        _write_xlsx(frame, path)
        files.append(DemoFile("evaluator_d3", path, year, "xlsx", len(frame)))
    return files


# ---------------------------------------------------------------------------------------------
# Entry point.
# ---------------------------------------------------------------------------------------------
def load_cities(cities_csv: Path | None = None) -> pd.DataFrame:
    """The city dimension seed (city_code as text)."""
    path = cities_csv or DEFAULT_CITIES_CSV
    return pd.read_csv(path, dtype={"city_code": str}, encoding="utf-8")


def generate_demo(
    landing_root: Path,
    *,
    seed: int = DEFAULT_SEED,
    total_tickets: int = DEFAULT_TOTAL_TICKETS,
    cities_csv: Path | None = None,
) -> DemoSummary:
    """Write the demo landing files of 2018 and 2019 under landing_root/<source_id>/, and
    list their sources in the demo marker of the data root above it (landing_root's parent):
    only they may be ingested with the public demo key.

    `total_tickets` distinct tickets are spread over the ten cities by population (2019 about
    10 % above 2018); re-exported duplicate rows come on top.
    """
    if total_tickets < len(LAYOUTS) * len(YEARS):
        raise ValueError(f"total_tickets must be at least {len(LAYOUTS) * len(YEARS)}")
    landing_root = Path(landing_root)
    cities = load_cities(cities_csv)
    missing = sorted({lay.city_code for lay in LAYOUTS} - set(cities["city_code"]))
    if missing:
        raise ValueError(f"{cities_csv or DEFAULT_CITIES_CSV}: no row for city code(s) {missing}")
    files = _work_orders(landing_root, seed, total_tickets, cities)
    files += _test_calls(landing_root, seed, cities)
    mark_demo_files(landing_root, files)
    write_planted_hot_issues(landing_root, files)
    return DemoSummary(landing_root, seed, total_tickets, tuple(files))


def mark_demo_files(landing_root: Path, files: Sequence[DemoFile]) -> None:
    """Name the sources of these files in the demo marker of the data root of landing_root."""
    mark_demo_sources(landing_root.parent,
                      {f.path.relative_to(landing_root).parts[0] for f in files})


def write_planted_hot_issues(landing_root: Path, files: Sequence[DemoFile]) -> Path:
    """Write the ground truth of the hot issues planted in these files to
    PLANTED_HOT_ISSUES_FILE under the data root of landing_root (UTF-8, one row a ticket;
    only the header when none was planted)."""
    path = landing_root.parent / PLANTED_HOT_ISSUES_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    records = [r for f in files for r in f.planted_hot_issues]
    frame = pd.DataFrame(records, columns=list(PlantedTicket._fields))
    frame.to_csv(path, index=False, encoding="utf-8", lineterminator="\n")
    return path
