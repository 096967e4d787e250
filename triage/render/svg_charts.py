"""The HTML report's two charts, written as SVG straight from the binned data.

Why not matplotlib (which drew them before): a figure cost about 0.3 s to lay out and save, so
30 groups took 10-25 s against well under a second for the report itself. These charts are a
stacked step area and a bar histogram with a handful of ticks: a few dozen SVG elements each,
written here in a few milliseconds, smaller on the page, and still real text a browser scales.

Every string that reaches the SVG goes through ``markupsafe.escape``; numbers are formatted here.
The charts carry no ``id`` (nothing can clash between charts of one page) and no script.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from markupsafe import Markup, escape

WIDTH, HEIGHT = 800, 190
LEFT, RIGHT, TOP, BOTTOM = 56, 640, 10, 146  # the plot area; the legend sits right of it
FONT = 'font-family="DejaVu Sans, sans-serif"'
AXIS = "#59636e"


def _num(v: float) -> str:
    """A coordinate with one decimal at most (the page is scaled; more is bytes for nothing)."""
    r = round(v, 1)
    return str(int(r)) if r == int(r) else str(r)


def _svg(body: list[str], label: str, height: int = HEIGHT) -> Markup:
    return Markup(
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" role="img" '
        f'aria-label="{escape(label)}">' + "".join(body) + "</svg>"
    )


def _text(x: float, y: float, text: str, *, size: int = 10, anchor: str = "middle", **kw) -> str:
    extra = "".join(f' {k.replace("_", "-")}="{escape(v)}"' for k, v in kw.items())
    return (
        f'<text x="{_num(x)}" y="{_num(y)}" {FONT} font-size="{size}" '
        f'text-anchor="{anchor}" fill="{AXIS}"{extra}>{escape(text)}</text>'
    )


def _nice_step(top: float, ticks: int = 4) -> float:
    """A 1/2/5 x 10^k step giving about ``ticks`` ticks up to ``top``."""
    raw = max(top, 1) / ticks
    mag = 10 ** math.floor(math.log10(raw))
    return next(m * mag for m in (1, 2, 5, 10) if m * mag >= raw)


def _y_axis(top: float, label: str) -> tuple[list[str], float]:
    """Y ticks and grid from 0 to a nice maximum; returns (elements, the axis maximum)."""
    step = _nice_step(top)
    y_max = max(step * math.ceil(top / step), step)
    out = []
    v = 0.0
    while v <= y_max + 1e-9:
        y = BOTTOM - (BOTTOM - TOP) * v / y_max
        out.append(f'<path d="M{LEFT - 4} {_num(y)}H{LEFT}" stroke="{AXIS}"/>')
        text = f"{v:,.0f}" if step >= 1 else f"{v:g}"
        out.append(_text(LEFT - 6, y + 3, text, anchor="end"))
        v += step
    out.append(
        _text(
            12,
            (TOP + BOTTOM) / 2,
            label,
            anchor="middle",
            transform=f"rotate(-90 12 {_num((TOP + BOTTOM) / 2)})",
        )
    )
    return out, y_max


def _frame() -> list[str]:
    return [f'<path d="M{LEFT} {TOP}V{BOTTOM}H{RIGHT}" fill="none" stroke="{AXIS}"/>']


# Steps for the time axis: (seconds, how a tick is labelled).
_TIME_STEPS = [
    (3600, "%H:%M"),
    (3 * 3600, "%H:%M"),
    (6 * 3600, "%H:%M"),
    (12 * 3600, "%H:%M"),
    (86400, "%b %d"),
    (2 * 86400, "%b %d"),
    (7 * 86400, "%b %d"),
    (14 * 86400, "%b %d"),
    (28 * 86400, "%b %d"),
    (56 * 86400, "%b %d"),
    (112 * 86400, "%b %d"),
    (364 * 86400, "%Y"),
]


def _time_ticks(start: datetime, end: datetime) -> list[tuple[datetime, str]]:
    """At most 8 ticks on round hours or UTC midnights; a tick at midnight on an hourly axis
    names the day, so every label reads alone."""
    span = max((end - start).total_seconds(), 3600)
    step, fmt = next(((s, f) for s, f in _TIME_STEPS if span / s <= 8), _TIME_STEPS[-1])
    epoch = datetime(1970, 1, 5, tzinfo=UTC)  # a Monday: weekly ticks fall on Mondays
    first = epoch + timedelta(seconds=math.ceil((start - epoch).total_seconds() / step) * step)
    out = []
    t = first
    while t <= end:
        label = t.strftime("%b %d") if fmt == "%H:%M" and t.hour == 0 else t.strftime(fmt)
        out.append((t, label))
        t += timedelta(seconds=step)
    return out


def timeline(
    start: datetime,
    step: timedelta,
    series: dict[str, Sequence[float]],
    colours: dict[str, str],
    *,
    bucket: str,
) -> Markup:
    """Events per bucket stacked by kind, as step areas: ``series[kind][i]`` events in the
    bucket ``start + i * step``, every series as long."""
    n = len(next(iter(series.values()), []))
    end = start + step * n
    span = max((end - start).total_seconds(), 1.0)

    def x_of(t: datetime) -> float:
        return LEFT + (RIGHT - LEFT) * (t - start).total_seconds() / span

    xs = [LEFT + (RIGHT - LEFT) * i / max(n, 1) for i in range(n + 1)]
    totals = [sum(col) for col in zip(*series.values(), strict=True)]
    body, y_max = _y_axis(max(totals, default=0), f"events / {bucket}")

    def y_of(v: float) -> float:
        return BOTTOM - (BOTTOM - TOP) * v / y_max

    below = [0.0] * n
    for kind, values in series.items():
        above = [b + v for b, v in zip(below, values, strict=True)]
        if any(values):
            body.append(
                f'<path d="{_step_area(xs, below, above, y_of)}" fill="{escape(colours[kind])}"/>'
            )
        below = above
    for t, label in _time_ticks(start, end):
        x = x_of(t)
        body.append(f'<path d="M{_num(x)} {BOTTOM}v4" stroke="{AXIS}"/>')
        body.append(_text(x, BOTTOM + 15, label))
    body += _frame()
    for i, kind in enumerate(series):
        y = TOP + 4 + 16 * i
        body.append(
            f'<rect x="{RIGHT + 14}" y="{y}" width="10" height="10" '
            f'fill="{escape(colours[kind])}"/>'
        )
        body.append(_text(RIGHT + 30, y + 9, kind, anchor="start"))
    return _svg(body, f"events per {bucket}, by kind", height=BOTTOM + 22)


def _step_area(xs: list[float], below: list[float], above: list[float], y_of) -> str:
    """The band between two step lines, as one path in whole units of the 800-wide view box
    (an hour is under a unit wide over a month): points that round alike are written once."""

    def line(vals: list[float]) -> list[tuple[int, int]]:
        pts: list[tuple[int, int]] = []
        y_prev = None
        for i, v in enumerate(vals):
            y = round(y_of(v))
            if y != y_prev:
                x = round(xs[i])
                if pts:
                    pts.append((x, pts[-1][1]))
                pts.append((x, y))
                y_prev = y
        pts.append((round(xs[len(vals)]), pts[-1][1]))
        return pts

    pts = line(above) + line(below)[::-1]
    out = []
    prev = None
    for p in pts:
        if p != prev:
            out.append(f"{p[0]} {p[1]}")
            prev = p
    return "M" + "L".join(out) + "Z"


_GAP_TICKS = [
    (0.001, "1 ms"),
    (0.01, "10 ms"),
    (0.1, "100 ms"),
    (1, "1 s"),
    (5, "5 s"),
    (10, "10 s"),
    (30, "30 s"),
    (60, "1 min"),
    (300, "5 min"),
    (600, "10 min"),
    (3600, "1 h"),
    (6 * 3600, "6 h"),
    (86400, "1 d"),
    (7 * 86400, "1 w"),
]


def interarrival(
    lo: Sequence[float],
    hi: Sequence[float],
    counts: Sequence[float],
    *,
    period: float | None,
    period_label: str,
    centre: float,
) -> Markup:
    """A histogram of gaps on a log axis (bins ``lo``..``hi`` seconds), with the polling period
    marked: at least a decade either side of it, so a single peak reads as one."""
    x_lo = max(min(min(lo) / 2, centre / 10), 0.001)
    x_hi = max(max(hi) * 2, centre * 10)
    l_lo, l_hi = math.log10(x_lo), math.log10(x_hi)

    def x_of(v: float) -> float:
        return LEFT + (RIGHT - LEFT) * (math.log10(max(v, x_lo)) - l_lo) / (l_hi - l_lo)

    body, y_max = _y_axis(max(counts, default=0), "gaps")
    for a, b, c in zip(lo, hi, counts, strict=True):
        if c <= 0:
            continue
        x0, x1 = x_of(a), x_of(min(b, x_hi))
        y = BOTTOM - (BOTTOM - TOP) * c / y_max
        body.append(
            f'<rect x="{_num(x0)}" y="{_num(y)}" width="{_num(max(x1 - x0, 0.5))}" '
            f'height="{_num(BOTTOM - y)}" fill="#4e79a7"/>'
        )
    for v, label in _GAP_TICKS:
        if x_lo <= v <= x_hi:
            x = x_of(v)
            body.append(f'<path d="M{_num(x)} {BOTTOM}v4" stroke="{AXIS}"/>')
            body.append(_text(x, BOTTOM + 15, label))
    body.append(
        _text(
            (LEFT + RIGHT) / 2,
            BOTTOM + 38,
            "seconds between one user's consecutive events in this group",
            size=11,
        )
    )
    body += _frame()
    if period:
        x = x_of(period)
        body.append(
            f'<path d="M{_num(x)} {TOP}V{BOTTOM}" stroke="#e15759" stroke-width="1.2" '
            f'stroke-dasharray="4 3"/>'
        )
        body.append(
            _text(x + 5, TOP + 12, period_label, size=11, anchor="start", style="fill:#e15759")
        )
    return _svg(body, "inter-arrival times" + (f"; {period_label}" if period else ""))
