"""``triage pull``: fetch a project's issues and events from Sentry's web API, for scheduled jobs.

Added to the command group by triage.cli.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

import click

from triage.cli.common import (
    ConfigError,
    FiniteFloatRange,
    db_option,
    err_console,
    fail_on_option,
    load_rules,
    rules_option,
    threshold_option,
    wait_option,
)
from triage.ingest import pull as pull_mod
from triage.ingest.records import FileResult
from triage.ingest.sentry_api import (
    DEFAULT_MAX_DURATION,
    DEFAULT_MAX_PAGES,
    DEFAULT_MAX_RESPONSE_BYTES,
    DEFAULT_MAX_RETRY_AFTER,
    DEFAULT_REQUEST_TIMEOUT,
    DEFAULT_URL,
    Page,
    SentryAPIError,
    SentryAuthError,
    SentryClient,
    check_slug,
)

EXIT_API = 3  # the Sentry API failed: retries spent, unreachable, or an unexpected answer


class _StderrHandler(logging.Handler):
    """Retry and progress lines go to stderr as plain text (never to stdout)."""

    def emit(self, record: logging.LogRecord) -> None:
        click.echo(self.format(record), err=True)


def _logging(quiet: bool) -> logging.Handler:
    handler = _StderrHandler()
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger = logging.getLogger("triage.ingest.pull")
    logger.addHandler(handler)
    logger.setLevel(logging.WARNING if quiet else logging.INFO)
    return handler


def _page_line(kind: str, page: Page, fr: FileResult) -> None:
    what = "issues" if kind == "issues" else "events"
    logging.getLogger("triage.ingest.pull").info(
        "%s page %d: %d %s, %d added, %d duplicates, %d rejected  (%s)",
        what,
        page.number,
        len(page.records),
        what,
        fr.added,
        fr.duplicates,
        fr.rejects,
        page.url,
    )


@click.command(name="pull")
@click.option(
    "--org",
    required=True,
    envvar="SENTRY_ORG",
    show_envvar=True,
    help="Organization slug.",
)
@click.option(
    "--project",
    required=True,
    envvar="SENTRY_PROJECT",
    show_envvar=True,
    help="Project slug.",
)
@click.option(
    "--url",
    default=None,
    help=f"Sentry base URL, for self-hosted Sentry (as sentry-cli). Default: $SENTRY_URL, else "
    f"{DEFAULT_URL}. The token comes from $SENTRY_AUTH_TOKEN only, never from an option.",
)
@click.option(
    "--since",
    default=pull_mod.DEFAULT_SINCE,
    show_default=True,
    help="Events from this far back: a duration (30m, 24h, 7d, 2w), an ISO 8601 time, or "
    "`last`: from the newest event of the last complete pull of this org/project.",
)
@click.option(
    "--query",
    default="",
    help="Sentry issue search, e.g. 'is:unresolved level:error'. Default: every issue seen in "
    "the window, whatever its status (noisy issues are often archived yet keep firing).",
)
@db_option
@rules_option
@threshold_option
@fail_on_option
@wait_option
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="The summary on stdout: a line of text, or JSON (schema triage.pull/1) with the "
    "findings. Progress, retries and findings always go to stderr.",
)
@click.option(
    "--retries",
    type=click.IntRange(0, 20),
    default=5,
    show_default=True,
    help="Retries of one request on 429, 5xx, connection errors and cut-short bodies "
    "(exponential backoff from 1 s, at most 30 s; a 429 waits its Retry-After).",
)
@click.option(
    "--max-response-mb",
    type=FiniteFloatRange(min=0, min_open=True, max=1e6),
    default=DEFAULT_MAX_RESPONSE_BYTES / 2**20,
    show_default=True,
    help="Largest response body read (MiB, after decompression); a larger one stops the pull.",
)
@click.option(
    "--request-timeout",
    type=FiniteFloatRange(min=0, min_open=True, max=1e6),
    default=DEFAULT_REQUEST_TIMEOUT,
    show_default=True,
    metavar="SECONDS",
    help="Longest one request may take, its whole body included (a server dripping bytes is "
    "cut off and retried).",
)
@click.option(
    "--max-duration",
    type=FiniteFloatRange(min=0, min_open=True, max=1e9),
    default=DEFAULT_MAX_DURATION,
    show_default=True,
    metavar="SECONDS",
    help="Longest the whole pull may take, waits included; past it the pull stops (the pages "
    "stored are kept, --since last does not move).",
)
@click.option(
    "--max-pages",
    type=click.IntRange(min=1),
    default=DEFAULT_MAX_PAGES,
    show_default=True,
    help="Most pages one pull reads, issues and events together (100 events a page).",
)
@click.option(
    "--max-retry-after",
    type=FiniteFloatRange(min=0, max=1e6),
    default=DEFAULT_MAX_RETRY_AFTER,
    show_default=True,
    metavar="SECONDS",
    help="Longest 429 Retry-After waited out; a longer one stops the pull (run again later).",
)
@click.option("--keep-raw", is_flag=True, help="Also store each raw payload (about 20x the space).")
@click.option("-q", "--quiet", is_flag=True, help="No progress lines on stderr (retries still).")
def pull_cmd(quiet: bool, **opts) -> None:
    """Fetch ORG/PROJECT's issues and their events from Sentry's web API into the database.

    Issues seen since --since are listed, then each one's events in the window are fetched
    page by page (Link cursors), each page stored like a file (dedupe, rejects, ingest log).
    The database is held only while a page is written, so readers can open it in between.

    \b
    Exit codes:
      0  ran clean
      1  --fail-on found something new (named on stderr)
      2  usage or configuration error: bad option, rule table, database locked after
         --wait, no token or token refused (401/403), unknown org/project (404)
      3  the Sentry API failed: retries spent, unreachable, an unexpected answer, or a bound
         reached (--max-response-mb, --request-timeout, --max-duration, --max-pages,
         --max-retry-after, a cursor cycle)
      4  an unexpected failure, with one line on stderr (TRIAGE_DEBUG=1: traceback)
    """
    from triage import store

    handler = _logging(quiet)
    try:
        _pull(**opts)
    except (click.ClickException, SystemExit):
        raise
    except (SentryAuthError, pull_mod.SinceError, store.StoreError) as exc:
        raise ConfigError(str(exc)) from None
    except SentryAPIError as exc:
        click.echo(f"Error: Sentry API: {exc}", err=True)
        sys.exit(EXIT_API)
    finally:
        logging.getLogger("triage.ingest.pull").removeHandler(handler)


def _pull(
    org: str,
    project: str,
    url: str | None,
    since: str,
    query: str,
    db: str | None,
    rules: str,
    threshold: float,
    fail_on: tuple[str, ...],
    wait: float,
    fmt: str,
    retries: int,
    max_response_mb: float,
    request_timeout: float,
    max_duration: float,
    max_pages: int,
    max_retry_after: float,
    keep_raw: bool,
) -> None:
    table = load_rules(rules) if fail_on else None
    from triage import api, store
    from triage.analysis import fail_on as fail_on_mod

    path = store.resolve_path(db)
    if path == store.MEMORY:
        raise ConfigError("triage pull needs a database file (--db PATH or $TRIAGE_DB)")
    try:
        check_slug(org)
        check_slug(project)
        client = SentryClient(
            url,
            retries=retries,
            max_response_bytes=int(max_response_mb * 2**20),
            request_timeout=request_timeout,
            max_duration=max_duration,
            max_pages=max_pages,
            max_retry_after=max_retry_after,
        )
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    pull_mod.parse_since(since, datetime.now(UTC))  # a bad --since fails before any request
    store.connect(path, wait=wait).close()  # fail on a lock before any request is sent
    with client:
        result = pull_mod.pull(
            pull_mod.store_writer(path, wait=wait),
            client,
            org,
            project,
            since=since,
            query=query,
            keep_raw=keep_raw,
            on_page=_page_line,
        )
    new: list = []
    if fail_on:
        with api.open(path, wait=wait) as s:
            rep = s.report(table, threshold=threshold) if set(fail_on) - {"rejects"} else None
            new = fail_on_mod.check(s.con, fail_on, rep)
    summary = (
        f"pulled {org}/{project} from {result.url} since {result.since:%Y-%m-%d %H:%M:%S}Z "
        f"({result.since_from}): {result.issues} issues, {result.pages} pages, "
        f"{result.requests} requests; {result.events} events: {result.added} added, "
        f"{result.duplicates} duplicates, {result.rejects} rejected"
    )
    if fmt == "json":
        doc = result.to_dict()
        doc["findings"] = [f.to_dict() for f in new]
        click.echo(json.dumps(doc, indent=2, ensure_ascii=False))
    else:
        click.echo(summary)
    for line in result.reject_lines[:5]:
        err_console().print(f"reject {line}", markup=False, soft_wrap=True)
    for line in fail_on_mod.summary(new):
        err_console().print(line, markup=False, soft_wrap=True)
    if new:
        sys.exit(1)
