"""Tell what is not a Sentry export before it becomes data: binary files and JSON objects that
carry none of an event's keys.

Why: a folder of exports often holds other things (a copied database, a tool, a package.json).
Read as NDJSON, a binary file became hundreds of rejects holding binary text, and a JSON object
with no event key became an event with an empty message that every report then counted. These
are skipped instead, each with one line saying why; a skip is part of the accounting
(records = added + duplicates + rejects + skipped). Every reader (the DuckDB fast path, the
record-by-record path, the typed path) calls the checks here so they agree.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

SNIFF_BYTES = 8 * 1024  # how much of the (decompressed) start of a file is looked at

# (offset, magic, what it is). Checked before the NUL test, so the reason names the format.
SIGNATURES: tuple[tuple[int, bytes, str], ...] = (
    (0, b"\x7fELF", "an ELF executable"),
    (0, b"MZ\x90\x00", "a Windows executable"),
    (0, b"\xcf\xfa\xed\xfe", "a Mach-O executable"),
    (0, b"\xca\xfe\xba\xbe", "a Mach-O or Java class file"),
    (0, b"SQLite format 3\x00", "an SQLite database"),
    (8, b"DUCK", "a DuckDB database"),
    (0, b"PK\x03\x04", "a zip archive (unpack it and ingest the folder)"),
    (0, b"%PDF-", "a PDF document"),
    (0, b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (0, b"\xff\xd8\xff", "a JPEG image"),
    (0, b"GIF8", "a GIF image"),
    (4, b"1AY&SY", "a bzip2 file (decompress it first)"),
    (0, b"\xfd7zXZ\x00", "an xz file (decompress it first)"),
    (0, b"7z\xbc\xaf\x27\x1c", "a 7-zip archive"),
    (257, b"ustar", "a tar archive (unpack it and ingest the folder)"),
    (0, b"PAR1", "a Parquet file"),
)

# Keys only an event (raw SDK, "JSON" link, web API) carries; a record with none of them is not
# an event. Generic keys (id, title, tags, user, release, project) are left out on purpose: a
# package.json or a blog post has those too.
EVENT_KEYS = (
    "event_id",
    "eventID",
    "message",
    "logentry",
    "exception",
    "threads",
    "timestamp",
    "datetime",
    "dateCreated",
    "level",
    "platform",
    "logger",
    "entries",
    "groupID",
    "culprit",
    "fingerprint",
    "sentry.interfaces.Exception",
    "sentry.interfaces.Message",
)
NON_EVENT_NOTE = (
    "with none of an event's keys (event_id, message, exception, timestamp, level, ...): "
    "not Sentry events"
)


def non_event_note(n: int, first: int, unit: str = "line") -> str:
    """The one line that says why ``n`` records were skipped."""
    return (
        f"skipped {n:,} JSON object{'s' if n != 1 else ''} {NON_EVENT_NOTE} (first: {unit} {first})"
    )


BINARY_MIN_BYTES = 1024  # below this, a file is read as text: its lines are rejected, not lost
BINARY_CONTROL_SHARE = 0.10
_CONTROL = bytes(b for b in range(32) if b not in b"\t\n\r\f\x1b")


def binary_reason(head: bytes) -> str | None:
    """Why the bytes that start a file say it is not a Sentry export, else None.

    A known signature, or NUL bytes in the first 8 KiB among at least 10 % control bytes. Why
    not any NUL: one corrupt line in a text export must cost that line (a reject), not every
    good event of the file; and a short file is read as text for the same reason.
    """
    for offset, magic, what in SIGNATURES:
        if head[offset : offset + len(magic)] == magic:
            return f"not a Sentry export: {what}"
    head = head[:SNIFF_BYTES]
    if len(head) < BINARY_MIN_BYTES or b"\x00" not in head:
        return None
    control = len(head) - len(head.translate(None, _CONTROL))
    if control >= BINARY_CONTROL_SHARE * len(head):
        return "not a Sentry export: binary (NUL bytes in the first 8 KiB; or UTF-16 text)"
    return None


def is_event_like(obj: Mapping) -> bool:
    """True when a JSON object carries at least one key only events carry."""
    return any(k in obj for k in EVENT_KEYS)


def non_event_sql(columns: Iterable[str]) -> str:
    """A SQL predicate over ``raw_input``-style columns (one per top-level key, NULL when the key
    is missing) that holds for rows with none of an event's keys."""
    cols = [c for c in columns if c in EVENT_KEYS]
    quoted = ", ".join('"' + c.replace('"', '""') + '"' for c in cols)
    return f"coalesce({quoted}) IS NULL" if cols else "false"


# The same test on a normalized row (``staged``), for the paths that normalize while reading (the
# typed fast path, batches of small files): none of the fields an event's keys give is set
# (level is left out: normalizing defaults it to error).
NON_EVENT_STAGED_SQL = (
    "message IS NULL AND exc_type IS NULL AND exc_value IS NULL AND ts IS NULL "
    "AND platform IS NULL AND logger IS NULL AND group_id IS NULL "
    'AND culprit IS NULL AND "transaction" IS NULL'
)
