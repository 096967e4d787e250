"""What every ``triage`` command shares: option bundles, errors, and opening the store.

Command modules import from here, never from the package root (``triage.cli``), so the root can
import every command module without a circle. Heavy modules (duckdb, pandas) are imported inside
the functions that need them: building the command tree must stay fast (``triage --version``).
"""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click
from click.core import ParameterSource
from rich.console import Console

from triage import config
from triage.analysis.fail_on import CHECK_HELP, CHECKS
from triage.analysis.verdicts import DEFAULT_THRESHOLD, SORT_KEYS, VERDICTS
from triage.ingest.shapes import KINDS
from triage.render.fit import terminal_console

if TYPE_CHECKING:
    from triage import api
    from triage.analysis.report import Report
    from triage.ingest.ingester import FileResult
    from triage.rules import RuleTable

FORMATS = ["table", "markdown", "json", "csv", "html"]

db_option = click.option(
    "--db",
    "db",
    type=click.Path(dir_okay=False),
    default=None,
    help="DuckDB database file. Default: $TRIAGE_DB, else `db` in the config file (see "
    "`triage config`), else triage.duckdb in the working directory.",
)
rules_option = click.option(
    "--rules",
    "rules",
    default=None,
    envvar="TRIAGE_RULES",
    show_envvar=True,
    help="Rule table: a built-in name (see `triage rules list`) or a path to a .toml file. "
    "Default: `rules` in the config file (see `triage config`), else `default`.",
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


class FiniteFloatRange(click.FloatRange):
    """A FloatRange that also refuses NaN (which every range comparison lets through)."""

    def convert(self, value, param, ctx):  # type: ignore[no-untyped-def]
        rv = super().convert(value, param, ctx)
        if rv != rv:  # NaN
            self.fail(f"{value!r} is not a number.", param, ctx)
        return rv


all_groups_option = click.option(
    "--all-groups",
    is_flag=True,
    help="With --format html: list every group in the table (default: the first 500, so that "
    "a store of thousands of groups still makes a page of well under 2 MB).",
)
threshold_option = click.option(
    "--threshold",
    type=FiniteFloatRange(0.0, 1.0),
    default=DEFAULT_THRESHOLD,
    show_default=True,
    help="Share of a group's error events that must leave error volume for `downgrade`.",
)
wait_option = click.option(
    "--wait",
    "wait",
    type=FiniteFloatRange(min=0, max=1e9),
    default=0.0,
    show_default=True,
    metavar="SECONDS",
    help="When another process holds the database (DuckDB allows one writer, or many readers), "
    "wait up to SECONDS for it, then fail (exit 2) naming the process.",
)
fail_on_option = click.option(
    "--fail-on",
    "fail_on",
    type=click.Choice(CHECKS),
    multiple=True,
    help=CHECK_HELP,
)
output_option = click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, writable=True),
    default=None,
    help="Write the report to this file instead of stdout.",
)


input_format_option = click.option(
    "--input-format",
    type=click.Choice(["auto", *KINDS]),
    default="auto",
    show_default=True,
    help="Force the kind of every file instead of detecting it from the content: "
    + "; ".join(f"{k} = {v}" for k, v in KINDS.items())
    + ".",
)


ENGINES = ["duckdb", "clickhouse"]


def engine_options(fn):
    """``--engine``, ``--clickhouse-url``, ``--source``, ``--sentry-table`` (cli/clickhouse.py)."""
    for opt in reversed(
        [
            click.option(
                "--engine",
                type=click.Choice(ENGINES),
                default="duckdb",
                show_default=True,
                help="duckdb: the --db file. clickhouse: a ClickHouse server (--clickhouse-url), "
                "for event volumes past one machine.",
            ),
            click.option(
                "--clickhouse-url",
                envvar="TRIAGE_CLICKHOUSE_URL",
                default=None,
                metavar="URL",
                help="http(s)://user:password@host:8123/database, or chdb:///path (ClickHouse in "
                "process). Default: $TRIAGE_CLICKHOUSE_URL. The password is never printed.",
            ),
            click.option(
                "--source",
                type=click.Choice(["triage", "sentry-clickhouse"]),
                default="triage",
                show_default=True,
                help="With --engine clickhouse: triage (events `triage ingest` stored) or "
                "sentry-clickhouse (a self-hosted Sentry's own errors table, read-only, grouped "
                "by Sentry's group_id).",
            ),
            click.option(
                "--sentry-table",
                default="errors_local",
                show_default=True,
                help="Sentry's errors table for --source sentry-clickhouse (errors_dist on a "
                "cluster).",
            ),
        ]
    ):
        fn = opt(fn)
    return fn


class ConfigError(click.ClickException):
    """A usage or configuration problem: exit code 2, one line on stderr."""

    exit_code = 2


EXIT_UNEXPECTED = 4
VERBOSITY = "triage.verbosity"  # ctx.meta key: -1 with -q, the count of -v otherwise


def err_console() -> Console:
    return Console(stderr=True, highlight=False, soft_wrap=True)


def load_rules(spec: str | None) -> RuleTable:
    """The rule table named by --rules (None: the built-in default, as no flag, variable or
    config file chose one); a bad one is a usage error (exit 2)."""
    from triage import rules as rules_mod

    try:
        return rules_mod.load(spec or config.DEFAULT_RULES)
    except rules_mod.RuleError as exc:
        raise ConfigError(f"invalid rule table:\n{exc}") from None
    except FileNotFoundError as exc:
        raise ConfigError(str(exc)) from None


def rules_choice(rules: str | None, *, demo: bool = False) -> tuple[str, str]:
    """The rule table to use and where it came from (the report says which table it used).

    The demo reproduces openhuman's incident, so with no --rules or $TRIAGE_RULES it keeps the
    `openhuman` table whatever the config file says.
    """
    ctx = click.get_current_context()
    src = ctx.get_parameter_source("rules")
    if src == ParameterSource.COMMANDLINE:
        rules, why = rules, "from --rules"
    elif src == ParameterSource.ENVIRONMENT:
        rules, why = rules, "from $TRIAGE_RULES"
    elif demo:
        rules, why = config.DEMO_RULES, "the demo's table"
    elif src == ParameterSource.DEFAULT_MAP and rules:
        cfg = ctx.find_root().obj
        why = f"from {cfg.label if isinstance(cfg, config.Config) else 'the config'}"
    else:
        rules, why = config.DEFAULT_RULES, "the built-in default"
    ctx.meta["triage.rules"] = f"{rules} ({why})"
    return rules, why


def from_flag_or_env(name: str) -> bool:
    """True when option ``name`` was given on the command line or by an environment variable
    (not by the config file): `--demo` refuses only a --db the user typed."""
    src = click.get_current_context().get_parameter_source(name)
    return src in (ParameterSource.COMMANDLINE, ParameterSource.ENVIRONMENT)


def spinner(text: str):
    """A spinner on stderr while a long step runs (a terminal only; silent in jobs and pipes)."""
    console = Console(stderr=True)
    if not console.is_terminal or _quiet():
        return contextlib.nullcontext()
    return console.status(text, spinner="dots")


def _quiet() -> bool:
    ctx = click.get_current_context(silent=True)
    if ctx is not None and ctx.meta.get(VERBOSITY, 0) < 0:
        return True
    while ctx is not None:
        if ctx.params.get("quiet"):
            return True
        ctx = ctx.parent
    return False


def select_options(f):
    """--limit, --only and --sort: which groups a report shows (totals cover them all)."""
    f = click.option(
        "--sort",
        type=click.Choice(list(SORT_KEYS)),
        default="saved",
        show_default=True,
        help="Order of the groups: saved = most error volume leaving first.",
    )(f)
    f = click.option(
        "--only",
        type=click.Choice(list(VERDICTS)),
        multiple=True,
        help="Only groups with this verdict (repeatable).",
    )(f)
    return click.option(
        "--limit",
        type=click.IntRange(0),
        default=None,
        help="Show the first N groups (0: all). Default: what fits the screen on a terminal, "
        "all when piped, written to a file, or in another format than table.",
    )(f)


def filter_options(f):
    """--since, --environment, --release, --project: report on the matching events only."""
    for name, help_ in reversed(
        [
            ("--since", "Only events from this time: a date, a time, or 7d / 24h back from now."),
            ("--environment", "Only events of this environment (production, staging, ...)."),
            ("--release", "Only events of this release (openhuman@0.53.20)."),
            ("--project", "Only events of this Sentry project (its slug)."),
        ]
    ):
        f = click.option(name, default=None, metavar="VALUE", help=help_)(f)
    return f


def selected(rep: Report, fmt: str, output: str | None, only, sort, limit) -> Report:
    """The groups to show: a screenful on a terminal unless --limit says otherwise."""
    if limit is None and fmt == "table" and not output:
        console = terminal_console()
        if console.is_terminal:  # a screenful: the header, totals and the "N of M" line
            limit = max(console.size.height - 7, 10)
    return rep.select(only=only, sort=sort, limit=limit or None)


def open_store(db: str | None, **kw) -> api.Store:
    """``triage.open`` with a locked or unreadable database as a usage error (exit 2)."""
    from triage import api, store

    try:
        s = api.open(db, **kw)
    except store.StoreError as exc:
        raise ConfigError(str(exc)) from None
    ctx = click.get_current_context(silent=True)
    if ctx is not None:
        ctx.meta["triage.db"] = s.path
    return s


def file_line(fr: FileResult, quiet: bool, out: Console | None = None) -> None:
    """One line per file on stderr (through ``out``, the progress bar's console, when given)."""
    if quiet:
        return
    err = out or err_console()
    if fr.already_ingested:
        text = f"{fr.path}: {fr.shape}: already ingested (same content); nothing to do"
        err.print(text, markup=False)
        return
    if fr.skip_reason:
        err.print(f"{fr.path}: skipped: {fr.skip_reason}", markup=False)
        return
    if fr.shape in ("skipped", "not read"):
        why = fr.notes[0] if fr.notes else fr.errors[0].split(": ", 1)[-1]
        err.print(f"{fr.path}: {fr.shape}: {why}", markup=False)
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


def fail_on_exit(s: api.Store, checks: tuple[str, ...], rep: Report | None) -> None:
    """Exit 1, naming each finding on stderr, when --fail-on finds something new."""
    if not checks:
        return
    from triage.analysis import fail_on as fail_on_mod

    new = fail_on_mod.check(s.con, checks, rep)
    for line in fail_on_mod.summary(new):
        err_console().print(line, markup=False, soft_wrap=True)
    if new:
        sys.exit(1)


def emit_report(
    report: Report,
    fmt: str,
    output: str | None,
    html: str | None = None,
    *,
    rules_source: str | None = None,
) -> None:
    if fmt == "table":
        from triage.render.terminal import report_table

        if output:
            with open(output, "w", encoding="utf-8") as fh:
                report_table(report, terminal_console(fh), rules_source=rules_source)
        else:
            report_table(report, terminal_console(), rules_source=rules_source)
        return
    if fmt == "html":
        text = html or ""
    else:
        text = {"markdown": report.to_markdown, "json": report.to_json, "csv": report.to_csv}[fmt]()
    if output:
        Path(output).write_text(text, encoding="utf-8")
    else:
        click.echo(text, nl=not text.endswith("\n"))


def html_page(s: api.Store, table: RuleTable, rep: Report, all_groups: bool = False) -> str:
    from triage.render import html as html_report

    if all_groups:
        return html_report.render(s.con, table, rep, max_rows=None)
    return html_report.render(s.con, table, rep)


def out_console(fh=None) -> Console:
    """A console for a table: the file's, the terminal's real width (TERM=dumb too), or 200
    columns when piped (``$COLUMNS`` when set)."""
    return terminal_console(fh)
