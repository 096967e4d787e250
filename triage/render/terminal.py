"""Terminal rendering of reports (rich tables on stdout; plain text when not a terminal)."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from triage.analysis import bursts
from triage.analysis.report import Report, polling_text

VERDICT_STYLE = {"downgrade": "green", "partial": "yellow", "unchanged": "dim"}


def report_table(report: Report, console: Console, *, limit: int | None = None) -> None:
    """Totals line, then one row per group, most error volume saved first."""
    t = report.totals
    console.print(
        f"[bold]rules[/bold] {report.rules_name} ({report.rules_hash})  "
        f"[bold]events[/bold] {t['events']:,}  [bold]groups[/bold] {t['groups']:,}  "
        f"[bold]leaving error volume[/bold] {t['leaving_events']:,} "
        f"({t['leaving_share']:.1%})  [bold]per day saved[/bold] {t['events_per_day_saved']:,.1f}",
        highlight=False,
    )
    table = Table(show_lines=False, header_style="bold")
    groups = report.groups
    sentry = "sentry_events" in groups and bool(groups["sentry_events"].notna().any())
    columns = [
        ("verdict", "left"),
        ("group", "left"),
        ("title", "left"),
        ("events", "right"),
        ("users", "right"),
        ("level", "left"),
        ("new level", "left"),
        ("kind", "left"),
        ("share", "right"),
        ("rules", "left"),
        ("polling", "left"),
    ]
    if sentry:  # Sentry's own count and users beside the exported events
        columns[5:5] = [("sentry events", "right"), ("sentry users", "right")]
    for col, justify in columns:
        table.add_column(
            col,
            justify=justify,
            no_wrap=True,
            overflow="ellipsis",
            max_width={"title": 60, "group": 24, "rules": 40}.get(col),
        )
    rows = report.groups if limit is None else report.groups.head(limit)
    for r in rows.itertuples(index=False):
        extra = [_count(r.sentry_events), _count(r.sentry_users)] if sentry else []
        table.add_row(
            f"[{VERDICT_STYLE.get(r.verdict, '')}]{r.verdict}[/]",
            _escape(r.group),
            _escape(r.title),
            f"{r.events:,}",
            f"{r.users:,}",
            *extra,
            str(r.level),
            str(r.new_level),
            _escape(r.kind if isinstance(r.kind, str) else ""),
            f"{r.reclassified_share:.0%}",
            _escape(", ".join(r.rules)),
            polling_text(r._asdict()),
        )
    console.print(table)


def _count(value: object) -> str:
    try:
        return f"{int(value):,}"
    except (TypeError, ValueError):
        return ""


def _escape(text: object) -> str:
    from rich.markup import escape

    return escape("" if text is None else str(text))


def bursts_table(b: bursts.Bursts, console: Console, *, limit: int | None = None) -> None:
    """One line of totals, then one row per burst, most events first."""
    df = b.df
    where = f"per (user, {b.by})" if b.by else "per (group, user)"
    console.print(
        f"[bold]bursts[/bold] {len(df):,} {where}  [bold]users[/bold] {df['user'].nunique():,}  "
        f"[bold]events in bursts[/bold] {int(df['events'].sum()):,}  "
        f"(min {b.min_events} events, regularity >= {b.params.get('min_regularity')})",
        highlight=False,
    )
    if df.empty:
        console.print("no polling bursts found")
        return
    table = Table(header_style="bold")
    cols = ["group", "user"] + ([b.by] if b.by else [])
    cols += ["events", "start", "end", "period", "regularity", "share"]
    for col in cols:
        right = col in {"events", "regularity", "share"}
        table.add_column(col, justify="right" if right else "left", no_wrap=True, max_width=40)
    rows = df if limit is None else df.head(limit)
    for r in rows.to_dict(orient="records"):
        cells = [escape(str(r["group"])), escape(str(r["user"]))]
        if b.by:
            cells.append(escape(str(r["tag_value"])))
        cells += [
            f"{r['events']:,}",
            r["start"].strftime("%Y-%m-%d %H:%M:%S"),
            r["end"].strftime("%Y-%m-%d %H:%M:%S"),
            bursts.format_period(r["period_s"]),
            f"{r['regularity']:.2f}",
            f"{r['share']:.0%}",
        ]
        table.add_row(*cells)
    console.print(table)
    if limit is not None and len(df) > limit:
        console.print(f"... {len(df) - limit} more (--limit 0 for all)")
