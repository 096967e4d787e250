"""The ``triage`` command: a thin click shell over triage.api.

Exit codes: 0 ran clean; 1 findings asked for (--fail-on, --strict); 2 usage or configuration
error (bad option, unknown rule table, invalid rules, database locked); 3 the Sentry API failed
(triage pull); 4 an unexpected failure, with one line on stderr.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click
from rich.console import Console

from triage import api, store
from triage import fail_on as fail_on_mod
from triage import rules as rules_mod
from triage.ingest import FileResult, iter_files
from triage.progress import IngestProgress
from triage.render import report_table
from triage.report import DEFAULT_THRESHOLD, Report
from triage.shapes import KINDS

FORMATS = ["table", "markdown", "json", "csv", "html"]

db_option = click.option(
    "--db",
    "db",
    type=click.Path(dir_okay=False),
    default=None,
    help="DuckDB database file. Default: $TRIAGE_DB, else triage.duckdb in the working directory.",
)
rules_option = click.option(
    "--rules",
    "rules",
    default="openhuman",
    show_default=True,
    help="Rule table: a built-in name (see `triage rules list`) or a path to a .toml file.",
)
format_option = click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default="table",
    show_default=True,
    help="table for a terminal, markdown for a PR, json (schema triage.report/1), csv, or html "
    "(one self-contained page with charts; use -o FILE).",
)
threshold_option = click.option(
    "--threshold",
    type=click.FloatRange(0.0, 1.0),
    default=DEFAULT_THRESHOLD,
    show_default=True,
    help="Share of a group's error events that must leave error volume for `downgrade`.",
)
wait_option = click.option(
    "--wait",
    "wait",
    type=click.FloatRange(min=0),
    default=0.0,
    show_default=True,
    metavar="SECONDS",
    help="When another process holds the database (DuckDB allows one writer, or many readers), "
    "wait up to SECONDS for it, then fail (exit 2) naming the process.",
)
fail_on_option = click.option(
    "--fail-on",
    "fail_on",
    type=click.Choice(fail_on_mod.CHECKS),
    multiple=True,
    help=fail_on_mod.CHECK_HELP,
)
output_option = click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, writable=True),
    default=None,
    help="Write the report to this file instead of stdout.",
)


class ConfigError(click.ClickException):
    """A usage or configuration problem: exit code 2, one line on stderr."""

    exit_code = 2


EXIT_UNEXPECTED = 4


class TriageGroup(click.Group):
    """Turns an unexpected exception into one line on stderr and exit 4, not a traceback.

    A scheduled job's log should say what failed in one line; ``TRIAGE_DEBUG=1`` re-raises for
    the traceback.
    """

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise
        except Exception as exc:
            if os.environ.get("TRIAGE_DEBUG"):
                raise
            first = (str(exc).strip().splitlines() or [""])[0]
            click.echo(
                f"Error: unexpected {type(exc).__name__}: {first} "
                "(set TRIAGE_DEBUG=1 for a traceback)",
                err=True,
            )
            ctx.exit(EXIT_UNEXPECTED)


def _err() -> Console:
    return Console(stderr=True, highlight=False, soft_wrap=True)


def _load_rules(spec: str) -> rules_mod.RuleTable:
    try:
        return rules_mod.load(spec)
    except rules_mod.RuleError as exc:
        raise ConfigError(f"invalid rule table:\n{exc}") from None
    except FileNotFoundError as exc:
        raise ConfigError(str(exc)) from None


def _open(db: str | None, **kw) -> api.Store:
    try:
        return api.open(db, **kw)
    except store.StoreError as exc:
        raise ConfigError(str(exc)) from None


def _file_line(fr: FileResult, quiet: bool) -> None:
    if quiet:
        return
    err = _err()
    if fr.already_ingested:
        err.print(f"{fr.path}: {fr.shape}: already ingested (same content); nothing to do")
        return
    what = fr.unit
    text = (
        f"{fr.path}: {fr.shape}: {fr.records:,} records, {fr.added:,} {what} added, "
        f"{fr.duplicates:,} duplicates, {fr.rejects:,} rejected"
    )
    if fr.skipped:
        text += f", {fr.skipped:,} skipped"
    if fr.merged:
        text += f" ({fr.merged:,} stored events completed)"
    if fr.groups and what == "events":
        text += f"; {fr.groups:,} Sentry groups"
    err.print(text, markup=False)
    for note in fr.notes:
        err.print(f"  {note}", markup=False)
    for line in fr.errors[:5]:
        err.print(f"  reject {line}", markup=False)
    if len(fr.errors) > 5:
        err.print(f"  ... and {len(fr.errors) - 5} more (see `triage rejects`)")


def _fail_on(s: api.Store, checks: tuple[str, ...], rep: Report | None) -> None:
    """Exit 1, naming each finding on stderr, when --fail-on finds something new."""
    if not checks:
        return
    new = fail_on_mod.check(s.con, checks, rep)
    for line in fail_on_mod.summary(new):
        _err().print(line, markup=False, soft_wrap=True)
    if new:
        sys.exit(1)


def _emit(report: Report, fmt: str, output: str | None, html: str | None = None) -> None:
    if fmt == "table":
        if output:
            with open(output, "w", encoding="utf-8") as fh:
                report_table(report, Console(file=fh, width=200, highlight=False))
        else:
            console = Console(highlight=False)
            if not console.is_terminal:
                console = Console(highlight=False, width=200)
            report_table(report, console)
        return
    if fmt == "html":
        text = html or ""
    else:
        text = {"markdown": report.to_markdown, "json": report.to_json, "csv": report.to_csv}[fmt]()
    if output:
        Path(output).write_text(text, encoding="utf-8")
    else:
        click.echo(text, nl=not text.endswith("\n"))


def _html(s: api.Store, table: rules_mod.RuleTable, rep: Report) -> str:
    from triage import html_report

    return html_report.render(s.con, table, rep)


@click.group(cls=TriageGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="sentry-triage")
def main() -> None:
    """Re-classify past Sentry events with one shared rule table, and report what it changes.

    Start with `triage run` (the built-in demo), then `triage ingest EXPORTS...` and
    `triage report --rules openhuman`.

    \b
    Exit codes:
      0  ran clean
      1  findings you asked to fail on (--fail-on, --strict)
      2  usage or configuration error (bad option, rule table, database locked, Sentry token)
      3  the Sentry API failed (retries spent, unreachable, unexpected answer)
      4  an unexpected failure, with one line on stderr (TRIAGE_DEBUG=1: traceback)
    """


input_format_option = click.option(
    "--input-format",
    type=click.Choice(["auto", *KINDS]),
    default="auto",
    show_default=True,
    help="Force the kind of every file instead of detecting it from the content: "
    + "; ".join(f"{k} = {v}" for k, v in KINDS.items())
    + ".",
)


@main.command()
@click.argument("paths", nargs=-1, required=True)
@db_option
@input_format_option
@click.option("--keep-raw", is_flag=True, help="Also store each raw payload (about 20x the space).")
@click.option("--strict", is_flag=True, help="Exit 1 when any record is rejected.")
@click.option(
    "-q", "--quiet", is_flag=True, help="No per-file lines and no progress bar on stderr."
)
@wait_option
def ingest(
    paths: tuple[str, ...],
    db: str | None,
    input_format: str,
    keep_raw: bool,
    strict: bool,
    quiet: bool,
    wait: float,
) -> None:
    """Ingest Sentry exports: files, folders (recursively), glob patterns, or - for stdin.

    Every shape Sentry exports, detected from each file's content (and printed per file): raw SDK
    events, the "JSON" link, web API events and issues, Discover/Explore CSV or JSON, envelopes;
    as one object, a JSON array or NDJSON; plain, .gz or .zst. Each file is one transaction.
    Events already stored (same event id) are duplicates, and complete the stored copy with what
    it lacked (a group id, tags); bad records go to the rejects table (`triage rejects`); a file
    already ingested (same content) is skipped.
    """
    try:
        files = list(iter_files(paths))
    except FileNotFoundError as exc:
        raise ConfigError(str(exc)) from None
    kind = None if input_format == "auto" else input_format
    with _open(db, wait=wait) as s, IngestProgress(len(files), enabled=not quiet) as progress:

        def on_file(fr: FileResult) -> None:
            progress.advance(fr)
            _file_line(fr, quiet)

        result = s.ingest(files, keep_raw=keep_raw, input_format=kind, on_file=on_file)
    if not quiet:
        text = (
            f"total: {len(result.files):,} files, {result.records:,} records, "
            f"{result.added:,} added, {result.duplicates:,} duplicates, "
            f"{result.rejects:,} rejected"
        )
        if result.skipped:
            text += f", {result.skipped:,} skipped"
        if result.already_ingested:
            text += f"; {result.already_ingested:,} files already ingested"
        _err().print(text)
    if strict and result.rejects:
        _err().print(f"--strict: {result.rejects} records rejected")
        sys.exit(1)


@main.command()
@db_option
@rules_option
@wait_option
def classify(db: str | None, rules: str, wait: float) -> None:
    """Re-classify every stored event with a rule table (stored per table hash)."""
    table = _load_rules(rules)
    with _open(db, wait=wait) as s:
        res = s.classify(table)
    click.echo(
        f"{res.ruleset} ({res.ruleset_hash}): {res.matched:,} of {res.events:,} events "
        f"matched a rule ({res.distinct_inputs:,} distinct inputs classified)"
    )


@main.command()
@db_option
@rules_option
@format_option
@threshold_option
@output_option
@fail_on_option
@wait_option
def report(
    db: str | None,
    rules: str,
    fmt: str,
    threshold: float,
    output: str | None,
    fail_on: tuple[str, ...],
    wait: float,
) -> None:
    """Report, per group, what the rule table would downgrade.

    Exit codes: 0 ran clean; 1 --fail-on found something new; 2 usage or configuration error
    (bad option, rule table, database locked); 4 an unexpected failure, one line on stderr.
    """
    table = _load_rules(rules)
    with _open(db, read_only=not fail_on, wait=wait) as s:
        rep = s.report(table, threshold=threshold)
        html = _html(s, table, rep) if fmt == "html" else None
        _emit(rep, fmt, output, html)
        _fail_on(s, fail_on, rep)


@main.command()
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
    table = _load_rules(rules)
    with _open(db or store.MEMORY, wait=wait) as s:
        s.ingest(list(paths) or api.demo_paths(), on_file=lambda fr: _file_line(fr, quiet))
        rep = s.report(table, threshold=threshold)
        html = _html(s, table, rep) if fmt == "html" else None
        _emit(rep, fmt, output, html)
        _fail_on(s, fail_on, rep)


@main.command()
@db_option
@click.option("--limit", type=int, default=50, show_default=True, help="Rows to show.")
@wait_option
def rejects(db: str | None, limit: int, wait: float) -> None:
    """List rejected records: file, line, reason, and the start of the raw text."""
    with _open(db, read_only=True, wait=wait) as s:
        df = s.rejects()
    if df.empty:
        click.echo("no rejects")
        return
    for r in df.head(limit).itertuples(index=False):
        raw = (r.raw_text or "").replace("\n", " ")
        click.echo(f"{r.source_file}:{r.source_line}: {r.reason}\n    {raw[:160]}")
    if len(df) > limit:
        click.echo(f"... {len(df) - limit} more")


@main.group(name="rules")
def rules_group() -> None:
    """Inspect and check rule tables."""


@rules_group.command(name="list")
def rules_list() -> None:
    """The rule tables that ship with sentry-triage."""
    for name in rules_mod.builtin_names():
        t = rules_mod.load(name)
        click.echo(f"{name:24} {len(t.rules):3} rules  {t.hash}  {t.description}")


@rules_group.command(name="test")
@rules_option
def rules_test(rules: str) -> None:
    """Check every rule's examples: `match` must match it, `no_match` must not.

    Examples run through the same SQL the classifier runs. Exit 1 when any example fails.
    """
    from triage.rule_examples import check_examples

    table = _load_rules(rules)
    failures, checked = check_examples(table)
    for f in failures:
        click.echo(f"FAIL {f}", err=True)
    click.echo(f"{table.name}: {checked} examples checked, {len(failures)} failed")
    if failures:
        sys.exit(1)


import triage.cli_bursts  # noqa: E402,F401  (registers `bursts`)
import triage.cli_export  # noqa: E402,F401  (registers `rules export`)
import triage.cli_pull  # noqa: E402,F401  (registers `pull`)
from triage import cli_diff  # noqa: E402,F401  (registers `diff` and `rules lint`)
