"""``triage rules``: list, test, lint and export rule tables."""

from __future__ import annotations

import sys

import click

from triage.cli.common import load_rules, rules_option
from triage.cli.export import rules_export
from triage.cli.lint import rules_lint


@click.group(name="rules")
def rules_group() -> None:
    """Inspect and check rule tables."""


@rules_group.command(name="list")
def rules_list() -> None:
    """The rule tables that ship with sentry-triage."""
    from triage import rules as rules_mod

    for name in rules_mod.builtin_names():
        t = rules_mod.load(name)
        click.echo(f"{name:24} {len(t.rules):3} rules  {t.hash}  {t.description}")


@rules_group.command(name="test")
@rules_option
def rules_test(rules: str) -> None:
    """Check every rule's examples: `match` must match it, `no_match` must not.

    Examples run through the same SQL the classifier runs. Exit 1 when any example fails.
    """
    from triage.analysis.examples import check_examples

    table = load_rules(rules)
    failures, checked = check_examples(table)
    for f in failures:
        click.echo(f"FAIL {f}", err=True)
    click.echo(f"{table.name}: {checked} examples checked, {len(failures)} failed")
    if failures:
        sys.exit(1)


rules_group.add_command(rules_lint)
rules_group.add_command(rules_export)
