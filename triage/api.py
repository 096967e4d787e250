"""The Python API: every CLI command is a thin shell over one of these calls.

>>> import triage
>>> db = triage.open("triage.duckdb")          # or triage.open() for $TRIAGE_DB / default
>>> db.ingest(["export.ndjson.gz"])
>>> db.classify("openhuman")
>>> df = db.report("openhuman").groups          # a pandas DataFrame
>>> triage.run().groups                         # the built-in demo, in memory
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb
import pandas as pd

from triage import rules as _rules
from triage import store
from triage.analysis import bursts as _bursts
from triage.analysis import classify as _classify
from triage.analysis import diff as _diff
from triage.analysis import report as _report
from triage.ingest.ingester import FileResult, Ingester, IngestResult, ingest_paths
from triage.ingest.sentry_api import SentryClient
from triage.rules import source as rule_source
from triage.store.sqlfiles import package_dir

if TYPE_CHECKING:
    from triage.ingest.pull import PullResult

PathLike = str | os.PathLike[str]


def demo_paths() -> list[Path]:
    """The built-in demo export (the seed incident among groups that must stay errors)."""
    folder = package_dir("triage.fixtures", "fixtures").joinpath("demo")
    return [Path(str(folder))]


class Store:
    """One open triage database. Use as a context manager, or call ``close()``."""

    def __init__(self, con: duckdb.DuckDBPyConnection, path: str, *, read_only: bool = False):
        self.con = con
        self.path = path
        self.read_only = read_only

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.con.close()

    def ingest(
        self,
        paths: Iterable[PathLike],
        *,
        keep_raw: bool = False,
        keep_pii: bool = False,
        input_format: str | None = None,
        on_file=None,
        max_inflate_ratio: float | None = None,
        max_inflated_bytes: int | str | None = None,
    ) -> IngestResult:
        """Ingest files, folders, globs and ``-`` (stdin); each file is one transaction.

        The shape of each file is read from its content unless ``input_format`` forces a kind
        (see ``triage.ingest.shapes.KINDS``); ``on_file(FileResult)`` is called after each file.
        ``keep_pii`` stores emails and IP addresses of user fields, tags and payloads as sent;
        ``max_inflate_ratio`` / ``max_inflated_bytes`` bound what a compressed file may inflate
        to (default ``$TRIAGE_MAX_INFLATE_RATIO`` / ``$TRIAGE_MAX_INFLATED_BYTES``; 0: none).
        """
        from triage.ingest.inputs import Bounds

        return ingest_paths(
            self.con,
            paths,
            keep_raw=keep_raw,
            keep_pii=keep_pii,
            bounds=Bounds.from_env(max_inflate_ratio, max_inflated_bytes),
            force_kind=input_format,
            on_file=on_file,
        )

    def ingest_records(
        self,
        records: Iterable[dict],
        *,
        source: str,
        input_format: str | None = None,
        keep_raw: bool = False,
    ) -> FileResult:
        """Ingest already-parsed records (one page from the Sentry API) labelled ``source``.

        Same path as a file: shape detection (or ``input_format``), dedupe and merge, rejects,
        ``ingest_log``, one transaction. The same page ingested twice is a no-op.
        """
        return Ingester(self.con, keep_raw=keep_raw).ingest_records(
            records, source=source, kind=input_format
        )

    def groups(self) -> pd.DataFrame:
        """Sentry's own issue objects (from issues lists, issue details, Discover rows)."""
        return self.con.execute(
            "SELECT * EXCLUDE (metadata) FROM groups ORDER BY times_seen DESC NULLS LAST, short_id"
        ).df()

    def ingest_log(self) -> pd.DataFrame:
        """One row per file ingested: size, content hash, shape, and what it added."""
        return self.con.execute("SELECT * FROM ingest_log ORDER BY ingested_at").df()

    def classify(
        self, rules: str | Path | _rules.RuleTable = "openhuman"
    ) -> _classify.ClassifyResult:
        """Re-classify every stored event with a rule table (by name, path, or object).

        On a read-only store the result is kept in this connection's memory only.
        """
        self._writable_results()
        return _classify.classify(self.con, _rules.load(rules))

    def _writable_results(self) -> None:
        if self.read_only:
            store.shadow_tables(self.con, ["classifications", "rulesets"])

    def report(
        self,
        rules: str | Path | _rules.RuleTable = "openhuman",
        *,
        threshold: float = _report.DEFAULT_THRESHOLD,
        reclassify: bool = True,
    ) -> _report.Report:
        """The group report for a rule table (classifying first unless told not to)."""
        table = _rules.load(rules)
        if reclassify:
            self._writable_results()
            _classify.classify(self.con, table)
        return _report.build(self.con, table, threshold=threshold)

    def html_report(
        self,
        rules: str | Path | _rules.RuleTable = "openhuman",
        *,
        threshold: float = _report.DEFAULT_THRESHOLD,
        reclassify: bool = True,
        max_charts: int = 30,
        unmatched: int = 10,
        max_rows: int | None = 500,
    ) -> str:
        """The report as one self-contained HTML page with charts (see triage.render.html);
        the group table lists the first ``max_rows`` groups (``None``: every group)."""
        from triage.render import html as html_report

        table = _rules.load(rules)
        rep = self.report(table, threshold=threshold, reclassify=reclassify)
        return html_report.render(
            self.con, table, rep, max_charts=max_charts, unmatched=unmatched, max_rows=max_rows
        )

    def diff(
        self,
        base: str | Path | _rules.RuleTable,
        head: str | Path | _rules.RuleTable = "openhuman",
        *,
        threshold: float = _report.DEFAULT_THRESHOLD,
        tags: Iterable[str] = (),
    ) -> _diff.Diff:
        """What changes from rule table ``base`` to ``head`` (names, paths, or ``REV:path``)."""
        self._writable_results()
        return _diff.compare(
            self.con,
            rule_source.load(base),
            rule_source.load(head),
            threshold=threshold,
            tags=tuple(tags),
        )

    def lint(self, rules: str | Path | _rules.RuleTable = "openhuman", **kw) -> list:
        """Lint a rule table against the stored events too (see :func:`triage.lint.lint`)."""
        from triage.analysis import lint as _lint

        return _lint.lint(rule_source.load(rules), store=self, **kw)

    def suggest(
        self,
        rules: str | Path | _rules.RuleTable = "openhuman",
        *,
        include_crashes: bool = False,
        min_events: int | None = None,
        threshold: float = _report.DEFAULT_THRESHOLD,
    ):
        """Candidate rules for groups that stay errors under ``rules`` and look expected
        (see :mod:`triage.analysis.suggest`), each proven by diff and lint."""
        from triage.analysis import suggest as _suggest

        self._writable_results()
        return _suggest.suggest(
            self.con,
            rule_source.load(rules),
            include_crashes=include_crashes,
            min_events=_suggest.DEFAULT_MIN_EVENTS if min_events is None else min_events,
            threshold=threshold,
        )

    def bursts(
        self,
        *,
        min_events: int = _bursts.DEFAULT_MIN_EVENTS,
        by: str | None = None,
        min_regularity: float = _bursts.DEFAULT_MIN_REGULARITY,
        gap_factor: float = _bursts.DEFAULT_GAP_FACTOR,
    ) -> _bursts.Bursts:
        """Polling bursts per (group, user), or per (user, tag value) with ``by="method"``."""
        return _bursts.find(
            self.con,
            min_events=min_events,
            by=by,
            min_regularity=min_regularity,
            gap_factor=gap_factor,
        )

    def pull(
        self,
        org: str,
        project: str,
        *,
        since: str = "24h",
        query: str = "",
        url: str | None = None,
        client: SentryClient | None = None,
    ) -> PullResult:
        """Fetch ``org/project``'s issues and events seen since ``since`` from Sentry's web API.

        ``since``: ``24h``, ``7d``, an ISO time, or ``last``. The token comes from
        ``$SENTRY_AUTH_TOKEN``; ``url`` (else ``$SENTRY_URL``, else sentry.io) names the server.
        """
        from triage.ingest import pull as _pull

        own = client is None
        client = client or SentryClient(url)
        try:
            return _pull.pull(
                lambda: contextlib.nullcontext(self.con),
                client,
                org,
                project,
                since=since,
                query=query,
            )
        finally:
            if own:
                client.close()

    def events(self, limit: int | None = None) -> pd.DataFrame:
        """The normalized events as a DataFrame (all of them unless ``limit``)."""
        sql = "SELECT * EXCLUDE (raw) FROM events ORDER BY ts, event_id"
        if limit is not None:
            return self.con.execute(sql + " LIMIT ?", [int(limit)]).df()
        return self.con.execute(sql).df()

    def rejects(self) -> pd.DataFrame:
        return self.con.execute(
            "SELECT * FROM rejects ORDER BY rejected_at, source_file, source_line"
        ).df()

    def sql(self, query: str, params: list | dict | None = None) -> pd.DataFrame:
        """Any read query over the tables, as a DataFrame."""
        return self.con.execute(query, params).df()


def open(db: PathLike | None = None, *, read_only: bool = False, wait: float = 0.0) -> Store:  # noqa: A001
    """Open a triage database (``db``, else ``$TRIAGE_DB``, else ``triage.duckdb``).

    ``read_only=True`` lets several processes read at once, but not while one writes: keep a
    read-only store open only as long as you read (``with triage.open(p, read_only=True) as
    db: ...``) so a scheduled job can write between your reads. ``wait`` is how long to wait
    for the other side's lock before failing with a message naming the process holding it.
    """
    path = store.resolve_path(db)
    con = store.connect(path, read_only=read_only, wait=wait)
    return Store(con, path, read_only=read_only and path != store.MEMORY)


def run(
    paths: Iterable[PathLike] | None = None,
    *,
    rules: str | Path | _rules.RuleTable = "openhuman",
    db: PathLike | None = store.MEMORY,
    threshold: float = _report.DEFAULT_THRESHOLD,
) -> _report.Report:
    """Ingest, classify and report in one call; with no paths, on the built-in demo."""
    with open(db) as s:
        s.ingest(list(paths) if paths else demo_paths())
        return s.report(rules, threshold=threshold)
