"""The text stage on data made here: the classifier's inputs and outputs, the hot issues'
grouping on tickets whose true groups are known, a root with no labelled tickets, and the
settings file. The demo's planted issues and the evaluation on the demo are in
tests/test_text_demo.py."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from cli_runner import run_cli

from dagster_project.settings import DataPaths
from dagster_project.text.classifier import (
    LabelledTickets,
    NoModel,
    cross_validate,
    train,
)
from dagster_project.text.hot_issues import find_hot_issues
from dagster_project.text.run import analyse
from dagster_project.text.settings import (
    ClassifierSettings,
    HotIssueSettings,
    TextSettingsError,
    load_text_settings,
)
from dagster_project.text.texts import normalised


def test_normalised_text_drops_masks_and_folds_digits_and_width() -> None:
    got = normalised(pa.array(["联系电话：[手机号]。  ＡＢＣ１２３号楼", None, "第 3 栋\n12 层"]))
    assert got.to_pylist() == ["联系电话: 。 abc0号楼", "", "第 0 栋 0 层"]


# --- classifier ------------------------------------------------------------------------------

_WORDS = {
    "01": ["路灯", "井盖", "道路", "施工", "物业", "停水"],
    "06": ["公交", "出租车", "地铁", "停车", "违章", "拥堵"],
    "15": ["社保", "养老金", "工资", "医保", "就业", "劳动合同"],
}


def _labelled(n_per_class: int, seed: int = 1) -> LabelledTickets:
    rng = np.random.default_rng(seed)
    titles, contents, codes = [], [], []
    for code, words in _WORDS.items():
        for _ in range(n_per_class):
            picked = rng.choice(words, 2)
            # A shared word in every class: not separable by it alone.
            titles.append(f"反映{picked[0]}问题")
            contents.append(f"市民反映{picked[0]}和{picked[1]}的问题，希望尽快处理。")
            codes.append(code)
    return LabelledTickets(pa.array(titles), pa.array(contents), np.asarray(codes),
                           np.asarray([""] * len(codes), dtype=object))


def test_the_model_learns_the_classes_and_says_how_sure_it_is() -> None:
    settings = ClassifierSettings(min_class_tickets=5)
    model = train(_labelled(60), settings, "v1")
    assert model.classes == ["01", "06", "15"]
    predicted = model.predict(pa.array(["公交问题", None, "xyz"]),
                              pa.array(["公交车和地铁太挤了", "养老金没有按时发放", "！！！"]))
    assert predicted.category_code[:2].tolist() == ["06", "15"]
    assert ((predicted.confidence > 0) & (predicted.confidence <= 1)).all()
    # Text of no class is less sure than text of one.
    assert predicted.confidence[2] < min(predicted.confidence[:2])


def test_training_is_reproducible() -> None:
    settings = ClassifierSettings(min_class_tickets=5)
    texts = (pa.array(["停车"] * 3), pa.array(["小区门口乱停车", "养老金", "路灯坏了"]))
    first = train(_labelled(40), settings, "v").predict(*texts)
    second = train(_labelled(40), settings, "v").predict(*texts)
    assert first.category_code.tolist() == second.category_code.tolist()
    assert np.array_equal(first.confidence, second.confidence)


def test_no_model_without_labelled_tickets_or_with_one_class() -> None:
    settings = ClassifierSettings(min_class_tickets=5)
    with pytest.raises(NoModel, match="no labelled tickets"):
        train(_labelled(0), settings, "v")
    one_class = _labelled(30)
    one_class = one_class.take(np.flatnonzero(one_class.category_code == "01"))
    with pytest.raises(NoModel, match="two classes or more"):
        train(one_class, settings, "v")


def test_cross_validation_scores_out_of_fold_and_measures_the_reference() -> None:
    evaluation = cross_validate(_labelled(50), ClassifierSettings(min_class_tickets=5),
                                with_reference=True)
    assert evaluation.folds == 5 and evaluation.tickets == 150
    assert [c.category_code for c in evaluation.per_class] == ["01", "06", "15"]
    assert sum(c.support for c in evaluation.per_class) == 150
    # Macro-F1 is the mean of the classes' F1.
    assert evaluation.macro_f1 == pytest.approx(np.mean([c.f1 for c in evaluation.per_class]))
    assert evaluation.reference_macro_f1 is not None
    assert 0.5 < evaluation.macro_f1 <= 1 and 0.5 < evaluation.reference_macro_f1 <= 1


# --- hot issues ------------------------------------------------------------------------------

_SITES = ["幸福路地铁站施工工地", "阳光花园二期工地", "人民街菜市场"]


def _issue_tickets(seed: int = 7) -> tuple[pa.Table, dict[str, set[str]]]:
    """Three planted issues in one district amid unrelated tickets of the same kinds."""
    rng = np.random.default_rng(seed)
    start = dt.datetime(2019, 5, 1)
    rows: list[dict[str, object]] = []
    truth: dict[str, set[str]] = {}
    problems = ["夜间施工噪音很大，吵得睡不着", "晚上还在施工，噪音扰民", "凌晨还有施工噪音"]
    for g, site in enumerate(_SITES):
        first = start + dt.timedelta(days=20 * g)
        for k in range(12 + 4 * g):
            ticket_id = f"P{g}-{k}"
            truth.setdefault(site, set()).add(ticket_id)
            rows.append({"ticket_id": ticket_id, "district": "朝阳区",
                         "received_at": first + dt.timedelta(hours=int(rng.integers(0, 240))),
                         "content": f"市民来电反映：{site}{problems[k % 3]}，请尽快处理。"})
    places = [f"{a}{b}" for a in ("和平", "建设", "光明", "新华", "解放", "文化", "长安", "东风",
                                  "胜利", "友谊", "朝阳", "金色")
              for b in ("小区", "花园", "新村", "公寓", "家园")]
    # Unrelated tickets in their own words: about noise too, and other problems, at the
    # district's other places, any day; people rarely write the same sentence twice.
    subjects = ["工地", "餐馆", "广场舞", "装修", "酒吧", "菜市场", "停车场", "路灯", "水管",
                "电梯"]
    troubles = ["噪音很大", "晚上很吵", "一直不修", "影响休息", "坏了好几天", "没人管理",
                "天天如此", "越来越严重", "没有通知", "存在安全隐患"]
    for k in range(300):
        words = rng.choice(troubles, 2, replace=False)
        rows.append({"ticket_id": f"N{k}", "district": "朝阳区",
                     "received_at": start + dt.timedelta(hours=int(rng.integers(0, 24 * 200))),
                     "content": f"市民来电反映：{places[int(rng.integers(0, len(places)))]}"
                                f"{rng.choice(subjects)}{words[0]}，{words[1]}，请尽快处理。"})
    table = pa.Table.from_pylist([{
        "city_code": "110000", "request_type": "complaint", "category_name": "城乡建设",
        "title": "投诉夜间施工噪音", **row} for row in rows])
    return table, truth


def test_planted_issues_are_found_and_unrelated_tickets_are_not_grouped() -> None:
    tickets, truth = _issue_tickets()
    found = find_hot_issues(tickets, HotIssueSettings())
    members = found.tickets.groupby("issue_id")["ticket_id"].apply(set).to_dict()
    assert len(members) == len(truth)
    for site, planted in truth.items():
        best = max(members.values(), key=lambda m: len(m & planted))
        assert len(best & planted) / len(planted) >= 0.9, site  # recall
        assert len(best & planted) / len(best) >= 0.9, site  # precision
    issues = found.issues.set_index("issue_id")
    for issue_id, ticket_ids in members.items():
        issue = issues.loc[issue_id]
        assert issue["tickets"] == len(ticket_ids)
        # Its representative names its place, the opening clause left out.
        site = next(s for s in _SITES if s in issue["representative_text"])
        assert issue["representative_text"].startswith(site)
        days = tickets.filter(pa.compute.is_in(tickets["ticket_id"], pa.array(list(ticket_ids))))
        received = days["received_at"].to_pylist()
        assert issue["first_day"] == min(received).date()
        assert issue["last_day"] == max(received).date()


def test_tickets_of_another_district_or_days_apart_are_not_linked() -> None:
    settings = HotIssueSettings(min_tickets=2, min_links=1, link_days=3)
    base = dt.datetime(2019, 1, 1)
    text = "阳光花园二期工地夜间施工噪音扰民，请尽快处理"
    other_text = "和平路公交站台广告牌松动有坠落危险，请尽快处理"
    rows = [("a", "朝阳区", base, text), ("b", "海淀区", base, text),
            ("c", "朝阳区", base + dt.timedelta(days=10), text),
            ("d", "朝阳区", base + dt.timedelta(days=1), text),
            ("e", "朝阳区", base + dt.timedelta(hours=1), other_text)]
    filler = [(f"f{k}", "西城区", base, f"{k}号其他问题反映内容{k * 7}，请尽快处理")
              for k in range(200)]
    table = pa.Table.from_pylist([
        {"city_code": "110000", "ticket_id": t, "district": d, "received_at": r,
         "request_type": "complaint", "category_name": "城乡建设", "title": "", "content": c}
        for t, d, r, c in rows + filler])
    found = find_hot_issues(table, settings)
    groups = found.tickets.groupby("issue_id")["ticket_id"].apply(set).tolist()
    assert {"a", "d"} in groups
    assert not any(g & {"b", "c", "e"} for g in groups)


def test_heat_follows_its_formula() -> None:
    tickets, _ = _issue_tickets()
    settings = HotIssueSettings()
    issues = find_hot_issues(tickets, settings).issues
    for issue in issues.itertuples():
        month_end = (dt.date(issue.first_day.year + issue.first_day.month // 12,
                             issue.first_day.month % 12 + 1, 1) - dt.timedelta(days=1))
        age = max(0, (month_end - issue.last_day).days)
        expected = issue.tickets * (1 + 0.5 * issue.growth) * 0.5 ** (age / 30)
        assert issue.heat == pytest.approx(expected, abs=0.006)
    ranks = issues.sort_values(["listed_month", "rank_in_city_month"])
    for _, month in ranks.groupby("listed_month"):
        assert month["heat"].is_monotonic_decreasing
        assert month["rank_in_city_month"].tolist() == list(range(1, len(month) + 1))


def test_consultations_form_no_issue() -> None:
    tickets, _ = _issue_tickets()
    consult = tickets.set_column(tickets.schema.get_field_index("request_type"), "request_type",
                                 pa.array(["consult"] * tickets.num_rows))
    assert find_hot_issues(consult, HotIssueSettings()).issues.empty


# --- a root with no labelled tickets ----------------------------------------------------------

def _warehouse_without_labels(paths: DataPaths) -> None:
    """A published warehouse of the columns the text stage reads, where every ticket is
    未分类 (no mapping placed its label)."""
    tickets, _ = _issue_tickets()
    paths.warehouse.parent.mkdir(parents=True)
    with duckdb.connect(str(paths.warehouse)) as con:
        con.register("t", tickets)
        con.execute("""
            create table fct_tickets as
            select city_code, ticket_id, received_at, district, request_type,
                   '99' as category_code, '未分类' as category_name, 'unmapped' as category_mapping,
                   cast(null as varchar) as category_level_2, 'f' as file_sha256,
                   cast(null as varchar) as source_sheet, row_number() over () as source_row
            from t""")
        con.execute("create table fct_ticket_texts as select city_code, ticket_id, title, "
                    "content from t")
        con.execute("create table dim_category as select * from (values ('01', '城乡建设'), "
                    "('99', '未分类')) as c(category_code, category_name)")


def test_a_root_with_no_labelled_tickets_says_no_model_can_be_trained(
        data_root: DataPaths) -> None:
    _warehouse_without_labels(data_root)
    result = analyse(data_root)
    run = result.classifier
    assert run.status == "not_trained" and run.model_version is None
    assert "no labelled tickets" in (run.reason or "")
    assert run.unclassified_tickets == 348 and run.placed_by_model == 0
    assert pq.read_table(data_root.text / "ticket_predictions.parquet").num_rows == 0
    runs = pq.read_table(data_root.text / "classifier_runs.parquet").to_pylist()
    assert runs[0]["status"] == "not_trained" and runs[0]["cv_macro_f1"] is None
    # The hot issues are found all the same.
    assert result.hot_issues == 3
    assert not (data_root.models / "text_classifier").exists()
    # The same inputs again: nothing is analysed or written anew.
    stamps = {p: p.stat().st_mtime_ns for p in result.files}
    again = analyse(data_root)
    assert again.classifier == run and again.hot_issues == result.hot_issues
    assert {p: p.stat().st_mtime_ns for p in again.files} == stamps
    code, out, err = run_cli("classify", "--evaluate")
    assert code == 0, err
    assert "no model can be trained: no labelled tickets" in " ".join(out.split())


def test_text_settings_are_validated(tmp_path: Path) -> None:
    assert load_text_settings(tmp_path).classifier.min_confidence == 0.6
    (tmp_path / "text_analysis.yml").write_text(
        "classifier:\n  min_confidence: 0.8\nhot_issues:\n  link_days: 5\n", encoding="utf-8")
    settings = load_text_settings(tmp_path)
    assert settings.classifier.min_confidence == 0.8 and settings.hot_issues.link_days == 5
    for text, named in [("classifier:\n  min_confidence: 1.5\n", "classifier.min_confidence"),
                        ("hot_issues:\n  min_similarty: 0.4\n", "hot_issues.min_similarty"),
                        ("classifier:\n  ngram_min: 4\n  ngram_max: 2\n", "ngram_min")]:
        (tmp_path / "text_analysis.yml").write_text(text, encoding="utf-8")
        with pytest.raises(TextSettingsError, match=named):
            load_text_settings(tmp_path)
