"""``triage classify``, ``report``, ``run`` and ``rejects``: stored events against a rule table."""

from __future__ import annotations

import contextlib
import dataclasses
from pathlib import Path

import click

from triage.cli.common import (
    ConfigError,
    all_groups_option,
    db_option,
    emit_report,
    engine_options,
    fail_on_exit,
    fail_on_option,
    file_line,
    filter_options,
    format_option,
    html_page,
    load_rules,
    open_store,
    out_console,
    output_option,
    rules_choice,
    rules_option,
    select_options,
    selected,
    spinner,
    threshold_option,
    wait_option,
)


@click.command()
@db_option
@rules_option
@wait_option
def classify(db: str | None, rules: str | None, wait: float) -> None:
    """Re-classify every stored event with a rule table (stored per table hash)."""
    table = load_rules(rules)
    with open_store(db, wait=wait) as s:
        res = s.classify(table)
    click.echo(
        f"{res.ruleset} ({res.ruleset_hash}): {res.matched:,} of {res.events:,} events "
        f"matched a rule ({res.distinct_inputs:,} distinct inputs classified)"
    )


@click.command()
@db_option
@rules_option
@format_option
@all_groups_option
@threshold_option
@select_options
@filter_options
@output_option
@fail_on_option
@wait_option
@engine_options
def report(
    db: str | None,
    rules: str | None,
    fmt: str,
    all_groups: bool,
    threshold: float,
    limit: int | None,
    only: tuple[str, ...],
    sort: str,
    since: str | None,
    environment: str | None,
    release: str | None,
    project: str | None,
    output: str | None,
    fail_on: tuple[str, ...],
    wait: float,
    engine: str,
    clickhouse_url: str | None,
    source: str,
    sentry_table: str,
) -> None:
    """Report, per group, what the rule table would downgrade.

    The table is --rules, else $TRIAGE_RULES, else `rules` in the config file, else `default`;
    the report's first line names it and why. On a terminal it shows a screenful of groups
    (--limit 0 for all); piped, every group.

    Exit codes: 0 ran clean; 1 --fail-on found something new; 2 usage or configuration error
    (bad option, rule table, database locked, no events); 4 an unexpected failure, one line on
    stderr.
    """
    if engine == "clickhouse":
        from triage.cli import clickhouse

        if fail_on:
            clickhouse.refuse("--fail-on", fail_on[0], ": it remembers findings in --db")
        clickhouse.report(clickhouse_url, source, sentry_table, rules, fmt, threshold, output)
        return
    rules, rules_source = rules_choice(rules)
    table = load_rules(rules)
    with open_store(db, read_only=not fail_on, wait=wait) as s:
        if not s.con.execute("SELECT count(*) FROM events").fetchone()[0]:
            raise ConfigError(f"no events in {s.path}: run `triage ingest` first")
        filters = {
            "since": since,
            "environment": environment,
            "release": release,
            "project": project,
        }
        with contextlib.ExitStack() as stack:
            try:
                stack.enter_context(s.only(**filters))  # a bad --since fails here
            except ValueError as exc:
                raise ConfigError(str(exc)) from None
            with spinner(f"classifying with {table.name}"):
                rep = s.report(table, threshold=threshold)
            shown = selected(rep, fmt, output, only, sort, limit)
            html = html_page(s, table, shown, all_groups) if fmt == "html" else None
        emit_report(shown, fmt, output, html, rules_source=rules_source)
        fail_on_exit(s, fail_on, rep)


@click.command()
@click.argument("paths", nargs=-1, type=click.Path(exists=True))
@click.option(
    "--db",
    "db",
    type=click.Path(dir_okay=False),
    default=None,
    help="DuckDB database file. Default: in memory (nothing kept).",
)
@rules_option
@format_option
@all_groups_option
@threshold_option
@select_options
@output_option
@click.option("-q", "--quiet", is_flag=True, help="No per-file lines on stderr.")
@fail_on_option
@wait_option
def run(
    paths: tuple[str, ...],
    db: str | None,
    rules: str | None,
    fmt: str,
    all_groups: bool,
    threshold: float,
    limit: int | None,
    only: tuple[str, ...],
    sort: str,
    output: str | None,
    quiet: bool,
    fail_on: tuple[str, ...],
    wait: float,
) -> None:
    """Ingest, classify and report in one step. With no PATHS, runs on the built-in demo
    (with the `openhuman` rule table unless --rules or $TRIAGE_RULES names another).

    Exit codes: 0 ran clean; 1 --fail-on found something new (in memory, everything is new);
    2 usage or configuration error; 4 an unexpected failure, one line on stderr.
    """
    rules, source = rules_choice(rules, demo=not paths)
    table = load_rules(rules)
    from triage import api, store

    def on_file(fr) -> None:
        if not paths:  # the demo by name, not by its path inside site-packages
            fr = dataclasses.replace(fr, path=f"built-in demo {Path(fr.path).name}")
        file_line(fr, quiet)

    with open_store(db or store.MEMORY, wait=wait) as s:
        s.ingest(list(paths) or api.demo_paths(), on_file=on_file)
        with spinner(f"classifying with {table.name}"):
            rep = s.report(table, threshold=threshold)
        shown = selected(rep, fmt, output, only, sort, limit)
        html = html_page(s, table, shown, all_groups) if fmt == "html" else None
        emit_report(shown, fmt, output, html, rules_source=source)
        fail_on_exit(s, fail_on, rep)


@click.command()
@db_option
@click.option(
    "--limit", type=click.IntRange(0), default=50, show_default=True, help="Rows to show (0: all)."
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json"]),
    default="table",
    show_default=True,
    help="table for people, json (a list of rejects) for scripts.",
)
@wait_option
def rejects(db: str | None, limit: int, fmt: str, wait: float) -> None:
    """List rejected records: file, line, reason, and the start of the raw text."""
    with open_store(db, read_only=True, wait=wait) as s:
        df = s.rejects()
    shown = df.head(limit) if limit else df
    if fmt == "json":
        import json

        rows = [
            {
                "file": r.source_file,
                "line": int(r.source_line) if r.source_line is not None else None,
                "reason": r.reason,
                "raw_text": r.raw_text,
                "rejected_at": r.rejected_at.isoformat() if r.rejected_at is not None else None,
            }
            for r in shown.itertuples(index=False)
        ]
        click.echo(json.dumps({"total": len(df), "rejects": rows}, indent=2, ensure_ascii=False))
        return
    if df.empty:
        click.echo("no rejects")
        return
    from rich.markup import escape

    from triage.common.pii import mask_text
    from triage.render.fit import Column, console_width, fit

    # Emails, addresses and credentials masked even when stored with --keep-pii.
    recs = list(shown.itertuples(index=False))
    cols = [
        Column("where", [escape(f"{r.source_file}:{r.source_line}") for r in recs], flex=True),
        Column(
            "reason", [escape(mask_text(str(r.reason or ""))) for r in recs], flex=True, wrap=True
        ),
        Column(
            "raw text",
            [escape(mask_text((r.raw_text or "").replace("\n", " "))[:160]) for r in recs],
            flex=True,
            priority=1,
        ),
    ]
    console = out_console()
    console.print(fit(cols, console_width(console)))
    if len(df) > len(shown):
        console.print(f"... {len(df) - len(shown):,} more (--limit 0 for all)")
