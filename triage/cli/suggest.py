"""``triage suggest``: candidate rules for groups that stay errors, proven before they ship."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.console import Console
from rich.markup import escape

from triage.cli.common import (
    ConfigError,
    db_option,
    from_flag_or_env,
    open_store,
    out_console,
    rules_option,
    threshold_option,
    wait_option,
)

if TYPE_CHECKING:
    from triage.analysis.diff import Diff
    from triage.analysis.suggest import Suggestions

FORMATS = ["table", "markdown", "json", "toml"]


@click.command(name="suggest")
@rules_option
@db_option
@click.option("--demo", is_flag=True, help="Run on the built-in demo export (in memory; no --db).")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default="table",
    show_default=True,
    help="table for a terminal, markdown for a PR, json (triage.suggest/1), toml (the rules "
    "alone, to paste into the table).",
)
@click.option(
    "--explain",
    "explain",
    metavar="GROUP",
    default=None,
    help="Say why one group (key, short id or key prefix) was or was not proposed.",
)
@click.option(
    "--apply",
    "apply_to",
    metavar="FILE",
    type=click.Path(dir_okay=False),
    default=None,
    help="Write the table with the accepted candidates to FILE (a copy: never the table "
    "itself) and print what it moves (the diff, in --format).",
)
@click.option(
    "--accept",
    "accept",
    multiple=True,
    metavar="ID",
    help="With --apply: only these candidates (repeatable). Default: all of them.",
)
@click.option(
    "--include-crashes",
    is_flag=True,
    help="Also consider groups with crash exception types (panic, TypeError, ...).",
)
@click.option(
    "--min-events",
    type=click.IntRange(1),
    default=5,
    show_default=True,
    help="Fewest error events a group needs to get a rule.",
)
@threshold_option
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, writable=True),
    default=None,
    help="Write the output to this file instead of stdout.",
)
@wait_option
def suggest_cmd(
    rules: str,
    db: str | None,
    demo: bool,
    fmt: str,
    explain: str | None,
    apply_to: str | None,
    accept: tuple[str, ...],
    include_crashes: bool,
    min_events: int,
    threshold: float,
    output: str | None,
    wait: float,
) -> None:
    """Propose rules for groups that stay errors but look like expected conditions.

    A group (per message template) is proposed when its text names an expected condition
    (session expired, sign in first, rate limit, timed out, connection refused, ...) or
    resembles a rule example of the table; polling bursts and one user's share rank it.
    Crash exception types are never proposed unless --include-crashes. Each candidate is a rule
    in the table's TOML: the narrowest literal of its text that matches nothing outside it,
    examples from real messages and from the nearest groups that stay errors, ranked by events
    per day it moves, with the diff and lint of the table with it added.

    \b
    Examples:
      triage suggest --demo --rules openhuman-v0.53.20
      triage suggest --rules rules.toml --format markdown > suggestions.md
      triage suggest --rules rules.toml --apply rules.suggested.toml
      triage suggest --demo --rules openhuman-v0.53.20 --explain 1e34adb4
    """
    from triage import api, store
    from triage import rules as rules_mod
    from triage.analysis.suggest import apply
    from triage.rules import source as rule_source

    if demo and db and from_flag_or_env("db"):
        raise ConfigError("--demo runs in memory; leave out --db")
    db = None if demo else db  # a db from the config file does not apply to the demo
    if accept and not apply_to:
        raise ConfigError("--accept chooses what --apply writes; give --apply FILE")
    if not demo and not Path(store.resolve_path(db)).exists():
        raise ConfigError(
            f"database {store.resolve_path(db)} does not exist: run `triage ingest` first "
            "(or use --demo)"
        )
    try:
        table = rule_source.load(rules)
    except rules_mod.RuleError as exc:
        raise ConfigError(f"--rules: invalid rule table:\n{exc}") from None
    except FileNotFoundError as exc:
        raise ConfigError(f"--rules: {exc}") from None
    with open_store(store.MEMORY if demo else db, read_only=not demo, wait=wait) as s:
        if demo:
            s.ingest(api.demo_paths())
        elif not s.con.execute("SELECT count(*) FROM events").fetchone()[0]:
            raise ConfigError(f"no events in {s.path}: run `triage ingest` first (or use --demo)")
        result = s.suggest(
            table, include_crashes=include_crashes, min_events=min_events, threshold=threshold
        )
        if explain is not None:
            _explain(result, explain, output)
            return
        if apply_to:
            try:
                written = apply(result, apply_to, list(accept) if accept else None)
            except (KeyError, ValueError) as exc:
                raise ConfigError(str(exc).strip("'\"")) from None
            d = s.diff(table, written, threshold=threshold)
            click.echo(
                f"wrote {apply_to}: {table.name} + {len(written.rules) - len(table.rules)} "
                "suggested rule(s)",
                err=True,
            )
            _emit_diff(d, fmt, output)
            return
    _emit(result, fmt, output)


def _write(text: str, output: str | None) -> None:
    if output:
        Path(output).write_text(text, encoding="utf-8")
    else:
        click.echo(text, nl=False)


def _emit(result: Suggestions, fmt: str, output: str | None) -> None:
    if fmt == "json":
        _write(result.to_json() + "\n", output)
    elif fmt == "markdown":
        _write(result.to_markdown(), output)
    elif fmt == "toml":
        _write("\n".join(c.toml for c in result.candidates), output)
    elif output:
        with open(output, "w", encoding="utf-8") as fh:
            _table(result, out_console(fh))
    else:
        _table(result, out_console())


def _emit_diff(d: Diff, fmt: str, output: str | None) -> None:
    from triage.render.terminal_diff import diff_table

    if fmt in ("json", "markdown"):
        _write(d.to_json() + "\n" if fmt == "json" else d.to_markdown(), output)
    elif output:
        with open(output, "w", encoding="utf-8") as fh:
            diff_table(d, out_console(fh))
    else:
        diff_table(d, out_console())


def _table(result: Suggestions, console: Console) -> None:
    total = sum(c.events for c in result.candidates)
    console.print(
        f"[bold]{escape(result.base.name)}[/bold] ({result.base.hash}): "
        f"{len(result.candidates)} candidate rule(s), {total:,} events out of error volume, "
        f"{total / result.days:,.1f} per day over {result.days:.1f} days"
    )
    for i, c in enumerate(result.candidates, 1):
        cl = c.cluster
        console.print(
            f"\n[bold]{i}. {escape(c.id)}[/bold]  {escape(c.kind)} · {c.level}  "
            f"[bold]{c.events:,}[/bold] events ({c.events_per_day:,.1f}/day), "
            f"{cl.users:,} user(s)  group {escape(cl.group)}: {escape(cl.template[:90])}"
        )
        console.print(f"   condition: {escape(c.describe)}")
        if c.narrowed:
            n = c.narrowed
            console.print(
                f"   narrowed from {escape(n['from'])}, which also matches {n['other_events']:,} "
                f"events in {n['other_groups']:,} other group(s)"
            )
        for s in c.signals:
            console.print(f"   evidence: {escape(s.text)}")
        for g in c.moved_groups:
            console.print(
                f"   diff: group {escape(g['group'])} {g['section'].replace('_', ' ')}, "
                f"{g['leaving_events']:,} of {g['events']:,} events leave error volume"
            )
        for w in c.warnings:
            console.print(f"   [yellow]warning {w['check']}[/yellow]: {escape(w['message'])}")
        for f in c.lint:
            console.print(f"   lint {f.severity} {f.check}: {escape(f.message)}")
        if not c.lint:
            console.print("   lint: clean (examples pass, no finding on the table with it added)")
        console.print(escape(c.toml.rstrip()), highlight=False)
    skipped = [d for d in result.decisions if not d.proposed and d.open_events]
    if skipped:
        console.print(f"\n[bold]Not proposed ({len(skipped)})[/bold]")
        for d in skipped[:15]:
            console.print(
                f"  {escape(d.group)} {escape(d.template[:60])} ({d.open_events:,} error "
                f"events): {escape(d.reason)}"
            )
        if len(skipped) > 15:
            console.print(f"  ... and {len(skipped) - 15} more (--format json lists all)")


def _explain(result: Suggestions, group: str, output: str | None) -> None:
    try:
        found = result.explain(group)
    except KeyError as exc:
        raise ConfigError(str(exc).strip("'\"")) from None
    if not found:
        raise ConfigError(f"no group {group!r} in the stored events")
    lines = []
    for d in found:
        verdict = f"proposed as {d.candidate}" if d.proposed else "not proposed"
        lines.append(f"group {d.group} · {d.template}")
        lines.append(f"  {d.open_events:,} error event(s) no rule matches; {verdict}")
        lines.append(f"  why: {d.reason}")
        for s in d.signals:
            lines.append(f"  evidence: {s.text}")
        if d.proposed:
            lines.append(result.candidate(d.candidate).toml.rstrip())
    _write("\n".join(lines) + "\n", output)
