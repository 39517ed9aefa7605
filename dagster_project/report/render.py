"""Render the yearly report from the marts: read-only queries, Jinja2 templates, atomic writes.

site/<year>/index.html     the national monitoring results (年度监测成果)
site/<year>/city/<code>.html one page per monitored hotline and per city with tickets
site/<year>/report.pdf     the national page typeset by WeasyPrint (CJK font embedded)
"""

from __future__ import annotations

import datetime as dt
import os
import tempfile
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from dagster_project.personal_data import find_personal_data
from dagster_project.report.data import (
    AWARDS,
    INDICATORS,
    AwardLayout,
    ReportData,
    ReportDataError,
    award_sections,
    indicator_config,
    load_report,
    monitoring_years,
)
from dagster_project.report.formatting import FILTERS
from dagster_project.settings import PROJECT_ROOT

TEMPLATES_DIR = PROJECT_ROOT / "reports" / "templates"
PDF_NAME = "report.pdf"
CITY_DIR = "city"

__all__ = [
    "AWARDS",
    "INDICATORS",
    "AwardLayout",
    "RenderedReport",
    "ReportDataError",
    "ReportRenderError",
    "award_sections",
    "environment",
    "indicator_config",
    "load_report",
    "monitoring_years",
    "render_pages",
    "render_pdf",
    "render_year",
]


class ReportRenderError(RuntimeError):
    """A page or the PDF could not be produced."""


@dataclass(frozen=True)
class RenderedReport:
    year: int
    index_path: Path
    city_paths: tuple[Path, ...] = ()
    pdf_path: Path | None = None


def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=select_autoescape(["html", "j2"], default=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(FILTERS)
    return env


def city_page(code: str) -> str:
    """Path of a city page relative to the year's folder."""
    return f"{CITY_DIR}/{code}.html"


def render_pages(
    data: ReportData, generated_at: str, env: Environment | None = None
) -> dict[str, str]:
    """Every HTML page of the year, by path relative to site/<year>/."""
    env = env or environment()
    common = {"generated_at": generated_at, "page_codes": data.index["page_codes"]}
    pages = {"index.html": env.get_template("index.html.j2").render(
        **data.index, generated_at=generated_at, pdf=False)}
    template = env.get_template("city.html.j2")
    codes = sorted(data.cities)
    for position, code in enumerate(codes):
        neighbours = {
            "previous_city": data.cities[codes[position - 1]] if position > 0 else None,
            "next_city": data.cities[codes[position + 1]] if position + 1 < len(codes) else None,
        }
        pages[city_page(code)] = template.render(**data.cities[code], **common, **neighbours)
    return pages


def render_pdf_html(data: ReportData, generated_at: str, env: Environment | None = None) -> str:
    """The national page as typeset for print: same content, no links to other pages."""
    env = env or environment()
    return env.get_template("index.html.j2").render(
        **data.index, generated_at=generated_at, pdf=True)


def render_pdf(html: str, target: Path) -> Path:
    """Typeset `html` with WeasyPrint into `target` (written atomically); fonts are embedded."""
    try:
        from weasyprint import HTML
        from weasyprint.urls import URLFetcher
    except OSError as exc:  # Pango and friends are system libraries
        raise ReportRenderError(
            "WeasyPrint cannot load its system libraries (Debian: libpango-1.0-0 "
            f"libpangoft2-1.0-0); install them to produce {target.name}: {exc}"
        ) from exc
    # The page needs nothing from outside (CSS and SVG are inline): fetch nothing, offline or not.
    fetcher = URLFetcher(allowed_protocols=("data",))
    document = HTML(string=html, base_url=str(target.parent), url_fetcher=fetcher)
    pdf = document.write_pdf()
    if pdf is None:
        raise ReportRenderError(f"WeasyPrint produced nothing for {target}")
    _write_atomically(target, pdf)
    return target


def render_year(
    warehouse: Path,
    site: Path,
    year: int,
    generated_at: dt.datetime | None = None,
    lake: Path | None = None,
) -> RenderedReport:
    """Render site/<year>/: index.html, a page per city and report.pdf, from the marts (and
    the latest quality results in `lake`). Each file is replaced atomically; city pages of
    cities no longer in the year are removed."""
    data = load_report(warehouse, year, lake)
    stamp = (generated_at or dt.datetime.now()).strftime("%Y-%m-%d %H:%M")
    env = environment()
    folder = site / str(year)
    pages = render_pages(data, stamp, env)
    pdf_html = render_pdf_html(data, stamp, env)
    refuse_personal_data(folder, pages | {PDF_NAME: pdf_html})
    written = write_pages(folder, pages)
    pdf = render_pdf(pdf_html, folder / PDF_NAME)
    return RenderedReport(
        year=year,
        index_path=folder / "index.html",
        city_paths=tuple(p for p in written if p.parent.name == CITY_DIR),
        pdf_path=pdf,
    )


class _VisibleText(HTMLParser):
    """The text a reader sees (and a PDF holds): text nodes and tooltips, not styles or the
    geometry of charts, whose runs of numbers are not anyone's data."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("style", "script"):
            self._skipping += 1
        self.parts += [v for k, v in attrs if k in ("title", "aria-label", "alt") and v]

    def handle_endtag(self, tag: str) -> None:
        if tag in ("style", "script"):
            self._skipping = max(0, self._skipping - 1)

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(data)


def visible_text(html: str) -> str:
    parser = _VisibleText()
    parser.feed(html)
    parser.close()
    return "\n".join(parser.parts)


def refuse_personal_data(folder: Path, pages: dict[str, str]) -> None:
    """Publish nothing if any page (or the PDF's page) shows personal data: the marts were
    checked, but a page is the last line before readers."""
    leaks = [f"{folder / name}: {', '.join(sorted({f.kind for f in found}))}"
             for name, html in sorted(pages.items())
             if (found := find_personal_data(visible_text(html)))]
    if leaks:
        raise ReportRenderError(
            "personal data on the report's pages, nothing was published: " + "; ".join(leaks)
            + ". Find it with the personal_data check (`hotline check`) and mask it at its "
            "source; the warehouse should not hold it")


def write_pages(folder: Path, pages: dict[str, str]) -> list[Path]:
    """Write every page atomically, then drop city pages that the year no longer has."""
    written = []
    for relative in sorted(pages):
        target = folder / relative
        _write_atomically(target, pages[relative])
        written.append(target)
    city_dir = folder / CITY_DIR
    if city_dir.is_dir():
        keep = {p.name for p in written if p.parent == city_dir}
        for stale in sorted(city_dir.glob("*.html")):
            if stale.name not in keep:
                stale.unlink()
    return written


def _write_atomically(target: Path, content: str | bytes) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    data = content.encode("utf-8") if isinstance(content, str) else content
    handle, staged = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.chmod(staged, 0o644)  # a published page, readable like any file written normally
        os.replace(staged, target)
    except BaseException:
        Path(staged).unlink(missing_ok=True)
        raise

