"""``triage diff`` and ``triage rules lint``: check a rule table change before it ships.

Registered on the main command group by triage.cli (imported at its end).
"""

from __future__ import annotations

import sys
from pathlib import Path

import click
from rich.console import Console

from triage import api, rule_source, store
from triage import rules as rules_mod
from triage.cli import (
    ConfigError,
    _open,
    db_option,
    main,
    output_option,
    rules_group,
    rules_option,
    threshold_option,
)
from triage.lint import SEVERITIES, Finding, lint
from triage.render_diff import diff_table


def _load_ref(spec: str, option: str) -> rules_mod.RuleTable:
    try:
        return rule_source.load(spec)
    except rules_mod.RuleError as exc:
        raise ConfigError(f"{option}: invalid rule table:\n{exc}") from None
    except FileNotFoundError as exc:
        raise ConfigError(f"{option}: {exc}") from None


def _console(fh=None) -> Console:
    if fh is not None:
        return Console(file=fh, width=200, highlight=False)
    console = Console(highlight=False)
    return console if console.is_terminal else Console(highlight=False, width=200)


@main.command(name="diff")
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
    if demo and db:
        raise ConfigError("--demo runs in memory; leave out --db")
    if not demo and not Path(store.resolve_path(db)).exists():
        raise ConfigError(
            f"database {store.resolve_path(db)} does not exist: run `triage ingest` first "
            "(or use --demo)"
        )
    base_t = _load_ref(base, "--base")
    head_t = _load_ref(head, "--head")
    with _open(store.MEMORY if demo else db) as s:
        if demo:
            s.ingest(api.demo_paths())
        elif not s.con.execute("SELECT count(*) FROM events").fetchone()[0]:
            raise ConfigError(f"no events in {s.path}: run `triage ingest` first (or use --demo)")
        d = s.diff(base_t, head_t, threshold=threshold, tags=tags)
    if fmt == "table":
        if output:
            with open(output, "w", encoding="utf-8") as fh:
                diff_table(d, _console(fh))
        else:
            diff_table(d, _console())
    else:
        text = d.to_markdown() if fmt == "markdown" else d.to_json() + "\n"
        if output:
            Path(output).write_text(text, encoding="utf-8")
        else:
            click.echo(text, nl=False)
    if strict and d.warnings:
        click.echo(f"--strict: {len(d.warnings)} warning(s)", err=True)
        sys.exit(1)


@rules_group.command(name="lint")
@rules_option
@click.option(
    "--db",
    "db",
    type=click.Path(dir_okay=False, exists=True),
    default=None,
    help="Also check against the events of this database (read-only): rules with no hits, "
    "broad patterns, top unmatched templates in error volume.",
)
@click.option(
    "--top",
    type=click.IntRange(0),
    default=10,
    show_default=True,
    help="With --db: how many unmatched message templates to list.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="text for people, json (a list of findings) for machines.",
)
@click.option("--strict", is_flag=True, help="Exit 1 on warnings too, not only on errors.")
def rules_lint(rules: str, db: str | None, top: int, fmt: str, strict: bool) -> None:
    """Check a rule table before it ships.

    Errors: invalid rules (bad or RE2-refused regex, unknown field, ...), examples that fail,
    rules whose own examples an earlier rule takes (shadowed). Warnings: some examples taken by
    an earlier rule, patterns so short or generic they match most messages (`401` alone), and
    with --db conditions matching a large share of the groups. Notes (with --db): rules with no
    hits (and which earlier rules take their events), and the top message templates in error
    volume that no rule matches, candidates for new rules. Exit 1 on any error (or warning with
    --strict), 2 when the table cannot be found.
    """
    try:
        table = rule_source.load(rules)
    except rules_mod.RuleError as exc:
        findings = [Finding("error", "invalid", rid, reason) for rid, reason in exc.errors]
        _print_findings(findings, fmt, rules)
        sys.exit(1)
    except FileNotFoundError as exc:
        raise ConfigError(str(exc)) from None
    if db:
        with _open(db, read_only=True) as s:
            findings = lint(table, store=s, top=top)
    else:
        findings = lint(table)
    _print_findings(findings, fmt, table.name)
    worst = {f.severity for f in findings}
    if "error" in worst or (strict and "warning" in worst):
        sys.exit(1)


def _print_findings(findings: list[Finding], fmt: str, name: str) -> None:
    if fmt == "json":
        import json

        click.echo(json.dumps([f.to_dict() for f in findings], indent=2, ensure_ascii=False))
        return
    for f in findings:
        click.echo(f.line())
    counts = {s: sum(1 for f in findings if f.severity == s) for s in SEVERITIES}
    words = {"error": "error", "warning": "warning", "info": "note"}
    summary = ", ".join(f"{n} {words[s]}{'s' if n != 1 else ''}" for s, n in counts.items())
    click.echo(f"{name}: {summary}")
