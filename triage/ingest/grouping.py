"""Sentry's grouping for events that do not name their Sentry group, computed in DuckDB.

The normalizer (``queries/normalize_raw.sql``) keeps what the grouping reads beside each event
(the exception objects with their stack traces, threads, the message before formatting,
checksum, security reports); ``queries/grouping.sql`` turns those, for a whole file at a time,
into Sentry's hash (the MD5 of the contributing values of the winning variant) and a readable
basis. Both ingest paths call :func:`apply` on their staged rows, so one query decides the group.
See docs/grouping.md for what matches Sentry and what cannot.
"""

from __future__ import annotations

import duckdb

from triage.store import sqlfiles
from triage.store.versions import GROUPING_VERSION

__all__ = ["GROUPING_VERSION", "apply", "compute", "lend_sentry_ids", "regroup_stored"]

# The staged columns the grouping reads; not stored in `events`.
INPUT_COLUMNS = (
    "g_exc",
    "g_threads",
    "g_stacktrace",
    "g_message",
    "g_checksum",
    "g_csp",
    "g_expectct",
    "g_rules",
)


def _stages() -> dict[str, list[str]]:
    """queries/grouping.sql split at its ``-- @stage NAME`` markers into statements."""
    out: dict[str, list[str]] = {}
    name = ""
    for block in sqlfiles.load("grouping.sql").split("-- @stage ")[1:]:
        head, _, body = block.partition("\n")
        name = head.split(":", 1)[0].strip()
        out[name] = [s.strip() for s in body.split(";\n") if "SELECT" in s]
    return out


def install(con: duckdb.DuckDBPyConnection) -> None:
    """The grouping macros and the built-in stack trace rules, parsed once per connection
    (TEMP tables: never stored)."""
    con.execute(sqlfiles.load("grouping_macros.sql"))
    # a view cannot take parameters: the rules text goes in as a literal
    text = _lit(sqlfiles.load("grouping_rules.txt"))
    con.execute(
        f"CREATE OR REPLACE TEMP VIEW rule_src AS SELECT NULL::BIGINT AS gkey, {text} AS txt"
    )
    (rules,) = _stages()["rules"]
    con.execute(rules.replace("TABLE g_rules_batch", "TABLE g_rules_builtin", 1))
    con.execute("UPDATE g_rules_builtin SET ridx = ridx - 1000000")  # built-in rules first
    con.execute("DROP VIEW rule_src")


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def compute(con: duckdb.DuckDBPyConnection, source_sql: str, out: str = "grouping_out") -> None:
    """Run the grouping over ``source_sql`` (a query with the columns queries/grouping.sql
    documents) into the TEMP table ``out`` (gkey, group_hash, group_variant, group_component,
    group_basis).

    Why stages: one statement of the whole grouping took seconds to plan, per file; as TEMP
    tables each step plans in milliseconds, and the frame steps are skipped for a batch
    without stack frames.
    """
    if not con.execute(
        "SELECT 1 FROM duckdb_tables() WHERE table_name = 'g_rules_builtin' AND temporary"
    ).fetchone():
        install(con)
    stages = _stages()
    con.execute(f"CREATE OR REPLACE TEMP TABLE grouping_input AS {source_sql}")
    con.execute(
        "CREATE OR REPLACE TEMP VIEW rule_src AS SELECT gkey, g_rules AS txt "
        "FROM grouping_input WHERE g_rules IS NOT NULL"
    )
    try:
        for sql in stages["rules"] + stages["events"]:
            con.execute(sql)
        if con.execute("SELECT count(*) FROM g_frames").fetchone()[0]:
            for sql in stages["frames"]:
                con.execute(sql)
        else:
            con.execute(
                "CREATE OR REPLACE TEMP TABLE g_st (gkey BIGINT, src VARCHAR, cpos BIGINT, "
                "sys_leaves VARCHAR, app_leaves VARCHAR, sys_label VARCHAR, app_label VARCHAR)"
            )
        *before, pick = stages["pick"]
        for sql in before:
            con.execute(sql)
        con.execute(f"CREATE OR REPLACE TEMP TABLE {out} AS {pick}")
    finally:
        con.execute("DROP VIEW IF EXISTS rule_src")
        for t in (
            "grouping_input",
            "g_rules_batch",
            "g_ev",
            "g_chain",
            "g_frames",
            "g_params",
            "g_frame_rule",
            "g_frame_flags",
            "g_st",
            "g_exc_variant",
        ):
            con.execute(f"DROP TABLE IF EXISTS {t}")


def apply(con: duckdb.DuckDBPyConnection, staged: str = "staged") -> None:
    """Fill ``group_hash``, ``group_basis`` and ``group_source`` of the staged rows, and
    ``group_key`` where the record named no Sentry group (keyed by ``source_line``)."""
    compute(
        con,
        # one key per row: a batch of small files repeats line numbers across its files
        f"SELECT (hash(source_file, source_line) >> 1)::BIGINT AS gkey, platform, g_exc, "
        f"g_threads, g_stacktrace, fingerprint, "
        f'g_message, g_checksum, g_csp, g_expectct, g_rules, level, logger, "transaction" '
        f"FROM {staged}",
    )
    con.execute(
        f"""UPDATE {staged} AS s SET
            group_hash = g.group_hash,
            group_basis = g.group_variant || coalesce('/' || g.group_component, '') || ': '
                          || coalesce(g.group_basis, ''),
            group_source = CASE WHEN s.group_key IS NOT NULL THEN 'sentry' ELSE 'computed' END,
            group_key = coalesce(s.group_key, left(g.group_hash, 16)),
            grouping_version = {GROUPING_VERSION}
        FROM grouping_out g WHERE (hash(s.source_file, s.source_line) >> 1)::BIGINT = g.gkey"""
    )


def lend_sentry_ids(con: duckdb.DuckDBPyConnection, hashes_from: str | None = "staged") -> int:
    """Events without a Sentry group take the group of stored events with the same computed
    hash that have one (the web API's ``groupID``, a pull, another shape of the same event).
    ``hashes_from`` limits the work to the hashes of a staged file (None: all). Returns the
    number of events that took a Sentry group."""
    scope = f"AND e.group_hash IN (SELECT group_hash FROM {hashes_from})" if hashes_from else ""
    return con.execute(
        f"""UPDATE events AS e SET
            group_key = m.group_id,
            short_id = coalesce(e.short_id, m.short_id),
            group_source = 'matched'
        FROM (SELECT group_hash,
                     -- the newest event's group (events without a time count as oldest)
                     coalesce(arg_max(group_id, ts), max(group_id)) AS group_id,
                     max(short_id) AS short_id
              FROM events
              WHERE group_id IS NOT NULL AND group_hash IS NOT NULL
              GROUP BY group_hash) m
        WHERE e.group_id IS NULL AND e.group_hash = m.group_hash
          AND e.group_key IS DISTINCT FROM m.group_id {scope}"""
    ).fetchone()[0]


def needs_regroup(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether this database's stored events were grouped by an older grouping."""
    try:
        row = con.execute("SELECT value FROM triage_meta WHERE key = 'grouping_version'").fetchone()
    except duckdb.CatalogException:
        return False
    return row is not None and int(row[0]) < GROUPING_VERSION


def regroup_stored(con: duckdb.DuckDBPyConnection, *, say=None) -> tuple[int, int]:
    """Once per database: regroup events stored under an older grouping, in one transaction.

    Events whose raw payload was kept (``--keep-raw``) are normalized again from it and take
    their new group; the others keep their old key (``grouping_version`` 1) until their file is
    ingested again. ``--fail-on`` memories of a regrouped key are carried over to its new key.
    ``say(text)`` is told once what happened. Returns (regrouped, kept).
    """
    from triage.ingest.records import RAW_COLUMNS, ident

    cols = ", ".join(
        f"json_extract(raw, {_q('$.' + json_key(c))}) AS {ident(c)}" for c in RAW_COLUMNS
    )
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE raw_input AS SELECT {cols}, source_file AS __file, "
        f"row_number() OVER () AS __line, raw AS __raw "
        f"FROM events WHERE raw IS NOT NULL AND coalesce(grouping_version, 1) < {GROUPING_VERSION}"
    )
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE regroup_staged AS {sqlfiles.load('normalize_raw.sql')}"
    )
    apply(con, "regroup_staged")
    con.execute("BEGIN TRANSACTION")
    try:
        # old key -> new key, for the memories of --fail-on
        con.execute(
            """CREATE OR REPLACE TEMP TABLE regroup_keys AS
            SELECT DISTINCT e.group_key AS old_key, s.group_key AS new_key
            FROM events e JOIN regroup_staged s USING (event_id)
            WHERE e.group_id IS NULL AND e.short_id IS NULL AND e.group_key <> s.group_key"""
        )
        regrouped = con.execute(
            f"""UPDATE events AS e SET
                group_key = CASE WHEN e.group_id IS NULL AND e.short_id IS NULL
                                 THEN s.group_key ELSE e.group_key END,
                group_hash = s.group_hash, group_basis = s.group_basis,
                group_source = CASE WHEN e.group_id IS NULL AND e.short_id IS NULL
                                    THEN s.group_source ELSE 'sentry' END,
                grouping_version = {GROUPING_VERSION},
                title = s.title
            FROM (SELECT * FROM regroup_staged
                  QUALIFY row_number() OVER (PARTITION BY event_id ORDER BY source_line) = 1) s
            WHERE e.event_id = s.event_id"""
        ).fetchone()[0]
        lend_sentry_ids(con, None)
        con.execute(
            f"""INSERT INTO job_findings ("check", key, group_key, message, first_seen,
                                          grouping_version)
            SELECT j."check", m.new_key, m.new_key, j.message, j.first_seen, {GROUPING_VERSION}
            FROM job_findings j JOIN regroup_keys m ON j.key = m.old_key
            WHERE j."check" IN ('new-downgrade', 'burst')
              AND coalesce(j.grouping_version, 1) < {GROUPING_VERSION}"""
        )
        kept = con.execute(
            f"SELECT count(*) FROM events WHERE coalesce(grouping_version, 1) < {GROUPING_VERSION}"
        ).fetchone()[0]
        con.execute(
            "INSERT OR REPLACE INTO triage_meta (key, value) VALUES ('grouping_version', ?)",
            [str(GROUPING_VERSION)],
        )
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    finally:
        con.execute("DROP TABLE IF EXISTS raw_input")
        con.execute("DROP TABLE IF EXISTS regroup_staged")
    if say is not None:
        text = (
            f"triage: this database now groups events as Sentry does (grouping v{GROUPING_VERSION}"
            f"): {regrouped:,} stored events regrouped from their raw payloads"
        )
        if kept:
            text += (
                f"; {kept:,} events stored without one keep their old group keys until their "
                "files are ingested again"
            )
        say(text + ". --fail-on memories follow the new keys; see docs/grouping.md.")
    return regrouped, kept


def json_key(name: str) -> str:
    """A JSON path step for a key (quoted when it has dots: ``sentry.interfaces.User``)."""
    return f'"{name}"' if not name.isidentifier() else name


def _q(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
