"""The demo landing generator: determinism, layouts that the source configs describe, dirt rates.

Everything is measured from the written files (decoded with the declared encodings, read with the
declared options), not from the generator's own bookkeeping.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from datetime import datetime
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest

from dagster_project.demo import generate_demo
from dagster_project.demo import generator as gen
from dagster_project.sources import SourceConfig, load_source_configs

REPO = Path(__file__).resolve().parents[1]
CONFIG_DIR = REPO / "dagster_project" / "config" / "sources"
CITIES = pd.read_csv(REPO / "dbt" / "seeds" / "cities.csv", dtype={"city_code": str})
TOTAL = 3000
TICKET_SOURCES = {
    "beijing_12345": "110000",
    "shanghai_12345": "310000",
    "haikou_12345": "460100",
    "guangzhou_12345": "440100",
    "taizhou_12345": "331000",
    "yibin_12345": "511500",
}
SEED_ARTICLE_TEN = {
    "110000", "310000", "440100", "460100", "331000",
    "320700", "511500", "371500", "610600", "511900",
}  # fmt: skip
NATIONAL = {
    "城乡建设", "党务政务", "国土资源", "环境保护", "纪检监察", "交通运输", "经济管理",
    "科技与信息产业", "民政", "农村农业", "商贸旅游", "卫生计生", "政法", "教育文体",
    "劳动和社会保障",
}  # fmt: skip
# Each city's own wording of some national top-level classes (docs/demo-data.md).
CITY_TOP_LEVELS = {
    "住房城乡建设", "人力资源和社会保障", "卫生健康", "城乡建设管理", "生态环境", "公共安全",
    "旅游文化", "人社", "自然资源和规划", "农业农村", "市场监管", "交通出行", "教育", "通信",
    "民政事务",
}  # fmt: skip
MOBILE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")
ID_CARD = re.compile(r"(?<!\d)\d{17}[\dX](?!\d)")
FULLWIDTH_DIGIT = re.compile(r"[０-９]")


def sha256_tree(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def configs() -> dict[str, SourceConfig]:
    return {c.source_id: c for c in load_source_configs(CONFIG_DIR)}


@pytest.fixture(scope="module")
def landing(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("landing")
    generate_demo(root, seed=2019, total_tickets=TOTAL)
    return root


def read_tickets(config: SourceConfig, path: Path) -> pd.DataFrame:
    """A work-order file as text, read with the options its configuration declares."""
    frame = pd.read_csv(
        path,
        encoding=config.encoding,
        skiprows=config.skip_rows,
        dtype=str,
        keep_default_na=False,
    )
    if config.footer_prefix:
        frame = frame[~frame.iloc[:, 0].str.startswith(config.footer_prefix)]
    return frame.reset_index(drop=True)


@pytest.fixture(scope="module")
def tickets(landing: Path, configs: dict[str, SourceConfig]) -> dict[str, pd.DataFrame]:
    """Per source, all rows of both years with canonical column names."""
    out = {}
    for source_id in TICKET_SOURCES:
        config = configs[source_id]
        frames = []
        for path in config.landing_files(landing):
            frame = read_tickets(config, path)
            frame = frame.rename(columns=config.column_map)
            frame["year"] = int(re.search(r"(20\d\d)", path.name).group(1))
            frames.append(frame)
        out[source_id] = pd.concat(frames, ignore_index=True)
    return out


def parse_ts(values: pd.Series, config: SourceConfig) -> pd.Series:
    """Parse with the declared formats; unparseable → NaT."""
    result = pd.Series(pd.NaT, index=values.index, dtype="datetime64[s]")
    for fmt in config.timestamp_formats:
        todo = result.isna() & (values != "")
        result[todo] = pd.to_datetime(values[todo], format=fmt, errors="coerce")
    return result


def norm(values: pd.Series) -> pd.Series:
    return values.map(lambda v: unicodedata.normalize("NFKC", v).strip())


# --- determinism and files ------------------------------------------------------------------


def test_same_seed_gives_identical_files(tmp_path: Path) -> None:
    first = generate_demo(tmp_path / "a", seed=7, total_tickets=TOTAL)
    generate_demo(tmp_path / "b", seed=7, total_tickets=TOTAL)
    generate_demo(tmp_path / "c", seed=8, total_tickets=TOTAL)
    a, b, c = (sha256_tree(tmp_path / x) for x in "abc")
    assert len(a) == len(first.files) == 14
    assert a == b
    assert a.keys() == c.keys() and a != c


def test_files_per_source_and_row_counts(landing: Path, configs: dict[str, SourceConfig]) -> None:
    assert {p.name for p in landing.iterdir()} == set(TICKET_SOURCES) | {"evaluator_d3"}
    rows = 0
    for source_id in TICKET_SOURCES:
        files = configs[source_id].landing_files(landing)
        assert len(files) == 2, source_id
        counts = [len(read_tickets(configs[source_id], p)) for p in files]
        assert counts[1] > counts[0]  # 2019 above 2018
        rows += sum(counts)
    # Distinct tickets plus about 0.5 % re-exported duplicates.
    assert TOTAL <= rows <= TOTAL * (1 + 2 * gen.DUPLICATE_ROW_RATE) + 12
    names = sorted(p.name for p in (landing / "evaluator_d3").iterdir())
    assert names == ["监测拨测_2018.xlsx", "监测拨测_2019.xlsx"]


def test_volumes_follow_population(tickets: dict[str, pd.DataFrame]) -> None:
    pop = CITIES.set_index("city_code")["population_2019"]
    weights = pd.Series({s: pop[c] for s, c in TICKET_SOURCES.items()})
    expected = weights / weights.sum()
    observed = pd.Series({s: len(f) for s, f in tickets.items()})
    observed = observed / observed.sum()
    assert (observed - expected).abs().max() < 0.01


def test_encodings(landing: Path, configs: dict[str, SourceConfig]) -> None:
    for source_id in TICKET_SOURCES:
        config = configs[source_id]
        for path in config.landing_files(landing):
            raw = path.read_bytes()
            raw.decode(config.encoding)
            if config.encoding in ("gbk", "gb18030"):
                with pytest.raises(UnicodeDecodeError):
                    raw.decode("utf-8")
            assert raw.startswith(b"\xef\xbb\xbf") == (config.encoding == "utf-8-sig")
    # Guangzhou really needs GB18030: some names use characters outside GBK.
    gz = configs["guangzhou_12345"].landing_files(landing)
    assert any(_fails(p.read_bytes(), "gbk") for p in gz)


def _fails(raw: bytes, encoding: str) -> bool:
    try:
        raw.decode(encoding)
    except UnicodeDecodeError:
        return True
    return False


def test_title_and_totals_rows(landing: Path, configs: dict[str, SourceConfig]) -> None:
    haikou = configs["haikou_12345"].landing_files(landing)[1]
    lines = haikou.read_bytes().decode("gbk").split("\r\n")
    assert lines[0].startswith("海口市12345热线工单明细") and lines[1].startswith("导出时间：")
    assert lines[-1] == "" and lines[-2].startswith("合计,")
    n_rows = len(read_tickets(configs["haikou_12345"], haikou))
    assert f"共{n_rows}条" in lines[-2]
    guangzhou = configs["guangzhou_12345"].landing_files(landing)[0]
    first = guangzhou.read_bytes().decode("gb18030").split("\n")[:2]
    assert first[0].startswith("广州市12345") and first[1].startswith("工单号,")


# --- the configs describe the files ---------------------------------------------------------


def test_configs_load_and_headers_map(landing: Path, configs: dict[str, SourceConfig]) -> None:
    assert set(configs) >= set(TICKET_SOURCES) | {"evaluator_d3"}  # others may be added
    for source_id, city_code in TICKET_SOURCES.items():
        config = configs[source_id]
        assert config.city_code == city_code and config.format == "csv"
        for path in config.landing_files(landing):
            headers = list(read_tickets(config, path).columns)
            unmapped = [h for h in headers if h not in config.column_map]
            assert set(unmapped) <= config.ignored_columns, (path.name, unmapped)
            assert {"ticket_id", "received_at"} <= {config.column_map.get(h) for h in headers}
    yibin = read_tickets(configs["yibin_12345"], configs["yibin_12345"].landing_files(landing)[0])
    assert "来电人" not in yibin.columns and "办理时限" not in yibin.columns
    d3 = configs["evaluator_d3"]
    for path in d3.landing_files(landing):
        sheet = openpyxl.load_workbook(path, read_only=True).active
        headers = [c.value for c in next(sheet.iter_rows(max_row=1))]
        assert [h for h in headers if h not in d3.column_map] == ["热线名称"]


def test_values_are_mapped(
    tickets: dict[str, pd.DataFrame], configs: dict[str, SourceConfig]
) -> None:
    for source_id, frame in tickets.items():
        config = configs[source_id]
        for field, mapping in config.value_map.items():
            seen = set(frame[field]) - {""}
            assert seen and seen <= set(mapping), (source_id, field, seen - set(mapping))
        words = set(config.true_values) | set(config.false_values)
        for field in ("direct_resolved", "resolved"):
            assert set(frame[field]) - {""} <= words, (source_id, field)


def test_timestamps_parse_with_declared_formats(
    tickets: dict[str, pd.DataFrame], configs: dict[str, SourceConfig]
) -> None:
    for source_id, frame in tickets.items():
        config = configs[source_id]
        for field in ("received_at", "dispatched_at", "responded_at", "due_at", "closed_at"):
            if field not in frame:
                continue
            text = frame[field]
            parsed = parse_ts(text, config)
            bad = (text != "") & parsed.isna()
            if field == "received_at":
                assert bad.mean() < 4 * gen.BAD_RECEIVED_AT_RATE + 0.01
            else:
                assert not bad.any(), (source_id, field, text[bad].head().tolist())
            ok = parsed.dropna()
            assert (ok.dt.year >= frame.loc[ok.index, "year"] - 1).all()


# --- realism --------------------------------------------------------------------------------


def test_ticket_mix(tickets: dict[str, pd.DataFrame], configs: dict[str, SourceConfig]) -> None:
    canon = []
    for source_id, frame in tickets.items():
        config = configs[source_id]
        mapped = pd.DataFrame(
            {f: frame[f].map(m) for f, m in config.value_map.items()}
            | {"direct": frame["direct_resolved"].isin(config.true_values)}
        )
        canon.append(mapped)
    all_rows = pd.concat(canon, ignore_index=True)
    assert abs((all_rows["channel"] == "phone").mean() - 0.85) < 0.03
    assert abs((all_rows["request_type"] == "consult").mean() - 0.637) < 0.03
    assert abs((all_rows["request_type"] == "help").mean() - 0.29) < 0.03
    assert abs(all_rows["direct"].mean() - 0.55) < 0.04
    assert abs((all_rows["status"] == "open").mean() - gen.OPEN_AT_YEAR_END_RATE) < 0.012
    assert abs((all_rows["status"] == "withdrawn").mean() - gen.WITHDRAWN_RATE) < 0.004
    sat = all_rows["satisfaction"].dropna().value_counts(normalize=True)
    for code, share in zip(
        ("satisfied", "basically_satisfied", "dissatisfied", "unrated"),
        (0.75, 0.12, 0.05, 0.08),
        strict=True,
    ):
        assert abs(sat[code] - share) < 0.035, code


def test_repeat_callers(tickets: dict[str, pd.DataFrame]) -> None:
    shares = []
    for frame in tickets.values():
        ids = norm(frame["ticket_id"])
        phones = norm(frame["caller_phone"])
        keep = (phones != "") & ~(ids.duplicated() & (ids != ""))
        phones = phones[keep]
        shares.append((phones.duplicated().sum(), len(phones)))
    repeats, total = np.sum(shares, axis=0)
    assert abs(repeats / total - gen.REPEAT_CALLER_SHARE) < 0.035


def test_categories_have_levels_and_city_wording(tickets: dict[str, pd.DataFrame]) -> None:
    for source_id, frame in tickets.items():
        cat = norm(frame["category"])
        depth = cat.str.count("/") + 1
        assert depth.between(2, 3).all()
        top = cat.str.split("/").str[0]
        assert top.isin(NATIONAL).mean() > 0.3
        assert top.isin(CITY_TOP_LEVELS).any(), source_id


def test_handling_times(tickets: dict[str, pd.DataFrame], configs: dict[str, SourceConfig]) -> None:
    frame = tickets["beijing_12345"]
    config = configs["beijing_12345"]
    received = parse_ts(frame["received_at"], config)
    dispatched = parse_ts(frame["dispatched_at"], config)
    responded = parse_ts(frame["responded_at"], config)
    due = parse_ts(frame["due_at"], config)
    closed = parse_ts(frame["closed_at"], config)
    direct = frame["direct_resolved"] == "是"
    assert dispatched[direct].isna().all() and (frame.loc[direct, "department"] == "").all()
    assert dispatched[~direct].notna().mean() > 0.98
    hours = (responded - dispatched).dt.total_seconds() / 3600
    assert 0.8 < (hours.dropna() <= 24).mean() < 0.99
    late = (closed > due)[due.notna() & closed.notna()]
    assert 0.05 < late.mean() < 0.25
    hour = received.dt.hour.value_counts(normalize=True)
    assert hour[range(8, 20)].sum() > 0.8


# --- dirt -----------------------------------------------------------------------------------


def assert_rate(count: int, rows: int, rate: float, name: str) -> None:
    expected = rate * rows
    assert abs(count - expected) <= max(3.0, 0.25 * expected), (name, count, expected)


def test_dirt_rates(tickets: dict[str, pd.DataFrame], configs: dict[str, SourceConfig]) -> None:
    rows = sum(len(f) for f in tickets.values())
    counts: dict[str, int] = dict.fromkeys(
        ["empty_id", "bad_time", "early_close", "dupes", "phone", "id_card", "odd_category"], 0
    )
    padded: dict[str, list[int]] = {f: [0, 0] for f in gen.PADDED_FIELDS}
    wide: dict[str, list[int]] = {f: [0, 0] for f in gen.FULLWIDTH_FIELDS}
    for source_id, frame in tickets.items():
        config = configs[source_id]
        ids = norm(frame["ticket_id"])
        counts["empty_id"] += int((ids == "").sum())
        received = parse_ts(frame["received_at"], config)
        counts["bad_time"] += int(received.isna().sum())
        closed = parse_ts(frame["closed_at"], config)
        counts["early_close"] += int((closed < received).sum())
        counts["dupes"] += int((ids.duplicated() & (ids != "")).sum())
        counts["phone"] += int(frame["content"].str.contains(MOBILE).sum())
        counts["id_card"] += int(frame["content"].str.contains(ID_CARD).sum())
        top = norm(frame["category"]).str.split("/").str[0]
        counts["odd_category"] += int((~top.isin(NATIONAL | CITY_TOP_LEVELS)).sum())
        for field, tally in padded.items():
            if field in frame:
                values = frame[field][frame[field] != ""]
                tally[0] += int((values != values.str.strip()).sum())
                tally[1] += len(values)
        for field, tally in wide.items():
            values = frame[field][frame[field] != ""]
            tally[0] += int(values.str.contains(FULLWIDTH_DIGIT).sum())
            tally[1] += len(values)
    assert_rate(counts["empty_id"], rows, gen.EMPTY_TICKET_ID_RATE, "empty_id")
    assert_rate(counts["bad_time"], rows, gen.BAD_RECEIVED_AT_RATE, "bad_time")
    assert_rate(counts["early_close"], rows, gen.CLOSED_BEFORE_RECEIVED_RATE, "early_close")
    assert_rate(counts["dupes"], rows, gen.DUPLICATE_ROW_RATE, "dupes")
    assert_rate(counts["phone"], rows, gen.PHONE_IN_CONTENT_RATE, "phone")
    assert_rate(counts["id_card"], rows, gen.ID_CARD_IN_CONTENT_RATE, "id_card")
    assert_rate(counts["odd_category"], rows, gen.UNMATCHED_CATEGORY_RATE, "odd_category")
    for field, (hits, n) in padded.items():
        assert_rate(hits, n, gen.PADDED_SPACES_RATE, f"padded {field}")
    for field, (hits, n) in wide.items():
        assert_rate(hits, n, gen.FULLWIDTH_DIGITS_RATE, f"fullwidth {field}")


def test_duplicates_are_re_exports(tickets: dict[str, pd.DataFrame]) -> None:
    changed = identical = 0
    for frame in tickets.values():
        ids = norm(frame["ticket_id"])
        dup = frame.assign(_id=ids)[(ids != "") & ids.duplicated(keep=False)]
        for _, group in dup.groupby("_id"):
            first, last = group.iloc[0], group.iloc[-1]
            assert first["received_at"] == last["received_at"]
            if first.drop("_id").equals(last.drop("_id")):
                identical += 1
            else:
                changed += 1
                assert first["closed_at"] == "" and last["closed_at"] != ""
    assert identical > 0 and changed > 0


def test_personal_data_in_content(tickets: dict[str, pd.DataFrame]) -> None:
    content = pd.concat([f["content"] for f in tickets.values()])
    ids = content.str.extract(ID_CARD.pattern.join("()"), expand=False).dropna()
    assert len(ids) > 0
    weights = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2])
    for number in ids:
        total = int(np.dot([int(d) for d in number[:17]], weights))
        assert "10X98765432"[total % 11] == number[17]
    assert content.str.contains("\n").any()  # quoted multi-line content survives the CSV


# --- test calls -----------------------------------------------------------------------------


def read_calls(path: Path) -> pd.DataFrame:
    sheet = openpyxl.load_workbook(path).active
    values = list(sheet.values)
    frame = pd.DataFrame(values[1:], columns=values[0])
    frame["拨测时间_cell"] = [sheet.cell(row=i + 2, column=5).is_date for i in range(len(frame))]
    return frame


@pytest.fixture(scope="module")
def calls(landing: Path) -> pd.DataFrame:
    frames = [read_calls(p) for p in sorted((landing / "evaluator_d3").glob("*.xlsx"))]
    return pd.concat(frames, ignore_index=True)


def test_test_call_sheet(calls: pd.DataFrame) -> None:
    assert list(calls.columns[:12]) == list(gen.TEST_CALL_COLUMNS)
    assert calls["拨测时间_cell"].all()
    assert all(isinstance(v, datetime) for v in calls["拨测时间"])
    assert (calls["拨测时间"].dt.year == calls["监测年度"]).all()
    assert calls["拨测编号"].is_unique
    assert calls["拨测编号"].str.fullmatch(r"D3-20(18|19)-\d{6}").all()
    assert calls["测评员"].str.fullmatch(r"E\d\d").all()
    names = CITIES.set_index("city_code")["city_name"] + "12345"
    assert (calls["热线名称"] == calls["城市代码"].map(names)).all()
    connected = calls["是否接通"] == "是"
    assert set(calls["是否接通"]) == {"是", "否"}
    for col in ("转人工时长(秒)", "接待礼仪", "沟通规范", "问题解决"):
        assert calls.loc[connected, col].notna().all() and calls.loc[~connected, col].isna().all()
    for col in ("接待礼仪", "沟通规范", "问题解决"):
        scores = calls.loc[connected, col].astype(float)
        assert scores.between(0, 100).all() and (scores.round(1) == scores).all()
    seconds = calls.loc[connected, "转人工时长(秒)"].astype(float)
    assert seconds.between(5, 150).all() and seconds.min() < 12 and seconds.max() > 90


def test_hotline_coverage(calls: pd.DataFrame) -> None:
    regions = CITIES.set_index("city_code")["region"]
    per_year = calls.groupby("监测年度")["城市代码"].agg(set)
    assert len(per_year[2019]) == 41 and 30 <= len(per_year[2018]) < 41
    assert per_year[2019] >= SEED_ARTICLE_TEN and per_year[2018] >= SEED_ARTICLE_TEN
    for year in (2018, 2019):
        assert {regions[c] for c in per_year[year]} == set(regions)
    n_calls = calls.groupby(["监测年度", "城市代码"]).size()
    assert n_calls.between(10, 15).all()


def hotline_scores(calls: pd.DataFrame) -> pd.DataFrame:
    """The monitoring index of HOTLINE.md with its default weights."""
    c = calls.assign(connected=calls["是否接通"] == "是")
    for col in ("转人工时长(秒)", "接待礼仪", "沟通规范", "问题解决"):
        c[col] = c[col].astype(float)
    g = c.groupby(["监测年度", "城市代码"])
    out = pd.DataFrame({"connect_rate": g["connected"].mean()})
    secs = g["转人工时长(秒)"].mean()
    out["time_score"] = (100 * (120 - secs) / (120 - 15)).clip(0, 100).fillna(0)
    out["etiquette"] = g["接待礼仪"].mean().fillna(0)
    out["communication"] = g["沟通规范"].mean().fillna(0)
    out["resolution"] = g["问题解决"].mean().fillna(0)
    out["total"] = (
        25 * out["connect_rate"]
        + 0.15 * (out["time_score"] + out["etiquette"] + out["communication"])
        + 0.30 * out["resolution"]
    )
    return out


def test_line_classes_and_national_means(calls: pd.DataFrame) -> None:
    scores = hotline_scores(calls)
    rate = scores["connect_rate"]
    assert (rate == 0).sum() >= 2  # 死线
    assert ((rate > 0) & (rate < 0.3)).sum() >= 3  # 冷线
    assert rate.std() > 0.15  # a wide spread
    by_year = scores.groupby(level=0).mean()
    assert 0.60 <= by_year.loc[2019, "connect_rate"] <= 0.74
    assert by_year.loc[2018, "connect_rate"] < by_year.loc[2019, "connect_rate"]
    assert by_year.loc[2018, "total"] < by_year.loc[2019, "total"]
    connected = scores[rate > 0].groupby(level=0).mean()
    for year in (2018, 2019):
        row = connected.loc[year]
        assert row["communication"] > max(row["etiquette"], row["resolution"])
        assert 86 <= row["communication"] <= 95
        assert 72 <= by_year.loc[year, "total"] <= 88


def test_seed_article_cities_do_well_in_2019(calls: pd.DataFrame) -> None:
    totals = hotline_scores(calls).loc[2019, "total"]
    ranks = totals.rank(ascending=False)
    ten = ranks[ranks.index.isin(SEED_ARTICLE_TEN)]
    assert ten.mean() < 14  # of 41: clearly in the upper part...
    assert (ten <= 10).sum() >= 4
    assert set(ranks[ranks <= 10].index) != SEED_ARTICLE_TEN  # ...but not hard-wired
