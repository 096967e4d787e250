"""Open the DuckDB database and keep its schema current.

The schema lives in ``queries/schema/NNN_*.sql``; a ``schema_version`` table records which scripts a
file has seen, so a newer release migrates an older database instead of failing on it.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import duckdb

from triage import sqlfiles

DEFAULT_DB = "triage.duckdb"
MEMORY = ":memory:"


class StoreError(Exception):
    """The database could not be opened (locked by another process, unreadable, too new)."""


def resolve_path(db: str | os.PathLike[str] | None) -> str:
    """``--db`` wins, then ``$TRIAGE_DB``, then ``triage.duckdb`` in the working directory."""
    if db is not None:
        return str(db)
    return os.environ.get("TRIAGE_DB") or DEFAULT_DB


def _is_lock_error(exc: Exception) -> bool:
    text = str(exc).lower()
    return "lock" in text or "conflicting" in text or "being used by another process" in text


def connect(
    db: str | os.PathLike[str] | None = None,
    *,
    read_only: bool = False,
    wait: float = 0.0,
) -> duckdb.DuckDBPyConnection:
    """Open (and migrate, unless read-only) the database; wait up to ``wait`` s for a lock."""
    path = resolve_path(db)
    if read_only and path != MEMORY and not Path(path).exists():
        raise StoreError(f"database {path} does not exist: run `triage ingest` first")
    deadline = time.monotonic() + max(wait, 0.0)
    while True:
        try:
            con = duckdb.connect(path, read_only=read_only and path != MEMORY)
            break
        except duckdb.Error as exc:
            if not _is_lock_error(exc):
                raise StoreError(f"cannot open database {path}: {exc}") from exc
            if time.monotonic() >= deadline:
                raise StoreError(
                    f"database {path} is locked by another process (DuckDB allows one writer): "
                    f"{str(exc).splitlines()[0]}. Retry later, pass --wait SECONDS, or open it "
                    "read-only."
                ) from exc
            time.sleep(0.2)
    if not read_only or path == MEMORY:
        migrate(con)
    install_macros(con)
    return con


def install_macros(con: duckdb.DuckDBPyConnection) -> None:
    """Create the TEMP SQL macros the normalizers and bursts use (per connection, never stored)."""
    con.execute(sqlfiles.load("macros.sql"))
    con.execute(sqlfiles.load("bursts.sql"))


def current_version(con: duckdb.DuckDBPyConnection) -> int:
    """The newest schema script applied to this database (0 for a new file)."""
    con.execute(
        "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER, name VARCHAR, "
        "applied_at TIMESTAMPTZ DEFAULT current_timestamp)"
    )
    row = con.execute("SELECT max(version) FROM schema_version").fetchone()
    return int(row[0] or 0)


def migrate(con: duckdb.DuckDBPyConnection) -> int:
    """Apply the schema scripts this database has not seen yet; return the version reached."""
    version = current_version(con)
    scripts = sqlfiles.schema_files()
    newest = scripts[-1][0] if scripts else 0
    if version > newest:
        raise StoreError(
            f"database schema version {version} is newer than this release knows ({newest}); "
            "upgrade sentry-triage"
        )
    for number, name, sql in scripts:
        if number <= version:
            continue
        con.execute("BEGIN TRANSACTION")
        try:
            con.execute(sql)
            con.execute("INSERT INTO schema_version (version, name) VALUES (?, ?)", [number, name])
            con.execute("COMMIT")
        except Exception:
            con.execute("ROLLBACK")
            raise
        version = number
    return version
