"""The files of the warehouse's `text` source, present before a build reads them.

The text stage runs after the build and writes `<data root>/text/*.parquet`; the models on
them are views, which DuckDB binds to the files when it creates them. Before a root's first
analysis those files do not exist yet, so each is written empty here, with the columns the
source declares (dbt/models/staging/text/_text__sources.yml): the views are created over
them, and show the analysis as soon as the text stage replaces them.
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb

from dagster_project.sql import quote_identifier, sql_literal
from dagster_project.warehouse.dbt_files import MANIFEST_PATH

TEXT_SOURCE = "source.hotline.text."


def text_source_columns(manifest: Path = MANIFEST_PATH) -> dict[str, list[tuple[str, str]]]:
    """Each table of the text source: its declared columns and types."""
    sources = json.loads(manifest.read_text(encoding="utf-8"))["sources"]
    return {node["name"]: [(c["name"], c["data_type"]) for c in node["columns"].values()]
            for key, node in sources.items() if key.startswith(TEXT_SOURCE)}


def ensure_text_files(text_dir: Path, manifest: Path = MANIFEST_PATH) -> list[Path]:
    """Write each text source's file, empty, where it does not exist; the files written."""
    written = []
    tables = text_source_columns(manifest)
    missing = {name: columns for name, columns in tables.items()
               if not (text_dir / f"{name}.parquet").exists()}
    if not missing:
        return written
    text_dir.mkdir(parents=True, exist_ok=True)
    with duckdb.connect() as con:
        for name, columns in missing.items():
            path = text_dir / f"{name}.parquet"
            partial = path.with_name(path.name + ".partial")
            select = ", ".join(f"cast(null as {data_type}) as {quote_identifier(column)}"
                               for column, data_type in columns)
            con.execute(f"copy (select {select} where false) to {sql_literal(str(partial))} "
                        "(format parquet)")
            partial.replace(path)
            written.append(path)
    return written
