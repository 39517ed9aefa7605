"""Inline SVG charts drawn from data alone: no script, no external font or URL, deterministic.

Every chart is an <svg> element to place inside the HTML (no namespace URL is needed there);
labels are escaped here, values are formatted by the report's formatting module.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape

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
) -> Markup:
    """A horizontal bar chart with labels on the left and values at the bar ends."""
    gap = 6
    top = 8
    plot_width = width - label_width - 70
    height = top * 2 + max(1, len(bars)) * (bar_height + gap)
    parts = _open(width, height, title)
    for index, bar in enumerate(bars):
        y = top + index * (bar_height + gap)
        share = max(0.0, min(1.0, bar.value / max_value)) if max_value else 0.0
        length = share * plot_width
        colour = HIGHLIGHT if bar.highlight else ACCENT
        parts.append(
            _text(label_width - 6, y + bar_height - 4, bar.label, "end")
            + f'<rect x="{label_width}" y="{y}" width="{length:.1f}" height="{bar_height}" '
            f'fill="{colour}"/>'
            + _text(label_width + length + 4, y + bar_height - 4, fmt(bar.value))
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
    """Counts of values per bin [edge_i, edge_i+1) (the last bin closed), with the mean marked."""
    bins = [0] * (len(edges) - 1)
    for value in values:
        for index in range(len(bins)):
            last = index == len(bins) - 1
            if edges[index] <= value < edges[index + 1] or (last and value == edges[-1]):
                bins[index] += 1
                break
    left, right, top, bottom = 28, 8, 22, 28
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = max(bins) or 1
    step = plot_w / len(bins)
    parts = _open(width, height, title)
    parts.append(_text(left, 14, title, font_weight="600"))
    parts.append(
        f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" '
        f'stroke="{GRID}"/>'
    )
    for index, n in enumerate(bins):
        bar_h = plot_h * n / peak
        x = left + index * step
        span = f"{formatting.number(edges[index], 0)}–{formatting.number(edges[index + 1], 0)}"
        parts.append(
            f'<rect x="{x + 1:.1f}" y="{top + plot_h - bar_h:.1f}" width="{step - 2:.1f}" '
            f'height="{bar_h:.1f}" fill="{ACCENT}"><title>{escape(span)}：{n}</title></rect>'
        )
        if n:
            parts.append(_text(x + step / 2, top + plot_h - bar_h - 3, formatting.count(n),
                               "middle", font_size="10"))
    for index, edge in enumerate(edges):
        if index % 2 == 0:
            parts.append(_text(left + index * step, top + plot_h + 14,
                               formatting.number(edge, 0), "middle", font_size="10",
                               fill=MUTED))
    if mean is not None and edges[0] <= mean <= edges[-1]:
        x = left + plot_w * (mean - edges[0]) / (edges[-1] - edges[0])
        parts.append(
            f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{top + plot_h}" '
            f'stroke="{HIGHLIGHT}" stroke-dasharray="4 3"/>'
        )
        parts.append(_text(x, height - 2, "均值 " + formatting.score(mean), "middle",
                           font_size="10", fill=HIGHLIGHT))
    parts.append("</svg>")
    return Markup("".join(parts))


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
    bar_height: int = 12,
    label_width: int = 100,
    fmt: Formatter = formatting.score,
) -> Markup:
    """One group of horizontal bars per label, one bar per series, with a legend on top."""
    group_gap = 10
    legend = 22
    group_h = len(series) * bar_height + group_gap
    height = legend + len(labels) * group_h + 4
    plot_width = width - label_width - 70
    parts = _open(width, height, title)
    x = label_width
    for item in series:
        parts.append(
            f'<rect x="{x}" y="4" width="12" height="12" fill="{item.colour}"/>'
            + _text(x + 16, 14, item.name)
        )
        x += 24 + 13 * len(item.name)
    for index, label in enumerate(labels):
        y0 = legend + index * group_h
        parts.append(_text(label_width - 6, y0 + len(series) * bar_height / 2 + 4, label, "end"))
        for row, item in enumerate(series):
            value = item.values[index]
            y = y0 + row * bar_height
            if value is None:
                parts.append(_text(label_width + 4, y + bar_height - 2, formatting.MISSING,
                                   font_size="10"))
                continue
            length = max(0.0, min(1.0, value / max_value)) * plot_width if max_value else 0
            parts.append(
                f'<rect x="{label_width}" y="{y}" width="{length:.1f}" '
                f'height="{bar_height - 1}" fill="{item.colour}"/>'
                + _text(label_width + length + 4, y + bar_height - 2, fmt(value),
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
    """National rank per year (year, rank, hotlines ranked), rank 1 on top."""
    left, right, top, bottom = 44, 24, 16, 28
    plot_w, plot_h = width - left - right, height - top - bottom
    worst = max((n for _, _, n in ranks), default=1)
    years = [y for y, _, _ in ranks]
    first, last = (min(years), max(years)) if years else (0, 0)

    def px(year: int) -> float:
        return left + (plot_w / 2 if first == last else plot_w * (year - first) / (last - first))

    def py(rank: int) -> float:
        return top + (0 if worst == 1 else plot_h * (rank - 1) / (worst - 1))

    parts = _open(width, height, title)
    for rank in sorted({1, worst}):
        parts.append(
            f'<line x1="{left}" y1="{py(rank):.1f}" x2="{left + plot_w}" y2="{py(rank):.1f}" '
            f'stroke="{GRID}"/>'
            + _text(left - 6, py(rank) + 4, f"第{rank}名", "end", fill=MUTED, font_size="10")
        )
    path = " ".join(
        f"{'M' if i == 0 else 'L'}{px(y):.1f},{py(r):.1f}" for i, (y, r, _) in enumerate(ranks)
    )
    if len(ranks) > 1:
        parts.append(f'<path d="{path}" fill="none" stroke="{ACCENT}" stroke-width="2"/>')
    for year, rank, of in ranks:
        parts.append(
            f'<circle cx="{px(year):.1f}" cy="{py(rank):.1f}" r="4" fill="{ACCENT}"/>'
            + _text(px(year), py(rank) - 8, f"{rank}/{of}", "middle", font_size="11")
            + _text(px(year), top + plot_h + 18, f"{year}年", "middle", fill=MUTED)
        )
    parts.append("</svg>")
    return Markup("".join(parts))
