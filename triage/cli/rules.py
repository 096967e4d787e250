"""``triage rules``: list, test, lint and export rule tables."""

from __future__ import annotations

import json
import sys

import click

from triage.cli.common import load_rules, rules_option
from triage.cli.export import rules_export
from triage.cli.lint import rules_lint


@click.group(name="rules")
def rules_group() -> None:
    """Inspect and check rule tables."""


def _format_option(f):
    return click.option(
        "--format",
        "fmt",
        type=click.Choice(["text", "json"]),
        default="text",
        show_default=True,
        help="text for people, json for scripts.",
    )(f)


@rules_group.command(name="list")
@_format_option
def rules_list(fmt: str) -> None:
    """The rule tables that ship with sentry-triage."""
    from triage import rules as rules_mod

    tables = [rules_mod.load(name) for name in rules_mod.builtin_names()]
    if fmt == "json":
        doc = [
            {"name": t.name, "rules": len(t.rules), "hash": t.hash, "description": t.description}
            for t in tables
        ]
        click.echo(json.dumps(doc, indent=2, ensure_ascii=False))
        return
    for t in tables:
        click.echo(f"{t.name:24} {len(t.rules):3} rules  {t.hash}  {t.description}")


@rules_group.command(name="test")
@rules_option
@_format_option
def rules_test(rules: str | None, fmt: str) -> None:
    """Check every rule's examples: `match` must match it, `no_match` must not.

    Examples run through the same SQL the classifier runs. Exit 1 when any example fails.
    """
    from triage.analysis.examples import check_examples

    table = load_rules(rules)
    failures, checked = check_examples(table)
    if fmt == "json":
        doc = {
            "rules": {"name": table.name, "hash": table.hash},
            "checked": checked,
            "failures": [str(f) for f in failures],
        }
        click.echo(json.dumps(doc, indent=2, ensure_ascii=False))
    else:
        for f in failures:
            click.echo(f"FAIL {f}", err=True)
        click.echo(f"{table.name}: {checked} examples checked, {len(failures)} failed")
    if failures:
        sys.exit(1)


rules_group.add_command(rules_lint)
rules_group.add_command(rules_export)
