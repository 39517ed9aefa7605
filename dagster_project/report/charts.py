"""Inline SVG charts drawn from data alone: no script, no external font or URL, deterministic.

Every chart is an <svg> element to place inside the HTML (no namespace URL is needed there);
labels are escaped here, values are formatted by the report's formatting module.

Labels are placed, not just drawn: with no browser to measure text, widths are estimated from the
characters (generously, so estimates err towards more room), and a label that would cross a mean
line, another label or the chart's edge moves to a free spot; long labels are shortened with "…"
(the full text stays in a tooltip) and axis labels are thinned until they fit.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from html import escape
from itertools import pairwise
from unicodedata import east_asian_width

from markupsafe import Markup

from dagster_project.report import formatting

_FONT = "'Noto Sans CJK SC','Noto Sans SC','Source Han Sans SC','Microsoft YaHei',sans-serif"
ACCENT = "#2e6da4"
HIGHLIGHT = "#c0392b"
NATIONAL = "#9aa5b1"
GRID = "#d8dee6"
INK = "#1d2733"
MUTED = "#5b6776"

Formatter = Callable[[float], str]


@dataclass(frozen=True)
class Bar:
    label: str
    value: float
    highlight: bool = False


@dataclass(frozen=True)
class Point:
    label: str
    x: float
    y: float
    highlight: bool = False


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[float | None]
    colour: str


@dataclass(frozen=True)
class Box:
    """The estimated extent of a label (SVG user units, y downwards)."""

    x0: float
    y0: float
    x1: float
    y1: float

    def overlaps(self, other: Box, pad: float = 1.0) -> bool:
        return (self.x0 < other.x1 + pad and other.x0 < self.x1 + pad
                and self.y0 < other.y1 + pad and other.y0 < self.y1 + pad)

    def crosses_x(self, x: float, pad: float = 2.0) -> bool:
        return self.x0 - pad <= x <= self.x1 + pad

    def inside(self, width: float, height: float) -> bool:
        return self.x0 >= 0 and self.y0 >= 0 and self.x1 <= width and self.y1 <= height


def text_width(text: str, size: float) -> float:
    """Estimated advance of `text` at font size `size`: wide (CJK, full-width) and ambiguous
    glyphs take a whole em, the rest 0.6 em (the CJK fonts' Latin and digits are narrower)."""
    return sum(size * (1.0 if east_asian_width(ch) in "WFA" else 0.6) for ch in text)


def text_box(x: float, y: float, text: str, size: float, anchor: str = "start") -> Box:
    """The box of a label drawn at (x, baseline y)."""
    w = text_width(text, size)
    x0 = x - w / 2 if anchor == "middle" else x - w if anchor == "end" else x
    return Box(x0, y - 0.9 * size, x0 + w, y + 0.2 * size)


def fit_text(text: str, size: float, room: float) -> str:
    """`text`, shortened with "…" when wider than `room`."""
    if text_width(text, size) <= room:
        return text
    while text and text_width(text + "…", size) > room:
        text = text[:-1]
    return text + "…"


def thin_ticks(positions: Sequence[float], texts: Sequence[str], size: float,
               minimum_step: int = 1, gap: float = 4.0) -> list[int]:
    """Indexes of the axis labels to draw: every k-th, k the smallest (at least
    `minimum_step`) for which neighbouring labels, centred on their positions, keep `gap` apart."""
    step = max(1, minimum_step)
    while step < len(positions):
        kept = list(range(0, len(positions), step))
        if all(positions[b] - positions[a]
               >= (text_width(texts[a], size) + text_width(texts[b], size)) / 2 + gap
               for a, b in pairwise(kept)):
            return kept
        step += 1
    return [0] if positions else []


def _labelled(text: str, shown: str, svg_text: str) -> str:
    """A label shortened for room keeps its full text as a tooltip."""
    return svg_text if shown == text else f"<g><title>{escape(text)}</title>{svg_text}</g>"


def _open(width: int, height: int, title: str) -> list[str]:
    return [
        f'<svg role="img" aria-label="{escape(title)}" viewBox="0 0 {width} {height}" '
        f'width="100%" style="max-width:{width}px" preserveAspectRatio="xMinYMin meet" '
        f'font-family="{escape(_FONT)}" '
        f'font-size="12" fill="{INK}">',
        f"<title>{escape(title)}</title>",
    ]


def _text(x: float, y: float, text: str, anchor: str = "start", **attrs: str) -> str:
    extra = "".join(f' {k.replace("_", "-")}="{escape(v)}"' for k, v in attrs.items())
    return f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}"{extra}>{escape(text)}</text>'


def horizontal_bars(
    bars: Sequence[Bar],
    *,
    title: str,
    max_value: float = 100.0,
    width: int = 720,
    bar_height: int = 16,
    label_width: int = 140,
    fmt: Formatter = formatting.score,
    mean: float | None = None,
    mean_label: str = "全国平均",
) -> Markup:
    """A horizontal bar chart with labels on the left and values at the bar ends; with `mean`,
    a dashed line at the mean, labelled above the bars, that no value label crosses."""
    gap = 6
    size = 12.0
    top = 8 + (18 if mean is not None else 0)  # a row above the bars for the mean's label
    plot_width = width - label_width - 70
    height = top + 8 + max(1, len(bars)) * (bar_height + gap)

    def scale(value: float) -> float:
        return max(0.0, min(1.0, value / max_value)) * plot_width if max_value else 0.0

    mean_x = label_width + scale(mean) if mean is not None else None
    parts = _open(width, height, title)
    if mean is not None and mean_x is not None:
        text = f"{mean_label} {fmt(mean)}"
        w = text_width(text, size)
        # Centred on the line where there is room, else kept inside the chart.
        x = min(max(mean_x - w / 2, label_width), width - 2 - w)
        parts.append(
            f'<line x1="{mean_x:.1f}" y1="{top - 4}" x2="{mean_x:.1f}" y2="{height - 4}" '
            f'stroke="{HIGHLIGHT}" stroke-dasharray="4 3"/>'
            + _text(x, top - 8, text, fill=HIGHLIGHT)
        )
    for index, bar in enumerate(bars):
        y = top + index * (bar_height + gap)
        baseline = y + bar_height - 4
        length = scale(bar.value)
        colour = HIGHLIGHT if bar.highlight else ACCENT
        label = fit_text(bar.label, size, label_width - 8)
        value = fmt(bar.value)
        value_x = label_width + length + 4
        if mean_x is not None and text_box(value_x, baseline, value, size).crosses_x(mean_x):
            value_x = mean_x + 4  # past the mean line rather than through it
        parts.append(
            _labelled(bar.label, label, _text(label_width - 6, baseline, label, "end"))
            + f'<rect x="{label_width}" y="{y}" width="{length:.1f}" height="{bar_height}" '
            f'fill="{colour}"/>'
            + _text(value_x, baseline, value)
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def histogram(
    values: Sequence[float],
    *,
    title: str,
    edges: Sequence[float] = tuple(range(0, 101, 10)),
    mean: float | None = None,
    width: int = 340,
    height: int = 180,
) -> Markup:
    """Counts of values per bin [edge_i, edge_i+1) (the last bin closed), with the mean marked.

    A count label that would cross the mean line moves beside it (or higher up), and the mean's
    own label sits under the axis, kept inside the chart."""
    bins = [0] * (len(edges) - 1)
    for value in values:
        for index in range(len(bins)):
            last = index == len(bins) - 1
            if edges[index] <= value < edges[index + 1] or (last and value == edges[-1]):
                bins[index] += 1
                break
    left, right, top, bottom = 28, 14, 32, 30
    small = 10.0
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = max(bins) or 1
    step = plot_w / len(bins)
    parts = _open(width, height, title)
    shown_title = fit_text(title, 12, width - left - 4)
    parts.append(_labelled(title, shown_title, _text(left, 16, shown_title, font_weight="600")))
    occupied = [text_box(left, 16, shown_title, 12)]
    parts.append(
        f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" '
        f'stroke="{GRID}"/>'
    )
    mean_x: float | None = None
    if mean is not None and edges[0] <= mean <= edges[-1]:
        mean_x = left + plot_w * (mean - edges[0]) / (edges[-1] - edges[0])
        occupied.append(Box(mean_x - 0.5, top, mean_x + 0.5, top + plot_h))  # the mean line
    for index, n in enumerate(bins):
        bar_h = plot_h * n / peak
        x = left + index * step
        span = f"{formatting.number(edges[index], 0)}–{formatting.number(edges[index + 1], 0)}"
        parts.append(
            f'<rect x="{x + 1:.1f}" y="{top + plot_h - bar_h:.1f}" width="{step - 2:.1f}" '
            f'height="{bar_h:.1f}" fill="{ACCENT}"><title>{escape(span)}：{n}</title></rect>'
        )
        if n:
            label = formatting.count(n)
            centre = x + step / 2
            baseline = top + plot_h - bar_h - 3
            candidates = [(centre, baseline, "middle")]
            if mean_x is not None:
                # Beside the line on the bin's side first, then the other side, then higher up.
                beside = [(mean_x + 3, baseline, "start"), (mean_x - 3, baseline, "end")]
                candidates += beside if centre >= mean_x else beside[::-1]
                candidates += [(centre, baseline - lift, "middle") for lift in (12, 24)]
            placed = _first_free(candidates, label, small, occupied, width, height)
            occupied.append(text_box(placed[0], placed[1], label, small, placed[2]))
            parts.append(_text(placed[0], placed[1], label, placed[2], font_size="10"))
    tick_y = top + plot_h + 13
    if mean_x is not None and mean is not None:
        text = "均值 " + formatting.score(mean)
        w = text_width(text, small)
        x = min(max(mean_x, w / 2 + 1), width - w / 2 - 1)
        parts.append(
            f'<line x1="{mean_x:.1f}" y1="{top}" x2="{mean_x:.1f}" y2="{top + plot_h}" '
            f'stroke="{HIGHLIGHT}" stroke-dasharray="4 3"/>'
        )
        parts.append(_text(x, height - 3, text, "middle", font_size="10", fill=HIGHLIGHT))
        occupied.append(text_box(x, height - 3, text, small, "middle"))
    positions = [left + index * step for index in range(len(edges))]
    texts = [formatting.number(edge, 0) for edge in edges]
    for index in thin_ticks(positions, texts, small, minimum_step=2 if len(edges) > 6 else 1):
        box = text_box(positions[index], tick_y, texts[index], small, "middle")
        if any(box.overlaps(other) for other in occupied):
            continue
        parts.append(_text(positions[index], tick_y, texts[index], "middle", font_size="10",
                           fill=MUTED))
    parts.append("</svg>")
    return Markup("".join(parts))


def _first_free(
    candidates: Sequence[tuple[float, float, str]],
    text: str,
    size: float,
    occupied: Sequence[Box],
    width: float,
    height: float,
) -> tuple[float, float, str]:
    """The first candidate position (x, baseline, anchor) whose label stays inside the chart and
    clear of what is `occupied` (labels, mean lines); else the first candidate."""
    for x, y, anchor in candidates:
        box = text_box(x, y, text, size, anchor)
        if box.inside(width, height) and not any(box.overlaps(other) for other in occupied):
            return x, y, anchor
    return candidates[0]


def scatter(
    points: Sequence[Point],
    *,
    title: str,
    x_label: str,
    y_label: str,
    domain: tuple[float, float] | None = None,
    diagonal: bool = True,
    width: int = 520,
    height: int = 420,
) -> Markup:
    """Points on a square domain, with the line y = x when `diagonal`."""
    left, right, top, bottom = 48, 16, 16, 44
    plot_w, plot_h = width - left - right, height - top - bottom
    lo, hi = domain or score_domain([v for p in points for v in (p.x, p.y)])
    span = (hi - lo) or 1.0

    def px(v: float) -> float:
        return left + plot_w * (min(hi, max(lo, v)) - lo) / span

    def py(v: float) -> float:
        return top + plot_h - plot_h * (min(hi, max(lo, v)) - lo) / span

    parts = _open(width, height, title)
    for tick in _ticks(lo, hi):
        parts.append(
            f'<line x1="{left}" y1="{py(tick):.1f}" x2="{left + plot_w}" y2="{py(tick):.1f}" '
            f'stroke="{GRID}"/>'
            + _text(left - 6, py(tick) + 4, formatting.number(tick, 0), "end", fill=MUTED)
            + _text(px(tick), top + plot_h + 16, formatting.number(tick, 0), "middle",
                    fill=MUTED)
        )
    if diagonal:
        parts.append(
            f'<line x1="{px(lo):.1f}" y1="{py(lo):.1f}" x2="{px(hi):.1f}" y2="{py(hi):.1f}" '
            f'stroke="{NATIONAL}" stroke-dasharray="5 4"/>'
        )
    for point in sorted(points, key=lambda p: p.highlight):
        colour = HIGHLIGHT if point.highlight else ACCENT
        parts.append(
            f'<circle cx="{px(point.x):.1f}" cy="{py(point.y):.1f}" r="4" fill="{colour}" '
            f'fill-opacity="0.75"><title>{escape(point.label)}：'
            f"{escape(formatting.score(point.x))} → {escape(formatting.score(point.y))}"
            "</title></circle>"
        )
    parts.append(_text(left + plot_w / 2, height - 6, x_label, "middle"))
    parts.append(
        f'<text x="14" y="{top + plot_h / 2:.1f}" text-anchor="middle" '
        f'transform="rotate(-90 14 {top + plot_h / 2:.1f})">{escape(y_label)}</text>'
    )
    parts.append("</svg>")
    return Markup("".join(parts))


def share_scale(values: Iterable[float], least: float = 0.01) -> float:
    """The value a bar of shares spans the full width at: the largest share, and at least
    `least`, so that a chart of zeros still has a scale."""
    return max([*values, least])


def score_domain(values: Sequence[float], step: float = 10.0) -> tuple[float, float]:
    """The part of 0–100 that holds the values, widened to whole steps."""
    if not values:
        return 0.0, 100.0
    lo = max(0.0, step * (min(values) // step))
    hi = min(100.0, step * -(-max(values) // step))
    return (lo, hi) if hi > lo else (max(0.0, lo - step), min(100.0, lo + step))


def _ticks(lo: float, hi: float) -> list[float]:
    step = 10.0 if hi - lo <= 50 else 20.0
    first = step * -(-lo // step)
    return [first + i * step for i in range(int((hi - first) // step) + 1)]


def grouped_bars(
    labels: Sequence[str],
    series: Sequence[Series],
    *,
    title: str,
    max_value: float = 100.0,
    width: int = 720,
    bar_height: int = 13,
    label_width: int = 100,
    fmt: Formatter = formatting.score,
) -> Markup:
    """One group of horizontal bars per label, one bar per series, with a legend on top (in as
    many rows as the series' names need)."""
    group_gap = 10
    size = 12.0
    rows: list[list[tuple[float, Series]]] = [[]]
    x = float(label_width)
    for item in series:
        item_w = 16 + text_width(item.name, size) + 12
        if rows[-1] and x + item_w > width:
            rows.append([])
            x = float(label_width)
        rows[-1].append((x, item))
        x += item_w
    legend = 6 + 18 * len(rows)
    group_h = len(series) * bar_height + group_gap
    height = legend + len(labels) * group_h + 4
    plot_width = width - label_width - 70
    parts = _open(width, height, title)
    for row_index, row in enumerate(rows):
        y = 4 + 18 * row_index
        for x, item in row:
            name = fit_text(item.name, size, width - x - 18)
            parts.append(
                f'<rect x="{x:.1f}" y="{y}" width="12" height="12" fill="{item.colour}"/>'
                + _labelled(item.name, name, _text(x + 16, y + 10, name))
            )
    for index, label in enumerate(labels):
        y0 = legend + index * group_h
        shown = fit_text(label, size, label_width - 8)
        parts.append(_labelled(label, shown, _text(
            label_width - 6, y0 + len(series) * bar_height / 2 + 4, shown, "end")))
        for row, item in enumerate(series):
            value = item.values[index]
            y = y0 + row * bar_height
            if value is None:
                parts.append(_text(label_width + 4, y + bar_height - 3, formatting.MISSING,
                                   font_size="10"))
                continue
            length = max(0.0, min(1.0, value / max_value)) * plot_width if max_value else 0
            parts.append(
                f'<rect x="{label_width}" y="{y}" width="{length:.1f}" '
                f'height="{bar_height - 1}" fill="{item.colour}"/>'
                + _text(label_width + length + 4, y + bar_height - 3, fmt(value),
                        font_size="10")
            )
    parts.append("</svg>")
    return Markup("".join(parts))


def rank_history(
    ranks: Sequence[tuple[int, int, int]],
    *,
    title: str,
    width: int = 520,
    height: int = 180,
) -> Markup:
    """National rank per year (year, rank, hotlines ranked), rank 1 on top; a point's label goes
    above it, or below where the top edge or a neighbour's label is in the way."""
    left, right, top, bottom = 44, 24, 22, 28
    size = 11.0
    plot_w, plot_h = width - left - right, height - top - bottom
    worst = max((n for _, _, n in ranks), default=1)
    years = [y for y, _, _ in ranks]
    first, last = (min(years), max(years)) if years else (0, 0)

    def px(year: int) -> float:
        return left + (plot_w / 2 if first == last else plot_w * (year - first) / (last - first))

    def py(rank: int) -> float:
        return top + (0 if worst == 1 else plot_h * (rank - 1) / (worst - 1))

    parts = _open(width, height, title)
    occupied: list[Box] = []
    for rank in sorted({1, worst}):
        text = f"第{rank}名"
        parts.append(
            f'<line x1="{left}" y1="{py(rank):.1f}" x2="{left + plot_w}" y2="{py(rank):.1f}" '
            f'stroke="{GRID}"/>'
            + _text(left - 6, py(rank) + 4, text, "end", fill=MUTED, font_size="10")
        )
        occupied.append(text_box(left - 6, py(rank) + 4, text, 10, "end"))
    path = " ".join(
        f"{'M' if i == 0 else 'L'}{px(y):.1f},{py(r):.1f}" for i, (y, r, _) in enumerate(ranks)
    )
    if len(ranks) > 1:
        parts.append(f'<path d="{path}" fill="none" stroke="{ACCENT}" stroke-width="2"/>')
    year_y = top + plot_h + 18
    year_texts = [f"{year}年" for year, _, _ in ranks]
    shown_years = set(thin_ticks([px(y) for y in years], year_texts, 12))
    for index, (year, rank, of) in enumerate(ranks):
        x, y = px(year), py(rank)
        label = f"{rank}/{of}"
        x = min(max(x, text_width(label, size) / 2 + 1), width - text_width(label, size) / 2 - 1)
        placed = _first_free([(x, y - 8, "middle"), (x, y + 16, "middle")], label, size,
                             occupied, width, year_y - 12)
        occupied.append(text_box(placed[0], placed[1], label, size, "middle"))
        parts.append(
            f'<circle cx="{px(year):.1f}" cy="{y:.1f}" r="4" fill="{ACCENT}"/>'
            + _text(placed[0], placed[1], label, "middle", font_size="11")
        )
        if index in shown_years:
            parts.append(_text(px(year), year_y, year_texts[index], "middle", fill=MUTED))
    parts.append("</svg>")
    return Markup("".join(parts))