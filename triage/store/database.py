"""Open the DuckDB database and keep its schema current.

The schema lives in ``queries/schema/NNN_*.sql``; a ``schema_version`` table records which scripts a
file has seen, so a newer release migrates an older database instead of failing on it.
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import duckdb

from triage.store import sqlfiles
from triage.store.paths import MEMORY, resolve_path

# DuckDB spills to disk past this, so a multi-GB export ingests in bounded memory.
DEFAULT_MEMORY_LIMIT = "512MB"


class StoreError(Exception):
    """The database could not be opened or written: ``kind`` says why (``locked``, ``corrupt``,
    ``disk_full``, ``not_a_database``; None for anything else)."""

    def __init__(self, message: str, kind: str | None = None) -> None:
        super().__init__(message)
        self.kind = kind


# What a DuckDB error is, by its exception type and the start of its message: never by a word
# found anywhere in it ("lock" is inside "block", the word every checksum failure names). DuckDB
# raises a lock conflict, a full disk and a file that is not a database all as IOException (a
# full disk met at commit as TransactionException); a checksum failure as a plain duckdb.Error.
_KINDS: list[tuple[str, str, re.Pattern[str]]] = [
    ("locked", "IOException", re.compile(r'IO Error: Could not set lock on file "')),
    (
        "disk_full",
        "IOException",
        re.compile(r"IO Error: Could not \w+ (?:file )?\"[^\"]*\"[^\n]*: No space left on device"),
    ),
    (  # the same, met while committing (a WAL write)
        "disk_full",
        "TransactionException",
        re.compile(
            r"TransactionContext Error: Failed to commit: Could not \w+ (?:file )?\"[^\"]*\""
            r"[^\n]*: No space left on device"
        ),
    ),
    (
        "not_a_database",
        "IOException",
        re.compile(r'IO Error: The file "[^"]*" exists, but it is not a valid DuckDB'),
    ),
    ("corrupt", "Error", re.compile(r"Corrupt database file: ")),
]
# A connection invalidated by a fatal error repeats the original one.
_ORIGINAL_RE = re.compile(r'Original error: "(.*)"', re.S)


def _kind_of(exc: BaseException) -> str | None:
    if not isinstance(exc, duckdb.Error):
        return None
    text = str(exc)
    for kind, type_name, prefix in _KINDS:
        if isinstance(exc, getattr(duckdb, type_name)) and prefix.match(text):
            return kind
    original = _ORIGINAL_RE.search(text) if isinstance(exc, duckdb.FatalException) else None
    if original:
        return _kind_of(duckdb.IOException(original[1])) or _kind_of(duckdb.Error(original[1]))
    return None


def db_error_kind(exc: BaseException) -> str | None:
    """``locked``, ``disk_full``, ``not_a_database``, ``corrupt`` or None, for ``exc`` or the
    error it was raised while handling (a failed ROLLBACK hides the full disk that caused it)."""
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        kind = _kind_of(cur)
        if kind:
            return kind
        cur = cur.__cause__ or cur.__context__
    return None


def _root(exc: BaseException, kind: str) -> BaseException:
    cur: BaseException | None = exc
    while cur is not None:
        if _kind_of(cur) == kind:
            return cur
        cur = cur.__cause__ or cur.__context__
    return exc


def describe_error(path: str | None, exc: BaseException) -> StoreError | None:
    """A StoreError saying what ``exc`` means for the database at ``path`` (None: the one the
    command used, which DuckDB's own text names), or None when it is none of the known kinds.
    Locks are described by :func:`connect`, which waits for them."""
    kind = db_error_kind(exc)
    if kind is None:
        return None
    first = (str(_root(exc, kind)).strip().splitlines() or [""])[0]
    path = path or "in use"
    message = {
        "locked": f"database {path} is locked by another process ({first})",
        "disk_full": f"the disk is full (database {path}, or DuckDB's temp directory): "
        f"{first}. Free space and run again; what was being written was not stored",
        "not_a_database": f"{path} is not a DuckDB database file ({first}): pass another --db",
        "corrupt": f"database {path} is corrupt ({first}). Restore it from a backup, or ingest "
        "again into a new file",
    }[kind]
    return StoreError(message, kind)


_HOLDER_RE = re.compile(r"Conflicting lock is held in (.*?) \(PID (\d+)\)")


def lock_holder(exc: Exception) -> tuple[int, str] | None:
    """``(pid, program)`` of the process holding the file, from DuckDB's lock error text."""
    m = _HOLDER_RE.search(str(exc))
    return (int(m[2]), m[1]) if m else None


def _lock_message(path: str, exc: Exception, waited: float, read_only: bool) -> str:
    holder = lock_holder(exc)
    who = (
        f"process {holder[0]} ({Path(holder[1]).name})"
        if holder
        else f"another process ({str(exc).splitlines()[0]})"
    )
    after = f" (waited {waited:g} s)" if waited > 0 else ""
    hint = (
        "retry when it has finished writing, or pass --wait SECONDS"
        if read_only
        else "retry when it is done, pass --wait SECONDS, or have it hold the file only while it "
        "reads (a notebook: `with triage.open(path, read_only=True) as db: ...`)"
    )
    return (
        f"database {path} is locked by {who}{after}. DuckDB lets one process write a file or "
        f"several read it, not both: {hint}."
    )


def _refuse_non_database(path: str) -> None:
    """A file that is not a DuckDB database (an export given to --db by mistake) is named as
    such, rather than left to DuckDB's "Cannot launch in-memory database in read-only mode"."""
    if path == MEMORY:
        return
    try:
        with open(path, "rb") as fh:
            head = fh.read(12)
    except OSError:
        return  # missing (created on open) or unreadable (DuckDB says why)
    if len(head) >= 12 and head[8:12] != b"DUCK":
        hint = ""
        if head.lstrip()[:1] in (b"{", b"["):
            hint = f" (it looks like JSON: to read it, `triage ingest {path}`)"
        raise StoreError(f"{path} is not a DuckDB database{hint}", "not_a_database")


def connect(
    db: str | os.PathLike[str] | None = None,
    *,
    read_only: bool = False,
    wait: float = 0.0,
) -> duckdb.DuckDBPyConnection:
    """Open (and migrate, unless read-only) the database; wait up to ``wait`` s for a lock.

    DuckDB lets one process write a file, or several processes read it, never both: a writer
    (or reader) that finds the other kind holding the file retries every 0.2 s until ``wait``
    seconds have passed, then fails naming the process that holds the lock.
    """
    path = resolve_path(db)
    if read_only and path != MEMORY and not Path(path).exists():
        raise StoreError(f"database {path} does not exist: run `triage ingest` first")
    _refuse_non_database(path)
    started = time.monotonic()
    deadline = started + max(wait, 0.0)
    while True:
        try:
            con = duckdb.connect(path, read_only=read_only and path != MEMORY)
            break
        except duckdb.Error as exc:
            kind = db_error_kind(exc)
            if kind != "locked":
                known = describe_error(path, exc)
                if known is not None:
                    raise known from exc
                raise StoreError(f"cannot open database {path}: {exc}") from exc
            if time.monotonic() >= deadline:
                waited = round(time.monotonic() - started, 1) if wait > 0 else 0.0
                raise StoreError(_lock_message(path, exc, waited, read_only), kind) from exc
            time.sleep(0.2)
    limit = os.environ.get("TRIAGE_MEMORY_LIMIT") or DEFAULT_MEMORY_LIMIT
    try:
        con.execute(f"SET memory_limit = '{_memory_setting(limit)}'")
    except duckdb.Error as exc:
        con.close()
        raise StoreError(f"TRIAGE_MEMORY_LIMIT={limit!r} is not a memory size: {exc}") from exc
    if not read_only or path == MEMORY:
        migrate(con)
    elif _pending_scripts(con):
        # A file written by an older release: migrate it once, briefly as a writer, then read.
        con.close()
        connect(path, wait=wait).close()
        return connect(path, read_only=True, wait=wait)
    install_macros(con)
    return con


def _pending_scripts(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Schema scripts a (read-only) connection's file has not had applied yet."""
    try:
        applied = {r[0] for r in con.execute("SELECT name FROM schema_version").fetchall()}
    except duckdb.CatalogException:
        applied = set()
    return [name for _, name, _ in sqlfiles.schema_files() if name not in applied]


def shadow_tables(con: duckdb.DuckDBPyConnection, names: list[str]) -> None:
    """Give a read-only connection writable TEMP copies of ``names``, shadowing the stored ones.

    Why: classifying writes its result tables. A notebook that opened the file read-only (so a
    scheduled job can still write between its reads) can then classify and report all the same;
    the result lives in the connection's memory and is gone when it closes. Unqualified names
    resolve to the TEMP catalog first, so the classifier's SQL needs no change.
    """
    db = con.execute("SELECT current_database()").fetchone()[0]
    for name in names:
        if con.execute(
            "SELECT 1 FROM duckdb_tables() WHERE database_name = 'temp' AND table_name = ?",
            [name],
        ).fetchone():
            continue
        row = con.execute(
            "SELECT sql FROM duckdb_tables() "
            "WHERE database_name = ? AND schema_name = 'main' AND table_name = ?",
            [db, name],
        ).fetchone()
        if row is None:
            continue
        con.execute(re.sub(r"^CREATE TABLE", "CREATE TEMP TABLE", row[0].strip(), count=1))
        catalog = db.replace('"', '""')
        con.execute(f'INSERT INTO temp.main."{name}" SELECT * FROM "{catalog}".main."{name}"')


def _memory_setting(text: str) -> str:
    """A size such as ``512MB`` or ``2GiB``; quotes are refused so it is safe to inline."""
    text = text.strip()
    if not text or any(c in text for c in "'\\;"):
        raise StoreError(f"TRIAGE_MEMORY_LIMIT={text!r} is not a memory size")
    return text


def install_macros(con: duckdb.DuckDBPyConnection) -> None:
    """Create the TEMP SQL macros the normalizers use (per connection, never stored)."""
    con.execute(sqlfiles.load("macros.sql"))
    con.execute(sqlfiles.load("pii.sql"))


def current_version(con: duckdb.DuckDBPyConnection) -> int:
    """The newest schema script applied to this database (0 for a new file)."""
    con.execute(
        "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER, name VARCHAR, "
        "applied_at TIMESTAMPTZ DEFAULT current_timestamp)"
    )
    row = con.execute("SELECT max(version) FROM schema_version").fetchone()
    return int(row[0] or 0)


def migrate(con: duckdb.DuckDBPyConnection) -> int:
    """Apply the schema scripts this database has not seen yet; return the version reached.

    Scripts are tracked by name, not only by number, so two scripts that share a number (written
    on two branches at once) are both applied.
    """
    version = current_version(con)
    pending = set(_pending_scripts(con))
    scripts = sqlfiles.schema_files()
    newest = scripts[-1][0] if scripts else 0
    if version > newest:
        raise StoreError(
            f"database schema version {version} is newer than this release knows ({newest}); "
            "upgrade sentry-triage"
        )
    for number, name, sql in scripts:
        if name not in pending:
            continue
        con.execute("BEGIN TRANSACTION")
        try:
            con.execute(sql)
            con.execute("INSERT INTO schema_version (version, name) VALUES (?, ?)", [number, name])
            con.execute("COMMIT")
        except Exception:
            con.execute("ROLLBACK")
            raise
        version = max(version, number)
    _ensure_secret(con)
    return version


def _ensure_secret(con: duckdb.DuckDBPyConnection) -> None:
    """The database's own key for the ``anon:`` stand-ins (256 random bits, made once)."""
    import secrets

    # $TRIAGE_ANON_SECRET: one key for several databases, whose stand-ins then compare (tests
    # that compare two ingests do); unset, every database draws its own.
    con.execute(
        "INSERT INTO triage_secret SELECT 'anon', ? "
        "WHERE NOT EXISTS (SELECT 1 FROM triage_secret WHERE name = 'anon')",
        [os.environ.get("TRIAGE_ANON_SECRET") or secrets.token_hex(32)],
    )
