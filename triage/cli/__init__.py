"""The ``triage`` command: a thin click shell over triage.api.

Exit codes: 0 ran clean; 1 findings asked for (--fail-on, --strict); 2 usage or configuration
error (bad option, unknown rule table, invalid rules, database locked, corrupt or on a full
disk); 3 the Sentry API failed
(triage pull); 4 an unexpected failure, with one line on stderr.
"""

from __future__ import annotations

import os
import sys
import time

import click

from triage import config as config_mod
from triage.cli import bursts, config, diff, ingest, pull, report, rules, suggest
from triage.cli.common import EXIT_UNEXPECTED, VERBOSITY, ConfigError


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
            known = _database_error(exc)
            if known is not None:  # a full disk, a corrupt file: what it is, exit 2
                click.echo(f"Error: {known}", err=True)
                ctx.exit(ConfigError.exit_code)
            first = (str(exc).strip().splitlines() or [""])[0]
            click.echo(
                f"Error: unexpected {type(exc).__name__}: {first} "
                "(set TRIAGE_DEBUG=1 for a traceback)",
                err=True,
            )
            ctx.exit(EXIT_UNEXPECTED)


def _database_error(exc: Exception) -> Exception | None:
    """A database failure named for what it is (see triage.store.describe_error), or None."""
    if "duckdb" not in sys.modules:  # no database was touched: nothing to look up
        return None
    from triage.store import describe_error

    return describe_error(None, exc)


@click.group(cls=TriageGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="sentry-triage")
@click.pass_context
def main(ctx: click.Context) -> None:
    """Re-classify past Sentry events with one shared rule table, and report what it changes.

    Start with `triage run` (the built-in demo), then `triage ingest EXPORTS...` and
    `triage report`.

    \b
    Exit codes:
      0  ran clean
      1  findings you asked to fail on (--fail-on, --strict)
      2  usage or configuration error (bad option, rule table, database locked, Sentry token)
      3  the Sentry API failed (retries spent, unreachable, unexpected answer)
      4  an unexpected failure, with one line on stderr (TRIAGE_DEBUG=1: traceback)

    Defaults for --db, --rules, --threshold, --tag and the Sentry org/project/url come from
    [tool.triage] in the nearest pyproject.toml or a triage.toml (see `triage config`).
    """
    try:
        cfg = config_mod.load()
    except config_mod.ConfigFileError as exc:
        raise ConfigError(str(exc)) from None
    ctx.obj = cfg
    ctx.default_map = _default_map(main, cfg.file_defaults())
    started = time.monotonic()
    ctx.call_on_close(lambda: _verbose_summary(ctx, started))


def _verbose_summary(ctx: click.Context, started: float) -> None:
    """With -v: what the command used (config file, database, rule table) and how long it took."""
    if ctx.meta.get(VERBOSITY, 0) <= 0:
        return
    cfg = ctx.obj
    parts = [f"config {cfg.label if getattr(cfg, 'label', '') else 'none'}"]
    for key in ("db", "rules"):
        if ctx.meta.get(f"triage.{key}"):
            parts.append(f"{key} {ctx.meta[f'triage.{key}']}")
    parts.append(f"{time.monotonic() - started:.2f} s")
    click.echo(f"triage {ctx.invoked_subcommand}: " + "; ".join(parts), err=True)


def _verbosity(ctx: click.Context, param: click.Parameter, value):
    """Records -q / -v in ``ctx.meta``; returns the value for commands that read their own -q."""
    if value:
        step = int(value) if param.name == "verbose" else -1
        ctx.meta[VERBOSITY] = ctx.meta.get(VERBOSITY, 0) + step
    return value


def _add_verbosity(cmd: click.Command) -> None:
    """-q and -v on every command (commands with their own -q keep it)."""
    if isinstance(cmd, click.Group):
        for sub in cmd.commands.values():
            _add_verbosity(sub)
        return
    names = {p.name for p in cmd.params}
    opts = {o for p in cmd.params for o in getattr(p, "opts", [])}
    if "quiet" not in names and "-q" not in opts:
        cmd.params.append(
            click.Option(
                ["-q", "--quiet", "quiet_flag"],
                is_flag=True,
                expose_value=False,
                callback=_verbosity,
                help="Nothing on stderr but errors and findings (no spinner).",
            )
        )
    elif "quiet" in names:
        for p in cmd.params:
            if p.name == "quiet":
                p.callback = _verbosity
    if "verbose" not in names and "-v" not in opts:
        cmd.params.append(
            click.Option(
                ["-v", "--verbose"],
                count=True,
                expose_value=False,
                callback=_verbosity,
                help="Also say on stderr which config file, database and rule table were used, "
                "and how long the command took.",
            )
        )


# Options a config key never fills: `run` works in memory unless told, `rules lint --db` is an
# extra check asked for by name.
_NOT_FROM_CONFIG = {("run", "db"), ("rules lint", "db")}


def _default_map(group: click.Group, values: dict, prefix: str = "") -> dict:
    """click's ``default_map`` for every command that has an option named like a config key.

    click reads a value from the command line first, then the option's environment variable,
    then this map, then the option's default: the order the config file promises.
    """
    out: dict = {}
    for name, cmd in group.commands.items():
        path = f"{prefix}{name}"
        if isinstance(cmd, click.Group):
            sub = _default_map(cmd, values, path + " ")
            if sub:
                out[name] = sub
            continue
        params = {p.name for p in cmd.params}
        found = {
            k: v for k, v in values.items() if k in params and (path, k) not in _NOT_FROM_CONFIG
        }
        if found:
            out[name] = found
    return out


for _command in (
    ingest.ingest,
    report.classify,
    report.report,
    report.run,
    report.rejects,
    rules.rules_group,
    diff.diff_cmd,
    bursts.bursts_cmd,
    pull.pull_cmd,
    suggest.suggest_cmd,
    config.config_cmd,
    config.prune_cmd,
):
    main.add_command(_command)
    _add_verbosity(_command)
