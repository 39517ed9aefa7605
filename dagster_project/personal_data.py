"""Personal data written the way people write it: one detector for ingestion's masking, the
personal-data quality suite and the tests.

What it finds, in free text:
- mainland mobile numbers: 11 digits from 13x to 19x, with any of `-`, space, `.` between
  digits and a `+86`, `0086` or `86` prefix (`137-1234-0002`, `+86 137 1234 0003`);
- landlines with their area code, in brackets or not, with an extension
  (`0898-66123456`, `(0898)66123457`, `010 6512 3456转123`), judged by `phonenumbers`
  (Google's libphonenumber metadata for region CN);
- resident ID numbers: 18 digits (the last may be X) with a plausible region and birth date, or
  a valid ISO 7064 check digit, and 15-digit ones of the first generation, with or without
  spaces or hyphens between the groups;
- bank card numbers: 16 to 19 digits of a card scheme's range that pass the Luhn check;
- e-mail addresses;
- personal names where the writing says a name is there (a detector cannot know every name):
  a common surname, with up to two given-name characters, before a form of address
  (王先生, 李建国女士, 张师傅); up to four characters after words that introduce a name
  (我叫, 我姓, 名叫, 姓名：, 联系人：, 来电人：); a common surname and one or two characters
  opening a clause (or after 市民, 网友, 业主 …) before the words that say who called or wrote
  (王建国来电反映, 市民李娜留言称).
  Each is masked as 某某; a name written without such words is not found.

Full-width digits and signs count as their ASCII forms. The work is split so that no row pays
for Python unless it may hold something: `CANDIDATE_PATTERN` (RE2 and Python `re` alike) marks
text that may (`SCREEN_PATTERN`, looser and cheaper, first where every row is scanned), and
only such text goes to `find_personal_data`; among it, a value written like
an id (`BJ201800090899`, `SH-2019-0067608`) needs the detector only if its digits could be a
number (`RISKY_ID_PATTERN`). In SQL, `masked_sql` masks the plain forms with regular
expressions and hands what still looks like a candidate to the detector, registered on a
connection by `register`.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import duckdb
import phonenumbers
import pyarrow as pa

from dagster_project.sql import sql_literal

# Personal names, as regular expressions that RE2 (DuckDB) and Python read alike. Given-name
# characters: the CJK unified ideographs and extension A (rare characters in names).
_HAN = "[一-鿿㐀-䶿]"
# The commonest surnames (together borne by most of the population) and the compound ones.
_COMPOUND_SURNAMES = ("欧阳", "司马", "诸葛", "上官", "东方", "皇甫", "尉迟", "公孙", "慕容",
                      "令狐", "夏侯", "长孙", "宇文", "司徒", "端木", "西门", "独孤", "南宫")
_SINGLE_SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程"
    "苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付傅方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛"
    "郝龚邵万钱严覃武戴莫孔向汤常温康施文牛樊葛邢安齐易乔伍庞颜倪庄聂章鲁岳翟殷詹申欧耿关兰焦"
    "俞左柳甘祝包宁尚符舒阮柯纪梅童凌毕单季裴霍涂成苗谷盛曲翁冉骆蓝路游辛靳管柴蒙鲍华喻祁蒲房"
    "滕屈饶解牟艾尤阳时穆农卓古吉缪简车项连芦麦褚娄窦戚岑景党宫费卜冷晏席卫米柏宗瞿桂全佟应臧"
    "闵苟邬边卞姬师和仇栾隋商刁沙荣巫寇桑郎甄丛仲虞敖巩明佘池查麻苑迟邝")
_SURNAME = "(?:" + "|".join(_COMPOUND_SURNAMES) + f"|[{_SINGLE_SURNAMES}])"
# Forms of address after a name.
_ADDRESS = ("(?:先生|女士|小姐|师傅|阿姨|大爷|大妈|大姐|大哥|老师|经理|主任|医生|律师|书记|科长"
            "|处长|局长|队长|村长|同学|同志)")
# Words that introduce a name (a label only with its colon: 来电人 alone is a term).
_INTRODUCER = "(?:我叫|我姓|名叫|(?:姓名|联系人|来电人|反映人|投诉人|举报人|求助人|申请人)[:：])"
# Who called or wrote, after a name opening a clause.
_REPORTED = "(?:来电|致电|留言)(?:反映|称|咨询|投诉|求助|举报|表示|询问|[:：])"
# Where such a name starts: a clause, or after the word for who the caller is (市民王建国).
# `|` too: ingestion's gate scans a row's cells joined by it, where ^ is the first cell's start.
_CLAUSE_START = "(?:^|[|\\s，。！？；：、,.!?;:（(]|市民|居民|村民|网友|业主|群众|家长|患者)"
# The name is group 1 of each; RE2 has no look-around, so the words around it are matched.
_NAME_ADDRESSED = f"({_SURNAME}{_HAN}{{0,2}}){_ADDRESS}"
_NAME_INTRODUCED = f"{_INTRODUCER}\\s*({_HAN}{{1,4}})"
_NAME_REPORTING = f"{_CLAUSE_START}({_SURNAME}{_HAN}{{1,2}}){_REPORTED}"
_NAME_FORMS: Final = (_NAME_ADDRESSED, _NAME_INTRODUCED, _NAME_REPORTING)
NAME_PATTERN: Final = "|".join(f"(?:{form})" for form in _NAME_FORMS)
_NAMES = tuple(re.compile(form) for form in _NAME_FORMS)
# The same forms in one pattern for masking, in SQL (regexp_replace) and Python alike: one
# pass, the words around each name captured and put back (a group of the forms that did not
# match puts back nothing).
_NAME_REPLACEMENT: Final = (
    f"{_SURNAME}{_HAN}{{0,2}}({_ADDRESS})"
    f"|({_INTRODUCER})\\s*{_HAN}{{1,4}}"
    f"|({_CLAUSE_START}){_SURNAME}{_HAN}{{1,2}}({_REPORTED})",
    "\\2\\3某某\\1\\4",
)
_NAMES_MASKED = re.compile(_NAME_REPLACEMENT[0])

# Separators people put between the digits of a number, ASCII and full-width.
_SEPARATORS = " \t\\-‐‑–—－.．()（）/"
# Text that may hold a number or an address: 7 or more digits with at most two separators
# between neighbours (a landline without its area code has 7 or 8), or an @ between word
# characters. Written for both RE2 (DuckDB) and Python.
_NUMBER_OR_ADDRESS = (
    f"[0-9０-９](?:[{_SEPARATORS}]{{0,2}}[0-9０-９]){{6,}}"
    "|[A-Za-z0-9._%+\\-Ａ-Ｚａ-ｚ０-９．][@＠][A-Za-z0-9\\-Ａ-Ｚａ-ｚ０-９]"
)
# Text that may hold personal data.
CANDIDATE_PATTERN: Final = f"{_NUMBER_OR_ADDRESS}|{NAME_PATTERN}"
_CANDIDATE = re.compile(CANDIDATE_PATTERN)
# A looser and cheaper pattern that every candidate matches: the first two name forms by their
# words alone (RE2 finds a few words faster than words after any of 270 surnames). What scans
# every row (ingestion's gate, the check's first pass) uses it; among what it passes, few
# rows are candidates.
SCREEN_PATTERN: Final = f"{_NUMBER_OR_ADDRESS}|{_ADDRESS}|{_INTRODUCER}|{_NAME_REPORTING}"
# A value written like an id (ASCII letters, digits and hyphens: BJ201800090899,
# SH-2019-0067608) needs the detector only if it has one of:
# - a run of digits and hyphens (between letters or the ends) that starts with 0, 1 or 8 and
#   holds seven digits or more: `phonenumbers` reads such a run whole, from its first digit
#   (a plain hyphen does not split it), and a number it keeps starts with a trunk 0, a 00 or
#   86 prefix, or a mobile's 1;
# - a group of digits starting like a mobile number, with or without its country code (1[3-9],
#   86, 0086), where the mobile pattern may start;
# - fifteen digits joined by nothing but hyphens: the length of an ID or card number.
# Any other value goes to the detector whenever it is a candidate.
ID_ALPHABET_PATTERN: Final = "[A-Za-z0-9-]*"  # the whole value
RISKY_ID_PATTERN: Final = ("(?:^|[A-Za-z])-*[018](?:-*[0-9]){6}"
                           "|(?:^|[^0-9])(?:1[3-9]|86|0086)"
                           "|[0-9](?:-*[0-9]){14}")
_ID_ALPHABET = re.compile(ID_ALPHABET_PATTERN)
_RISKY_ID = re.compile(RISKY_ID_PATTERN)

MASKS: Final[dict[str, str]] = {
    "mobile": "[手机号]",
    "landline": "[电话]",
    "id_card": "[身份证号]",
    "bank_card": "[银行卡号]",
    "email": "[邮箱]",
    "name": "某某",
}

# The plain forms, masked in SQL at no Python cost: an ID number or a mobile number standing
# alone (a boundary character on either side is captured and put back).
_SQL_PLAIN_FORMS: Final = (
    ("(^|[^0-9])[0-9]{17}[0-9Xx]($|[^0-9Xx])", MASKS["id_card"]),
    ("(^|[^0-9])1[3-9][0-9]{9}($|[^0-9])", MASKS["mobile"]),
)
UDF_NAME: Final = "hotline_mask_personal_data"

_FULL_WIDTH: Final = str.maketrans(
    {chr(c + 0xFEE0): chr(c) for c in range(0x21, 0x7F)} | {"\u3000": " "})
_EMAIL = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}")
_MOBILE = re.compile(
    r"(?<![0-9])(?:(?:\+|00)?86[ \-.]?|\(\+?86\)[ ]?)?1[3-9][0-9](?:[ \-.]?[0-9]){8}(?![0-9])")
_LONG_NUMBER = re.compile(r"(?<![0-9])[0-9](?:[ \-]?[0-9]){13,18}(?:[ \-]?[Xx])?(?![0-9Xx])")
# How a landline's written form starts: the trunk 0 of its area code, or the country code.
_DIALLED = re.compile(r"[(（]?(?:0|\+|86)")
_EXTENSION = re.compile(r"\s*(?:转|分机|ext\.?|x|-)\s*[0-9]{1,6}(?![0-9])", re.IGNORECASE)
# First two digits of resident ID numbers: the provinces' codes.
_ID_REGIONS: Final = frozenset(
    {11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37, 41, 42, 43, 44, 45, 46, 50,
     51, 52, 53, 54, 61, 62, 63, 64, 65, 71, 81, 82})
_ID_WEIGHTS: Final = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK: Final = "10X98765432"
# Issuer ranges of the card schemes seen in China: UnionPay, Visa, Mastercard, JCB.
_CARD_PREFIX = re.compile(r"62|4|5[1-5]|2(?:22[1-9]|2[3-9][0-9]|[3-6][0-9]{2}|7[01][0-9]|720)|35")


@dataclass(frozen=True)
class Finding:
    """Personal data at text[start:end]."""

    start: int
    end: int
    kind: str


def find_personal_data(text: str) -> list[Finding]:
    """Every piece of personal data in the text, in order, without overlaps (where two
    detections overlap, the one starting first, then the longer, wins)."""
    return _search(text) if may_hold_personal_data(text) else []


def _search(text: str) -> list[Finding]:
    """`find_personal_data` without the gate that spares most text."""
    plain = text.translate(_FULL_WIDTH)  # one character for one: positions hold
    found = [Finding(m.start(), m.end(), "email") for m in _EMAIL.finditer(plain)]
    found += [Finding(m.start(1), m.end(1), "name") for names in _NAMES
              for m in names.finditer(plain)]
    for match in _LONG_NUMBER.finditer(plain):
        if kind := _long_number_kind(re.sub(r"[ \-]", "", match.group()).upper()):
            found.append(Finding(match.start(), match.end(), kind))
    found += [Finding(m.start(), _with_extension(plain, m.end()), "mobile")
              for m in _MOBILE.finditer(plain)]
    for match in phonenumbers.PhoneNumberMatcher(plain, "CN",
                                                 leniency=phonenumbers.Leniency.VALID):
        kind = ("mobile" if phonenumbers.number_type(match.number)
                == phonenumbers.PhoneNumberType.MOBILE else "landline")
        if kind == "landline" and not _DIALLED.match(match.raw_string):
            continue  # without its trunk 0 or country code, a run of digits is not dialled
        found.append(Finding(match.start, _with_extension(plain, match.end), kind))
    kept: list[Finding] = []
    for finding in sorted(found, key=lambda f: (f.start, -f.end)):
        if not kept or finding.start >= kept[-1].end:
            kept.append(finding)
    return kept


def may_hold_personal_data(text: str) -> bool:
    """False only for text in which the detector cannot find anything (`candidate_sql` in
    Python)."""
    return bool(_CANDIDATE.search(text)) and (
        not _ID_ALPHABET.fullmatch(text) or bool(_RISKY_ID.search(text)))


def mask_personal_data(text: str) -> str:
    """The text with each piece of personal data replaced by its mask (`MASKS`); names as
    `masked_sql` masks them."""
    if not may_hold_personal_data(text):
        return text
    text = _NAMES_MASKED.sub(_NAME_REPLACEMENT[1], text)
    findings = find_personal_data(text)
    for finding in reversed(findings):
        text = text[:finding.start] + MASKS[finding.kind] + text[finding.end:]
    return text


def _with_extension(text: str, end: int) -> int:
    match = _EXTENSION.match(text, end)
    return match.end() if match else end


def _long_number_kind(digits: str) -> str | None:
    if _is_id_card(digits):
        return "id_card"
    if 16 <= len(digits) <= 19 and digits.isdigit() and _CARD_PREFIX.match(digits) \
            and _luhn_valid(digits):
        return "bank_card"
    return None


def _is_id_card(digits: str) -> bool:
    if len(digits) == 18 and digits[:17].isdigit() and digits[17] in "0123456789X":
        if int(digits[:2]) in _ID_REGIONS and _plausible_birth(digits[6:14]):
            return True
        total = sum(int(d) * w for d, w in zip(digits[:17], _ID_WEIGHTS, strict=True))
        return _ID_CHECK[total % 11] == digits[17]
    if len(digits) == 15 and digits.isdigit():
        return int(digits[:2]) in _ID_REGIONS and _plausible_birth("19" + digits[6:12])
    return False


def _plausible_birth(yyyymmdd: str) -> bool:
    try:
        born = dt.date(int(yyyymmdd[:4]), int(yyyymmdd[4:6]), int(yyyymmdd[6:8]))
    except ValueError:
        return False
    return dt.date(1890, 1, 1) <= born <= dt.date.today()


def _luhn_valid(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char) * (2 if position % 2 else 1)
        total += value - 9 if value > 9 else value
    return total % 10 == 0


def masked_sql(expression: str) -> str:
    """A DuckDB expression: the text of `expression` with personal data masked. Names and the
    plain forms of numbers are masked by regular expressions; text in which a number or an
    address may remain goes to the detector (`register` must have run on the connection)."""
    masked = expression
    plain_forms = [(pattern, "\\1" + mask + "\\2")  # the boundary characters put back
                   for pattern, mask in _SQL_PLAIN_FORMS]
    for pattern, replacement in [_NAME_REPLACEMENT, *plain_forms]:
        masked = (f"regexp_replace({masked}, {sql_literal(pattern)}, "
                  f"{sql_literal(replacement)}, 'g')")
    # Names are all masked by then: only numbers and addresses are looked for again.
    return (f"CASE WHEN {candidate_sql(masked, _NUMBER_OR_ADDRESS)} THEN {UDF_NAME}({masked}) "
            f"ELSE {masked} END")


def candidate_sql(expression: str, pattern: str = CANDIDATE_PATTERN) -> str:
    """A DuckDB condition: the text may hold personal data (only such text needs the
    detector); `pattern`, a part of CANDIDATE_PATTERN, looks for some kinds only."""
    screen = (f"regexp_matches({expression}, {sql_literal(SCREEN_PATTERN)}) AND "
              if pattern == CANDIDATE_PATTERN else "")
    return (f"({screen}regexp_matches({expression}, {sql_literal(pattern)}) AND ("
            f"NOT regexp_full_match({expression}, {sql_literal(ID_ALPHABET_PATTERN)}) "
            f"OR regexp_matches({expression}, {sql_literal(RISKY_ID_PATTERN)})))")


def _mask_batch(texts: pa.Array) -> pa.Array:
    return pa.array([None if t is None else mask_personal_data(t) for t in texts.to_pylist()],
                    pa.string())


def register(con: duckdb.DuckDBPyConnection) -> None:
    """Make the detector callable from SQL on this connection, as `UDF_NAME`."""
    con.create_function(UDF_NAME, _mask_batch, [duckdb.sqltype("VARCHAR")],
                        duckdb.sqltype("VARCHAR"), type="arrow", side_effects=False)


def findings_in(values: Iterable[str | None]) -> list[tuple[str, list[Finding]]]:
    """The values holding personal data, each with what was found in it."""
    return [(v, f) for v in values if v is not None and (f := find_personal_data(v))]


@functools.cache
def detector_identity() -> str:
    """What the detector is: this module's code and the phone-number metadata's version. A
    check's verdicts kept from a run of another detector do not hold (quality/filecache)."""
    return hashlib.sha256(Path(__file__).read_bytes()
                          + phonenumbers.__version__.encode()).hexdigest()
