"""``triage ingest``: Sentry exports of every shape into the store."""

from __future__ import annotations

import dataclasses
import json
import sys

import click

from triage.cli.common import (
    ConfigError,
    db_option,
    engine_options,
    err_console,
    file_line,
    input_format_option,
    open_store,
    wait_option,
)


@click.command()
@click.argument("paths", nargs=-1, required=True)
@db_option
@input_format_option
@click.option("--keep-raw", is_flag=True, help="Also store each raw payload (about 20x the space).")
@click.option(
    "--keep-pii",
    is_flag=True,
    help="Store emails and IP addresses in user ids, tags, payloads and rejects as sent "
    "(default: replaced by keyed anon: stand-ins or masked).",
)
@click.option(
    "--max-inflate-ratio",
    type=float,
    default=None,
    help="Refuse a compressed file that inflates past this many times its size, once past "
    "64 MiB (default 200, $TRIAGE_MAX_INFLATE_RATIO; 0: no bound).",
)
@click.option(
    "--max-inflated",
    "max_inflated",
    default=None,
    metavar="SIZE",
    help="Refuse a compressed file that inflates past SIZE (default 16GiB, "
    "$TRIAGE_MAX_INFLATED_BYTES; 0: no bound).",
)
@click.option("--strict", is_flag=True, help="Exit 1 when any record is rejected.")
@click.option(
    "-q", "--quiet", is_flag=True, help="No per-file lines and no progress bar on stderr."
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="text: per-file lines and a total on stderr; json: also the summary on stdout "
    "(schema triage.ingest/1: every file's counts, skip reason and notes, and the totals).",
)
@wait_option
@engine_options
def ingest(
    paths: tuple[str, ...],
    db: str | None,
    input_format: str,
    keep_raw: bool,
    keep_pii: bool,
    max_inflate_ratio: float | None,
    max_inflated: str | None,
    strict: bool,
    quiet: bool,
    fmt: str,
    wait: float,
    engine: str,
    clickhouse_url: str | None,
    source: str,
    sentry_table: str,
) -> None:
    """Ingest Sentry exports: files, folders (recursively), glob patterns, or - for stdin.

    Every shape Sentry exports, detected from each file's content (and printed per file): raw SDK
    events, the "JSON" link, web API events and issues, Discover/Explore CSV or JSON, envelopes;
    as one object, a JSON array or NDJSON; plain, .gz or .zst. Each file is one transaction.
    Events already stored (same event id) are duplicates, and complete the stored copy with what
    it lacked (a group id, tags); bad records go to the rejects table (`triage rejects`); a file
    already ingested (same content) is skipped.
    """
    from triage.ingest.ingester import FileResult, iter_files
    from triage.ingest.inputs import exit_cleanly_on_sigterm, parse_size
    from triage.render.progress import IngestProgress

    if engine == "clickhouse":
        from triage.cli import clickhouse

        if keep_raw:
            clickhouse.refuse("--keep-raw", "", ": raw payloads stay out of ClickHouse")
        kind = None if input_format == "auto" else input_format
        rejects = clickhouse.ingest(clickhouse_url, source, sentry_table, paths, kind, quiet)
        if strict and rejects:
            err_console().print(f"--strict: {rejects} records rejected")
            sys.exit(1)
        return

    try:
        files = list(iter_files(paths))
        max_bytes = parse_size(max_inflated) if max_inflated is not None else None
    except (FileNotFoundError, ValueError) as exc:
        raise ConfigError(str(exc)) from None
    exit_cleanly_on_sigterm()
    kind = None if input_format == "auto" else input_format
    if any(str(f) == "-" for f in files) and sys.stdin.isatty() and not quiet:
        err_console().print("reading standard input (Ctrl-D ends)")
    with open_store(db, wait=wait) as s, IngestProgress(files, enabled=not quiet) as progress:
        if progress.enabled:  # DuckDB tracks a statement's progress only when asked
            s.con.execute("SET enable_progress_bar = true")
            s.con.execute("SET enable_progress_bar_print = false")
            progress.watch(s.con.query_progress)

        def on_file(fr: FileResult) -> None:
            progress.advance(fr)
            file_line(fr, quiet, progress.console)

        result = s.ingest(
            files,
            keep_raw=keep_raw,
            keep_pii=keep_pii,
            input_format=kind,
            on_file=on_file,
            max_inflate_ratio=max_inflate_ratio,
            max_inflated_bytes=max_bytes,
        )
    if not quiet:
        text = (
            f"total: {len(result.files):,} files, {result.records:,} records, "
            f"{result.added:,} added, {result.duplicates:,} duplicates, "
            f"{result.rejects:,} rejected"
        )
        if result.skipped:
            text += f", {result.skipped:,} skipped"
        if result.already_ingested:
            text += f"; {result.already_ingested:,} files already ingested"
        if result.skipped_files:
            n = result.skipped_files
            text += f"; {n:,} file{'s' if n != 1 else ''} skipped (reasons above)"
        err_console().print(text)
    if fmt == "json":
        click.echo(json.dumps(_summary(result), indent=2, ensure_ascii=False))
    if strict and result.rejects:
        err_console().print(f"--strict: {result.rejects} records rejected")
        sys.exit(1)


def _summary(result) -> dict:
    """The ingest summary for scripts (``triage.ingest/1``)."""
    keys = ("records", "added", "duplicates", "rejects", "skipped", "already_ingested")
    files = []
    for fr in result.files:
        doc = dataclasses.asdict(fr)
        doc["errors"] = doc["errors"][:20]
        files.append(doc)
    totals = {k: int(getattr(result, k)) for k in keys}
    totals["files"] = len(result.files)
    totals["skipped_files"] = result.skipped_files
    return {"schema": "triage.ingest/1", "totals": totals, "files": files}
