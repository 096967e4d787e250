"""Record-level recovery inside containers: one bad record is one reject, the rest land.

DuckDB's readers refuse a whole file for one bad byte; the ingester then comes here. A JSON array
is split into its elements (a bad element is skipped up to the next ``{`` at array depth 1 that
starts a whole element), a Discover CSV into rows (an unterminated quote costs its own line
only), and nesting is capped so that a hostile record is a reject, never a RecursionError.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator

MAX_DEPTH = 256  # Sentry events nest 10-20 deep (stack frames' vars); far below Python's limit
RAW_TEXT_LIMIT = 64 * 1024

Record = tuple[int, "dict | None", "str | None", str]  # (number, object, error, raw text)

_TOKENS = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]', re.DOTALL)
_SURROGATE = re.compile("[\udc80-\udcff]")
_WS = re.compile(r"[ \t\r\n\ufeff]*")
_NEXT_OBJECT = re.compile(r",[ \t\r\n]*\{")


def too_deep(text: str | bytes, limit: int = MAX_DEPTH) -> bool:
    """Whether JSON text nests deeper than ``limit`` (brackets inside strings do not count).
    Cheap in the common case: text with fewer brackets than the limit cannot be that deep."""
    if isinstance(text, bytes):
        if text.count(b"[") + text.count(b"{") <= limit:
            return False
        text = text.decode("utf-8", "surrogateescape")
    elif text.count("[") + text.count("{") <= limit:
        return False
    depth = 0
    for m in _TOKENS.finditer(text):
        c = m.group()
        if c in "[{":
            depth += 1
            if depth > limit:
                return True
        elif c in "]}":
            depth -= 1
    return False


def nested_reason(limit: int = MAX_DEPTH) -> str:
    return f"nested deeper than {limit} levels"


def loads(raw: bytes | str) -> object:
    """``json.loads`` with the depth cap: raises ValueError("nested deeper than N levels")."""
    if too_deep(raw):
        raise ValueError(nested_reason())
    try:
        return json.loads(raw)
    except RecursionError:
        raise ValueError(nested_reason()) from None


def _raw(text: str) -> str:
    """A rejected span as stored: invalid bytes shown as U+FFFD, bounded."""
    cut = text[:RAW_TEXT_LIMIT]
    return cut.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def iter_array(data: bytes, limit_bytes: int) -> Iterator[Record]:
    """The elements of a JSON array file, numbered from 1, each parsed on its own.

    A malformed element, invalid UTF-8 inside one, one nested too deep or over ``limit_bytes``
    is one reject; reading goes on at the next element (the next ``{`` after a comma that
    starts a whole element followed by ``,`` or ``]``). A file cut short rejects the element it
    ends inside.
    """
    text = data.decode("utf-8", "surrogateescape")
    del data
    dec = json.JSONDecoder()
    i = _WS.match(text, 0).end()
    if text[i : i + 1] != "[":
        yield 1, None, "not a JSON array", _raw(text)
        return
    i = _WS.match(text, i + 1).end()
    if text[i : i + 1] == "]":
        return
    n = 0
    keys: set[str] = set()
    window = max(limit_bytes, 1 << 20) * 2
    end_of_file = len(text)
    while i < end_of_file:
        n += 1
        start = i
        err = None
        obj = None
        try:
            obj, end = dec.raw_decode(text, i)
        except RecursionError:
            err, end = nested_reason(), None
        except ValueError as exc:
            err, end = f"malformed JSON: {exc.args[0].split(':')[0]}", None
        if end is None:
            end = _resync(text, start, dec, keys, window)
            if end is None:
                # Nothing after it parses: what is left is bad elements, and perhaps one the
                # file ends inside. Each element that opens like a record is one reject.
                tail = text[start:].rstrip()
                closed = tail.endswith("]")
                if closed:
                    tail = tail[:-1]
                pieces = _split_records(tail, keys)
                for k, piece in enumerate(pieces):
                    last = k == len(pieces) - 1
                    why = err if k == 0 else "malformed JSON"
                    if last and not closed:
                        why = (why or "malformed JSON") + " (the file ends inside it: truncated?)"
                    yield n + k, None, why or "malformed JSON", _raw(piece)
                return
            pieces = _split_records(text[start:end].rstrip(), keys)
            for k, piece in enumerate(pieces):
                yield n + k, None, (err if k == 0 else None) or "malformed JSON", _raw(piece)
            n += len(pieces) - 1
        else:
            span = text[start:end]
            if _SURROGATE.search(span):
                yield n, None, "invalid UTF-8", _raw(span)
            elif len(span) > limit_bytes:
                yield n, None, f"record larger than {limit_bytes} bytes", _raw(span)
            elif not isinstance(obj, dict):
                yield (
                    n,
                    None,
                    f"record {n} is a JSON {type(obj).__name__}, not an object",
                    _raw(span),
                )
            elif too_deep(span):
                yield n, None, nested_reason(), _raw(span)
            else:
                if not keys:
                    keys.update(obj)
                yield n, obj, None, ""
        i = _WS.match(text, end).end()
        sep = text[i : i + 1]
        if sep == ",":
            i = _WS.match(text, i + 1).end()
        elif sep == "]":
            return
        elif not sep:
            return  # cut right after an element: nothing partial to reject
        else:
            # Junk between elements: it belongs to no element; skip to the next one.
            nxt = _resync(text, i, dec, keys, window)
            if nxt is None:
                n += 1
                yield n, None, "malformed JSON between records", _raw(text[i:])
                return
            i = _WS.match(text, nxt + 1).end()


_ID_KEYS = ("event_id", "eventID", "id", "shortId")


def _resync(
    text: str, start: int, dec: json.JSONDecoder, keys: set[str], window: int
) -> int | None:
    """The position of the comma before the next element, or None: the next ``,{`` whose object
    parses whole and is followed by ``,`` or ``]``, and is a record like the file's good ones
    (it has their id key, or shares a key). Why not count bracket depth: a broken quote inside
    the bad element turns strings inside out, and the count with them; an object nested inside
    the bad element (an exception value, a breadcrumb) lacks the records' id key.
    """
    ids = [k for k in _ID_KEYS if k in keys]
    pos = start + 1
    stop = min(len(text), start + window)
    for _ in range(10_000):
        m = _NEXT_OBJECT.search(text, pos)
        if m is None or m.start() > stop:
            return None
        obj = _whole_element(text, m.start() + 1, dec)
        if obj is not None and (
            not keys or (ids and ids[0] in obj) or (not ids and keys & set(obj))
        ):
            return m.start()
        pos = m.end()
    return None


def _split_records(tail: str, keys: set[str]) -> list[str]:
    """Unparseable text split before each ``,{`` that opens like a record: with the records' id
    key, or the first element's own first key."""
    ids = [k for k in _ID_KEYS if k in keys]
    m = re.match(r'\{\s*"((?:[^"\\]|\\.)*)"', tail[:4096])
    key = ids[0] if ids else (m.group(1) if m else None)
    if key is None:
        return [tail]
    cuts = [hit.start() for hit in re.finditer(r',\s*\{\s*"' + re.escape(key) + '"', tail)]
    bounds = [0, *cuts, len(tail)]
    pieces = [tail[a:b] for a, b in zip(bounds, bounds[1:], strict=False)]
    return [p.lstrip(", \t\r\n").rstrip() for p in pieces if p.strip(", \t\r\n")] or [tail]


def _whole_element(text: str, pos: int, dec: json.JSONDecoder) -> dict | None:
    """The object starting at ``pos`` (after blanks) when it parses and ends an element."""
    k = _WS.match(text, pos).end()
    if text[k : k + 1] != "{":
        return None
    try:
        obj, end = dec.raw_decode(text, k)
    except (ValueError, RecursionError):
        return None
    after = _WS.match(text, end).end()
    return obj if text[after : after + 1] in (",", "]", "") and isinstance(obj, dict) else None


def iter_csv_rows(text: str, header_lines: int = 1) -> Iterator[tuple[int, list[str] | None, str]]:
    """Rows of a CSV body after its header, as ``(line, fields or None, raw text)``.

    A row may span lines (a quoted newline). A row that does not parse into as many fields as
    the header (an unterminated quote, a stray field) is rejected on its first line alone and
    reading goes on at the next line: the next line that parses as a row.
    """
    lines = text.splitlines(keepends=True)
    if not lines:
        return
    header = next(csv.reader([lines[0]]))
    width = len(header)
    i = header_lines
    while i < len(lines):
        line_no = i + 1
        if not lines[i].strip():
            i += 1
            continue
        row, used = _csv_row(lines, i, width)
        if row is None:
            yield line_no, None, lines[i].rstrip("\r\n")
            i += 1
        else:
            yield line_no, row, ""
            i += used


def _csv_row(lines: list[str], i: int, width: int, max_lines: int = 200) -> tuple:
    """The row starting at line ``i`` (joined across quoted newlines) and how many lines it used."""
    buf = ""
    for used in range(1, min(max_lines, len(lines) - i) + 1):
        buf += lines[i + used - 1]
        if buf.count('"') % 2:
            continue  # inside a quoted field: the row goes on
        try:
            rows = list(csv.reader(io.StringIO(buf), strict=True))
        except csv.Error:
            return None, 0
        if len(rows) == 1 and len(rows[0]) == width:
            return rows[0], used
        return None, 0
    return None, 0
