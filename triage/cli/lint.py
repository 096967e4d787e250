"""``triage rules lint``: check a rule table before it ships, through the classifier's own SQL."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click

from triage.cli.common import ConfigError, open_store, out_console, rules_option

if TYPE_CHECKING:
    from triage.analysis.lint import Finding


@click.command(name="lint")
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
def rules_lint(rules: str | None, db: str | None, top: int, fmt: str, strict: bool) -> None:
    """Check a rule table before it ships.

    Errors: invalid rules (bad or RE2-refused regex, unknown field, ...), examples that fail,
    rules whose own examples an earlier rule takes (shadowed). Warnings: some examples taken by
    an earlier rule, patterns so short or generic they match most messages (`401` alone), and
    with --db conditions matching a large share of the groups. Notes (with --db): rules with no
    hits (and which earlier rules take their events), and the top message templates in error
    volume that no rule matches, candidates for new rules. Exit 1 on any error (or warning with
    --strict), 2 when the table cannot be found.
    """
    from triage import config
    from triage import rules as rules_mod
    from triage.analysis.lint import Finding, lint
    from triage.rules import source as rule_source

    rules = rules or config.DEFAULT_RULES
    try:
        table = rule_source.load(rules)
    except rules_mod.RuleError as exc:
        findings = [Finding("error", "invalid", rid, reason) for rid, reason in exc.errors]
        _print_findings(findings, fmt, rules)
        sys.exit(1)
    except FileNotFoundError as exc:
        raise ConfigError(str(exc)) from None
    if db:
        with open_store(db, read_only=True) as s:
            findings = lint(table, store=s, top=top)
    else:
        findings = lint(table)
    _print_findings(findings, fmt, table.name)
    worst = {f.severity for f in findings}
    if "error" in worst or (strict and "warning" in worst):
        sys.exit(1)


def _print_findings(findings: list[Finding], fmt: str, name: str) -> None:
    import json

    from triage.analysis.lint import SEVERITIES

    if fmt == "json":
        click.echo(json.dumps([f.to_dict() for f in findings], indent=2, ensure_ascii=False))
        return
    if findings:
        from rich.markup import escape

        from triage.render.fit import Column, console_width, fit

        console = out_console()
        cols = [
            Column("severity", [f.severity for f in findings]),
            Column("check", [f.check for f in findings]),
            Column("rule", [escape(str(f.rule)) for f in findings], max_width=30),
            Column("message", [escape(f.message) for f in findings], flex=True, wrap=True),
        ]
        console.print(fit(cols, console_width(console)))
    counts = {s: sum(1 for f in findings if f.severity == s) for s in SEVERITIES}
    words = {"error": "error", "warning": "warning", "info": "note"}
    summary = ", ".join(f"{n} {words[s]}{'s' if n != 1 else ''}" for s, n in counts.items())
    click.echo(f"{name}: {summary}")
