"""The report's layout: pages that fit a phone without sideways scrolling, chart labels that
never collide with each other or with a mean line, and a print stylesheet that applies.

The chart checks read the SVG text back and estimate each label's box independently of
charts.py (CJK and full-width glyphs one em wide, everything else 0.62 em), so a placement that
only looks free to the chart code's own estimate still fails here."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from itertools import combinations
from typing import Any
from unicodedata import east_asian_width

import pytest
from markupsafe import Markup
from playwright.sync_api import BrowserContext
from test_report_site import Site, browser  # noqa: F401 (fixtures used by name)

from dagster_project.report import charts
from dagster_project.settings import DataPaths

CITY = "110000"
WIDTHS = (1280, 390)


@pytest.fixture(scope="module")
def site(shared_demo: DataPaths) -> Site:
    """The demo as `make demo` builds it (read-only): the layout needs no planted data."""
    return Site(shared_demo)


# ---------------------------------------------------------------------------------------------
# Reading a chart's labels and mean lines back from its SVG.
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Label:
    text: str
    x0: float
    y0: float
    x1: float
    y1: float

    def overlaps(self, other: Label | Segment) -> bool:
        return (self.x0 < other.x1 and other.x0 < self.x1
                and self.y0 < other.y1 and other.y0 < self.y1)


@dataclass(frozen=True)
class Segment:
    """A vertical mean line, as a box one unit wide."""

    x0: float
    y0: float
    x1: float
    y1: float


def _width(text: str, size: float) -> float:
    return sum(size * (1.0 if east_asian_width(ch) in "WFA" else 0.62) for ch in text)


class _Chart(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.view: tuple[float, float] = (0.0, 0.0)
        self.labels: list[Label] = []
        self.means: list[Segment] = []
        self._open: dict[str, str] | None = None
        self._text = ""
        self._in_title = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "svg":
            _, _, w, h = (float(v) for v in a["viewbox"].split())
            self.view = (w, h)
        elif tag == "text":
            self._open, self._text = a, ""
        elif tag == "title":
            self._in_title += 1
        elif tag == "line" and a.get("stroke") == charts.HIGHLIGHT:
            x1, x2 = float(a["x1"]), float(a["x2"])
            y1, y2 = sorted((float(a["y1"]), float(a["y2"])))
            assert x1 == x2, "mean lines are vertical"
            self.means.append(Segment(x1 - 0.5, y1, x1 + 0.5, y2))

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title -= 1
        elif tag == "text" and self._open is not None:
            self.labels.append(self._label(self._open, self._text))
            self._open = None

    def handle_data(self, data: str) -> None:
        if self._open is not None and not self._in_title:
            self._text += data

    @staticmethod
    def _label(a: dict[str, str], text: str) -> Label:
        size = float(a.get("font-size", "12"))
        x, y = float(a["x"]), float(a["y"])
        w = _width(text, size)
        anchor = a.get("text-anchor", "start")
        x0 = x - w / 2 if anchor == "middle" else x - w if anchor == "end" else x
        box = Label(text, x0, y - 0.88 * size, x0 + w, y + 0.12 * size)
        rotation = re.fullmatch(r"rotate\(-90 ([\d.]+) ([\d.]+)\)", a.get("transform", ""))
        if rotation:  # turned a quarter anticlockwise about (cx, cy)
            cx, cy = float(rotation[1]), float(rotation[2])
            box = Label(text, cx + (box.y0 - cy), cy - (box.x1 - cx),
                        cx + (box.y1 - cy), cy - (box.x0 - cx))
        return box


def read_chart(svg: Markup) -> _Chart:
    parser = _Chart()
    parser.feed(str(svg))
    return parser


def assert_labels_clear(svg: Markup) -> _Chart:
    """Every label inside the chart, clear of every other label and of every mean line."""
    chart = read_chart(svg)
    width, height = chart.view
    for label in chart.labels:
        assert label.x0 >= -0.5 and label.x1 <= width + 0.5, f"{label} leaves the chart sideways"
        assert label.y0 >= -0.5 and label.y1 <= height + 0.5, f"{label} leaves the chart"
        for line in chart.means:
            assert not label.overlaps(line), f"{label.text!r} crosses the mean line"
    for a, b in combinations(chart.labels, 2):
        assert not a.overlaps(b), f"{a.text!r} overlaps {b.text!r}"
    return chart


# ---------------------------------------------------------------------------------------------
# Chart labels.
# ---------------------------------------------------------------------------------------------
def test_the_checker_sees_an_overlap() -> None:
    """The old histogram drew a count label straight through the mean line."""
    clash = Markup(
        '<svg viewBox="0 0 100 50"><text x="50" y="20" text-anchor="middle">12</text>'
        f'<line x1="50" y1="0" x2="50" y2="40" stroke="{charts.HIGHLIGHT}"/></svg>')
    with pytest.raises(AssertionError, match="crosses the mean line"):
        assert_labels_clear(clash)


@pytest.mark.parametrize("mean", [0.0, 4.9, 45.0, 50.0, 84.97, 85.0, 99.9, 100.0])
def test_histogram_labels_avoid_the_mean_and_each_other(mean: float) -> None:
    # Many hotlines with near-equal scores: tall bins around the mean, short ones beside it.
    values = [84.9 + 0.01 * i for i in range(30)] + [75.0, 76.0, 95.0, 45.0, 55.0, 0.0, 100.0]
    values += [mean] * 3
    chart = assert_labels_clear(charts.histogram(values, title="接通率", mean=mean))
    assert len(chart.means) == 1
    shown = {label.text for label in chart.labels}
    assert "均值 " + charts.formatting.score(mean) in shown
    counts = [sum(1 for v in values if lo <= v < lo + 10 or v == lo + 10 == 100)
              for lo in range(0, 100, 10)]
    assert {str(n) for n in counts if n} <= shown  # the counts are still drawn, only moved


def test_histogram_counts_in_every_bin_next_to_the_mean() -> None:
    values = [float(v) for v in range(0, 101)] * 2
    for mean in (5.0, 10.0, 15.0, 50.0, 95.0):
        assert_labels_clear(charts.histogram(values, title="问题解决", mean=mean))


def test_bar_values_avoid_the_mean_line() -> None:
    # Forty hotlines within a few hundredths of the mean, long names among them.
    bars = [charts.Bar(f"第{i}号热线" + "很长的热线名称" * (i % 3), 80.0 + (i - 20) * 0.01,
                       highlight=i == 20) for i in range(41)]
    chart = assert_labels_clear(charts.horizontal_bars(bars, title="t", mean=80.0))
    assert len(chart.means) == 1
    assert any(label.text.startswith("全国平均") for label in chart.labels)
    assert any(label.text.endswith("…") for label in chart.labels)  # long names shortened


@pytest.mark.parametrize("mean", [0.0, 1.0, 50.0, 99.0, 100.0])
def test_bar_mean_label_stays_inside_the_chart(mean: float) -> None:
    bars = [charts.Bar("华东（12）", mean), charts.Bar("华中（3）", 100.0), charts.Bar("西北", 0.0)]
    assert_labels_clear(charts.horizontal_bars(bars, title="t", mean=mean, label_width=110))


def test_bars_without_a_mean_keep_their_labels_apart() -> None:
    bars = [charts.Bar("城乡建设", 0.1532), charts.Bar("劳动和社会保障" * 3, 0.0001),
            charts.Bar("x", 1.0)]
    assert_labels_clear(charts.horizontal_bars(bars, title="t", max_value=1.0,
                                               fmt=charts.formatting.percent))


def test_grouped_bars_labels_and_legend_fit() -> None:
    labels = ["总得分", "接通率", "转人工时长", "一个很长很长很长的指标名称"]
    series = [charts.Series("某某市人民政府12345政务服务便民热线" * 2, [99.99, 0.0, 50.0, None],
                            charts.ACCENT),
              charts.Series("全国平均", [99.98, 0.01, 50.01, 80.0], charts.NATIONAL)]
    assert_labels_clear(charts.grouped_bars(labels, series, title="t"))


def test_scatter_labels_are_clear_of_each_other() -> None:
    points = [charts.Point(f"h{i}", 80.0 + i * 0.001, 80.0 - i * 0.001) for i in range(60)]
    assert_labels_clear(charts.scatter(points, title="t", x_label="2018年总分",
                                       y_label="2019年总分"))
    assert_labels_clear(charts.scatter([charts.Point("a", 0.0, 100.0)], title="t",
                                       x_label="x", y_label="y", domain=(0.0, 100.0)))


@pytest.mark.parametrize("ranks", [
    [(2019, 1, 41)],
    [(2018, 1, 35), (2019, 41, 41)],
    [(year, 1 + (year % 2), 2) for year in range(2000, 2020)],  # twenty years, ranks 1 and 2
    [(year, 40, 41) for year in range(2010, 2020)],
])
def test_rank_history_labels_fit(ranks: list[tuple[int, int, int]]) -> None:
    assert_labels_clear(charts.rank_history(ranks, title="t"))


def test_dense_axis_labels_are_thinned() -> None:
    edges = [float(e) for e in range(0, 101, 2)]  # fifty bins
    chart = assert_labels_clear(charts.histogram([50.0], title="t", edges=edges))
    ticks = [label for label in chart.labels if label.text.isdigit() and label.text != "1"]
    assert 2 < len(ticks) < len(edges)


# ---------------------------------------------------------------------------------------------
# Pages in a browser: no sideways scrolling, and the print stylesheet.
# ---------------------------------------------------------------------------------------------
OVERFLOW = """() => ({scroll: document.scrollingElement.scrollWidth, inner: window.innerWidth})"""

# Elements reaching past the right edge of the page that no scroll box of theirs contains.
STICKING_OUT = """(limit) => [...document.querySelectorAll('body *')].filter(el => {
  const r = el.getBoundingClientRect();
  if (r.width === 0 || r.right <= limit + 0.5) return false;
  for (let p = el.parentElement; p; p = p.parentElement) {
    if (['auto', 'scroll', 'hidden'].includes(getComputedStyle(p).overflowX)) return false;
  }
  return true;
}).map(el => el.tagName + (el.id ? '#' + el.id : ''))"""


@pytest.fixture
def open_page(browser: BrowserContext) -> Iterator[Any]:  # noqa: F811 (the fixture above)
    opened: list[Any] = []

    def open_at(url: str, width: int, media: str = "screen") -> Any:
        page = browser.new_page()
        page.set_viewport_size({"width": width, "height": 900})
        opened.append(page)
        page.route("**/*", lambda route: route.continue_()
                   if route.request.url.startswith("file:") else route.abort())
        page.emulate_media(media=media)  # type: ignore[arg-type]
        page.goto(url, wait_until="load")
        return page

    yield open_at
    for page in opened:
        page.close()


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("relative", ["index.html", f"city/{CITY}.html"])
def test_pages_do_not_scroll_sideways(site: Site, open_page: Any,
                                      relative: str, width: int) -> None:
    page = open_page(site.url(relative), width)
    sizes = page.evaluate(OVERFLOW)
    assert sizes["inner"] == width
    assert sizes["scroll"] <= sizes["inner"], page.evaluate(STICKING_OUT, width)


def test_wide_tables_scroll_inside_their_box_on_a_phone(site: Site, open_page: Any) -> None:
    page = open_page(site.url(), 390)
    wraps = page.evaluate("""() => [...document.querySelectorAll('table')].map(t => {
      const box = t.closest('.table-wrap');
      return {id: t.id || t.className, wrapped: !!box,
              scrolls: box ? getComputedStyle(box).overflowX : null,
              wide: box ? box.scrollWidth > box.clientWidth : false};
    })""")
    assert wraps and all(w["wrapped"] and w["scrolls"] == "auto" for w in wraps), wraps
    assert any(w["id"] == "ranking-table" and w["wide"] for w in wraps)  # it does need to scroll
    heading = page.locator("h1").bounding_box()
    assert heading is not None and heading["x"] + heading["width"] <= 390


@pytest.mark.parametrize("relative", ["index.html", f"city/{CITY}.html"])
def test_print_stylesheet_applies(site: Site, open_page: Any, relative: str) -> None:
    # About the width an A4 landscape page leaves for text.
    page = open_page(site.url(relative), 1000, media="print")
    hidden = page.evaluate("""() => [...document.querySelectorAll(
        'nav.toc, nav.pager, .breadcrumb, .pdf-download, .screen-only')].map(
        el => getComputedStyle(el).display)""")
    assert hidden and set(hidden) == {"none"}
    style = page.evaluate("""() => {
      const body = getComputedStyle(document.body);
      const link = [...document.querySelectorAll('main a')].find(a => a.offsetParent);
      return {colour: body.color, background: body.backgroundColor,
              link: link ? [getComputedStyle(link).color,
                           getComputedStyle(link.parentElement).color] : [],
              wraps: [...document.querySelectorAll('.table-wrap')].map(
                  w => getComputedStyle(w).overflowX)};
    }""")
    assert style["colour"] == "rgb(0, 0, 0)"
    assert style["background"] in ("rgb(255, 255, 255)", "rgba(0, 0, 0, 0)")
    # Links print as the text around them, not in the screen's blue.
    assert len(set(style["link"])) <= 1 and "rgb(46, 109, 164)" not in style["link"]
    assert set(style["wraps"]) == {"visible"}  # printed tables are never cut to a scroll box
    clipped = page.evaluate("""() => [...document.querySelectorAll('table')].filter(t => {
      const main = document.querySelector('main').getBoundingClientRect();
      return t.getBoundingClientRect().right > main.right + 0.5;
    }).map(t => t.id || t.className)""")
    assert clipped == []
    assert page.evaluate(OVERFLOW)["scroll"] <= 1000
    headings = page.evaluate("""() => [...document.querySelectorAll('h2, h3')].map(
        h => getComputedStyle(h).breakAfter)""")
    assert headings and set(headings) == {"avoid"}
