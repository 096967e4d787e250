"""The HTML report: one self-contained file to share with a team or attach to a PR.

Why these choices:

- Charts are SVG written straight from the binned data (:mod:`triage.render.svg_charts`) and inlined
  in the page. The file then needs no JavaScript charting runtime and no network (a Vega-Lite or
  plotly page carries or fetches a large script and draws only once it runs), opens the same
  offline, in a mail attachment or under a strict Content-Security-Policy, and its axis labels
  are real text. (matplotlib drew them until a store of 6k groups took 10-25 s for 30 groups.)
- The group table lists the first ``max_rows`` groups (500) by default: a store of thousands of
  groups would otherwise make a page of several MB. ``max_rows=None`` lists them all.
- The page is a jinja2 template with autoescaping on: every string from an event (titles,
  templates, kinds, rule ids, group keys) is escaped where it is printed, never pasted. The only
  unescaped inserts are the charts' SVG (which escapes its own text) and our own script.
- A Content-Security-Policy meta allows exactly one script, ours, by its SHA-256, and no network
  at all: even a string that slipped past escaping could not run or fetch anything.
- The data comes from SQL over the stored events (``queries/report_*.sql``), binned in DuckDB,
  so a million events reach Python as a few thousand rows.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from importlib import resources
from typing import Any

import duckdb
import jinja2
import pandas as pd
from markupsafe import Markup

from triage.analysis.report import Report
from triage.common.text import short
from triage.render import svg_charts
from triage.rules import RuleTable
from triage.store import sqlfiles

DEFAULT_MAX_CHARTS = 30
DEFAULT_MAX_ROWS = 500  # rows of the group table by default; None lists every group
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
    max_rows: int | None = DEFAULT_MAX_ROWS,
    generated_at: datetime | None = None,
) -> str:
    """The report as one HTML page; ``con`` must hold the events classified with ``table``.

    The group table shows the first ``max_rows`` groups of the report's order (``None``: all).
    """
    all_groups = len(report.groups)
    groups = report.groups.reset_index(drop=True)
    if max_rows is not None:
        groups = groups.head(max(max_rows, max_charts, 0))
    rate = con.execute(
        sqlfiles.load("report_error_rate.sql"), {"ruleset_hash": table.hash}
    ).fetchone()
    error_before, error_after, no_ts, first_ts, last_ts = rate
    days = float(report.totals.get("days") or 1.0)
    span_days = (last_ts - first_ts).total_seconds() / 86400 if first_ts and last_ts else 0.0
    bucket = "hour" if span_days <= HOURLY_LIMIT_DAYS else "day"

    charted = groups.head(max(max_charts, 0))
    # The stored key, not the label: a group named by its short id is keyed by its Sentry id.
    keys = [str(g) for g in charted["group_key"]]
    # Fetched as plain rows and split per group once: pandas' per-group filtering cost more
    # than drawing the charts.
    timeline = _by_group(
        con.execute(
            sqlfiles.load("report_timeline.sql"),
            {"ruleset_hash": table.hash, "bucket": bucket, "groups": keys},
        ).fetchall()
    )
    gaps = _by_group(
        con.execute(sqlfiles.load("report_interarrival.sql"), {"groups": keys}).fetchall()
    )
    colours = _kind_colours({r[1] for rs in timeline.values() for r in rs})
    examples = _by_group(
        con.execute(
            sqlfiles.load("report_examples.sql"), {"groups": keys, "per": EXAMPLES_PER_GROUP}
        ).fetchall()
    )

    rows = []
    for i, rec in enumerate(groups.to_dict(orient="records"), start=1):
        row = _group_row(i, rec)
        if i <= len(charted):
            key = str(rec["group_key"])
            row["charts"] = []
            row["examples"] = [
                {"text": short(t, EXAMPLE_CHARS), "n": int(n)} for t, n in examples.get(key, [])
            ]
            if tl := timeline.get(key):
                row["charts"].append(
                    _timeline_chart(tl, first_ts, last_ts, bucket, colours, f"c{i}t")
                )
            g = gaps.get(key, [])
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
            all_groups=all_groups,
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


def _by_group(rows: list[tuple]) -> dict[str, list[tuple]]:
    """Rows whose first column is the group key, split by it (the rest of each row kept)."""
    out: dict[str, list[tuple]] = {}
    for r in rows:
        out.setdefault(str(r[0]), []).append(r[1:])
    return out


def _timeline_chart(
    tl: list[tuple], first_ts, last_ts, bucket: str, colours: dict[str, str], prefix: str
) -> Chart:
    """Events per hour (or day) over the export's whole span, stacked by kind.
    ``tl``: (bucket start, kind, events) rows of one group."""
    step = timedelta(hours=1) if bucket == "hour" else timedelta(days=1)
    start, end = _floor_utc(first_ts, bucket), _floor_utc(last_ts, bucket)
    n = (end - start) // step + 1
    kinds = sorted({k for _, k, _ in tl}, key=lambda k: (k == UNCLASSIFIED, k))
    series = {k: [0.0] * n for k in kinds}
    for at, kind, events in tl:
        series[kind][(_floor_utc(at, bucket) - start) // step] += events
    svg = svg_charts.timeline(start, step, series, colours, bucket=bucket)
    peak = int(max(map(sum, zip(*series.values(), strict=True)), default=0))
    caption = f"events per {bucket} (UTC), by kind; peak {peak:,} in one {bucket}"
    return Chart("timeline", svg, caption)


def _floor_utc(ts: datetime, bucket: str) -> datetime:
    """``ts`` in UTC (a naive time is UTC already), cut to its hour or day."""
    ts = ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)
    ts = ts.replace(minute=0, second=0, microsecond=0)
    return ts.replace(hour=0) if bucket == "day" else ts


def _interarrival_wanted(row: dict[str, Any], gaps: list[tuple]) -> tuple[bool, float | None]:
    """Whether a group gets the inter-arrival chart, and the period to mark on it: the groups
    where triage.bursts found a polling user, at the period of the group's largest burst."""
    return bool(row["bursting_users"]) and len(gaps) > 0, row["period_s"]


def _interarrival_chart(gaps: list[tuple], period: float | None, prefix: str) -> Chart:
    """Histogram of the seconds between a user's consecutive events, on a log axis.
    ``gaps``: (bin, lo_s, mid_s, hi_s, gaps) rows of one group."""
    _, lo, mid, hi, counts = (list(c) for c in zip(*gaps, strict=True))
    centre = period or float(mid[counts.index(max(counts))])
    label = "period " + _fmt_period(period) if period else ""
    svg = svg_charts.interarrival(lo, hi, counts, period=period, period_label=label, centre=centre)
    total = int(sum(counts))
    caption = f"inter-arrival times of {total:,} same-user gaps" + (f"; {label}" if label else "")
    return Chart("interarrival", svg, caption)


# ------------------------------------------------------------------------------------ helpers


@functools.cache
def _env() -> jinja2.Environment:
    """The template environment, built once (compiling the template cost 0.3 s a page)."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("triage.render", "templates"),
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
    return resources.files("triage.render.templates").joinpath(name).read_text(encoding="utf-8")


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
