"""The report is a view: every figure it prints comes from a mart that dbt computes and tests
(ARCHITECTURE.md, "Stages own their code"). The report's package queries the marts and lays
their rows out (ordering, grouping, picking the year, formatting, chart geometry); it computes
no figure and applies no rule of the results. A figure computed here would escape dbt's data
and unit tests, and could drift from the mart analysts query.

What counts as computing, in every module of dagster_project/report/ but three:
formatting.py (how a figure looks, and the difference of two printed scores, a presentation
rule the methods text states), charts.py (geometry) and checks.py (the summaries of the
quality checks' latest results, read from the lake: results of the check runs, not marts):

- arithmetic (+ - * / // % **, a unary minus, an augmented assignment) on a value read from a
  row or a rule: a subscript with a string key, `.get("...")`, or an attribute named like a
  column of a mart (the marts' YAML); lists of rows put together are not arithmetic;
- a division that does not join a path (a path joins a string, an f-string, str(...), an
  UPPER_CASE constant, or is itself a path by its name): a ratio or a share, whatever its
  operands are called;
- len() inside arithmetic (rows counted to add or subtract), sum() or statistics anywhere,
  min() or max() over values read from rows;
- SQL that aggregates (count, sum, avg, ... , GROUP BY, DISTINCT) in the queries: the report
  selects rows of marts;
- a rule of dbt_project.yml's `vars` (weights, thresholds, award rules) read by its name: the
  rules reach the templates whole, which print them.

In the templates (reports/templates/): arithmetic on a field or a rule (only a number that is
not read, such as the year before this one, may be computed), and the `sum` filter.

Read from the source with `ast` and Jinja's parser, so nothing is imported to check it.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import yaml
from jinja2 import Environment, nodes

ROOT = Path(__file__).resolve().parent.parent
REPORT_DIR = ROOT / "dagster_project" / "report"
TEMPLATES_DIR = ROOT / "reports" / "templates"
DBT_DIR = ROOT / "dbt"
# Presentation (formatting), geometry (charts) and the check results read from the lake.
NOT_A_VIEW = {"formatting.py": "how a figure looks",
              "charts.py": "the geometry of the charts",
              "checks.py": "summaries of the quality checks' results, not of marts"}

ARITHMETIC = (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.FloorDiv, ast.Mod, ast.Pow)
STATISTICS = {"sum", "fsum", "mean", "median", "fmean", "mode", "stdev", "pstdev", "quantiles"}
EXTREMES = {"min", "max"}
# Rows put together (`ranked + [r for r in rows if ...]`) are laid out, not added up.
COLLECTIONS = (ast.List, ast.ListComp, ast.Tuple, ast.Set, ast.SetComp, ast.Dict, ast.DictComp)
# A name that holds a path (or a path's part): a division by it joins a path.
PATHLIKE = re.compile(r"(^|_)(folder|dir|root|site|path|paths|target|lake|warehouse|parent|"
                      r"reference_dir)$|^[A-Z][A-Z0-9_]*$")
SQL_AGGREGATE = re.compile(
    r"\b(count|sum|avg|mean|median|quantile\w*|stddev\w*|bool_and|bool_or|arg_min|arg_max)"
    r"\s*\(|\bgroup\s+by\b|\bhaving\b|\bdistinct\b|\bover\s*\(", re.I)
# SQL as the report writes it (keywords in capitals): a query, or a piece of one.
SQL_STATEMENT = re.compile(r"\b(SELECT|FROM|WHERE|ORDER BY|GROUP BY|HAVING)\b")
TEMPLATE_ARITHMETIC = (nodes.Add, nodes.Sub, nodes.Mul, nodes.Div, nodes.FloorDiv, nodes.Mod,
                       nodes.Pow, nodes.Neg)


def mart_columns() -> set[str]:
    """Every column name of every mart, from the marts' YAML."""
    names: set[str] = set()
    for path in (DBT_DIR / "models" / "marts").rglob("*.yml"):
        for model in yaml.safe_load(path.read_text(encoding="utf-8")).get("models") or []:
            names |= {c["name"] for c in model.get("columns") or []}
    return names


def rule_names() -> set[str]:
    """The rules of the results: the vars of dbt_project.yml."""
    project = yaml.safe_load((DBT_DIR / "dbt_project.yml").read_text(encoding="utf-8"))
    return set(project["vars"])


def view_modules() -> list[Path]:
    return sorted(p for p in REPORT_DIR.rglob("*.py") if p.name not in NOT_A_VIEW)


@dataclass(frozen=True)
class Finding:
    path: str
    line: int
    what: str
    code: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.what}: `{self.code}`"


def _string_key(node: ast.expr) -> bool:
    return isinstance(node, ast.Constant | ast.JoinedStr) and (
        not isinstance(node, ast.Constant) or isinstance(node.value, str))


def reads_a_value(node: ast.AST, columns: set[str]) -> bool:
    """Whether the expression reads a value of a row or a rule: row["x"], row[f"{k}_x"],
    row.get("x"), or row.x where x is a mart column."""
    for inner in ast.walk(node):
        if isinstance(inner, ast.Subscript) and _string_key(inner.slice):
            return True
        if isinstance(inner, ast.Attribute) and inner.attr in columns:
            return True
        if (isinstance(inner, ast.Call) and isinstance(inner.func, ast.Attribute)
                and inner.func.attr == "get" and inner.args and _string_key(inner.args[0])):
            return True
    return False


def reads_a_rule(node: ast.AST, rules: set[str]) -> bool:
    """config["monitoring_awards"], or rules.hollow_heat (an attribute named like a rule of
    something called config or rules)."""
    if isinstance(node, ast.Subscript):
        return isinstance(node.slice, ast.Constant) and node.slice.value in rules
    return (isinstance(node, ast.Attribute) and node.attr in rules
            and re.search(r"config|rules", ast.unparse(node.value)) is not None)


def _identifier(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def joins_a_path(node: ast.BinOp) -> bool:
    """`folder / "index.html"`, `site / str(year)`, `PROJECT_ROOT / "dbt"`, `folder / name`."""
    right, left = node.right, node.left
    if _string_key(right):
        return True
    if (isinstance(right, ast.Call) and isinstance(right.func, ast.Name)
            and right.func.id == "str"):
        return True
    if (name := _identifier(right)) is not None and re.fullmatch(r"[A-Z][A-Z0-9_]*", name):
        return True
    if isinstance(left, ast.BinOp) and isinstance(left.op, ast.Div):
        return joins_a_path(left)
    return (name := _identifier(left)) is not None and bool(PATHLIKE.search(name))


def _docstrings(tree: ast.Module) -> set[int]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if (body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant)
                    and isinstance(body[0].value.value, str)):
                found.add(id(body[0].value))
    return found


def _called(node: ast.Call) -> str | None:
    return _identifier(node.func)


def python_findings(source: str, shown: str, columns: set[str],
                    rules: set[str]) -> Iterator[Finding]:
    tree = ast.parse(source, filename=shown)
    docstrings = _docstrings(tree)

    def finding(node: ast.AST, what: str) -> Finding:
        return Finding(shown, getattr(node, "lineno", 0), what, ast.unparse(node)[:100])

    for node in ast.walk(tree):
        if isinstance(node, ast.BinOp) and isinstance(node.op, ARITHMETIC):
            if isinstance(node.op, ast.Div) and not joins_a_path(node):
                yield finding(node, "a division (a ratio or a share)")
            elif isinstance(node.op, ast.FloorDiv | ast.Mod | ast.Pow) and not (
                    isinstance(node.op, ast.Mod) and _string_key(node.left)):
                yield finding(node, "arithmetic")
            elif not isinstance(node.op, ast.Div) and not (
                    isinstance(node.left, COLLECTIONS) or isinstance(node.right, COLLECTIONS)) and (
                    reads_a_value(node.left, columns) or reads_a_value(node.right, columns)):
                yield finding(node, "arithmetic on a value of a row or a rule")
            elif any(isinstance(side, ast.Call) and _called(side) == "len"
                     for side in (node.left, node.right)):
                yield finding(node, "rows counted in arithmetic")
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub) and reads_a_value(
                node.operand, columns):
            yield finding(node, "a value of a row negated")
        elif isinstance(node, ast.AugAssign) and isinstance(node.op, ARITHMETIC) and (
                reads_a_value(node.target, columns) or reads_a_value(node.value, columns)):
            yield finding(node, "a value of a row or a rule accumulated")
        elif isinstance(node, ast.Call):
            called = _called(node)
            if called in STATISTICS:
                yield finding(node, f"{called}()")
            elif called in EXTREMES and any(reads_a_value(a, columns) for a in node.args):
                yield finding(node, f"{called}() over values of rows")
            if called in ("get", "getattr", "setdefault") and any(
                    isinstance(a, ast.Constant) and a.value in rules for a in node.args):
                yield finding(node, "a rule read by its name")
        elif reads_a_rule(node, rules):
            yield finding(node, "a rule read by its name")
        elif (isinstance(node, ast.Constant) and isinstance(node.value, str)
              and id(node) not in docstrings and SQL_STATEMENT.search(node.value)
              and SQL_AGGREGATE.search(node.value)):
            yield finding(node, "SQL that aggregates")


def _reads_a_field(node: nodes.Node) -> bool:
    return any(True for _ in node.find_all((nodes.Getattr, nodes.Getitem))) or isinstance(
        node, nodes.Getattr | nodes.Getitem)


def template_findings(source: str, shown: str) -> Iterator[Finding]:
    tree = Environment().parse(source)
    for node in tree.find_all(TEMPLATE_ARITHMETIC):
        operands = [node.node] if isinstance(node, nodes.Neg) else [node.left, node.right]
        if any(_reads_a_field(o) for o in operands):
            yield Finding(shown, node.lineno, "arithmetic on a field or a rule",
                          type(node).__name__)
    for node in tree.find_all(nodes.Filter):
        if node.name == "sum":
            yield Finding(shown, node.lineno, "the sum filter", "| sum")


def test_the_report_computes_no_figure() -> None:
    columns, rules = mart_columns(), rule_names()
    assert {"hotline_count", "ticket_count", "rows_read"} <= columns
    assert {"monitoring_weights", "monitoring_awards", "line_class_thresholds"} <= rules
    modules = view_modules()
    assert any(p.name == "data.py" for p in modules)
    found = [str(f) for path in modules for f in python_findings(
        path.read_text(encoding="utf-8"), str(path.relative_to(ROOT)), columns, rules)]
    assert not found, (
        "the report computes figures or applies rules; compute them in a mart (with a unit "
        "test) and select them:\n" + "\n".join(found))


def test_the_templates_compute_no_figure() -> None:
    templates = sorted(TEMPLATES_DIR.glob("*.j2"))
    assert templates
    found = [str(f) for path in templates for f in template_findings(
        path.read_text(encoding="utf-8"), str(path.relative_to(ROOT)))]
    assert not found, (
        "a template computes a figure; take it from a mart:\n" + "\n".join(found))


def test_the_scan_finds_what_it_looks_for() -> None:
    """Each kind of computing, planted, is found; the layout beside it is not."""
    columns, rules = mart_columns(), rule_names()
    planted = '''
def planted(rows, summary, config, marts, folder, name, year):
    share = summary["hot_line_count"] / summary["hotline_count"]
    ratio = numerator / denominator
    total = sum(r["rows_read"] or 0 for r in rows)
    new = len(rows) - len(marts.compared)
    change = marts.national.total_score - 1
    entry["ticket_count"] += row["ticket_count"]
    order = sorted(rows, key=lambda r: -r.ticket_count) + [r for r in rows if r.year]
    widest = max(r["share"] for r in rows)
    places = config["monitoring_awards"]["top_ten"]["count"]
    rows = con.execute("SELECT city_code, count(*) AS call_count FROM fct_test_calls "
                       "GROUP BY ALL")
    layout = (folder / name, folder / "index.html", year - 1, rows[0], len(rows))
    query = "SELECT city_code, ticket_count FROM kpi_city_year ORDER BY ticket_count DESC"
'''
    found = python_findings(planted, "planted.py", columns, rules)
    lines = sorted({f.line for f in found})
    assert lines == [3, 4, 5, 6, 7, 8, 9, 10, 11, 12]
    template = "{{ weights.values() | sum }} {{ tw.a + tw.b }} {{ year - 1 }} {{ rows | length }}"
    assert sorted(f.what for f in template_findings(template, "planted.j2")) == [
        "arithmetic on a field or a rule", "the sum filter"]


def test_the_report_asset_depends_on_every_mart_it_reads() -> None:
    """Lineage and the report sensor see every mart the report reads, each a dbt model."""
    import dagster as dg

    from dagster_project.definitions import defs
    from dagster_project.report.marts import MARTS

    graph = defs.resolve_asset_graph()
    read = {dg.AssetKey([name]) for name, _ in MARTS}
    assert read <= graph.get(dg.AssetKey(["annual_report"])).parent_keys
    models = {k for k in graph.get_all_asset_keys() if graph.get(k).group_name == "warehouse"}
    assert read <= models, sorted(k.to_user_string() for k in read - models)
