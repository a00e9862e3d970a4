"""Server-rendered SVG charts: lines and steps (curves), grouped bars (per-day counts), with axes, ticks, labels
and a legend. No JavaScript and nothing from a CDN: the page carries the drawing, and a table carries the numbers.

Every series is drawn as one `<polyline>` (lines) or a group of `<rect>` (bars) marked with `data-series` and
`data-points`, so a test or a browser can count what was drawn.
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

PALETTE = ("#2f5bd3", "#d35400", "#2e7d32", "#8e44ad", "#c0392b", "#16a085", "#7f8c8d")
FONT = "font-family=\"system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif\""


@dataclass(frozen=True)
class Series:
    name: str
    points: Sequence[tuple[float, float]]
    color: str = ""
    step: bool = False  # draw as a post-step (precision-recall), not straight segments
    dashed: bool = False


@dataclass(frozen=True)
class BarSeries:
    name: str
    values: Sequence[float | None]
    color: str = ""


@dataclass
class Frame:
    """The plot area inside the SVG and the data ranges it maps."""

    width: int
    height: int
    x_range: tuple[float, float]
    y_range: tuple[float, float]
    left: int = 56
    right: int = 16
    top: int = 50
    bottom: int = 46
    parts: list[str] = field(default_factory=list)

    @property
    def plot_w(self) -> float:
        return self.width - self.left - self.right

    @property
    def plot_h(self) -> float:
        return self.height - self.top - self.bottom

    def x(self, value: float) -> float:
        lo, hi = self.x_range
        return round(self.left + (value - lo) / ((hi - lo) or 1) * self.plot_w, 1)

    def y(self, value: float) -> float:
        lo, hi = self.y_range
        return round(self.top + self.plot_h - (value - lo) / ((hi - lo) or 1) * self.plot_h, 1)


def nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """About `count` round tick values (1, 2 or 5 times a power of ten apart) covering [lo, hi]."""
    if hi <= lo:
        hi = lo + 1
    raw = (hi - lo) / max(count, 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    first = math.ceil(lo / step - 1e-9) * step
    ticks, value = [], first
    while value <= hi + step * 1e-9:
        ticks.append(round(value, 10))
        value += step
    return ticks


def nice_max(value: float) -> float:
    """The top of a count axis: the last nice tick at or above value (1 for an empty chart)."""
    if value <= 0:
        return 1.0
    ticks = nice_ticks(0, value)
    step = ticks[1] - ticks[0] if len(ticks) > 1 else value
    return round(math.ceil(value / step - 1e-9) * step, 10)


def _fmt(value: float, fmt: str) -> str:
    return fmt.format(value)


def _open(frame: Frame, title: str, description: str) -> None:
    frame.parts.append(
        f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {frame.width} {frame.height}" '
        f'width="100%" role="img" aria-label="{escape(title)}" {FONT} font-size="11">'
        f"<title>{escape(title)}</title><desc>{escape(description)}</desc>"
        f'<text x="{frame.left}" y="16" font-size="13" font-weight="600" fill="#1d2330">{escape(title)}</text>'
    )


def _y_axis(frame: Frame, ticks: Sequence[float], fmt: str, label: str) -> None:
    for tick in ticks:
        y = frame.y(tick)
        frame.parts.append(
            f'<line x1="{frame.left}" x2="{frame.width - frame.right}" y1="{y}" y2="{y}" stroke="#eceef2"/>'
            f'<text x="{frame.left - 6}" y="{y + 3.5}" text-anchor="end" fill="#667085">{_fmt(tick, fmt)}</text>'
        )
    mid = frame.top + frame.plot_h / 2
    frame.parts.append(
        f'<text transform="translate(14 {mid}) rotate(-90)" text-anchor="middle" fill="#344054">{escape(label)}</text>'
    )


def _x_axis_numeric(frame: Frame, ticks: Sequence[float], fmt: str, label: str) -> None:
    base = frame.top + frame.plot_h
    for tick in ticks:
        x = frame.x(tick)
        frame.parts.append(
            f'<line x1="{x}" x2="{x}" y1="{frame.top}" y2="{base}" stroke="#f2f4f7"/>'
            f'<line x1="{x}" x2="{x}" y1="{base}" y2="{base + 4}" stroke="#98a2b3"/>'
            f'<text x="{x}" y="{base + 16}" text-anchor="middle" fill="#667085">{_fmt(tick, fmt)}</text>'
        )
    _x_label(frame, label)


def _x_label(frame: Frame, label: str) -> None:
    frame.parts.append(
        f'<text x="{frame.left + frame.plot_w / 2}" y="{frame.height - 8}" text-anchor="middle" '
        f'fill="#344054">{escape(label)}</text>'
    )


def _axes_lines(frame: Frame) -> None:
    base = frame.top + frame.plot_h
    frame.parts.append(
        f'<line x1="{frame.left}" x2="{frame.left}" y1="{frame.top}" y2="{base}" stroke="#98a2b3"/>'
        f'<line x1="{frame.left}" x2="{frame.width - frame.right}" y1="{base}" y2="{base}" stroke="#98a2b3"/>'
    )


def _legend(frame: Frame, entries: Sequence[tuple[str, str, bool]]) -> None:
    """Swatches in one row under the title; entries are (name, color, dashed)."""
    x = float(frame.left)
    for name, color, dashed in entries:
        dash = ' stroke-dasharray="4 3"' if dashed else ""
        frame.parts.append(
            f'<g class="legend-item"><line x1="{x:.1f}" x2="{x + 14:.1f}" y1="32" y2="32" stroke="{color}" '
            f'stroke-width="3"{dash}/><text x="{x + 18:.1f}" y="35.5" fill="#344054">{escape(name)}</text></g>'
        )
        x += 34 + 6.2 * len(name)


def _vertices(series: Series) -> list[tuple[float, float]]:
    points = list(series.points)
    if not series.step or len(points) < 2:
        return points
    stepped = [points[0]]
    for (_, y_prev), (x, y) in zip(points, points[1:], strict=False):
        stepped += [(x, y_prev), (x, y)]
    return stepped


def _polyline(frame: Frame, series: Series, color: str) -> None:
    coords = " ".join(f"{frame.x(x)},{frame.y(y)}" for x, y in _vertices(series))
    dash = ' stroke-dasharray="5 4"' if series.dashed else ""
    frame.parts.append(
        f'<polyline class="series" data-series="{escape(series.name)}" data-points="{len(series.points)}" '
        f'points="{coords}" fill="none" stroke="{color}" stroke-width="2" stroke-linejoin="round"{dash}/>'
    )


def _marker(frame: Frame, x_value: float, label: str) -> None:
    x = frame.x(x_value)
    frame.parts.append(
        f'<g class="marker"><line x1="{x}" x2="{x}" y1="{frame.top}" y2="{frame.top + frame.plot_h}" '
        f'stroke="#c0392b" stroke-width="1.5" stroke-dasharray="3 3"/>'
        f'<text x="{x + 4}" y="{frame.top + 12}" fill="#c0392b">{escape(label)}</text></g>'
    )


def line_chart(
    series: Sequence[Series],
    *,
    title: str,
    x_label: str,
    y_label: str,
    x_range: tuple[float, float] = (0.0, 1.0),
    y_range: tuple[float, float] | None = (0.0, 1.0),
    x_format: str = "{:.1f}",
    y_format: str = "{:.1f}",
    diagonal: bool = False,
    markers: Sequence[tuple[float, str]] = (),
    width: int = 600,
    height: int = 400,
) -> SafeString:
    """Curves on numeric axes; `diagonal` adds the chance line of a ROC chart, `markers` vertical rules."""
    if y_range is None:
        top = max((y for s in series for _, y in s.points), default=0.0)
        y_range = (0.0, nice_max(top))
    frame = Frame(width=width, height=height, x_range=x_range, y_range=y_range)
    _open(frame, title, f"{y_label} against {x_label}: " + ", ".join(s.name for s in series))
    _y_axis(frame, nice_ticks(*y_range), y_format, y_label)
    _x_axis_numeric(frame, nice_ticks(*x_range), x_format, x_label)
    _axes_lines(frame)
    if diagonal:
        frame.parts.append(
            f'<line class="chance" x1="{frame.x(x_range[0])}" y1="{frame.y(y_range[0])}" x2="{frame.x(x_range[1])}" '
            f'y2="{frame.y(y_range[1])}" stroke="#98a2b3" stroke-dasharray="4 4"/>'
        )
    colors = [s.color or PALETTE[i % len(PALETTE)] for i, s in enumerate(series)]
    for s, color in zip(series, colors, strict=True):
        _polyline(frame, s, color)
    for x_value, label in markers:
        _marker(frame, x_value, label)
    _legend(frame, [(s.name, c, s.dashed) for s, c in zip(series, colors, strict=True)])
    frame.parts.append("</svg>")
    return mark_safe("".join(frame.parts))  # noqa: S308 - every text above went through escape()


def bar_chart(
    categories: Sequence[str],
    series: Sequence[BarSeries],
    *,
    title: str,
    y_label: str,
    x_label: str = "",
    y_format: str = "{:,.0f}",
    y_max: float | None = None,
    width: int = 600,
    height: int = 300,
) -> SafeString:
    """Grouped vertical bars, one group per category (a day, say); about 10 category labels are written.
    A value of None draws no bar (nothing known), unlike 0."""
    top = y_max if y_max is not None else nice_max(max((v for s in series for v in s.values if v), default=0.0))
    frame = Frame(width=width, height=height, x_range=(0, max(len(categories), 1)), y_range=(0.0, top))
    _open(frame, title, f"{y_label} per {x_label or 'category'}: " + ", ".join(s.name for s in series))
    _y_axis(frame, nice_ticks(0.0, top), y_format, y_label)
    slot = frame.plot_w / max(len(categories), 1)
    bar_w = max(slot * 0.8 / max(len(series), 1), 1.0)
    colors = [s.color or PALETTE[i % len(PALETTE)] for i, s in enumerate(series)]
    for k, (s, color) in enumerate(zip(series, colors, strict=True)):
        frame.parts.append(f'<g class="series" data-series="{escape(s.name)}" data-points="{len(s.values)}">')
        for i, value in enumerate(s.values):
            if value is None:  # no data that day: no bar, rather than a bar of height 0
                continue
            x = frame.left + i * slot + slot * 0.1 + k * bar_w
            y = frame.y(min(value, top))
            h = round(frame.top + frame.plot_h - y, 1)
            frame.parts.append(
                f'<rect x="{x:.1f}" y="{y}" width="{bar_w:.1f}" height="{h}" fill="{color}">'
                f"<title>{escape(categories[i])} · {escape(s.name)}: {_fmt(value, y_format)}</title></rect>"
            )
        frame.parts.append("</g>")
    _category_labels(frame, categories, slot)
    _x_label(frame, x_label)
    _axes_lines(frame)
    _legend(frame, [(s.name, c, False) for s, c in zip(series, colors, strict=True)])
    frame.parts.append("</svg>")
    return mark_safe("".join(frame.parts))  # noqa: S308 - every text above went through escape()


def _category_labels(frame: Frame, categories: Sequence[str], slot: float) -> None:
    every = max(1, math.ceil(len(categories) / 10))
    base = frame.top + frame.plot_h
    for i in range(0, len(categories), every):
        x = round(frame.left + (i + 0.5) * slot, 1)
        frame.parts.append(
            f'<text x="{x}" y="{base + 16}" text-anchor="middle" fill="#667085">{escape(categories[i])}</text>'
        )


def _arc_point(cx: float, cy: float, r: float, share: float) -> tuple[float, float]:
    """The point of a half circle (left to right, over the top) at `share` of the way along it."""
    angle = math.pi * (1 - min(max(share, 0.0), 1.0))
    return round(cx + r * math.cos(angle), 2), round(cy - r * math.sin(angle), 2)


def gauge(
    value: float, *, bands: Sequence[tuple[float, str, str]], marker: float | None = None, title: str = "Score"
) -> SafeString:
    """A half-circle gauge of a score in [0, 1]: the bands drawn along the arc (each (from, name, colour), from 0
    up), a needle at `value`, the value written under it and, with `marker`, a tick at a threshold."""
    width, height, cx, cy, r = 260, 160, 130.0, 130.0, 100.0
    parts = [
        f'<svg class="chart gauge" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" '
        f'role="img" aria-label="{escape(title)} {value:.3f}" data-value="{value:.6f}" {FONT}>'
        f"<title>{escape(title)}: {value:.3f}</title>"
    ]
    edges = [start for start, _, _ in bands] + [1.0]
    for (start, name, color), end in zip(bands, edges[1:], strict=True):
        if end <= start:
            continue
        x1, y1 = _arc_point(cx, cy, r, start)
        x2, y2 = _arc_point(cx, cy, r, end)
        parts.append(
            f'<path class="band" data-band="{escape(name)}" d="M {x1} {y1} A {r} {r} 0 0 1 {x2} {y2}" fill="none" '
            f'stroke="{color}" stroke-width="18"><title>{escape(name)} from {start:.2f}</title></path>'
        )
    if marker is not None:
        inner, outer = _arc_point(cx, cy, r - 14, marker), _arc_point(cx, cy, r + 14, marker)
        parts.append(
            f'<line class="threshold" x1="{inner[0]}" y1="{inner[1]}" x2="{outer[0]}" y2="{outer[1]}" '
            f'stroke="#1d2330" stroke-width="2"><title>review threshold {marker:.3f}</title></line>'
        )
    tip = _arc_point(cx, cy, r - 22, value)
    parts.append(
        f'<line class="needle" x1="{cx}" y1="{cy}" x2="{tip[0]}" y2="{tip[1]}" stroke="#1d2330" stroke-width="3" '
        f'stroke-linecap="round"/><circle cx="{cx}" cy="{cy}" r="6" fill="#1d2330"/>'
        f'<text x="{cx}" y="{cy + 26}" text-anchor="middle" font-size="22" font-weight="650" fill="#1d2330">'
        f"{value:.3f}</text>"
        f'<text x="{cx - r}" y="{cy + 16}" text-anchor="middle" font-size="10" fill="#667085">0</text>'
        f'<text x="{cx + r}" y="{cy + 16}" text-anchor="middle" font-size="10" fill="#667085">1</text></svg>'
    )
    return mark_safe("".join(parts))  # noqa: S308 - every text above went through escape() or is a number
