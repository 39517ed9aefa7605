"""The yearly publication, report.pdf: typeset by `hotline publish` only (the daily report and
refresh render HTML and say when the PDF is stale), behind the same quality gate; a cover with
the configured publisher, contents whose page numbers are the chapters' pages, a page number on
every page after the cover, CJK fonts embedded; and no PDF at all, with an error naming the
font package, when fontconfig knows no Chinese font."""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from pipeline_helpers import HOTLINE, hotline_env
from pipeline_helpers import run_hotline as hotline

from dagster_project.quality import write_results
from dagster_project.quality.runner import SuiteOutcome
from dagster_project.quality.validate import ExpectationOutcome
from dagster_project.report.publication import (
    DEFAULT_PUBLISHER,
    PublicationConfigError,
    load_publication,
)
from dagster_project.report.render import (
    CJK_FONT_PACKAGE,
    ReportRenderError,
    check_cjk_fonts,
    render_pdf,
)
from dagster_project.settings import DataPaths
from dagster_project.warehouse.build_state import recorded_data_version

YEAR = 2019
PUBLISHER = "某省12345热线工作办公室"
TITLE = f"{YEAR}全国12345政务服务便民热线监测成果"
PAGE_NUMBER = re.compile(r"第\s*(\d+)\s*页\s*/\s*共\s*(\d+)\s*页")


def pdf_pages(path: Path) -> list[str]:
    tool = shutil.which("pdftotext")
    assert tool, "pdftotext (Debian poppler-utils) is needed"
    text = subprocess.run([tool, "-layout", "-enc", "UTF-8", str(path), "-"], check=True,
                          capture_output=True, text=True).stdout
    pages = text.split("\f")
    return pages[:-1] if pages and not pages[-1].strip() else pages


def flat(text: str) -> str:
    return re.sub(r"\s+", "", text)


def fontless_config(folder: Path) -> Path:
    """A fontconfig configuration whose only font folder is empty: no font at all."""
    (folder / "fonts").mkdir(parents=True)
    conf = folder / "fonts.conf"
    conf.write_text(
        '<?xml version="1.0"?>\n<!DOCTYPE fontconfig SYSTEM "urn:fontconfig:fonts.dtd">\n'
        f"<fontconfig><dir>{folder / 'fonts'}</dir><cachedir>{folder / 'cache'}</cachedir>"
        "</fontconfig>\n", encoding="utf-8")
    return conf


# ---------------------------------------------------------------------------------------------
# Without a warehouse: the font check and the publication settings.
# ---------------------------------------------------------------------------------------------
def test_the_font_check_finds_the_installed_cjk_font() -> None:
    assert "CJK" in check_cjk_fonts("全国12345政务服务便民热线监测成果（第 1 页）")
    assert check_cjk_fonts("only Latin 123") == ""


def test_without_a_cjk_font_nothing_is_typeset_and_the_error_names_the_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FONTCONFIG_FILE", str(fontless_config(tmp_path / "fc")))
    target = tmp_path / "site" / "report.pdf"
    html = '<html lang="zh-CN"><body><h1>2019全国12345政务服务便民热线监测成果</h1></body></html>'
    with pytest.raises(ReportRenderError) as raised:
        render_pdf(html, target)
    message = str(raised.value)
    assert CJK_FONT_PACKAGE in message and "apt-get install fonts-noto-cjk" in message
    assert "no Chinese font is installed" in message
    assert not target.exists() and not list(tmp_path.rglob("*.pdf"))


def test_publication_settings_default_validate_and_name_the_file(tmp_path: Path) -> None:
    assert load_publication(tmp_path).publisher == DEFAULT_PUBLISHER
    assert load_publication(tmp_path).title_of(YEAR) == TITLE
    path = tmp_path / "publication.yml"
    path.write_text(f"publisher: ' {PUBLISHER} '\ntitle: '{{year}}年度热线监测报告'\n",
                    encoding="utf-8")
    loaded = load_publication(tmp_path)
    assert loaded.publisher == PUBLISHER and loaded.title_of(2018) == "2018年度热线监测报告"
    for bad, named in (("publisher: ''\n", "publisher"), ("publsher: x\n", "publsher"),
                       ("title: '{city}监测'\n", "title"), ("- a list\n", "publisher and title")):
        path.write_text(bad, encoding="utf-8")
        with pytest.raises(PublicationConfigError) as raised:
            load_publication(tmp_path)
        assert str(path) in str(raised.value) and named in str(raised.value), bad


# ---------------------------------------------------------------------------------------------
# The commands on a small demo root.
# ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def built(shared_demo: DataPaths, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the demo root, ingested, built and checked, whose PDFs were never published:
    the year's HTML rendered again, so it says so."""
    root = tmp_path_factory.mktemp("publication") / "root"
    shutil.copytree(shared_demo.root, root, symlinks=True)
    for pdf in (root / "site").rglob("report.pdf"):
        pdf.unlink()
    result = hotline(root, "report", "--year", str(YEAR))
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    return root


@pytest.fixture(scope="module")
def published(built: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same root published with a configured publisher."""
    root = tmp_path_factory.mktemp("published") / "root"
    shutil.copytree(built, root, symlinks=True)
    (root / "reference").mkdir(exist_ok=True)
    (root / "reference" / "publication.yml").write_text(f"publisher: {PUBLISHER}\n",
                                                         encoding="utf-8")
    result = hotline(root, "publish", "--year", str(YEAR))
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    assert f"pdf {YEAR}: " in result.stdout and "(current)" in result.stdout, result.stdout
    return root


def folder(root: Path) -> Path:
    return root / "site" / str(YEAR)


def test_report_renders_html_only_and_says_the_pdf_is_not_published(built: Path) -> None:
    assert (folder(built) / "index.html").exists()
    assert not (folder(built) / "report.pdf").exists()
    assert "PDF 版尚未发布" in (folder(built) / "index.html").read_text(encoding="utf-8")
    result = hotline(built, "report", "--year", str(YEAR))
    assert result.returncode == 0, result.stderr[-2000:]
    assert f"pdf {YEAR}: not published; `hotline publish --year {YEAR}`" in result.stdout


def test_the_cover_names_title_year_and_configured_publisher(published: Path) -> None:
    cover = pdf_pages(folder(published) / "report.pdf")[0]
    assert TITLE in flat(cover) and f"{YEAR}年度" in flat(cover)
    assert PUBLISHER in flat(cover)
    assert not PAGE_NUMBER.search(cover)  # a cover carries no running header or footer


def test_the_contents_give_each_chapter_the_page_it_starts_on(published: Path) -> None:
    pages = pdf_pages(folder(published) / "report.pdf")
    contents = pages[1]
    assert "目录" in flat(contents)
    entries = re.findall(r"^\s*(\S+?)\s*\.{3,}\s*(\d+)\s*$", contents, re.M)
    titles = [t for t, _ in entries]
    assert {"全国概况", "热线监测排名", "方法说明"} <= set(titles), entries
    for title, number in entries:
        page = pages[int(number) - 1]
        starts = [line.strip() for line in page.splitlines()]
        assert title in starts, f"{title} is not a heading on page {number}"
        earlier = "\n".join(pages[2:int(number) - 1])
        assert not re.search(rf"^\s*{re.escape(title)}\s*$", earlier, re.M), title


def test_every_page_after_the_cover_has_its_number_and_the_running_header(
    published: Path,
) -> None:
    pages = pdf_pages(folder(published) / "report.pdf")
    assert len(pages) > 5
    for number, page in enumerate(pages[1:], start=2):
        found = PAGE_NUMBER.findall(page)
        assert found == [(str(number), str(len(pages)))], (number, found)
        assert PUBLISHER in flat(page), number
        if number > 2:
            assert TITLE in flat(page.strip().splitlines()[0]), number


def test_no_page_is_left_half_empty(published: Path, tmp_path: Path) -> None:
    """Every page between the contents and the last is inked at least halfway down its text
    area: nothing forces a break that leaves a page mostly blank."""
    from PIL import Image

    tool = shutil.which("pdftoppm")
    assert tool, "pdftoppm (Debian poppler-utils) is needed"
    subprocess.run([tool, "-r", "20", "-gray", str(folder(published) / "report.pdf"),
                    str(tmp_path / "page")], check=True)
    images = sorted(tmp_path.glob("page-*.pgm"))
    assert len(images) > 5
    filled = []
    for image in images:
        with Image.open(image) as page:
            width, height = page.size
            pixels = page.load()
            # The text area of an A4 landscape page: below the 18 mm top margin, above the
            # 17 mm bottom one that holds the footer.
            top, foot = round(height * 18 / 210), round(height * (210 - 17) / 210)
            lowest = max((y for y in range(top, foot)
                          if any(pixels[x, y] < 200 for x in range(width))), default=top)
            filled.append(round((lowest - top) / (foot - top), 2))
    assert min(filled[2:-1]) >= 0.5, filled


def test_cjk_fonts_are_embedded(published: Path) -> None:
    tool = shutil.which("pdffonts")
    assert tool, "pdffonts (Debian poppler-utils) is needed"
    lines = subprocess.run([tool, str(folder(published) / "report.pdf")], check=True,
                           capture_output=True, text=True).stdout.splitlines()[2:]
    assert any("CJK" in line for line in lines), lines
    for line in lines:
        *_, emb, _sub, uni, _obj, _gen = line.split()
        assert emb == "yes" and uni == "yes", line


def test_the_page_links_the_current_pdf_and_says_when_it_is_stale(
    published: Path, tmp_path: Path,
) -> None:
    index = (folder(published) / "index.html").read_text(encoding="utf-8")
    assert 'href="report.pdf">下载 PDF 版</a>' in index
    root = tmp_path / "root"
    shutil.copytree(published, root, symlinks=True)
    pdf = folder(root) / "report.pdf"
    earlier = (root / "warehouse" / "warehouse.duckdb").stat().st_mtime - 3600
    os.utime(pdf, (earlier, earlier))  # typeset before the warehouse was last built
    result = hotline(root, "report", "--year", str(YEAR))
    assert result.returncode == 0, result.stderr[-2000:]
    assert f"pdf {YEAR}: stale" in result.stdout
    assert pdf.stat().st_mtime == earlier  # the report job does not typeset
    index = (folder(root) / "index.html").read_text(encoding="utf-8")
    assert "早于本页所依据的数据" in index and 'href="report.pdf"' in index


def test_publish_refuses_while_the_quality_gate_is_shut(built: Path, tmp_path: Path) -> None:
    root = tmp_path / "root"
    shutil.copytree(built, root, symlinks=True)
    when = dt.datetime.now(dt.UTC).replace(tzinfo=None) + dt.timedelta(days=1)
    # A failed check of the live warehouse's data (the version it read, as a real check's).
    version = recorded_data_version(root / "warehouse" / "warehouse.duckdb")
    assert version is not None
    write_results(SuiteOutcome("ticket_plausibility", "marts", "ERROR", 10, [ExpectationOutcome(
        "expect_column_values_to_not_be_null", "ticket_id", False, unexpected_count=3)],
        data_version=version), root / "lake", "planted-ticket_plausibility", when)
    result = hotline(root, "publish", "--year", str(YEAR))
    assert result.returncode != 0
    assert "blocked by the quality gate" in result.stderr
    assert not (folder(root) / "report.pdf").exists()


def test_publish_without_a_cjk_font_fails_clearly_and_writes_no_pdf(
    built: Path, tmp_path: Path,
) -> None:
    root = tmp_path / "root"
    shutil.copytree(built, root, symlinks=True)
    index = folder(root) / "index.html"
    before = index.read_bytes()
    env = hotline_env(root, FONTCONFIG_FILE=str(fontless_config(tmp_path / "fc")))
    result = subprocess.run([*HOTLINE, "publish", "--year", str(YEAR)], env=env,
                            capture_output=True, text=True, timeout=900)
    assert result.returncode != 0
    error = " ".join(result.stderr.split())
    assert "no Chinese font is installed" in error, error[-2000:]
    assert "apt-get install fonts-noto-cjk" in error
    assert not list((root / "site").rglob("*.pdf"))
    assert index.read_bytes() == before  # nothing written: the pages claim no new PDF
