"""``triage bursts``: polling loops, one user hitting the same call at a steady period.

Registered on the main command group by triage.cli (imported at its end).
"""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from triage import api, store
from triage import bursts as bursts_mod
from triage.cli import ConfigError, _open, db_option, main, output_option


def _console(fh=None) -> Console:
    if fh is not None:
        return Console(file=fh, width=200, highlight=False)
    console = Console(highlight=False)
    return console if console.is_terminal else Console(highlight=False, width=200)


def bursts_table(b: bursts_mod.Bursts, console: Console, *, limit: int | None = None) -> None:
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
            bursts_mod.format_period(r["period_s"]),
            f"{r['regularity']:.2f}",
            f"{r['share']:.0%}",
        ]
        table.add_row(*cells)
    console.print(table)
    if limit is not None and len(df) > limit:
        console.print(f"... {len(df) - limit} more (--limit 0 for all)")


@main.command(name="bursts")
@db_option
@click.option("--demo", is_flag=True, help="Run on the built-in demo export (in memory; no --db).")
@click.option(
    "--min-events",
    type=click.IntRange(3),
    default=bursts_mod.DEFAULT_MIN_EVENTS,
    show_default=True,
    help="Fewest events a run needs to count as a polling burst.",
)
@click.option(
    "--by",
    "by",
    metavar="TAG",
    default=None,
    help="Look per (user, value of this tag) across groups instead of per (group, user), "
    "e.g. --by method to separate one user's loops on different RPC methods.",
)
@click.option(
    "--min-regularity",
    type=click.FloatRange(0.0, 1.0),
    default=bursts_mod.DEFAULT_MIN_REGULARITY,
    show_default=True,
    help="Least regularity (1 - MAD/median of the gaps; 1 is clockwork) a burst needs.",
)
@click.option(
    "--gap-factor",
    type=click.FloatRange(1.0, min_open=True),
    default=bursts_mod.DEFAULT_GAP_FACTOR,
    show_default=True,
    help="A gap longer than this many local periods ends a run (app closed, then reopened).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json", "csv"]),
    default="table",
    show_default=True,
    help="table for a terminal, json (schema triage.bursts/1) or csv.",
)
@click.option(
    "--limit",
    type=click.IntRange(0),
    default=50,
    show_default=True,
    help="Rows in the table format (0 for all); json and csv always have all.",
)
@output_option
def bursts_cmd(
    db: str | None,
    demo: bool,
    min_events: int,
    by: str | None,
    min_regularity: float,
    gap_factor: float,
    fmt: str,
    limit: int,
    output: str | None,
) -> None:
    """Find polling bursts: one user hitting the same call at a steady period.

    Splits each user's events per group (or per --by tag value) into runs at gaps much longer
    than the run's own period, and reports the runs of at least --min-events events at a
    regular period: events, start, end, period, regularity, and the share of the group's events.

    \b
    Examples:
      triage bursts --demo
      triage bursts --by method --min-events 50 --format json
    """
    if demo and db:
        raise ConfigError("--demo runs in memory; leave out --db")
    if not demo and not Path(store.resolve_path(db)).exists():
        raise ConfigError(
            f"database {store.resolve_path(db)} does not exist: run `triage ingest` first "
            "(or use --demo)"
        )
    with _open(store.MEMORY if demo else db, read_only=not demo) as s:
        if demo:
            s.ingest(api.demo_paths())
        try:
            b = s.bursts(
                min_events=min_events, by=by, min_regularity=min_regularity, gap_factor=gap_factor
            )
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
    if fmt == "table":
        if output:
            with open(output, "w", encoding="utf-8") as fh:
                bursts_table(b, _console(fh), limit=limit or None)
        else:
            bursts_table(b, _console(), limit=limit or None)
        return
    text = b.to_json() + "\n" if fmt == "json" else b.to_csv()
    if output:
        Path(output).write_text(text, encoding="utf-8")
    else:
        click.echo(text, nl=False)
