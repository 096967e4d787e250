"""``triage rules export``: compile a rule table for another target (thin over triage.targets)."""

from __future__ import annotations

import sys

import click

from triage.cli.common import ConfigError, load_rules, rules_option
from triage.targets import TARGETS, ExportError, export


@click.command(name="export")
@rules_option
@click.option(
    "--to",
    "target",
    type=click.Choice(list(TARGETS)),
    required=True,
    help="typescript or rust (a classifier module with its examples as tests), json (the "
    "normalized table), sentry-fingerprint (Sentry's server-side fingerprint rules), "
    "clickhouse-sql (one query classifying triage_events on ClickHouse).",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, writable=True),
    default=None,
    help="Write to this file instead of stdout.",
)
@click.option(
    "--strict",
    is_flag=True,
    help="Exit 1 when a target leaves rules out (sentry-fingerprint lists them in its header).",
)
def rules_export(rules: str, target: str, output: str | None, strict: bool) -> None:
    """Generate code or config from a rule table, so the table stays the one place a rule is
    written. Generated files say so, name the table and its hash, and must not be edited by hand.

    Regexes outside the subset every target reads the same way are refused with the rule id.
    """
    table = load_rules(rules)
    try:
        result = export(table, to=target, output=output)
    except ExportError as exc:
        raise ConfigError(str(exc)) from None
    if output is None:
        click.echo(result.text, nl=False)
    else:
        click.echo(f"{target}: {len(table.rules)} rules of {table.name} -> {output}", err=True)
    for note in result.notes:
        click.echo(f"note: {note}", err=True)
    if strict and result.notes:
        sys.exit(1)
