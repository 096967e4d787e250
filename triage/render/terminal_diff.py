"""Terminal rendering of a rule-table diff (rich tables; plain text when not a terminal)."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape

from triage.analysis.diff import SECTION_TITLES, SECTIONS, Diff, moving_text, rules_text, state_text
from triage.render.fit import Column, console_width, fit

SECTION_STYLE = {
    "newly_downgraded": "green",
    "no_longer_downgraded": "red",
    "changed_kind": "yellow",
}


def diff_table(diff: Diff, console: Console) -> None:
    """Totals, one table per section that changed, the unchanged count, then the warnings."""
    t = diff.totals
    net = t["net_leaving_per_day"]
    console.print(
        f"[bold]{escape(diff.base_name)}[/bold] ({diff.base_hash}) → "
        f"[bold]{escape(diff.head_name)}[/bold] ({diff.head_hash})  "
        f"[bold]events[/bold] {t['events']:,} over {t['days']:.1f} days  "
        f"[bold]error volume[/bold] {t['error_events_before']:,} → {t['error_events_after']:,}  "
        f"[bold]leaving[/bold] {t['leaving_events']:,}  [bold]entering[/bold] "
        f"{t['entering_events']:,}  [bold]per day[/bold] "
        f"{abs(net):,.1f} {'fewer' if net >= 0 else 'more'}",
        highlight=False,
    )
    for name in SECTIONS[:-1]:
        df = diff.section(name)
        if df.empty:
            continue
        style = SECTION_STYLE[name]
        recs = list(df.itertuples(index=False))
        cols = [
            Column("group", [escape(_label(r)) for r in recs], max_width=24),
            Column("title", [escape(str(r.title)) for r in recs], flex=True),
            Column("events", [f"{r.events:,}" for r in recs], "right"),
            Column("users", [f"{r.users:,}" for r in recs], "right"),
            Column("before", [escape(state_text(r.base_kind, r.base_level)) for r in recs]),
            Column("after", [escape(state_text(r.head_kind, r.head_level)) for r in recs]),
            Column("moving", [escape(moving_text(r)) for r in recs], priority=1, max_width=26),
            Column("rules", [escape(rules_text(r)) for r in recs], priority=2, max_width=48),
        ]
        table = fit(
            cols,
            console_width(console),
            title=f"[{style}]{SECTION_TITLES[name]} ({len(df)})[/]",
            title_justify="left",
        )
        console.print(table)
    unchanged = diff.section("unchanged")
    console.print(
        f"[dim]unchanged: {len(unchanged)} groups, "
        f"{int(unchanged['events'].sum()) if len(unchanged) else 0:,} events[/dim]"
    )
    if diff.warnings:
        console.print(f"[bold yellow]warnings ({len(diff.warnings)})[/bold yellow]")
        for w in diff.warnings:
            console.print(
                f"[yellow]{w.check}[/yellow] rule [bold]{escape(w.rule)}[/bold]: "
                f"{escape(w.message)}",
                highlight=False,
            )
            for ex in w.examples:
                console.print(f"    matched: {escape(ex[:200])}", highlight=False)
            for ex in w.staying_examples:
                console.print(f"    stays an error: {escape(ex[:200])}", highlight=False)


def _label(r) -> str:
    """A group as Sentry names it (its short id) when known, else its key."""
    short = getattr(r, "short_id", None)
    return str(short) if isinstance(short, str) and short else str(r.group)
