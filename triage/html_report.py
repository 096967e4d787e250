"""The HTML report: one self-contained file to share with a team or attach to a PR.

Why these choices:

- Charts are SVG drawn by matplotlib and inlined in the page. The file then needs no JavaScript
  charting runtime and no network (a Vega-Lite or plotly page carries or fetches a large script
  and draws only once it runs), opens the same offline, in a mail attachment or under a strict
  Content-Security-Policy, and its axis labels are real text. matplotlib is drawn through its
  ``Figure`` API, never ``pyplot``, so no GUI backend is ever picked and nothing is global.
- The page is a jinja2 template with autoescaping on: every string from an event (titles,
  templates, kinds, rule ids, group keys) is escaped where it is printed, never pasted. The only
  unescaped inserts are matplotlib's SVG (which escapes its own text) and our own script.
- A Content-Security-Policy meta allows exactly one script, ours, by its SHA-256, and no network
  at all: even a string that slipped past escaping could not run or fetch anything.
- The data comes from SQL over the stored events (``queries/report_*.sql``), binned in DuckDB,
  so a million events reach Python as a few thousand rows.
"""

from __future__ import annotations

import base64
import hashlib
import io
import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from typing import Any

import duckdb
import jinja2
import matplotlib
import pandas as pd
from markupsafe import Markup
from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
from matplotlib.figure import Figure

from triage import sqlfiles
from triage.report import Report
from triage.rules import RuleTable

DEFAULT_MAX_CHARTS = 30
DEFAULT_UNMATCHED = 10
HOURLY_LIMIT_DAYS = 92  # beyond this span, timelines count per day (an hourly SVG would be huge)
UNCLASSIFIED = "unclassified"
EXAMPLES_PER_GROUP = 3
EXAMPLE_CHARS = 300

_PALETTE = [
    "#4e79a7",
    "#f28e2b",
    "#59a14f",
    "#e15759",
    "#b07aa1",
    "#76b7b2",
    "#edc948",
    "#9c755f",
    "#ff9da7",
]
_UNCLASSIFIED_COLOUR = "#9aa0a6"


@dataclass
class Chart:
    """One inline SVG chart and what it shows (for the page and for tests)."""

    kind: str  # "timeline" or "interarrival"
    svg: Markup
    caption: str


def render(
    con: duckdb.DuckDBPyConnection,
    table: RuleTable,
    report: Report,
    *,
    max_charts: int = DEFAULT_MAX_CHARTS,
    unmatched: int = DEFAULT_UNMATCHED,
    generated_at: datetime | None = None,
) -> str:
    """The report as one HTML page; ``con`` must hold the events classified with ``table``."""
    groups = report.groups.reset_index(drop=True)
    rate = con.execute(
        sqlfiles.load("report_error_rate.sql"), {"ruleset_hash": table.hash}
    ).fetchone()
    error_before, error_after, no_ts, first_ts, last_ts = rate
    days = float(report.totals.get("days") or 1.0)
    span_days = (last_ts - first_ts).total_seconds() / 86400 if first_ts and last_ts else 0.0
    bucket = "hour" if span_days <= HOURLY_LIMIT_DAYS else "day"

    charted = groups.head(max(max_charts, 0))
    keys = [str(g) for g in charted["group"]]
    timeline = con.execute(
        sqlfiles.load("report_timeline.sql"),
        {"ruleset_hash": table.hash, "bucket": bucket, "groups": keys},
    ).df()
    gaps = con.execute(sqlfiles.load("report_interarrival.sql"), {"groups": keys}).df()
    colours = _kind_colours(timeline["kind"].unique())
    examples = con.execute(
        sqlfiles.load("report_examples.sql"), {"groups": keys, "per": EXAMPLES_PER_GROUP}
    ).df()

    rows = []
    for i, rec in enumerate(groups.to_dict(orient="records"), start=1):
        row = _group_row(i, rec)
        if i <= len(charted):
            key = str(rec["group"])
            row["charts"] = []
            ex = examples[examples["group"] == key]
            row["examples"] = [
                {"text": _short(t, EXAMPLE_CHARS), "n": int(n)}
                for t, n in zip(ex["text"], ex["n"], strict=True)
            ]
            tl = timeline[timeline["group"] == key]
            if len(tl):
                row["charts"].append(
                    _timeline_chart(tl, first_ts, last_ts, bucket, colours, f"c{i}t")
                )
            g = gaps[gaps["group"] == key]
            show, period = _interarrival_wanted(row, g)
            if show:
                row["charts"].append(_interarrival_chart(g, period, f"c{i}h"))
        rows.append(row)

    script = _asset("sortable.js")
    script_hash = base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode()
    csp = (
        "default-src 'none'; "
        f"script-src 'sha256-{script_hash}'; "
        "style-src 'unsafe-inline'; "
        "img-src 'none'; connect-src 'none'; font-src 'none'; "
        "base-uri 'none'; form-action 'none'"
    )
    t = report.totals
    headline = {
        "events": int(t["events"]),
        "groups": int(t["groups"]),
        "reclassified_events": int(t["reclassified_events"]),
        "reclassified_share": (t["reclassified_events"] / t["events"]) if t["events"] else 0.0,
        "downgraded_groups": int(t["downgraded_groups"]),
        "partial_groups": int(t["partial_groups"]),
        "leaving_events": int(t["leaving_events"]),
        "error_per_day_before": (error_before or 0) / days,
        "error_per_day_after": (error_after or 0) / days,
        "days": days,
        "rejects": int(t.get("rejects") or 0),
        "no_timestamp": int(no_ts or 0),
    }
    page = (
        _env()
        .get_template("report.html.j2")
        .render(
            csp=csp,
            script=Markup(script),
            rules_name=report.rules_name,
            rules_hash=report.rules_hash,
            generated_at=(generated_at or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M UTC"),
            span=(_fmt_ts(first_ts), _fmt_ts(last_ts)),
            bucket=bucket,
            headline=headline,
            groups=rows,
            charted=len(charted),
            rule_hits=_rule_hits(con, table),
            unmatched=con.execute(
                sqlfiles.load("report_unmatched.sql"),
                {"ruleset_hash": table.hash, "limit": max(unmatched, 0)},
            )
            .df()
            .to_dict(orient="records"),
            colours=colours,
        )
    )
    return page


# ---------------------------------------------------------------------------- rows and tables


def _group_row(i: int, rec: dict[str, Any]) -> dict[str, Any]:
    rules = rec.get("rules")
    kind = rec.get("kind")
    row = {
        "index": i,
        "anchor": f"g{i}",
        "group": str(rec["group"]),
        "title": "" if rec.get("title") is None else str(rec["title"]),
        "verdict": rec["verdict"],
        "kind": kind if isinstance(kind, str) else "",
        "level": rec.get("level") or "",
        "new_level": rec.get("new_level") or "",
        "events": int(rec["events"]),
        "users": int(rec["users"]),
        "share": float(rec.get("reclassified_share") or 0.0),
        "rules": ", ".join(rules) if rules is not None and len(rules) else "",
        "polling": _opt_bool(rec.get("polling")),
        "period_s": _opt_float(rec.get("period_s")),
        "bursting_users": _opt_int(rec.get("bursting_users")),
        "burst_events": _opt_int(rec.get("burst_events")),
        "top_user_share": _opt_float(rec.get("top_user_share")),
        "charts": None,
        "examples": [],
    }
    row["period"] = _fmt_period(row["period_s"]) if row["period_s"] else ""
    return row


def _rule_hits(con: duckdb.DuckDBPyConnection, table: RuleTable) -> list[dict[str, Any]]:
    """Every rule of the table in its order, with its hits (zero for rules nothing reached)."""
    hits = con.execute(sqlfiles.load("report_rule_hits.sql"), {"ruleset_hash": table.hash}).df()
    by_id = {r["rule"]: r for r in hits.to_dict(orient="records")}
    out = []
    for order, rule in enumerate(table.rules, start=1):
        h = by_id.get(rule.id, {})
        out.append(
            {
                "order": order,
                "rule": rule.id,
                "kind": rule.kind,
                "level": rule.level,
                "events": int(h.get("events", 0)),
                "groups": int(h.get("groups", 0)),
                "users": int(h.get("users", 0)),
            }
        )
    return out


# ------------------------------------------------------------------------------------- charts


def _kind_colours(kinds) -> dict[str, str]:
    """One colour per kind, the same in every chart of the page; unclassified is grey."""
    named = sorted(k for k in kinds if k != UNCLASSIFIED)
    colours = {k: _PALETTE[i % len(_PALETTE)] for i, k in enumerate(named)}
    colours[UNCLASSIFIED] = _UNCLASSIFIED_COLOUR
    return colours


def _figure(width: float, height: float) -> Figure:
    """A figure with fixed margins (room for the legend on the right): constrained layout
    measured every tick label and took most of the drawing time."""
    fig = Figure(figsize=(width, height), dpi=96)
    fig.subplots_adjust(left=0.08, right=0.8, bottom=0.24, top=0.95)
    return fig


def _svg(fig: Figure, prefix: str) -> Markup:
    """The figure as an inline ``<svg>`` element, its ids prefixed to be unique in the page."""
    buf = io.StringIO()
    with matplotlib.rc_context(
        {"svg.fonttype": "none", "svg.hashsalt": prefix, "text.parse_math": False}
    ):
        fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None})
    text = buf.getvalue()
    text = text[text.index("<svg") :]
    text = re.sub(r'\bid="([^"]+)"', rf'id="{prefix}-\1"', text)
    text = re.sub(r"url\(#([^)]+)\)", rf"url(#{prefix}-\1)", text)
    text = re.sub(r'href="#([^"]+)"', rf'href="#{prefix}-\1"', text)
    # Let the page scale the chart: keep the viewBox, drop the fixed size in points.
    text = re.sub(r'<svg([^>]*?) width="[^"]+" height="[^"]+"', r"<svg\1", text, count=1)
    return Markup(text)


def _timeline_chart(
    tl: pd.DataFrame, first_ts, last_ts, bucket: str, colours: dict[str, str], prefix: str
) -> Chart:
    """Events per hour (or day) over the export's whole span, stacked by kind."""
    freq = "h" if bucket == "hour" else "D"
    start = pd.Timestamp(first_ts).tz_convert("UTC").tz_localize(None).floor(freq)
    end = pd.Timestamp(last_ts).tz_convert("UTC").tz_localize(None).floor(freq)
    index = pd.date_range(start, end + pd.Timedelta(1, unit=freq), freq=freq)
    wide = tl.pivot_table(index="bucket", columns="kind", values="events", aggfunc="sum")
    wide.index = pd.to_datetime(wide.index)
    wide = wide.reindex(index, fill_value=0).fillna(0)
    kinds = sorted(wide.columns, key=lambda k: (k == UNCLASSIFIED, k))
    fig = _figure(8.0, 1.9)
    ax = fig.add_subplot()
    ax.stackplot(
        wide.index,
        [wide[k].to_numpy() for k in kinds],
        labels=kinds,
        colors=[colours[k] for k in kinds],
        step="post",
        linewidth=0,
    )
    ax.set_xlim(index[0], index[-1])
    ax.set_ylabel(f"events / {bucket}", fontsize=8)
    ax.tick_params(labelsize=7)
    ax.margins(y=0.05)
    ax.spines[["top", "right"]].set_visible(False)
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=7, frameon=False)
    locator = AutoDateLocator()
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(ConciseDateFormatter(locator))
    ax.xaxis.get_offset_text().set_fontsize(7)
    peak = int(wide.sum(axis=1).max())
    caption = f"events per {bucket} (UTC), by kind; peak {peak:,} in one {bucket}"
    return Chart("timeline", _svg(fig, prefix), caption)


def _interarrival_wanted(row: dict[str, Any], gaps: pd.DataFrame) -> tuple[bool, float | None]:
    """Whether a group gets the inter-arrival chart, and the period to mark on it: the groups
    where triage.bursts found a polling user, at the period of the group's largest burst."""
    return bool(row["bursting_users"]) and len(gaps) > 0, row["period_s"]


def _interarrival_chart(gaps: pd.DataFrame, period: float | None, prefix: str) -> Chart:
    """Histogram of the seconds between a user's consecutive events, on a log axis."""
    fig = _figure(8.0, 1.9)
    ax = fig.add_subplot()
    ax.bar(
        gaps["lo_s"],
        gaps["gaps"],
        width=gaps["hi_s"] - gaps["lo_s"],
        align="edge",
        color="#4e79a7",
        linewidth=0,
    )
    ax.set_xscale("log")
    # At least a decade either side of the period, so a single peak reads as one.
    centre = period or float(gaps.loc[gaps["gaps"].idxmax(), "mid_s"])
    lo = max(min(float(gaps["lo_s"].min()) / 2, centre / 10), 0.001)
    hi = max(float(gaps["hi_s"].max()) * 2, centre * 10)
    ax.set_xlim(lo, hi)
    ticks = [t for t in _TIME_TICKS if lo <= t[0] <= hi]
    ax.set_xticks([t[0] for t in ticks], [t[1] for t in ticks])
    ax.minorticks_off()
    ax.tick_params(labelsize=7)
    ax.set_xlabel("seconds between one user's consecutive events in this group", fontsize=8)
    ax.set_ylabel("gaps", fontsize=8)
    ax.spines[["top", "right"]].set_visible(False)
    label = ""
    if period:
        label = "period " + _fmt_period(period)
        ax.axvline(period, color="#e15759", linewidth=1.2, linestyle="--")
        ax.annotate(
            label,
            xy=(period, 1.0),
            xycoords=("data", "axes fraction"),
            xytext=(4, -10),
            textcoords="offset points",
            fontsize=8,
            color="#e15759",
            bbox={"boxstyle": "round,pad=0.2", "facecolor": "white", "edgecolor": "none"},
        )
    total = int(gaps["gaps"].sum())
    caption = f"inter-arrival times of {total:,} same-user gaps" + (f"; {label}" if label else "")
    return Chart("interarrival", _svg(fig, prefix), caption)


_TIME_TICKS = [
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


# ------------------------------------------------------------------------------------ helpers


def _env() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("triage", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["period"] = _fmt_period
    env.filters["pct"] = lambda v: f"{v:.0%}"
    env.filters["num"] = lambda v, d=0: f"{v:,.{d}f}"
    return env


def _asset(name: str) -> str:
    return resources.files("triage.templates").joinpath(name).read_text(encoding="utf-8")


def _fmt_period(seconds: float | None) -> str:
    """``5.0 s``, ``2.5 min``, ``1.2 h``: how a person says a polling period."""
    if seconds is None or (isinstance(seconds, float) and math.isnan(seconds)):
        return ""
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 120:
        return f"{seconds:.1f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def _short(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def _fmt_ts(ts) -> str:
    if ts is None:
        return ""
    return pd.Timestamp(ts).tz_convert("UTC").strftime("%Y-%m-%d %H:%M UTC")


def _missing(v: Any) -> bool:
    if v is None:
        return True
    try:
        return bool(pd.isna(v))
    except (TypeError, ValueError):
        return False


def _opt_bool(v: Any) -> bool | None:
    return None if _missing(v) else bool(v)


def _opt_float(v: Any) -> float | None:
    return None if _missing(v) else float(v)


def _opt_int(v: Any) -> int | None:
    return None if _missing(v) else int(v)
