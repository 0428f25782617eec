"""Charts drawn on the server as vector SVG: one implementation for the pages and the printed reports.

Each function returns the markup of one `<svg>` element (markupsafe.Markup) to put in a template as
`{{ chart }}`: a viewBox and width 100% (it scales to its box), a <title> and <desc> named by
aria-labelledby, axis ticks and labels, presentation attributes only (no style attribute, no script, no
external resource), every text escaped. Values may be Decimal, int or float; geometry is computed in
floats (a chart is a picture; the figures themselves stay Decimal in the tables beside it).
"""

import hashlib
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

SVG_NS = "http://www.w3.org/2000/svg"
PALETTE = ("#1a7f37", "#0969da", "#bf8700", "#cf222e", "#8250df", "#57606a")
DASHES = ("", "6 4", "2 3", "8 3 2 3")
AXIS, GRID, MUTED = "#8c959f", "#d0d7de", "#57606a"
FONT_SIZE = 11
MAX_X_LABELS = 8
MAX_LABEL_CHARS = 18


@dataclass(frozen=True)
class Series:
    """One line of a line chart: its name (the legend) and one value per x label (None: no point)."""

    name: str
    values: Sequence


@dataclass(frozen=True)
class Frame:
    """The plotting area inside the viewBox and the value range its height maps to."""

    width: int
    height: int
    left: int
    right: int
    top: int
    bottom: int
    low: float
    high: float

    @property
    def inner_width(self) -> float:
        return self.width - self.left - self.right

    @property
    def inner_height(self) -> float:
        return self.height - self.top - self.bottom

    def y(self, value: float) -> float:
        """The y coordinate of a value (the top of the frame is `high`)."""
        span = self.high - self.low or 1.0
        return self.top + (self.high - value) / span * self.inner_height

    def x(self, index: int, count: int) -> float:
        """The x coordinate of the index-th of `count` evenly spaced points (one point sits in the middle)."""
        if count <= 1:
            return self.left + self.inner_width / 2
        return self.left + self.inner_width * index / (count - 1)


def _float(value) -> float | None:
    if value is None:
        return None
    return float(value)


def _fmt(number: float) -> str:
    """A coordinate with at most one decimal ("12", "12.5")."""
    text = f"{number:.1f}"
    return text[:-2] if text.endswith(".0") else text


def compact_number(value) -> str:
    """A tick label: 1200 -> "1.2k", 2500000 -> "2.5M", 0.5 -> "0.5" (units stay language-neutral)."""
    number = float(value)
    for size, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(number) >= size:
            text = f"{number / size:.2f}".rstrip("0").rstrip(".")
            return text + suffix
    if number == int(number):
        return str(int(number))
    return f"{number:.2f}".rstrip("0").rstrip(".")


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values covering [low, high] (0 always included), about `count` of them."""
    low, high = min(low, 0.0), max(high, 0.0)
    if high == low:
        high = low + 1.0
    raw = (high - low) / max(count - 1, 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    start = math.floor(low / step) * step
    ticks, value = [], start
    while value < high - 1e-9 * step:
        ticks.append(round(value, 10))
        value += step
    ticks.append(round(value, 10))
    return ticks


def _short(label: str) -> str:
    label = str(label)
    return label if len(label) <= MAX_LABEL_CHARS else label[:MAX_LABEL_CHARS - 1] + "…"


def _chart_id(kind: str, title: str, labels) -> str:
    digest = hashlib.blake2s(f"{kind}|{title}|{'|'.join(map(str, labels))}".encode()).hexdigest()[:8]
    return f"chart-{digest}"


def _open(chart_id: str, width: int, height: int, title: str, description: str, css_class: str) -> list[str]:
    return [f'<svg xmlns="{SVG_NS}" viewBox="0 0 {width} {height}" width="100%" role="img" '
            f'class="{escape(css_class)}" id="{chart_id}" aria-labelledby="{chart_id}-title {chart_id}-desc" '
            f'font-size="{FONT_SIZE}" preserveAspectRatio="xMidYMid meet">',
            f'<title id="{chart_id}-title">{escape(title)}</title>',
            f'<desc id="{chart_id}-desc">{escape(description)}</desc>']


def _y_axis(frame: Frame, ticks: list[float], formatter: Callable) -> list[str]:
    parts = ['<g class="y-axis" data-axis="y">']
    for tick in ticks:
        y = _fmt(frame.y(tick))
        parts.append(f'<line x1="{frame.left}" y1="{y}" x2="{frame.width - frame.right}" y2="{y}" '
                     f'stroke="{GRID}" stroke-width="1"/>')
        parts.append(f'<text x="{frame.left - 6}" y="{y}" text-anchor="end" dominant-baseline="middle" '
                     f'fill="{MUTED}" data-tick="{escape(repr(tick))}">{escape(formatter(tick))}</text>')
    parts.append(f'<line x1="{frame.left}" y1="{frame.top}" x2="{frame.left}" y2="{frame.height - frame.bottom}" '
                 f'stroke="{AXIS}" stroke-width="1"/>')
    parts.append("</g>")
    return parts


def _x_labels(frame: Frame, labels: Sequence, positions: list[float], at_edges: bool = False) -> list[str]:
    """Tick labels under the x axis, thinned to about MAX_X_LABELS (the last one always shown).

    `at_edges`: the first and last points sit on the frame's edges (a line chart), so their labels are
    anchored inwards rather than centred, and never cut off by the viewBox.
    """
    base = frame.height - frame.bottom
    parts = ['<g class="x-axis" data-axis="x">',
             f'<line x1="{frame.left}" y1="{_fmt(frame.y(0))}" x2="{frame.width - frame.right}" '
             f'y2="{_fmt(frame.y(0))}" stroke="{AXIS}" stroke-width="1"/>']
    count = len(labels)
    every = max(1, math.ceil(count / MAX_X_LABELS))
    shown = [i for i in range(count) if i % every == 0 and count - 1 - i >= every * 0.6] + [count - 1]
    for index in shown:
        label, x = labels[index], positions[index]
        anchor = "middle"
        if at_edges and count > 1:
            anchor = "start" if index == 0 else "end" if index == count - 1 else "middle"
        parts.append(f'<line x1="{_fmt(x)}" y1="{base}" x2="{_fmt(x)}" y2="{base + 4}" stroke="{AXIS}"/>')
        parts.append(f'<text x="{_fmt(x)}" y="{base + 16}" text-anchor="{anchor}" fill="{MUTED}">'
                     f'{escape(_short(label))}</text>')
    parts.append("</g>")
    return parts


def _legend(names: Sequence[str], width: int, right: int, dashed: bool) -> list[str]:
    parts = ['<g class="legend">']
    x = width - right
    for index in reversed(range(len(names))):
        name = _short(names[index])
        color, dash = PALETTE[index % len(PALETTE)], DASHES[index % len(DASHES)] if dashed else ""
        text_width = 7 * len(name) + 8
        parts.append(f'<text x="{x}" y="14" text-anchor="end" fill="{MUTED}">{escape(name)}</text>')
        x -= text_width
        dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
        parts.append(f'<line x1="{x - 18}" y1="10" x2="{x - 2}" y2="10" stroke="{color}" stroke-width="3"{dash_attr}/>')
        x -= 30
    parts.append("</g>")
    return parts


def _empty(parts: list[str], width: int, height: int, message: str) -> Markup:
    parts.append(f'<text x="{width / 2:g}" y="{height / 2:g}" text-anchor="middle" fill="{MUTED}" '
                 f'data-empty="1">{escape(message)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every text in it was escaped


def line_chart(labels: Sequence, series: Sequence[Series], *, title: str, description: str = "",
               formatter: Callable = compact_number, width: int = 640, height: int = 240,
               empty_message: str = "—", chart_id: str | None = None) -> Markup:
    """A line chart: one x label per point, one polyline per series (coloured and dashed apart), a legend."""
    chart_id = chart_id or _chart_id("line", title, labels)
    parts = _open(chart_id, width, height, title, description or title, "chart line-chart")
    values = [_float(v) for s in series for v in s.values if v is not None]
    if not labels or not values:
        return _empty(parts, width, height, empty_message)
    ticks = nice_ticks(min(values), max(values))
    frame = Frame(width, height, 56, 16, 28 if len(series) > 1 else 16, 36, ticks[0], ticks[-1])
    parts += _y_axis(frame, ticks, formatter)
    count = len(labels)
    parts += _x_labels(frame, labels, [frame.x(i, count) for i in range(count)], at_edges=True)
    for index, one in enumerate(series):
        color, dash = PALETTE[index % len(PALETTE)], DASHES[index % len(DASHES)]
        points = [(frame.x(i, count), frame.y(_float(v))) for i, v in enumerate(one.values) if v is not None]
        dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
        parts.append(f'<g class="series" data-series="{index}"><title>{escape(one.name)}</title>')
        if len(points) > 1:
            joined = " ".join(f"{_fmt(x)},{_fmt(y)}" for x, y in points)
            parts.append(f'<polyline points="{joined}" fill="none" stroke="{color}" stroke-width="2.5" '
                         f'stroke-linejoin="round"{dash_attr}/>')
        if len(points) <= 40:
            for x, y in points:
                parts.append(f'<circle cx="{_fmt(x)}" cy="{_fmt(y)}" r="3" fill="{color}"/>')
        parts.append("</g>")
    if len(series) > 1:
        parts += _legend([s.name for s in series], width, frame.right, dashed=True)
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every text in it was escaped


def bar_chart(labels: Sequence, values: Sequence, *, title: str, description: str = "",
              formatter: Callable = compact_number, width: int = 640, height: int | None = None,
              horizontal: bool = False, empty_message: str = "—", chart_id: str | None = None) -> Markup:
    """A bar chart of one value per label: vertical columns, or horizontal bars (long labels, ranked rows)."""
    chart_id = chart_id or _chart_id("hbar" if horizontal else "bar", title, labels)
    numbers = [_float(v) or 0.0 for v in values]
    if horizontal:
        height = height or max(80, 24 * len(labels) + 44)
    height = height or 240
    parts = _open(chart_id, width, height, title, description or title,
                  "chart bar-chart horizontal" if horizontal else "chart bar-chart")
    if not labels or not numbers:
        return _empty(parts, width, height, empty_message)
    ticks = nice_ticks(min(numbers), max(numbers))
    color = PALETTE[0]
    if horizontal:
        return _horizontal_bars(parts, labels, numbers, values, ticks, formatter, width, height, color)
    frame = Frame(width, height, 56, 16, 16, 36, ticks[0], ticks[-1])
    parts += _y_axis(frame, ticks, formatter)
    slot = frame.inner_width / len(labels)
    bar = max(1.0, slot * 0.7)
    centres = [frame.left + slot * (i + 0.5) for i in range(len(labels))]
    parts += _x_labels(frame, labels, centres)
    zero = frame.y(0)
    for label, centre, number, original in zip(labels, centres, numbers, values, strict=True):
        top = min(frame.y(number), zero)
        parts.append(f'<rect x="{_fmt(centre - bar / 2)}" y="{_fmt(top)}" width="{_fmt(bar)}" '
                     f'height="{_fmt(abs(frame.y(number) - zero))}" fill="{color}" '
                     f'data-value="{escape(str(original))}">'
                     f'<title>{escape(str(label))}: {escape(formatter(number))}</title></rect>')
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every text in it was escaped


def _horizontal_bars(parts, labels, numbers, values, ticks, formatter, width, height, color) -> Markup:
    left, right, top, bottom = 150, 56, 8, 28
    low, high = ticks[0], ticks[-1]
    span = high - low or 1.0
    inner = width - left - right

    def x(value: float) -> float:
        return left + (value - low) / span * inner

    parts.append('<g class="x-axis" data-axis="x">')
    for tick in ticks:
        parts.append(f'<line x1="{_fmt(x(tick))}" y1="{top}" x2="{_fmt(x(tick))}" y2="{height - bottom}" '
                     f'stroke="{GRID}" stroke-width="1"/>')
        parts.append(f'<text x="{_fmt(x(tick))}" y="{height - bottom + 16}" text-anchor="middle" fill="{MUTED}" '
                     f'data-tick="{escape(repr(tick))}">{escape(formatter(tick))}</text>')
    parts.append("</g>")
    row = (height - top - bottom) / len(labels)
    zero = x(0)
    for index, (label, number, original) in enumerate(zip(labels, numbers, values, strict=True)):
        y = top + row * index
        start = min(zero, x(number))
        parts.append(f'<text x="{left - 6}" y="{_fmt(y + row / 2)}" text-anchor="end" dominant-baseline="middle" '
                     f'fill="{MUTED}">{escape(_short(label))}</text>')
        parts.append(f'<rect x="{_fmt(start)}" y="{_fmt(y + row * 0.15)}" width="{_fmt(abs(x(number) - zero))}" '
                     f'height="{_fmt(row * 0.7)}" fill="{color}" data-value="{escape(str(original))}">'
                     f'<title>{escape(str(label))}: {escape(formatter(number))}</title></rect>')
        parts.append(f'<text x="{_fmt(max(zero, x(number)) + 4)}" y="{_fmt(y + row / 2)}" dominant-baseline="middle" '
                     f'fill="{MUTED}">{escape(formatter(number))}</text>')
    parts.append(f'<line x1="{_fmt(zero)}" y1="{top}" x2="{_fmt(zero)}" y2="{height - bottom}" stroke="{AXIS}"/>')
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every text in it was escaped


