"""A data root need not hold everything: work orders before the evaluator's test calls, test
calls before any city's work orders, or nothing yet. Each builds, and reports what it has; what
a source does not export is unknown in every figure, never zero.

The figures expected below are computed by hand from the few rows each test writes."""

from __future__ import annotations

import subprocess
from pathlib import Path

import duckdb
from pipeline_helpers import HOTLINE, hotline_env

from dagster_project.settings import SOURCES_DIR_ENV, DataPaths

# Beijing, a standard export without 直接办结's blanks: T1 answered on the call, T2 dispatched
# and answered within 2 h, T3 dispatched and never answered, T4 not dispatched.
BEIJING_YAML = """
source_id: beijing_std
name: 北京12345
entity: tickets
city_code: "110000"
format: csv
layout: standard
not_exported: [district, title, content, caller_name, department, due_at, resolved,
               satisfaction, category]
"""
BEIJING_CSV = (
    "工单编号,受理时间,受理渠道,诉求类型,来电号码,直接办结,派单时间,首次响应时间,办结时间,工单状态\n"
    "T1,2019-03-01 09:00:00,电话,咨询,13912340001,是,,,2019-03-01 09:05:00,已办结\n"
    "T2,2019-03-02 09:00:00,电话,求助,13912340002,否,2019-03-02 10:00:00,"
    "2019-03-02 12:00:00,2019-03-04 10:00:00,已办结\n"
    "T3,2019-03-03 09:00:00,电话,投诉,13912340003,否,2019-03-03 10:00:00,,,办理中\n"
    "T4,2019-03-04 09:00:00,网站,建议,13912340004,否,,,,办理中\n"
)
# Nanjing exports dispatches and statuses but neither first responses nor close times: whether a
# ticket was answered in time or closed on time is unknown, not "never". N2's status cell is
# blank.
NANJING_YAML = """
source_id: nanjing_std
name: 南京12345
entity: tickets
city_code: "320100"
format: csv
layout: standard
not_exported: [channel, request_type, category, district, title, content, caller_phone,
               caller_name, direct_resolved, department, responded_at, due_at, closed_at,
               resolved, satisfaction]
"""
NANJING_CSV = (
    "工单编号,受理时间,派单时间,工单状态\n"
    "N1,2019-04-01 09:00:00,2019-04-01 10:00:00,办理中\n"
    "N2,2019-04-02 09:00:00,2019-04-02 10:00:00,\n"
    "N3,2019-04-03 09:00:00,2019-04-03 10:00:00,已办结\n"
)
# A message board that exports posts only: no reply, no status, no label, no phone. Its users
# are the callers: 网友甲 posts twice within 30 days.
BOARD_YAML = """
source_id: wenzhou_board
name: 温州问政留言
entity: tickets
city_code: "330300"
format: csv
layout: message_board
not_exported: [closed_at, category]
ignore_columns: [答复意见]
"""
BOARD_CSV = (
    "留言编号,留言用户,留言主题,留言时间,留言详情\n"
    "L1,网友甲,路灯不亮,2019-05-01 20:00:00,小区路灯坏了\n"
    "L2,网友乙,噪音扰民,2019-05-02 21:00:00,夜间施工\n"
    "L3,网友甲,路灯还是不亮,2019-05-11 20:00:00,十天了还没修\n"
)
# 温州 is not in the bundled seed: this root adds it, without a population.
CITIES_CSV = "city_code,city_name,province,region,population_2019\n330300,温州,浙江省,华东,\n"

TEST_CALLS_YAML = """
source_id: evaluator_csv
name: 评估机构
entity: test_calls
format: csv
columns:
  监测年度: year
  城市代码: city_code
  拨测编号: call_id
  拨测时间: called_at
  是否接通: connected
  转人工时长(秒): seconds_to_human
  接待礼仪: etiquette_score
  沟通规范: communication_score
  问题解决: resolution_score
"""


def _write(sources: Path, landing: Path, source_id: str, yaml_text: str, csv_text: str) -> None:
    (sources / f"{source_id}.yaml").write_text(yaml_text, encoding="utf-8")
    (landing / source_id).mkdir(parents=True, exist_ok=True)
    (landing / source_id / "export.csv").write_text(csv_text, encoding="utf-8")


def _rows(warehouse: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(sql).fetchall()


def run_cli(root: DataPaths, sources: Path, *argv: str) -> tuple[int, str, str]:
    """`hotline ARGV` in its own process: the definitions load this root's sources."""
    done = subprocess.run([*HOTLINE, *argv], capture_output=True, text=True,
                          env=hotline_env(root.root, **{SOURCES_DIR_ENV: str(sources)}))
    return done.returncode, done.stdout, done.stderr


def test_a_root_with_work_orders_only_builds_and_reports_unknowns_as_unknown(
    data_root: DataPaths, sources_dir: Path
) -> None:
    _write(sources_dir, data_root.landing, "beijing_std", BEIJING_YAML, BEIJING_CSV)
    _write(sources_dir, data_root.landing, "wenzhou_board", BOARD_YAML, BOARD_CSV)
    _write(sources_dir, data_root.landing, "nanjing_std", NANJING_YAML, NANJING_CSV)
    data_root.reference.mkdir()
    (data_root.reference / "cities.csv").write_text(CITIES_CSV, encoding="utf-8")

    for argv in (["ingest"], ["build"], ["report", "--year", "2019"]):
        code, out, err = run_cli(data_root, sources_dir, *argv)
        assert code == 0, (argv, out, err)
    warehouse = data_root.warehouse

    # No test calls: the monitoring marts are empty, not missing.
    assert _rows(warehouse, "SELECT count(*) FROM fct_test_calls") == [(0,)]
    assert _rows(warehouse, "SELECT count(*) FROM monitoring_national_year") == [(0,)]
    # Every status is one of the documented values: the board sends neither a status nor a
    # reply time, so nothing tells whether its posts are open; nor does N2's blank cell.
    assert _rows(warehouse, "SELECT ticket_id, status FROM fct_tickets ORDER BY ticket_id") == [
        ("L1", "unknown"), ("L2", "unknown"), ("L3", "unknown"),
        ("N1", "open"), ("N2", "unknown"), ("N3", "closed"),
        ("T1", "closed"), ("T2", "closed"), ("T3", "open"), ("T4", "open")]

    kpis = {row[0]: row[1:] for row in _rows(warehouse, """
        SELECT city_code, ticket_count, direct_resolved_known_count, direct_resolved_rate,
               dispatched_count, response_rate, due_by_cutoff_count, open_backlog_count,
               known_caller_count, account_caller_count, repeat_request_count,
               tickets_per_10k_residents
        FROM kpi_city_year WHERE year = 2019""")}
    # 北京: 1 of 4 answered on the call; 2 dispatched, 1 answered within 24 h; due times
    # derived from the dispatch (consult 1, help 5 days), both passed by the cut-off; T3 and T4
    # open at the cut-off; 4 callers by phone, none twice.
    assert kpis["110000"] == (4, 4, 0.25, 2, 0.5, 2, 2, 4, 0, 0, 4 * 10_000 / 21_536_000)
    # 温州: nothing about direct resolution, dispatch or status is known: NULL, not 0. The
    # board's users are known callers: 网友甲's second post 10 days later is a repeat.
    assert kpis["330300"] == (3, 0, None, 0, None, 0, None, 3, 3, 1, None)
    # 南京: three dispatches, but no response or close times: 响应率 and 按时办结率 unknown;
    # open at the cut-off only N1 (N3 says closed without a time, N2's status is unknown).
    assert kpis["320100"] == (3, 0, None, 3, None, 0, 1, 0, 0, 0, 3 * 10_000 / 8_500_000)
    [nanjing] = _rows(warehouse, "SELECT response_measured_count, on_time_close_rate "
                                 "FROM kpi_city_year WHERE city_code = '320100'")
    assert nanjing == (0, None)

    [national] = _rows(warehouse, """
        SELECT city_count, ticket_count, direct_resolved_rate, direct_resolved_rate_city_count,
               direct_resolved_rate_ticket_share, population_city_count,
               tickets_per_10k_residents, open_backlog_count, open_backlog_city_count,
               repeat_request_rate, repeat_request_rate_city_count, response_rate,
               response_rate_city_count, on_time_close_rate, on_time_close_rate_city_count
        FROM kpi_national_year WHERE year = 2019""")
    # National figures over what is known, with their coverage: 直接办结率 is 北京's alone
    # (not 1 / 10), per 10,000 residents only over the cities with a population, 响应率 and
    # 按时办结率 北京's alone (not 1 / 5 and 1 / 5 with 南京's dispatches counted as late).
    assert national == (3, 10, 0.25, 1, 4 / 10, 2, 7 * 10_000 / (21_536_000 + 8_500_000), 3, 2,
                        1 / 7, 2, 0.5, 1, 0.5, 1)

    site = data_root.site / "2019"
    index = (site / "index.html").read_text(encoding="utf-8")
    assert "本年度未开展拨测监测" in index
    assert 'id="ranking"' not in index
    assert "直接办结率覆盖 1/3 个城市（占工单 40.0%）" in index
    board_page = (site / "city" / "330300.html").read_text(encoding="utf-8")
    assert "未知：数据来源未提供是否直接办结" in board_page
    assert "来电人按留言用户识别" in board_page
    assert "件数未知" in board_page


def test_a_root_with_test_calls_only_builds_and_reports_the_monitoring(
    data_root: DataPaths, sources_dir: Path
) -> None:
    lines = ["监测年度,城市代码,拨测编号,拨测时间,是否接通,转人工时长(秒),"
             "接待礼仪,沟通规范,问题解决"]
    for n, city in enumerate(("110000", "310000", "440100")):
        lines += [f"2019,{city},C{n}1,2019-06-0{n + 1} 10:00:00,是,10,90,90,80",
                  f"2019,{city},C{n}2,2019-06-0{n + 1} 11:00:00,{'是' if n else '否'},"
                  f"{'20,80,80,70' if n else ',,,'}"]
    _write(sources_dir, data_root.landing, "evaluator_csv", TEST_CALLS_YAML,
           "\n".join(lines) + "\n")

    for argv in (["ingest"], ["build"], ["report", "--year", "2019"]):
        code, out, err = run_cli(data_root, sources_dir, *argv)
        assert code == 0, (argv, out, err)
    assert _rows(data_root.warehouse, "SELECT count(*) FROM fct_tickets") == [(0,)]
    assert _rows(data_root.warehouse, "SELECT count(*) FROM kpi_national_year") == [(0,)]
    assert _rows(data_root.warehouse,
                 "SELECT hotline_count, call_count FROM monitoring_national_year") == [(3, 6)]
    index = (data_root.site / "2019" / "index.html").read_text(encoding="utf-8")
    assert 'id="ranking"' in index
    assert "本年度无工单数据" in index


def test_a_root_with_nothing_yet_builds_empty_tables_and_says_there_is_no_year(
    data_root: DataPaths, sources_dir: Path
) -> None:
    (sources_dir / "beijing_std.yaml").write_text(BEIJING_YAML, encoding="utf-8")
    for argv in (["ingest"], ["build"]):
        code, out, err = run_cli(data_root, sources_dir, *argv)
        assert code == 0, (argv, out, err)
    assert _rows(data_root.warehouse,
                 "SELECT (SELECT count(*) FROM fct_tickets), (SELECT count(*) FROM "
                 "stg_lake__rejects), (SELECT count(*) FROM file_reconciliation)") == [(0, 0, 0)]
    code, _, err = run_cli(data_root, sources_dir, "report", "--year", "2019")
    assert code != 0
    assert "no data for 2019" in err
