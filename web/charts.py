"""Charts drawn on the server as SVG: no script, no library, readable without either.

Each chart is an `<svg role="img">` with a title; the page shows the same figures as a table
beside it, for screen readers and for copying. Text inside the SVG is escaped here, since the
markup is marked safe for the templates.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from html import escape

from markupsafe import Markup


@dataclass(frozen=True)
class Series:
    name: str
    values: list[int]
    css_class: str  # colours live in the stylesheet: chart-issued, chart-retired …


@dataclass(frozen=True)
class Bar:
    label: str
    value: int
    share: float  # of the largest value, 0–100


def bars(rows: list[tuple[str, int]]) -> list[Bar]:
    """Rows for a horizontal bar list, each with its length relative to the largest."""
    largest = max((value for _, value in rows), default=0)
    return [Bar(label, value, 100 * value / largest if largest else 0) for label, value in rows]


def nice_ceiling(value: float) -> float:
    """The axis maximum: 1, 2, 2.5 or 5 times a power of ten, at or above `value`."""
    if value <= 0:
        return 1
    power = 10 ** math.floor(math.log10(value))
    return next(step * power for step in (1, 2, 2.5, 5, 10) if step * power >= value)


WIDTH, HEIGHT = 420, 220
LEFT, RIGHT, TOP, BOTTOM = 44, 8, 10, 34


def column_chart(title: str, categories: list[str], series: list[Series], unit: str, scale: float = 1.0) -> Markup:
    """Grouped columns, one group per category (a month, a vintage). Values are divided by `scale`
    for the axis (kg shown as t with scale=1000)."""
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    top = nice_ceiling(max((v for s in series for v in s.values), default=0) / scale)
    group_w = plot_w / max(1, len(categories))
    bar_w = group_w * 0.8 / max(1, len(series))
    parts = [f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(title)}">'
             f"<title>{escape(title)}</title>"]
    for tick in range(5):
        value = top * tick / 4
        y = TOP + plot_h - plot_h * tick / 4
        parts.append(f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}"/>'
                     f'<text class="axis" x="{LEFT - 4}" y="{y + 3:.1f}" text-anchor="end">{_short(value)}</text>')
    parts.append(f'<text class="axis" x="{LEFT - 4}" y="{HEIGHT - 4}" text-anchor="end">{escape(unit)}</text>')
    label_every = max(1, math.ceil(len(categories) / 12))
    for i, category in enumerate(categories):
        x0 = LEFT + i * group_w + group_w * 0.1
        for j, s in enumerate(series):
            height = plot_h * (s.values[i] / scale) / top
            parts.append(f'<rect class="{escape(s.css_class)}" x="{x0 + j * bar_w:.1f}" '
                         f'y="{TOP + plot_h - height:.1f}" width="{bar_w:.1f}" height="{height:.1f}">'
                         f"<title>{escape(s.name)} {escape(category)}: {s.values[i] / scale:,.3f} {escape(unit)}"
                         "</title></rect>")
        if i % label_every == 0:
            parts.append(f'<text class="axis" x="{LEFT + (i + 0.5) * group_w:.1f}" y="{TOP + plot_h + 14}" '
                         f'text-anchor="middle">{escape(category)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def _short(value: float) -> str:
    for limit, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= limit:
            return f"{value / limit:g}{suffix}"
    return f"{value:g}"


# Dates as axis labels: as many as fit the chart's width.
X_LABELS = 4


def line_chart(title: str, labels: list[str], values: list[float], unit: str, marked: list[bool],
               marked_name: str) -> Markup:
    """A time series as a line (energy per day of a monitoring period), with the buckets in `marked`
    shaded behind it (days with gaps or QA findings). Values are plotted as given, in `unit`."""
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    top = nice_ceiling(max(values, default=0))
    step = plot_w / max(1, len(values))
    parts = [f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(title)}">'
             f"<title>{escape(title)}</title>"]
    for i, label in enumerate(labels):
        if marked[i]:
            parts.append(f'<rect class="chart-excluded" x="{LEFT + i * step:.1f}" y="{TOP}" width="{step:.1f}" '
                         f'height="{plot_h}"><title>{escape(label)}: {escape(marked_name)}</title></rect>')
    for tick in range(5):
        value = top * tick / 4
        y = TOP + plot_h - plot_h * tick / 4
        parts.append(f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}"/>'
                     f'<text class="axis" x="{LEFT - 4}" y="{y + 3:.1f}" text-anchor="end">{_short(value)}</text>')
    parts.append(f'<text class="axis" x="{LEFT - 4}" y="{HEIGHT - 4}" text-anchor="end">{escape(unit)}</text>')
    points = [(LEFT + (i + 0.5) * step, TOP + plot_h - plot_h * value / top) for i, value in enumerate(values)]
    if len(points) == 1:
        parts.append(f'<circle class="chart-issued" cx="{points[0][0]:.1f}" cy="{points[0][1]:.1f}" r="3"/>')
    elif points:
        parts.append('<polyline class="chart-line" points="'
                     + " ".join(f"{x:.1f},{y:.1f}" for x, y in points) + '"/>')
    label_every = max(1, math.ceil(len(labels) / X_LABELS))
    for i in range(0, len(labels), label_every):
        parts.append(f'<text class="axis" x="{points[i][0]:.1f}" y="{TOP + plot_h + 14}" '
                     f'text-anchor="middle">{escape(labels[i])}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))
