"""Geometry for the account timeline, drawn as inline SVG by the transaction page's template (no JS, no CDN)."""

from dataclasses import dataclass

WIDTH, HEIGHT = 720, 220
PAD_LEFT, PAD_RIGHT, PAD_TOP, PAD_BOTTOM = 64, 16, 20, 30


@dataclass(frozen=True)
class Point:
    x: float
    y: float
    css: str
    title: str
    pk: int


def _nice_ceiling(value: float) -> float:
    """The smallest 1, 1.5, 2, 2.5, 3, 4, 5, 6 or 8 times a power of ten at or above value: an axis that reads well."""
    if value <= 0:
        return 1.0
    magnitude = 10 ** len(str(int(value))) / 10
    for step in (1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10):
        if step * magnitude >= value:
            return step * magnitude
    return 10 * magnitude


def _css(tx, marked) -> str:
    if tx.pk == marked.pk:
        return "marked"
    if tx.label == 1:
        return "fraud"
    return "normal"


def timeline_svg(history: list, *, marked) -> dict:
    """Amounts over time for `history` (oldest first), `marked` highlighted; coordinates in SVG user units."""
    if not history:
        return {"points": [], "width": WIDTH, "height": HEIGHT}
    start, end = history[0].timestamp, history[-1].timestamp
    span = max((end - start).total_seconds(), 1.0)
    top = _nice_ceiling(max(float(t.amount) for t in history) * 1.05)  # headroom for the marker
    plot_w, plot_h = WIDTH - PAD_LEFT - PAD_RIGHT, HEIGHT - PAD_TOP - PAD_BOTTOM

    def x_of(ts) -> float:
        if len(history) == 1:
            return PAD_LEFT + plot_w / 2
        return round(PAD_LEFT + (ts - start).total_seconds() / span * plot_w, 1)

    def y_of(amount) -> float:
        return round(PAD_TOP + plot_h - float(amount) / top * plot_h, 1)

    points = [
        Point(
            x_of(t.timestamp),
            y_of(t.amount),
            _css(t, marked),
            f"{t.timestamp:%Y-%m-%d %H:%M} · {t.amount} {t.currency}",
            t.pk,
        )
        for t in history
    ]
    marked_point = next(p for p in points if p.css == "marked")
    ticks = [{"y": y_of(top * f), "label": f"{top * f:,.0f}"} for f in (0, 0.5, 1)]
    return {
        "points": points,
        "polyline": " ".join(f"{p.x},{p.y}" for p in points),
        "marked": marked_point,
        "ticks": ticks,
        "width": WIDTH,
        "height": HEIGHT,
        "plot_left": PAD_LEFT,
        "plot_right": WIDTH - PAD_RIGHT,
        "plot_bottom": HEIGHT - PAD_BOTTOM,
        "plot_top": PAD_TOP,
        "start_label": f"{start:%d %b %Y}",
        "end_label": f"{end:%d %b %Y}",
        "currency": marked.currency,
    }
