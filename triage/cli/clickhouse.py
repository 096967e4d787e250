"""``--engine clickhouse``: ``triage ingest`` and ``triage report`` on a ClickHouse server.

The commands keep their own options; these functions are what they run when the engine is
ClickHouse. Events are normalized by the same DuckDB code as always (into a temporary file, so
memory stays bounded), then copied; reports run in ClickHouse, where the events are.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import click

from triage.cli.common import ConfigError, emit_report, file_line, load_rules


def _connect(url: str | None, source: str, sentry_table: str):
    from triage.store.clickhouse import ClickHouseError, connect

    if not url:
        raise ConfigError(
            "--engine clickhouse needs --clickhouse-url URL (or $TRIAGE_CLICKHOUSE_URL): "
            "http(s)://user:password@host:8123/database, or chdb:///path for ClickHouse in process"
        )
    try:
        return connect(url, source=source, sentry_table=sentry_table)
    except ClickHouseError as exc:
        raise ConfigError(str(exc)) from None


def refuse(option: str, value: object, why: str = "") -> None:
    """A usage error for an option the ClickHouse engine does not take (yet)."""
    raise ConfigError(f"{option} {value} is not available with --engine clickhouse{why}")


def report(
    url: str | None,
    source: str,
    sentry_table: str,
    rules: str,
    fmt: str,
    threshold: float,
    output: str | None,
) -> None:
    """``triage report --engine clickhouse``: the group report computed in ClickHouse."""
    from triage.analysis import clickhouse as ch_analysis

    if fmt == "html":
        refuse("--format", "html", ": its charts read DuckDB (use json, csv, markdown or table)")
    table = load_rules(rules)
    with _connect(url, source, sentry_table) as ch:
        rep = ch_analysis.build(ch, table, threshold=threshold)
    emit_report(rep, fmt, output)


def ingest(
    url: str | None,
    source: str,
    sentry_table: str,
    paths: tuple[str, ...],
    input_format: str | None,
    quiet: bool,
) -> int:
    """``triage ingest --engine clickhouse``: normalize with DuckDB, copy into triage_events.

    Returns the number of rejected records (for ``--strict``).
    """
    from triage import api
    from triage.store.clickhouse import copy_from_duckdb

    if source != "triage":
        refuse("--source", source, ": Sentry's own store is read-only")
    with _connect(url, source, sentry_table) as ch, tempfile.TemporaryDirectory() as tmp:
        with api.open(Path(tmp) / "stage.duckdb") as s:
            res = s.ingest(
                list(paths), input_format=input_format, on_file=lambda fr: file_line(fr, quiet)
            )
            copied = copy_from_duckdb(ch, s.con)
        if not quiet:
            click.echo(
                f"clickhouse {ch.url}: {copied.added:,} events added, {copied.duplicates:,} "
                f"already there, {copied.rejects:,} rejects",
                err=True,
            )
    return res.rejects
