"""``triage bursts``: polling loops, one user hitting the same call at a steady period.

Added to the command group by triage.cli.
"""

from __future__ import annotations

from pathlib import Path

import click

from triage.analysis import bursts as bursts_mod
from triage.cli.common import (
    ConfigError,
    db_option,
    from_flag_or_env,
    open_store,
    out_console,
    output_option,
    wait_option,
)


@click.command(name="bursts")
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
@wait_option
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
    wait: float,
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
    from triage import api, store
    from triage.render import terminal

    if demo and db and from_flag_or_env("db"):
        raise ConfigError("--demo runs in memory; leave out --db")
    db = None if demo else db  # a db from the config file does not apply to the demo
    if not demo and not Path(store.resolve_path(db)).exists():
        raise ConfigError(
            f"database {store.resolve_path(db)} does not exist: run `triage ingest` first "
            "(or use --demo)"
        )
    with open_store(store.MEMORY if demo else db, read_only=not demo, wait=wait) as s:
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
                terminal.bursts_table(b, out_console(fh), limit=limit or None)
        else:
            terminal.bursts_table(b, out_console(), limit=limit or None)
        return
    text = b.to_json() + "\n" if fmt == "json" else b.to_csv()
    if output:
        Path(output).write_text(text, encoding="utf-8")
    else:
        click.echo(text, nl=False)
