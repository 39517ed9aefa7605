"""The package's modules import one another in one direction: a stage uses what lies beneath it,
never what comes after it, and `defs/` holds Dagster definitions only.

Layers, lowest first (a module may import its own layer and those below it):

1. basics: settings, canonical fields, layouts, sources, personal data, SQL quoting, processes,
   locks and progress reporting, which every stage shares;
2. ingest: landing -> lake;
3. warehouse: the dbt project on disk, build state, publishing a finished build;
4. text: the taxonomy classifier and the hot issues, read from the warehouse;
5. quality: the expectation suites, their results and the quality gate;
6. report: the yearly report's data, charts and pages;
7. tools: what people run on the stages without Dagster (analysts' SQL, export, onboarding, the
   demo generator);
8. defs: the Dagster definitions (assets, checks, jobs, partitions, resources, schedules,
   sensors, the dbt project);
9. entry points: the code location, the in-process job runner, automation, status and the CLI.

Only the last two import Dagster. Read from the source with `ast`, function-level imports and
TYPE_CHECKING blocks included, so nothing is imported to check it.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

PACKAGE = "dagster_project"
PACKAGE_DIR = Path(__file__).resolve().parent.parent / PACKAGE

# Each layer's modules and packages (a package stands for every module in it).
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("basics", ("dagster_project", "dagster_project.settings", "dagster_project.canonical",
                "dagster_project.layouts", "dagster_project.sources",
                "dagster_project.personal_data", "dagster_project.sql",
                "dagster_project.processes", "dagster_project.locks",
                "dagster_project.progress")),
    ("ingest", ("dagster_project.ingest",)),
    ("warehouse", ("dagster_project.warehouse",)),
    ("text", ("dagster_project.text",)),
    ("quality", ("dagster_project.quality",)),
    ("report", ("dagster_project.report",)),
    ("tools", ("dagster_project.analyst", "dagster_project.export", "dagster_project.onboard",
               "dagster_project.demo")),
    ("defs", ("dagster_project.defs",)),
    ("entry points", ("dagster_project.definitions", "dagster_project.local_runs",
                      "dagster_project.automation", "dagster_project.status",
                      "dagster_project.cli")),
]
DAGSTER_LAYERS = {"defs", "entry points"}
PACKAGES = {name for _, names in LAYERS for name in names if (
    PACKAGE_DIR.parent / name.replace(".", "/") / "__init__.py").exists()}


@dataclass(frozen=True)
class Import:
    path: str  # relative to the checkout, for the message
    line: int
    statement: str
    target: str  # the module imported (a project module, or a top-level package)


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE_DIR.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE_DIR.rglob("*.py"))}


def layer_of(module: str) -> tuple[int, str] | None:
    for rank, (layer, names) in enumerate(LAYERS):
        for name in names:
            if module == name or (name in PACKAGES and name != PACKAGE
                                  and module.startswith(name + ".")):
                return rank, layer
    return None


def imports(module: str, path: Path, known: dict[str, Path]) -> list[Import]:
    """Every import statement of the module: the modules it names (for `from a import b`, the
    module `a.b` when b is one, else `a`)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    shown = str(path.relative_to(PACKAGE_DIR.parent))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from the package the module is in
                package = module if path.name == "__init__.py" else module.rpartition(".")[0]
                for _ in range(node.level - 1):
                    package = package.rpartition(".")[0]
                base = f"{package}.{base}".rstrip(".")
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base
                       for a in node.names]
        else:
            continue
        statement = ast.unparse(node)
        found += [Import(shown, node.lineno, statement, t) for t in dict.fromkeys(targets)]
    return found


def is_dagster(target: str) -> bool:
    top = target.partition(".")[0]
    return top == "dagster" or (top.startswith("dagster_") and top != PACKAGE)


def test_every_module_has_a_layer_and_every_layer_entry_exists() -> None:
    known = modules()
    unplaced = [m for m in known if layer_of(m) is None]
    assert not unplaced, (
        f"modules in no layer: {', '.join(unplaced)}; add each to LAYERS in "
        "tests/test_import_layers.py (and README's 'How the package is layered')")
    missing = [n for _, names in LAYERS for n in names if n not in known]
    assert not missing, f"LAYERS names modules that do not exist: {', '.join(missing)}"


def test_no_module_imports_from_a_layer_above_its_own() -> None:
    known = modules()
    backward = []
    for module, path in known.items():
        rank, layer = layer_of(module) or (len(LAYERS), "?")
        for found in imports(module, path, known):
            if not found.target.startswith(PACKAGE):
                continue
            placed = layer_of(found.target)
            if placed is not None and placed[0] > rank:
                backward.append(
                    f"{found.path}:{found.line}: `{found.statement}`: {module} ({layer}, "
                    f"layer {rank + 1}) imports {found.target} ({placed[1]}, layer "
                    f"{placed[0] + 1})")
    assert not backward, "imports from a higher layer:\n" + "\n".join(backward)


def test_only_the_dagster_definitions_and_entry_points_import_dagster() -> None:
    """The stages run without Dagster: an ingestion worker process never loads it."""
    known = modules()
    offending = []
    for module, path in known.items():
        placed = layer_of(module)
        if placed is None or placed[1] in DAGSTER_LAYERS:
            continue
        offending += [f"{f.path}:{f.line}: `{f.statement}` in {module} ({placed[1]})"
                      for f in imports(module, path, known) if is_dagster(f.target)]
    assert not offending, "Dagster imported below defs/:\n" + "\n".join(offending)


def _dagster_names(tree: ast.Module) -> set[str]:
    """The names a module binds, at module level, to Dagster packages or their members."""
    names = set()
    for node in tree.body:
        if isinstance(node, ast.Import):
            names |= {(a.asname or a.name).partition(".")[0]
                      for a in node.names if is_dagster(a.name)}
        elif isinstance(node, ast.ImportFrom) and not node.level and is_dagster(node.module or ""):
            names |= {a.asname or a.name for a in node.names}
    return names


def _root(node: ast.expr) -> str | None:
    """`dg` of `dg.asset(...)`, `dg.AssetKey`, `dbt_assets(...)`."""
    while isinstance(node, ast.Call | ast.Attribute | ast.Subscript):
        node = node.func if isinstance(node, ast.Call) else node.value
    return node.id if isinstance(node, ast.Name) else None


def _defines_dagster_object(node: ast.stmt, dagster: set[str]) -> bool:
    """A Dagster object made by a module-level statement: a value built by a Dagster call, a
    function or class decorated by Dagster, a class derived from a Dagster class, or a
    factory function (one that returns a Dagster call or holds a Dagster-decorated function)."""
    if isinstance(node, ast.Assign | ast.AnnAssign) and isinstance(node.value, ast.Call):
        return _root(node.value) in dagster
    if isinstance(node, ast.ClassDef):
        return any(_root(e) in dagster for e in [*node.bases, *node.decorator_list])
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
        if any(_root(d) in dagster for d in node.decorator_list):
            return True
        for inner in ast.walk(node):
            if inner is node:
                continue
            if isinstance(inner, ast.FunctionDef) and any(
                    _root(d) in dagster for d in inner.decorator_list):
                return True
            if (isinstance(inner, ast.Return) and isinstance(inner.value, ast.Call)
                    and _root(inner.value) in dagster):
                return True
    return False


def test_defs_holds_dagster_definitions_only() -> None:
    """Every module under defs/ defines at least one Dagster object at module level; what a
    stage needs besides (locks, publishing, build state) lives in that stage or beneath it."""
    not_definitions = []
    for module, path in modules().items():
        if not module.startswith(f"{PACKAGE}.defs"):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        shown = path.relative_to(PACKAGE_DIR.parent)
        if path.name == "__init__.py":
            code = [n.name for n in tree.body if isinstance(
                n, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)]
            if code:
                not_definitions.append(f"{shown}: a package's __init__ defines {', '.join(code)}")
            continue
        dagster = _dagster_names(tree)
        if not any(_defines_dagster_object(n, dagster) for n in tree.body):
            not_definitions.append(
                f"{shown}: defines no Dagster object (asset, check, job, partitions, resource, "
                "schedule, sensor, dbt project or translator); move it to the stage that uses "
                "it or beneath the stages")
    assert not not_definitions, "defs/ holds more than Dagster definitions:\n" + "\n".join(
        not_definitions)
