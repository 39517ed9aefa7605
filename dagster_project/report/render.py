"""Render the yearly report from the marts: read-only queries, Jinja2 templates, atomic writes.

site/<year>/index.html     the national monitoring results (年度监测成果)
site/<year>/city/<code>.html one page per monitored hotline and per city with tickets
site/<year>/internal/index.html the operator's appendix: sources, files, reject reasons,
                           unmapped labels, every check by name; linked from no public page
site/<year>/report.pdf     the publication: cover, contents and the national page typeset by
                           WeasyPrint (CJK font embedded), only when the year is published
                           (`hotline publish`); every other rendering says whether it is stale
"""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, fields
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
from dagster_project.report.publication import Publication
from dagster_project.settings import PROJECT_ROOT

TEMPLATES_DIR = PROJECT_ROOT / "reports" / "templates"
PDF_NAME = "report.pdf"
CITY_DIR = "city"
INTERNAL_PAGE = "internal/index.html"
# The national page as the site shows it (with the PDF's download line) and as it is printed.
SITE_INDEX_TEMPLATE = "site_index.html.j2"
PUBLICATION_TEMPLATE = "publication.html.j2"
CJK_FONT_PACKAGE = "fonts-noto-cjk"
# From CJK Radicals on: the characters a Latin font does not have (ideographs, CJK and
# full-width punctuation), which print as empty boxes without a CJK font.
CJK_FROM = 0x2E80

__all__ = [
    "AWARDS",
    "INDICATORS",
    "AwardLayout",
    "PdfState",
    "RenderedReport",
    "ReportDataError",
    "ReportRenderError",
    "award_sections",
    "check_cjk_fonts",
    "environment",
    "indicator_config",
    "load_report",
    "monitoring_years",
    "page_context",
    "pdf_state",
    "render_pages",
    "render_pdf",
    "render_year",
]


class ReportRenderError(RuntimeError):
    """A page or the PDF could not be produced."""


@dataclass(frozen=True)
class PdfState:
    """The year's PDF against the warehouse: absent, current, or typeset from an older build."""

    path: Path
    published_at: dt.datetime | None  # None: never published
    stale: bool

    @property
    def absent(self) -> bool:
        return self.published_at is None

    def describe(self) -> str:
        if self.published_at is None:
            return f"{self.path} has not been published"
        state = "stale: typeset before the warehouse was last built" if self.stale else "current"
        return f"{self.path} ({self.published_at:%Y-%m-%d %H:%M}) is {state}"


@dataclass(frozen=True)
class RenderedReport:
    year: int
    index_path: Path
    city_paths: tuple[Path, ...] = ()
    pdf_path: Path | None = None
    pdf: PdfState | None = None


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


def page_context(page: object) -> dict[str, object]:
    """A page's fields as the names its template reads. Shallow: each section stays the typed
    object it is, so that a field a template misspells fails the rendering (the environment
    is strict) instead of printing nothing."""
    return {f.name: getattr(page, f.name) for f in fields(page)}  # type: ignore[arg-type]


def city_page(code: str) -> str:
    """Path of a city page relative to the year's folder."""
    return f"{CITY_DIR}/{code}.html"


def pdf_state(folder: Path, warehouse: Path) -> PdfState:
    """Whether site/<year>/report.pdf exists and was typeset after the warehouse's last build
    (a build replaces the warehouse file, so its modification time is the build's)."""
    path = folder / PDF_NAME
    if not path.is_file():
        return PdfState(path=path, published_at=None, stale=True)
    typeset = path.stat().st_mtime
    built = warehouse.stat().st_mtime if warehouse.exists() else 0.0
    return PdfState(path=path, published_at=dt.datetime.fromtimestamp(typeset),
                    stale=built > typeset)


def _download(state: PdfState | None) -> dict[str, object] | None:
    """What the national page says about the PDF (None: nothing, e.g. for a bare render)."""
    if state is None:
        return None
    return {"href": PDF_NAME, "absent": state.absent, "stale": state.stale,
            "published_at": f"{state.published_at:%Y-%m-%d %H:%M}" if state.published_at
            else None}


def render_pages(
    data: ReportData, generated_at: str, env: Environment | None = None,
    pdf: PdfState | None = None,
) -> dict[str, str]:
    """Every HTML page of the year, by path relative to site/<year>/, the operator's appendix
    included; the national page says whether the PDF is published and current (`pdf`)."""
    env = env or environment()
    common = {"generated_at": generated_at, "build_engine": data.build_engine,
              "page_codes": data.index.page_codes}
    pages = {"index.html": env.get_template(SITE_INDEX_TEMPLATE).render(
        **page_context(data.index), generated_at=generated_at,
        build_engine=data.build_engine, pdf=False,
        pdf_download=_download(pdf))}
    template = env.get_template("city.html.j2")
    codes = sorted(data.cities)
    for position, code in enumerate(codes):
        neighbours = {
            "previous_city": data.cities[codes[position - 1]] if position > 0 else None,
            "next_city": data.cities[codes[position + 1]] if position + 1 < len(codes) else None,
        }
        pages[city_page(code)] = template.render(
            **page_context(data.cities[code]), **common, **neighbours)
    pages[INTERNAL_PAGE] = env.get_template("internal.html.j2").render(
        **page_context(data.internal), generated_at=generated_at,
        build_engine=data.build_engine)
    return pages


_SECTION_HEADING = re.compile(
    r'<section id="(?P<id>[^"]+)"[^>]*>\s*<h2[^>]*>(?P<title>.*?)</h2>', re.S)


def contents_of(html: str) -> list[dict[str, str]]:
    """The chapters of a page: every section that opens with an h2, in order."""
    return [{"id": m["id"], "title": " ".join(visible_text(m["title"]).split())}
            for m in _SECTION_HEADING.finditer(html)]


def render_pdf_html(
    data: ReportData, generated_at: str, env: Environment | None = None,
    publication: Publication | None = None,
) -> str:
    """The publication: a cover, the contents with page numbers, then the national page as
    typeset for print (same content, no links to other pages)."""
    env = env or environment()
    publication = publication or Publication()
    year = data.index.year
    # The contents follow whatever chapters the page has: read them off the page itself.
    body = env.get_template("index.html.j2").render(
        **page_context(data.index), generated_at=generated_at,
        build_engine=data.build_engine, pdf=True)
    return env.get_template(PUBLICATION_TEMPLATE).render(
        **page_context(data.index), generated_at=generated_at,
        build_engine=data.build_engine, pdf=True,
        publication_title=publication.title_of(year), publisher=publication.publisher,
        published_on=generated_at[:10], contents=contents_of(body))


def cjk_characters(text: str) -> list[str]:
    return sorted({c for c in text if ord(c) >= CJK_FROM and not c.isspace()})


def _fc_list(fc_list: str, pattern: str) -> list[str]:
    found = subprocess.run([fc_list, "--format", "%{family[0]}\n", pattern],
                           capture_output=True, text=True, check=False)
    return sorted({line.strip() for line in found.stdout.splitlines() if line.strip()})


def check_cjk_fonts(text: str) -> str:
    """The family of an installed Chinese font that has every CJK character of `text`, asked
    of fontconfig, which WeasyPrint's Pango uses too. Raises ReportRenderError naming the
    Debian package otherwise: without such a font the PDF prints empty boxes."""
    wanted = cjk_characters(text)
    if not wanted:
        return ""
    install = (f"Install the Debian package {CJK_FONT_PACKAGE} (as root: apt-get install "
               f"{CJK_FONT_PACKAGE}, or `make system-packages`) and publish again; no PDF was "
               "written")
    fc_list = shutil.which("fc-list")
    if fc_list is None:
        raise ReportRenderError(
            "cannot check the fonts for the PDF: fontconfig's fc-list is not installed "
            f"(Debian: fontconfig). {install}")
    chinese = _fc_list(fc_list, ":lang=zh")
    if not chinese:
        raise ReportRenderError(
            f"no Chinese font is installed (fontconfig lists none for :lang=zh): the PDF "
            f"would print its {len(wanted):,} distinct Chinese characters as empty boxes. "
            f"{install}")
    charset = " ".join(f"{ord(c):x}" for c in wanted)
    covering = _fc_list(fc_list, f":lang=zh:charset={charset}")
    if not covering:
        raise ReportRenderError(
            f"no installed Chinese font ({', '.join(chinese[:5])}) has all "
            f"{len(wanted):,} distinct Chinese characters of the report: the PDF would print "
            f"some as empty boxes. {install}")
    return covering[0]


def render_pdf(html: str, target: Path) -> Path:
    """Typeset `html` with WeasyPrint into `target` (written atomically); fonts are embedded.
    A Chinese font that covers the text is checked for first: nothing is written without."""
    check_cjk_fonts(visible_text(html))
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
    publish: bool = False,
    publication: Publication | None = None,
) -> RenderedReport:
    """Render site/<year>/: index.html and a page per city from the marts (and the latest
    quality results in `lake`); with `publish`, also typeset the publication, report.pdf.
    Each file is replaced atomically, and nothing is written when the PDF cannot be typeset;
    city pages of cities no longer in the year are removed."""
    data = load_report(warehouse, year, lake)
    now = generated_at or dt.datetime.now()
    stamp = now.strftime("%Y-%m-%d %H:%M")
    env = environment()
    folder = site / str(year)
    pdf: Path | None = None
    if publish:
        state = PdfState(path=folder / PDF_NAME, published_at=now, stale=False)
        pages = render_pages(data, stamp, env, state)
        pdf_html = render_pdf_html(data, stamp, env, publication)
        refuse_personal_data(folder, pages | {PDF_NAME: pdf_html})
        # The PDF first: when it cannot be typeset, the pages do not claim a current one.
        pdf = render_pdf(pdf_html, folder / PDF_NAME)
    else:
        state = pdf_state(folder, warehouse)
        pages = render_pages(data, stamp, env, state)
        refuse_personal_data(folder, pages)
    written = write_pages(folder, pages)
    return RenderedReport(
        year=year,
        index_path=folder / "index.html",
        city_paths=tuple(p for p in written if p.parent.name == CITY_DIR),
        pdf_path=pdf,
        pdf=pdf_state(folder, warehouse) if publish else state,
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

