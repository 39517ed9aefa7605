"""Inline SVG charts drawn from data alone: no script, no external font or URL, deterministic."""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

from markupsafe import Markup

_FONT = "'Noto Sans CJK SC','Noto Sans SC','Source Han Sans SC','Microsoft YaHei',sans-serif"


@dataclass(frozen=True)
class Bar:
    label: str
    value: float
    highlight: bool = False


def horizontal_bars(
    bars: list[Bar],
    *,
    title: str,
    max_value: float = 100.0,
    width: int = 720,
    bar_height: int = 16,
    label_width: int = 140,
    value_format: str = "{:.1f}",
) -> Markup:
    """A horizontal bar chart with labels on the left and values at the bar ends."""
    gap = 6
    top = 8
    plot_width = width - label_width - 60
    height = top * 2 + len(bars) * (bar_height + gap)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" viewBox="0 0 {width} {height}" '
        f'width="100%" font-family="{escape(_FONT)}" font-size="12">',
        f"<title>{escape(title)}</title>",
    ]
    for index, bar in enumerate(bars):
        y = top + index * (bar_height + gap)
        length = max(0.0, min(1.0, bar.value / max_value)) * plot_width if max_value else 0
        colour = "#c0392b" if bar.highlight else "#2e6da4"
        parts.append(
            f'<text x="{label_width - 6}" y="{y + bar_height - 4}" text-anchor="end">'
            f"{escape(bar.label)}</text>"
            f'<rect x="{label_width}" y="{y}" width="{length:.1f}" height="{bar_height}" '
            f'fill="{colour}"/>'
            f'<text x="{label_width + length + 4:.1f}" y="{y + bar_height - 4}">'
            f"{escape(value_format.format(bar.value))}</text>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))
