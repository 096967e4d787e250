"""Terminal rendering of reports (rich tables on stdout; plain text when not a terminal)."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.text import Text

from triage.analysis import bursts
from triage.analysis.report import Report, polling_text
from triage.render.fit import Column, console_width, fit

VERDICT_STYLE = {"downgrade": "green", "partial": "yellow", "unchanged": "dim"}


def report_table(
    report: Report,
    console: Console,
    *,
    limit: int | None = None,
    rules_source: str | None = None,
) -> None:
    """Totals, then one row per group (most error volume saved first), fitted to the console:
    verdict, group, events, users, kind and new level always; the title takes what is left."""
    t = report.totals
    source = f", {rules_source}" if rules_source else ""
    rules_text = (
        f"[bold]rules[/bold] {_escape(report.rules_name)} ({report.rules_hash}{_escape(source)})"
    )
    totals_text = (
        f"[bold]events[/bold] {t['events']:,}  [bold]groups[/bold] {t['groups']:,}  "
        f"[bold]leaving error volume[/bold] {t['leaving_events']:,} "
        f"({t['leaving_share']:.1%})  [bold]per day saved[/bold] {t['events_per_day_saved']:,.1f}"
    )
    one_line = f"{rules_text}  {totals_text}"
    if Text.from_markup(one_line).cell_len <= console_width(console):
        console.print(one_line, highlight=False)
    else:  # two lines rather than one wrapped mid-phrase
        console.print(rules_text, highlight=False)
        console.print(totals_text, highlight=False)
    groups = report.groups
    if groups.empty:
        console.print("no groups to show" + (" (filtered out)" if t["groups"] else ""))
        return
    rows = groups if limit is None else groups.head(limit)
    recs = list(rows.itertuples(index=False))
    sentry = "sentry_events" in groups and bool(groups["sentry_events"].notna().any())
    cols = [
        Column("verdict", [f"[{VERDICT_STYLE.get(r.verdict, '')}]{r.verdict}[/]" for r in recs]),
        Column("group", [_escape(r.group) for r in recs], max_width=24),
        Column("title", [_escape(r.title) for r in recs], flex=True),
        Column("events", [f"{r.events:,}" for r in recs], justify="right"),
        Column("users", [f"{r.users:,}" for r in recs], justify="right"),
        Column("level", [str(r.level) for r in recs], priority=3),
        Column("new level", [str(r.new_level) for r in recs]),
        Column("kind", [_escape(r.kind if isinstance(r.kind, str) else "") for r in recs]),
        Column("share", [f"{r.reclassified_share:.0%}" for r in recs], "right", priority=2),
        Column("polling", [polling_text(r._asdict()) for r in recs], priority=1),
        Column("rules", [_escape(", ".join(r.rules)) for r in recs], priority=5, max_width=40),
    ]
    if sentry:  # Sentry's own count and users beside the exported events
        cols[5:5] = [
            Column("sentry events", [_count(r.sentry_events) for r in recs], "right", priority=4),
            Column("sentry users", [_count(r.sentry_users) for r in recs], "right", priority=4),
        ]
    console.print(fit(cols, console_width(console)))
    if len(rows) < t["groups"]:
        console.print(
            f"[dim]{len(rows):,} of {t['groups']:,} groups shown (--limit 0 for all, "
            f"--only VERDICT, --sort KEY)[/dim]"
        )


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
    rows = df if limit is None else df.head(limit)
    recs = rows.to_dict(orient="records")
    cols = [
        Column("group", [escape(str(r["group"])) for r in recs], flex=True),
        Column("user", [escape(str(r["user"])) for r in recs], max_width=24),
    ]
    if b.by:
        cols.append(Column(b.by, [escape(str(r["tag_value"])) for r in recs], flex=True))
    cols += [
        Column("events", [f"{r['events']:,}" for r in recs], "right"),
        Column("start", [r["start"].strftime("%Y-%m-%d %H:%M:%S") for r in recs], priority=2),
        Column("end", [r["end"].strftime("%Y-%m-%d %H:%M:%S") for r in recs], priority=3),
        Column("period", [bursts.format_period(r["period_s"]) for r in recs]),
        Column("regularity", [f"{r['regularity']:.2f}" for r in recs], "right", priority=1),
        Column("share", [f"{r['share']:.0%}" for r in recs], "right"),
    ]
    table = fit(cols, console_width(console))
    console.print(table)
    if limit is not None and len(df) > limit:
        console.print(f"... {len(df) - limit} more (--limit 0 for all)")
