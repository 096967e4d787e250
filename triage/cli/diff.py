"""``triage diff``: what a rule table change moves, per group, before it ships."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from triage.cli.common import (
    ConfigError,
    db_option,
    from_flag_or_env,
    open_store,
    out_console,
    output_option,
    spinner,
    threshold_option,
    wait_option,
)

if TYPE_CHECKING:
    from triage.rules import RuleTable


def _load_ref(spec: str, option: str) -> RuleTable:
    from triage import rules as rules_mod
    from triage.rules import source as rule_source

    try:
        return rule_source.load(spec)
    except rules_mod.RuleError as exc:
        raise ConfigError(f"{option}: invalid rule table:\n{exc}") from None
    except FileNotFoundError as exc:
        raise ConfigError(f"{option}: {exc}") from None


@click.command(name="diff")
@click.option(
    "--base",
    required=True,
    help="The rule table now: a built-in name, a path, or a git revision of a file (REV:path).",
)
@click.option(
    "--head",
    required=True,
    help="The proposed rule table: a built-in name, a path, or REV:path.",
)
@db_option
@click.option("--demo", is_flag=True, help="Run on the built-in demo export (in memory; no --db).")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "markdown", "json"]),
    default="table",
    show_default=True,
    help="table for a terminal, markdown for a PR's Impact section, json (triage.diff/1).",
)
@click.option(
    "--tag",
    "tags",
    multiple=True,
    metavar="NAME",
    help="Also compare this tag in the collateral check (repeatable), e.g. --tag method.",
)
@threshold_option
@output_option
@click.option("--strict", is_flag=True, help="Exit 1 when the diff has any warning.")
@wait_option
def diff_cmd(
    base: str,
    head: str,
    db: str | None,
    demo: bool,
    fmt: str,
    tags: tuple[str, ...],
    threshold: float,
    output: str | None,
    strict: bool,
    wait: float,
) -> None:
    """Compare two rule tables over the stored events: which groups move, and what to check.

    Sections: newly downgraded, no longer downgraded, changed kind or level, unchanged
    (counted). Totals: events per day leaving and entering error volume. Warnings: collateral (a
    newly downgraded group unlike the rest of its rule's matches in exception type, platform,
    logger or a --tag), a group the base table kept at error on purpose, and rules that match
    part of a group whose other events stay errors.

    \b
    Examples:
      triage diff --demo --base openhuman-v0.53.20 --head openhuman
      triage diff --base HEAD~1:rules.toml --head rules.toml --format markdown --tag method
    """
    from triage import api, store
    from triage.render.terminal_diff import diff_table

    if demo and db and from_flag_or_env("db"):
        raise ConfigError("--demo runs in memory; leave out --db")
    db = None if demo else db  # a db from the config file does not apply to the demo
    if not demo and not Path(store.resolve_path(db)).exists():
        raise ConfigError(
            f"database {store.resolve_path(db)} does not exist: run `triage ingest` first "
            "(or use --demo)"
        )
    base_t = _load_ref(base, "--base")
    head_t = _load_ref(head, "--head")
    with open_store(store.MEMORY if demo else db, wait=wait) as s:
        if demo:
            s.ingest(api.demo_paths())
        elif not s.con.execute("SELECT count(*) FROM events").fetchone()[0]:
            raise ConfigError(f"no events in {s.path}: run `triage ingest` first (or use --demo)")
        with spinner(f"classifying with {base_t.name} and {head_t.name}"):
            d = s.diff(base_t, head_t, threshold=threshold, tags=tags)
    if fmt == "table":
        if output:
            with open(output, "w", encoding="utf-8") as fh:
                diff_table(d, out_console(fh))
        else:
            diff_table(d, out_console())
    else:
        text = d.to_markdown() if fmt == "markdown" else d.to_json() + "\n"
        if output:
            Path(output).write_text(text, encoding="utf-8")
        else:
            click.echo(text, nl=False)
    if strict and d.warnings:
        click.echo(f"--strict: {len(d.warnings)} warning(s)", err=True)
        sys.exit(1)
