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


def price_volume_chart(title: str, labels: list[str], prices_fen: list[int], volumes_kg: list[int], price_unit: str,
                       volume_unit: str) -> Markup:
    """Trades in time order: the price as a line above (yuan per tonne, its axis from the lowest to the
    highest price), the volume of each as a column below (tonnes)."""
    plot_w = WIDTH - LEFT - RIGHT
    price_h, gap, volume_h = 120, 16, 50
    volume_top = TOP + price_h + gap
    low, high = min(prices_fen, default=0) / 100, max(prices_fen, default=0) / 100
    span = max(high - low, high * 0.02, 0.01)
    low, high = low - span * 0.1, high + span * 0.1
    most = nice_ceiling(max(volumes_kg, default=0) / 1000)
    step = plot_w / max(1, len(prices_fen))
    parts = [f'<svg class="chart" viewBox="0 0 {WIDTH} {volume_top + volume_h + 24}" role="img" '
             f'aria-label="{escape(title)}"><title>{escape(title)}</title>']
    for tick in range(3):
        value = low + (high - low) * tick / 2
        y = TOP + price_h - price_h * tick / 2
        parts.append(f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}"/>'
                     f'<text class="axis" x="{LEFT - 4}" y="{y + 3:.1f}" text-anchor="end">{value:,.2f}</text>')
    parts.append(f'<text class="axis" x="{LEFT}" y="{TOP - 2}" text-anchor="start">{escape(price_unit)}</text>')
    points = [(LEFT + (i + 0.5) * step, TOP + price_h - price_h * (fen / 100 - low) / (high - low))
              for i, fen in enumerate(prices_fen)]
    if len(points) > 1:
        parts.append('<polyline class="chart-line" points="' + " ".join(f"{x:.1f},{y:.1f}" for x, y in points) + '"/>')
    for (x, y), fen, label in zip(points, prices_fen, labels, strict=True):
        parts.append(f'<circle class="chart-issued" cx="{x:.1f}" cy="{y:.1f}" r="2.5">'
                     f"<title>{escape(label)}: {fen // 100:,}.{fen % 100:02d} {escape(price_unit)}</title></circle>")
    parts.append(f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{volume_top + volume_h}" '
                 f'y2="{volume_top + volume_h}"/><text class="axis" x="{LEFT - 4}" y="{volume_top + 8}" '
                 f'text-anchor="end">{_short(most)} {escape(volume_unit)}</text>')
    for i, (kg, label) in enumerate(zip(volumes_kg, labels, strict=True)):
        height = volume_h * kg / 1000 / most
        parts.append(f'<rect class="chart-retired" x="{LEFT + i * step + step * 0.15:.1f}" '
                     f'y="{volume_top + volume_h - height:.1f}" width="{step * 0.7:.1f}" height="{height:.1f}">'
                     f"<title>{escape(label)}: {kg / 1000:,.3f} {escape(volume_unit)}</title></rect>")
    label_every = max(1, math.ceil(len(labels) / X_LABELS))
    for i in range(0, len(labels), label_every):
        parts.append(f'<text class="axis" x="{LEFT + (i + 0.5) * step:.1f}" y="{volume_top + volume_h + 14}" '
                     f'text-anchor="middle">{escape(labels[i])}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def demand_chart(title: str, curve: list[tuple[int, int]], lot_kg: int, clearing_price_fen: int | None,
                 price_unit: str, quantity_unit: str, lot_name: str, clearing_name: str) -> Markup:
    """An auction's demand curve as steps: for each bid price (fen per tonne, shown in yuan up the side)
    the tonnes bid at that price or higher (along the bottom), highest price first; a dashed line
    across at the clearing price and one up at the lot's size, where the two meet the lot clears."""
    left, right, top, bottom = 48, 12, 18, 34
    plot_w, plot_h = WIDTH - left - right, HEIGHT - top - bottom
    prices = [price / 100 for price, _ in curve] + ([clearing_price_fen / 100] if clearing_price_fen else [])
    low, high = min(prices, default=0), max(prices, default=0)
    span = max(high - low, high * 0.02, 0.01) * 1.3
    step = nice_ceiling(span / 4)
    low, high = math.floor((low - span * 0.1) / step) * step, math.ceil((high + span * 0.1) / step) * step
    most = nice_ceiling(max([kg for _, kg in curve] + [lot_kg]) / 1000 * 1.05)

    def x(kg: int) -> float:
        return left + plot_w * kg / 1000 / most

    def y(fen: int) -> float:
        return top + plot_h - plot_h * (fen / 100 - low) / (high - low)

    parts = [f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(title)}">'
             f"<title>{escape(title)}</title>"]
    ticks = round((high - low) / step)
    for tick in range(ticks + 1):
        value = low + step * tick
        at = top + plot_h - plot_h * tick / ticks
        parts.append(f'<line class="grid" x1="{left}" x2="{WIDTH - right}" y1="{at:.1f}" y2="{at:.1f}"/>'
                     f'<text class="axis" x="{left - 4}" y="{at + 3:.1f}" text-anchor="end">{value:,.2f}</text>')
    parts.append(f'<text class="axis" x="{left}" y="{top - 6}" text-anchor="start">{escape(price_unit)}</text>')
    for tick in range(5):
        at = left + plot_w * tick / 4
        anchor = "end" if tick == 4 else "start" if tick == 0 else "middle"
        parts.append(f'<text class="axis" x="{at:.1f}" y="{top + plot_h + 14}" text-anchor="{anchor}">'
                     f"{_short(most * tick / 4)}</text>")
    parts.append(f'<text class="axis" x="{WIDTH - right}" y="{HEIGHT - 4}" text-anchor="end">'
                 f"{escape(quantity_unit)}</text>")
    before = 0
    for i, (price, cumulative) in enumerate(curve):
        if i:
            parts.append(f'<line class="chart-line" x1="{x(before):.1f}" x2="{x(before):.1f}" '
                         f'y1="{y(curve[i - 1][0]):.1f}" y2="{y(price):.1f}"/>')
        parts.append(f'<line class="chart-line chart-step" x1="{x(before):.1f}" x2="{x(cumulative):.1f}" '
                     f'y1="{y(price):.1f}" y2="{y(price):.1f}"><title>{price // 100:,}.{price % 100:02d} '
                     f"{escape(price_unit)}: {cumulative / 1000:,.3f} {escape(quantity_unit)}</title></line>")
        before = cumulative
    parts.append(f'<line class="chart-mark" x1="{x(lot_kg):.1f}" x2="{x(lot_kg):.1f}" y1="{top}" '
                 f'y2="{top + plot_h}"/><text class="chart-mark-label" x="{x(lot_kg) - 4:.1f}" y="{top + 10}" '
                 f'text-anchor="end">{escape(lot_name)} {lot_kg / 1000:,.3f} {escape(quantity_unit)}</text>')
    if clearing_price_fen:
        parts.append(f'<line class="chart-mark" x1="{left}" x2="{WIDTH - right}" y1="{y(clearing_price_fen):.1f}" '
                     f'y2="{y(clearing_price_fen):.1f}"/><text class="chart-mark-label" x="{left + 4}" '
                     f'y="{y(clearing_price_fen) - 4:.1f}" text-anchor="start">{escape(clearing_name)} '
                     f"{clearing_price_fen // 100:,}.{clearing_price_fen % 100:02d}</text>")
    parts.append("</svg>")
    return Markup("".join(parts))
