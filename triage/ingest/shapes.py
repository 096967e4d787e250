"""Tell what a file holds by reading its first bytes: compression, layout and kind of record.

Users export Sentry data in many ways (raw SDK events, the "JSON" link, the web API's events and
issues, Discover CSV or JSON, envelopes), often under misleading names, so the decision is made
from the content, never the file name. ``--input-format`` forces the kind; the layout (one object,
a JSON array, NDJSON, CSV, an envelope) is still read from the file.
"""

from __future__ import annotations

import gzip
import io
import json
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import zstandard

# The kinds of record a file can hold, and what each becomes.
KINDS = {
    "raw": "raw SDK events",
    "jsonlink": 'events from the "JSON" link',
    "api-events": "web API events",
    "api-issues": "web API issues (groups)",
    "discover-csv": "Discover/Explore CSV export",
    "discover-json": "Discover/Explore JSON ({data, meta})",
    "envelope": "envelopes",
}
EVENT_KINDS = ("raw", "jsonlink", "api-events")
GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
ENVELOPE_HEADER_KEYS = {"event_id", "dsn", "sdk", "sent_at", "trace"}
HEAD_BYTES = 64 * 1024
MAX_HEAD_BYTES = 16 * 1024 * 1024


@dataclass(frozen=True)
class Shape:
    """What a file holds: ``kind`` (see KINDS), ``layout``, and the compression DuckDB must undo."""

    kind: str
    layout: str  # object | array | ndjson | csv | envelope | empty
    compression: str | None = None  # gzip | zstd | None

    def __str__(self) -> str:
        text = f"{self.kind} ({self.layout}"
        return text + (f", {self.compression})" if self.compression else ")")


def compression_of(path: Path) -> str | None:
    """gzip or zstd by magic number (names lie: a `.json` may well be gzipped)."""
    with open(path, "rb") as fh:
        magic = fh.read(4)
    if magic.startswith(GZIP_MAGIC):
        return "gzip"
    if magic.startswith(ZSTD_MAGIC):
        return "zstd"
    return None


def open_bytes(path: Path, compression: str | None = None) -> IO[bytes]:
    """A binary stream of the decompressed content."""
    compression = compression if compression is not None else compression_of(path)
    if compression == "gzip":
        return gzip.open(path, "rb")
    if compression == "zstd":
        # Buffered, so that it reads by line; across frames, as `zstd` writes large files.
        raw = zstandard.ZstdDecompressor().stream_reader(
            open(path, "rb"), read_across_frames=True, closefd=True
        )
        return io.BufferedReader(raw)
    return open(path, "rb")


def read_head(path: Path, n: int = HEAD_BYTES, compression: str | None = None) -> bytes:
    """Up to ``n`` decompressed bytes; what a truncated or corrupt stream gave before it broke."""
    compression = compression if compression is not None else compression_of(path)
    if compression is None:
        with open(path, "rb") as fh:
            return fh.read(n)
    # Incremental decompressors give what they can of a truncated stream instead of raising.
    dec = zlib.decompressobj(wbits=31) if compression == "gzip" else None
    zdec = zstandard.ZstdDecompressor().decompressobj() if compression == "zstd" else None
    out = bytearray()
    with open(path, "rb") as fh:
        while len(out) < n:
            chunk = fh.read(1 << 16)
            if not chunk:
                break
            try:
                out += dec.decompress(chunk, n - len(out)) if dec else zdec.decompress(chunk)
            except (zlib.error, zstandard.ZstdError):
                break
            if dec is not None and dec.unconsumed_tail:
                break  # n reached
    return bytes(out[:n])


def record_kind(obj: object) -> str:
    """The kind of one JSON record, from the keys each producer writes (sentry-formats.md §0)."""
    if not isinstance(obj, dict):
        return "raw"
    if "shortId" in obj or ("firstSeen" in obj and "count" in obj and "entries" not in obj):
        return "api-issues"
    if isinstance(obj.get("data"), list) and isinstance(obj.get("meta"), dict):
        return "discover-json"
    if "entries" in obj or "eventID" in obj or ("groupID" in obj and "dateCreated" in obj):
        return "api-events"
    if "datetime" in obj and (
        "title" in obj or "hashes" in obj or isinstance(obj.get("tags"), list)
    ):
        return "jsonlink"
    return "raw"


def _first_array_item(path: Path, compression: str | None) -> object | None:
    """The first element of a JSON array file, reading only as much as it takes."""
    n = HEAD_BYTES
    decoder = json.JSONDecoder()
    while True:
        head = read_head(path, n, compression)
        text = head.decode("utf-8", "replace").lstrip("\ufeff \t\r\n")[1:].lstrip()
        if text.startswith("]"):
            return None
        try:
            return decoder.raw_decode(text)[0]
        except RecursionError:
            return None
        except ValueError:
            if len(head) < n or n >= MAX_HEAD_BYTES:
                return None
            n *= 4


def _json_line(line: bytes) -> object | None:
    try:
        return json.loads(line)
    except (ValueError, RecursionError):  # nested too deep: the readers reject it
        return None


def _csv_header(line: bytes) -> bool:
    """A CSV header: two or more named, printable fields (``title,count()``, ``"tags[x]"``)."""
    try:
        text = line.decode("utf-8").lstrip("\ufeff")
    except UnicodeDecodeError:
        return False
    fields = [f.strip().strip('"').strip() for f in text.split(",")]
    return len(fields) >= 2 and all(f and f.isprintable() for f in fields)


def is_envelope_start(first: object, second: object) -> bool:
    """An envelope header line followed by an item header line (a dict with ``type``)."""
    return (
        isinstance(first, dict)
        and set(first) <= ENVELOPE_HEADER_KEYS
        and isinstance(second, dict)
        and isinstance(second.get("type"), str)
    )


def detect(path: Path, force_kind: str | None = None) -> Shape:
    """The shape of a file from its content; ``force_kind`` overrides the kind only."""
    compression = compression_of(path)
    head = read_head(path, HEAD_BYTES, compression)
    body = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if not body:
        if compression is not None and not head:
            # Compressed bytes that give nothing back: read line by line so they are rejected.
            return Shape(force_kind or "raw", "ndjson", compression)
        return Shape(force_kind or "raw", "empty", compression)
    if body.startswith(b"["):
        first = _first_array_item(path, compression)
        return Shape(force_kind or record_kind(first), "array", compression)
    lines = [ln.strip() for ln in body.split(b"\n", 2)[:2]]
    first = _json_line(lines[0]) if body.startswith(b"{") else None
    second = _json_line(lines[1]) if len(lines) > 1 and body.startswith(b"{") else None
    # NDJSON: the first line is a whole object, or the next line is one (the first is broken).
    one_line = lines[0].endswith(b"}") and lines[0] != b"{"
    if isinstance(first, dict) or isinstance(second, dict) or (first is None and one_line):
        if force_kind == "envelope" or (force_kind is None and is_envelope_start(first, second)):
            return Shape("envelope", "envelope", compression)
        kind = force_kind or record_kind(first if isinstance(first, dict) else second)
        if kind == "discover-json" and len(lines) < 2:
            return Shape(kind, "object", compression)
        return Shape(kind, "ndjson", compression)
    if body.startswith(b"{"):
        # One pretty-printed object (or a broken file, whose records are then rejected).
        doc = None
        if len(head) < HEAD_BYTES:
            doc = _json_line(body)
        else:
            whole = read_head(path, MAX_HEAD_BYTES, compression)
            doc = _json_line(whole) if len(whole) < MAX_HEAD_BYTES else None
        if force_kind == "envelope":
            return Shape("envelope", "envelope", compression)
        return Shape(force_kind or record_kind(doc), "object", compression)
    if force_kind == "envelope":
        return Shape("envelope", "envelope", compression)
    if force_kind == "discover-csv" or (force_kind is None and _csv_header(lines[0])):
        return Shape("discover-csv", "csv", compression)
    # Not JSON, not CSV: read as NDJSON so that every line is reported as a reject.
    return Shape(force_kind or "raw", "ndjson", compression)
