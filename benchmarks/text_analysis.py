"""The text stage's costs: training the taxonomy classifier, a million predictions, and the
hot issues, each beside a reference measured in the same run.

    .venv/bin/python benchmarks/text_analysis.py --root <a built data root> \\
        [--predictions 1000000] [--per-class N] [--json results.json]

On the root's published warehouse (e.g. `hotline demo`'s):

  train        the classifier on the root's labelled sample (`read_labelled`), as the text
               stage trains it, without its cross-validation
  reference    the reference model (character 1–3-gram TF-IDF, linear SVM) on the same sample
  predict      `--predictions` texts (the root's ticket texts drawn with replacement) through
               `predict_unclassified` in its batches: the model's class, probability and
               level-2 label of each
  ref_predict  the reference model's classes of the same texts
  hot_issues   `find_hot_issues` on the root's candidate tickets
  read         DuckDB reading those candidates' texts from the warehouse: the floor the
               grouping starts from

Wall times, and the peak resident memory of this process after each step (it only grows:
the difference between steps is what a step added). BENCHMARKS.md, "The text stage",
explains the figures.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import duckdb  # noqa: E402
import numpy as np  # noqa: E402
import pyarrow as pa  # noqa: E402

from dagster_project.settings import DataPaths  # noqa: E402
from dagster_project.text.classifier import (  # noqa: E402
    raw_text,
    reference_model,
    train,
)
from dagster_project.text.hot_issues import find_hot_issues  # noqa: E402
from dagster_project.text.run import (  # noqa: E402
    class_names,
    predict_unclassified,
    read_issue_candidates,
    read_labelled,
)
from dagster_project.text.settings import load_text_settings  # noqa: E402


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, required=True)
    parser.add_argument("--predictions", type=int, default=1_000_000)
    parser.add_argument("--per-class", type=int, help="labelled tickets per class both models "
                        "train on (default: the setting max_tickets_per_class)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    paths = DataPaths(root=args.root.resolve())
    settings = load_text_settings(paths.reference)
    if args.per_class is not None:
        settings = settings.model_validate({**settings.model_dump(), "classifier": {
            **settings.classifier.model_dump(), "max_tickets_per_class": args.per_class}})
    classifier = settings.classifier
    figures: dict[str, dict[str, float]] = {}

    def step(name: str, started: float, rows: int) -> None:
        seconds = time.monotonic() - started
        figures[name] = {"seconds": round(seconds, 2), "rows": rows,
                         "rows_per_second": round(rows / seconds) if seconds else 0,
                         "peak_rss_mb": round(_peak_mb())}
        print(f"{name:<12} {seconds:8.2f} s {rows:>12,} rows {rows / seconds:>12,.0f} rows/s "
              f"peak {_peak_mb():,.0f} MB", flush=True)

    with duckdb.connect(str(paths.warehouse), read_only=True) as con:
        names = class_names(con)
        sample = read_labelled(con, classifier.max_tickets_per_class, classifier.seed)
        texts = con.execute("select city_code, ticket_id, title, content "
                            "from fct_ticket_texts").to_arrow_table()
        started = time.monotonic()
        candidates = read_issue_candidates(con, settings.hot_issues.request_types)
        step("read", started, candidates.num_rows)

    started = time.monotonic()
    model = train(sample, classifier, "benchmark")
    step("train", started, len(sample))
    started = time.monotonic()
    raw = np.asarray(raw_text(sample), dtype=object)
    reference = reference_model(classifier.seed).fit(raw, sample.category_code)
    step("reference", started, len(sample))

    draw = np.random.default_rng(0).integers(0, texts.num_rows, args.predictions)
    many = texts.take(pa.array(draw))
    started = time.monotonic()
    predicted = predict_unclassified(many, model, settings, names)
    step("predict", started, predicted.num_rows)
    started = time.monotonic()
    many_raw = [f"{t or ''} {c or ''}" for t, c in zip(many["title"].to_pylist(),
                                                      many["content"].to_pylist(), strict=True)]
    for start in range(0, len(many_raw), classifier.batch_tickets):
        reference.predict(many_raw[start:start + classifier.batch_tickets])
    step("ref_predict", started, len(many_raw))

    started = time.monotonic()
    issues = find_hot_issues(candidates, settings.hot_issues)
    step("hot_issues", started, candidates.num_rows)
    figures["hot_issues"]["issues"] = len(issues.issues)
    ratios = {
        "predict / ref_predict": figures["predict"]["seconds"] / figures["ref_predict"]["seconds"],
        "train / reference": figures["train"]["seconds"] / figures["reference"]["seconds"],
        "hot_issues / read": figures["hot_issues"]["seconds"] / figures["read"]["seconds"],
    }
    for name, value in ratios.items():
        print(f"{name:<24} {value:6.2f}")
    if args.json:
        args.json.write_text(json.dumps({"figures": figures, "ratios": ratios}, indent=2))


if __name__ == "__main__":
    main()
