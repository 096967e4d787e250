"""The Python API: every CLI command is a thin shell over one of these calls.

>>> import triage
>>> db = triage.open("triage.duckdb")          # or triage.open() for $TRIAGE_DB / default
>>> db.ingest(["export.ndjson.gz"])
>>> db.classify("openhuman")                   # no name: the config file's table, else default
>>> df = db.report("openhuman").groups          # a pandas DataFrame
>>> triage.run().groups                         # the built-in demo, in memory
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import re
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb
import pandas as pd

from triage import config as _config
from triage import rules as _rules
from triage import store
from triage.analysis import bursts as _bursts
from triage.analysis import classify as _classify
from triage.analysis import diff as _diff
from triage.analysis import report as _report
from triage.ingest import grouping
from triage.ingest.ingester import FileResult, Ingester, IngestResult, ingest_paths
from triage.ingest.sentry_api import SentryClient
from triage.rules import source as rule_source
from triage.store.sqlfiles import package_dir

if TYPE_CHECKING:
    from triage.ingest.pull import PullResult

PathLike = str | os.PathLike[str]
RulesSpec = str | Path | _rules.RuleTable | None


def _sql_str(value: str) -> str:
    """A SQL string literal (a view cannot take parameters): quotes doubled, NULs refused."""
    if "\x00" in value:
        raise ValueError("a filter value cannot hold a NUL character")
    return "'" + value.replace("'", "''") + "'"


def _since(text: str) -> pd.Timestamp:
    """``7d``, ``24h``, ``30m``, ``2w`` back from now, or a date or time (UTC when naive)."""
    m = re.fullmatch(r"\s*(\d+)\s*([mhdw])\s*", text)
    if m:
        unit = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}[m.group(2)]
        return pd.Timestamp.now(tz="UTC") - pd.Timedelta(**{unit: int(m.group(1))})
    try:
        ts = pd.Timestamp(text)
    except ValueError:
        raise ValueError(f"--since: not a duration (7d, 24h) or a date: {text!r}") from None
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def default_rules(rules: RulesSpec) -> str | Path | _rules.RuleTable:
    """``rules``, else ``$TRIAGE_RULES``, else the config file's table, else ``default``."""
    if rules is not None:
        return rules
    return _config.load().setting("rules").value or _config.DEFAULT_RULES


def default_threshold(threshold: float | None) -> float:
    """``threshold``, else the config file's, else 95 %."""
    if threshold is not None:
        return threshold
    return float(_config.load().setting("threshold").value)


def demo_paths() -> list[Path]:
    """The built-in demo export (the seed incident among groups that must stay errors)."""
    folder = package_dir("triage.fixtures", "fixtures").joinpath("demo")
    return [Path(str(folder))]


@dataclasses.dataclass(frozen=True)
class PruneResult:
    """What :meth:`Store.prune` deleted (or, with ``dry_run``, would delete)."""

    events: int
    rejects: int
    dry_run: bool = False


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

    def classify(self, rules: RulesSpec = None) -> _classify.ClassifyResult:
        """Re-classify every stored event with a rule table (by name, path, or object).

        On a read-only store the result is kept in this connection's memory only.
        """
        self._writable_results()
        return _classify.classify(self.con, _rules.load(default_rules(rules)))

    def _writable_results(self) -> None:
        if self.read_only:
            store.shadow_tables(self.con, ["classifications", "rulesets"])

    def report(
        self,
        rules: RulesSpec = None,
        *,
        threshold: float | None = None,
        reclassify: bool = True,
        since: str | None = None,
        environment: str | None = None,
        release: str | None = None,
        project: str | None = None,
    ) -> _report.Report:
        """The group report for a rule table (classifying first unless told not to).

        ``rules`` None: the config file's table, else ``default`` (see triage.config).
        ``since`` (a date, a time, or ``7d``/``24h`` back from now), ``environment``,
        ``release`` and ``project`` report on the matching events only.
        """
        table = _rules.load(default_rules(rules))
        threshold = default_threshold(threshold)
        with self.only(since=since, environment=environment, release=release, project=project):
            if reclassify:
                self._writable_results()
                _classify.classify(self.con, table)
            return _report.build(self.con, table, threshold=threshold)

    @contextlib.contextmanager
    def only(
        self,
        *,
        since: str | None = None,
        environment: str | None = None,
        release: str | None = None,
        project: str | None = None,
    ):
        """Within the block, ``events`` holds only the matching events (a temporary view over
        the table, in this connection only), so every query of the report sees the subset."""
        where = []
        if since:
            where.append(f"ts >= TIMESTAMPTZ {_sql_str(_since(since).isoformat())}")
        for col, value in (("environment", environment), ("release", release)):
            if value:
                where.append(f'"{col}" = {_sql_str(value)}')
        if project:
            where.append(f"project = {_sql_str(project)}")
        if not where:
            yield self
            return
        catalog = self.con.execute("SELECT current_database()").fetchone()[0]
        self.con.execute(
            f'CREATE OR REPLACE TEMP VIEW events AS SELECT * FROM "{catalog}".main.events '
            f"WHERE {' AND '.join(where)}"
        )
        try:
            yield self
        finally:
            self.con.execute("DROP VIEW IF EXISTS temp.main.events")

    def html_report(
        self,
        rules: RulesSpec = None,
        *,
        threshold: float | None = None,
        reclassify: bool = True,
        max_charts: int = 30,
        unmatched: int = 10,
        max_rows: int | None = 500,
    ) -> str:
        """The report as one self-contained HTML page with charts (see triage.render.html);
        the group table lists the first ``max_rows`` groups (``None``: every group)."""
        from triage.render import html as html_report

        table = _rules.load(default_rules(rules))
        rep = self.report(table, threshold=threshold, reclassify=reclassify)
        return html_report.render(
            self.con, table, rep, max_charts=max_charts, unmatched=unmatched, max_rows=max_rows
        )

    def diff(
        self,
        base: str | Path | _rules.RuleTable,
        head: RulesSpec = None,
        *,
        threshold: float | None = None,
        tags: Iterable[str] = (),
    ) -> _diff.Diff:
        """What changes from rule table ``base`` to ``head`` (names, paths, or ``REV:path``)."""
        self._writable_results()
        return _diff.compare(
            self.con,
            rule_source.load(base),
            rule_source.load(default_rules(head)),
            threshold=default_threshold(threshold),
            tags=tuple(tags),
        )

    def lint(self, rules: RulesSpec = None, **kw) -> list:
        """Lint a rule table against the stored events too (see :func:`triage.lint.lint`)."""
        from triage.analysis import lint as _lint

        return _lint.lint(rule_source.load(default_rules(rules)), store=self, **kw)

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

    def prune(
        self,
        *,
        before: str | None = None,
        users: Iterable[str] = (),
        dry_run: bool = False,
    ) -> PruneResult:
        """Delete events seen before ``before`` (an ISO date or time, UTC) and every event of
        the ``users`` named (an erasure request: a user id, or the email or IP address the
        stand-in ``anon:`` id was made from), with their classifications; rejects older than
        ``before`` or whose raw text names one of the users go too. One transaction.

        Why: a daily pull's database otherwise grows forever, and an erasure request must be
        honoured everywhere the data sits. DuckDB reuses the freed space for later ingests.
        """
        users = [u for u in users if u]
        if before is None and not users:
            raise ValueError("nothing to prune: give a date (before) or user ids")
        cut = None
        if before is not None:
            try:
                cut = pd.Timestamp(before)
            except ValueError:
                raise ValueError(f"not a date or time: {before!r} (use 2026-05-01)") from None
            cut = cut.tz_localize("UTC") if cut.tzinfo is None else cut.tz_convert("UTC")
        where, params = [], []
        if cut is not None:
            where.append("ts < ?")
            params.append(cut.to_pydatetime())
        for u in users:
            # the value as stored with --keep-pii, or the keyed stand-in ingest made of it
            where.append("user_id IN (?, triage_anon(?))")
            params += [u, u]
        ev_where = " OR ".join(where)
        rj_where, rj_params = [], []
        if cut is not None:
            rj_where.append("rejected_at < ?")
            rj_params.append(cut.to_pydatetime())
        for u in users:
            rj_where.append("contains(raw_text, ?)")
            rj_params.append(u)
        rejects_where = " OR ".join(rj_where)
        con = self.con
        events = con.execute(f"SELECT count(*) FROM events WHERE {ev_where}", params).fetchone()[0]
        rejects = con.execute(
            f"SELECT count(*) FROM rejects WHERE {rejects_where}", rj_params
        ).fetchone()[0]
        if dry_run or (not events and not rejects):
            return PruneResult(events, rejects, dry_run)
        con.execute("BEGIN TRANSACTION")
        try:
            con.execute(
                f"DELETE FROM classifications WHERE event_id IN "
                f"(SELECT event_id FROM events WHERE {ev_where})",
                params,
            )
            con.execute(f"DELETE FROM events WHERE {ev_where}", params)
            con.execute(f"DELETE FROM rejects WHERE {rejects_where}", rj_params)
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        con.execute("CHECKPOINT")
        return PruneResult(events, rejects, False)

    def rejects(self) -> pd.DataFrame:
        return self.con.execute(
            "SELECT * FROM rejects ORDER BY rejected_at, source_file, source_line"
        ).df()

    def sql(self, query: str, params: list | dict | None = None) -> pd.DataFrame:
        """Any read query over the tables, as a DataFrame."""
        return self.con.execute(query, params).df()


def open(db: PathLike | None = None, *, read_only: bool = False, wait: float = 0.0) -> Store:  # noqa: A001
    """Open a triage database (``db``, else ``$TRIAGE_DB``, else the config file's ``db``, else
    ``triage.duckdb``).

    ``read_only=True`` lets several processes read at once, but not while one writes: keep a
    read-only store open only as long as you read (``with triage.open(p, read_only=True) as
    db: ...``) so a scheduled job can write between your reads. ``wait`` is how long to wait
    for the other side's lock before failing with a message naming the process holding it.
    """
    if db is None and not os.environ.get("TRIAGE_DB"):
        db = _config.load().values.get("db")
    path = store.resolve_path(db)
    con = store.connect(path, read_only=read_only, wait=wait)
    if grouping.needs_regroup(con):
        # Grouped by an older release: regroup once, briefly as a writer when opened read-only.
        if read_only and path != store.MEMORY:
            con.close()
            with store.connect(path, wait=wait) as writer:
                grouping.regroup_stored(writer, say=_say)
            con = store.connect(path, read_only=True, wait=wait)
        else:
            grouping.regroup_stored(con, say=_say)
    return Store(con, path, read_only=read_only and path != store.MEMORY)


def _say(text: str) -> None:
    print(text, file=sys.stderr)


def run(
    paths: Iterable[PathLike] | None = None,
    *,
    rules: RulesSpec = None,
    db: PathLike | None = store.MEMORY,
    threshold: float | None = None,
) -> _report.Report:
    """Ingest, classify and report in one call; with no paths, on the built-in demo (and, with
    no ``rules``, its `openhuman` table)."""
    if rules is None and not paths:
        rules = _config.DEMO_RULES
    with open(db) as s:
        s.ingest(list(paths) if paths else demo_paths())
        return s.report(rules, threshold=threshold)
