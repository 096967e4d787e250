"""``triage config`` (the settings in force and their sources) and ``triage prune``."""

from __future__ import annotations

import json
from pathlib import Path

import click

from triage import config
from triage.cli.common import ConfigError, db_option, open_store, wait_option


@click.command(name="config")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="text for people, json for scripts.",
)
@click.pass_context
def config_cmd(ctx: click.Context, fmt: str) -> None:
    """Show the settings in force and where each comes from.

    \b
    Sources, first match wins:
      1. the command line (--db, --rules, --threshold, --tag, --org, --project, --url)
      2. $TRIAGE_DB, $TRIAGE_RULES, $SENTRY_ORG, $SENTRY_PROJECT, $SENTRY_URL
      3. $TRIAGE_CONFIG, else the nearest triage.toml, or pyproject.toml with [tool.triage],
         in the working directory or a parent (relative paths are read from its folder)
      4. the built-in default
    """
    cfg = ctx.find_root().obj or config.Config()
    settings = [cfg.setting(k) for k in config.KEYS]
    if fmt == "json":
        doc = {
            "file": str(cfg.path) if cfg.path else None,
            "settings": {s.key: {"value": s.value, "source": s.source} for s in settings},
        }
        click.echo(json.dumps(doc, indent=2))
        return
    click.echo(f"config file: {cfg.label or 'none found (triage.toml or [tool.triage])'}")
    rows = []
    for st in settings:
        value = st.value
        if st.key == "db" and st.source == "default":
            value = str(Path.cwd() / str(value))
        if isinstance(value, list):
            value = ", ".join(value) or "-"
        rows.append((st.key, "-" if value is None else str(value), st.source))
    width = max(len(r[1]) for r in rows)
    for key, value, source in rows:
        click.echo(f"  {key:<10} {value:<{width}}  {source}")
    click.echo("command-line options win over all of these; `triage run` on the demo uses the")
    click.echo("`openhuman` table unless --rules or $TRIAGE_RULES names another.")


@click.command(name="prune")
@db_option
@click.option(
    "--before",
    metavar="DATE",
    default=None,
    help="Delete events seen before this date or time (UTC), e.g. 2026-05-01.",
)
@click.option(
    "--user",
    "users",
    multiple=True,
    metavar="ID",
    help="Delete every event of this user (repeatable): a user id, or the email or IP address "
    "an anon: stand-in was made from. For erasure requests.",
)
@click.option("--dry-run", is_flag=True, help="Count what would be deleted; delete nothing.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="text for people, json for scripts.",
)
@wait_option
def prune_cmd(
    db: str | None, before: str | None, users: tuple[str, ...], dry_run: bool, fmt: str, wait: float
) -> None:
    """Delete old events, or one user's events, so a daily pull's database stops growing.

    Their classifications go with them, and so do rejects older than --before or whose raw text
    names a --user. One transaction; DuckDB reuses the freed space for later ingests.

    \b
    Examples:
      triage prune --before 2026-05-01
      triage prune --user u-7f3a91 --user ada@example.com --dry-run
    """
    if not before and not users:
        raise ConfigError("nothing to prune: give --before DATE and/or --user ID")
    with open_store(db, wait=wait) as s:
        try:
            res = s.prune(before=before, users=users, dry_run=dry_run)
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
    if fmt == "json":
        doc = {"events": res.events, "rejects": res.rejects, "dry_run": res.dry_run}
        click.echo(json.dumps(doc))
        return
    verb = "would delete" if dry_run else "deleted"
    click.echo(f"{verb} {res.events:,} events and {res.rejects:,} rejects from {s.path}")
