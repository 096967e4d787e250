"""``triage classify``, ``report``, ``run`` and ``rejects``: stored events against a rule table."""

from __future__ import annotations

import click

from triage.cli.common import (
    all_groups_option,
    db_option,
    emit_report,
    engine_options,
    fail_on_exit,
    fail_on_option,
    file_line,
    format_option,
    html_page,
    load_rules,
    open_store,
    output_option,
    rules_option,
    threshold_option,
    wait_option,
)


@click.command()
@db_option
@rules_option
@wait_option
def classify(db: str | None, rules: str, wait: float) -> None:
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
@output_option
@fail_on_option
@wait_option
@engine_options
def report(
    db: str | None,
    rules: str,
    fmt: str,
    all_groups: bool,
    threshold: float,
    output: str | None,
    fail_on: tuple[str, ...],
    wait: float,
    engine: str,
    clickhouse_url: str | None,
    source: str,
    sentry_table: str,
) -> None:
    """Report, per group, what the rule table would downgrade.

    Exit codes: 0 ran clean; 1 --fail-on found something new; 2 usage or configuration error
    (bad option, rule table, database locked); 4 an unexpected failure, one line on stderr.
    """
    if engine == "clickhouse":
        from triage.cli import clickhouse

        if fail_on:
            clickhouse.refuse("--fail-on", fail_on[0], ": it remembers findings in --db")
        clickhouse.report(clickhouse_url, source, sentry_table, rules, fmt, threshold, output)
        return
    table = load_rules(rules)
    with open_store(db, read_only=not fail_on, wait=wait) as s:
        rep = s.report(table, threshold=threshold)
        html = html_page(s, table, rep, all_groups) if fmt == "html" else None
        emit_report(rep, fmt, output, html)
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
@output_option
@click.option("-q", "--quiet", is_flag=True, help="No per-file lines on stderr.")
@fail_on_option
@wait_option
def run(
    paths: tuple[str, ...],
    db: str | None,
    rules: str,
    fmt: str,
    all_groups: bool,
    threshold: float,
    output: str | None,
    quiet: bool,
    fail_on: tuple[str, ...],
    wait: float,
) -> None:
    """Ingest, classify and report in one step. With no PATHS, runs on the built-in demo.

    Exit codes: 0 ran clean; 1 --fail-on found something new (in memory, everything is new);
    2 usage or configuration error; 4 an unexpected failure, one line on stderr.
    """
    table = load_rules(rules)
    from triage import api, store

    with open_store(db or store.MEMORY, wait=wait) as s:
        s.ingest(list(paths) or api.demo_paths(), on_file=lambda fr: file_line(fr, quiet))
        rep = s.report(table, threshold=threshold)
        html = html_page(s, table, rep, all_groups) if fmt == "html" else None
        emit_report(rep, fmt, output, html)
        fail_on_exit(s, fail_on, rep)


@click.command()
@db_option
@click.option("--limit", type=int, default=50, show_default=True, help="Rows to show.")
@wait_option
def rejects(db: str | None, limit: int, wait: float) -> None:
    """List rejected records: file, line, reason, and the start of the raw text."""
    with open_store(db, read_only=True, wait=wait) as s:
        df = s.rejects()
    if df.empty:
        click.echo("no rejects")
        return
    from triage.common.pii import mask_text

    for r in df.head(limit).itertuples(index=False):
        # Emails, addresses and credentials masked even when stored with --keep-pii.
        raw = mask_text((r.raw_text or "").replace("\n", " "))
        click.echo(f"{r.source_file}:{r.source_line}: {mask_text(r.reason or '')}\n    {raw[:160]}")
    if len(df) > limit:
        click.echo(f"... {len(df) - limit} more")
