"""The export shapes that are not lists of event or issue objects: envelopes and Discover tables.

Each ``stage`` function fills the same temp tables the JSON shapes fill (``raw_input`` of events or
of issues, and ``groups_staged`` for the issues a Discover row names), so that normalizing, dedupe,
merge, rejects and the one transaction per file are shared (see :mod:`triage.ingest`).
"""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import duckdb
import zstandard
from sentry_sdk.envelope import Envelope

from triage.ingest import inputs, recover
from triage.ingest import shapes as shapes
from triage.ingest.records import (
    RAW_COLUMNS,
    RAW_TEXT_LIMIT,
    FileResult,
    Loader,
    Reject,
    ident,
    lit,
    max_record_bytes,
)
from triage.ingest.shapes import Shape


def stage(
    ing: Loader, path: Path, shape: Shape, label: str, rejects: list[Reject], result: FileResult
) -> tuple[bool, bool]:
    """Stage a file of the other shapes; returns (has events, has groups)."""
    if shape.kind == "envelope":
        return stage_envelope(ing, path, shape, label, rejects, result)
    if shape.kind == "discover-csv":
        return stage_discover_csv(ing, path, shape, label, rejects, result)
    if shape.kind == "discover-json":
        return stage_discover_json(ing, path, shape, label, rejects, result)
    raise ValueError(f"unknown input format {shape.kind!r}")


# -- envelopes -----------------------------------------------------------------------------------


def stage_envelope(
    ing: Loader, path: Path, shape: Shape, label: str, rejects: list[Reject], result: FileResult
) -> tuple[bool, bool]:
    """Event items become events; other item types (transaction, session, attachment, log...) are
    counted as skipped. Several envelopes in one file, separated by blank lines, are read in turn.

    Parsing is sentry-sdk's own (``Envelope.deserialize_from``), so what the SDK writes is what is
    read. A record is an item; its number is its position in the file (1-based). An envelope that
    cannot be framed (a bad header, a length that runs into the next envelope, a payload that is
    not JSON) is one reject, and reading goes on at the next envelope header.
    """
    with inputs.open_bounded(path, shape.compression, ing.bounds, label=label) as fh:
        try:
            data = fh.read()
        except (OSError, EOFError, zstandard.ZstdError) as exc:
            rejects.append(Reject(1, f"cannot read (truncated or corrupt compression?): {exc}", ""))
            return False, False
    events: list[tuple[int, dict | None, str | None, str]] = []
    skipped: dict[str, int] = {}
    item_no = 0
    limit = max_record_bytes()
    pos = 0
    while True:
        rest = data[pos:]
        if not rest.strip():
            break
        if not rest[:1].strip():  # blank lines between envelopes
            pos += len(rest) - len(rest.lstrip())
            continue
        stream = io.BytesIO(data)
        stream.seek(pos)
        parsed = _read_envelope(stream, data, limit)
        if isinstance(parsed, str):
            item_no += 1
            nxt = _next_envelope_header(data, pos)
            raw = data[pos : min(nxt, pos + RAW_TEXT_LIMIT)].decode("utf-8", "replace")
            events.append((item_no, None, f"malformed envelope: {parsed}", raw))
            pos = nxt
            continue
        items, pos = parsed
        for kind, payload, raw, err in items:
            item_no += 1
            if err is None and kind != "event":
                skipped[kind] = skipped.get(kind, 0) + 1
                continue
            text = raw[:RAW_TEXT_LIMIT].decode("utf-8", "replace")
            events.append((item_no, None if err else payload, err, text if err else ""))
    result.skipped = sum(skipped.values())
    if skipped:
        result.notes.append(
            "skipped items: " + ", ".join(f"{n} {t}" for t, n in sorted(skipped.items()))
        )
    ing.load_objects(events, label, RAW_COLUMNS, rejects)
    return True, False


def _read_envelope(stream: io.BytesIO, data: bytes, limit: int) -> str | tuple[list, int]:
    """One envelope at the stream's position: ``([(type, payload, raw, error)], end)``, or the
    reason it cannot be framed. An event payload that is not JSON means the framing went wrong
    (a wrong length runs into the next envelope, or stops short): the whole envelope is one
    reject."""
    start = stream.tell()
    try:
        env = Envelope.deserialize_from(stream)
    except RecursionError:
        return recover.nested_reason()
    except (ValueError, TypeError, AttributeError) as exc:
        return str(exc) or type(exc).__name__
    end = stream.tell()
    if end == start:
        return "no envelope header"
    header_id = env.headers.get("event_id") if isinstance(env.headers, dict) else None
    items = []
    for item in env.items:
        raw = item.get_bytes()
        if item.type != "event":
            items.append((str(item.type), None, raw, None))
            continue
        if len(raw) > limit:
            items.append(("event", None, raw, f"record larger than {limit} bytes"))
            continue
        try:
            payload = recover.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            if len(env.items) == 1 and str(exc).startswith("nested"):
                items.append(("event", None, raw, str(exc)))
                continue
            return f"event item whose payload is not JSON ({exc})"
        if not isinstance(payload, dict):
            items.append(("event", None, raw, "event item whose payload is not a JSON object"))
            continue
        if "event_id" not in payload and header_id:
            payload = {**payload, "event_id": header_id}
        items.append(("event", payload, raw, None))
    return items, end


def _is_header_at(data: bytes, pos: int) -> bool:
    """An envelope header line at ``pos`` (only the keys SDKs write, so that an event payload
    line is not taken for one), followed by an item header line."""
    first, _, rest = data[pos : pos + (1 << 16)].partition(b"\n")
    second = rest.partition(b"\n")[0]
    return shapes.is_envelope_start(shapes._json_line(first), shapes._json_line(second))


def _next_envelope_header(data: bytes, pos: int) -> int:
    """Where reading goes on after an envelope that cannot be framed: the next line after ``pos``
    that opens an envelope, or that follows a blank line (envelopes are separated by one), else
    the file's end."""
    nl = data.find(b"\n", pos)
    blank = False
    while nl != -1:
        start = nl + 1
        line_end = data.find(b"\n", start)
        line = data[start : line_end if line_end != -1 else len(data)]
        if not line.strip():
            blank = True
        elif blank or (line[:1] == b"{" and _is_header_at(data, start)):
            return start
        nl = line_end
    return len(data)


# -- Discover / Explore tables -----------------------------------------------------------------

# Column name (after canonical()) -> what it is. Client-side exports write `count()`, server-side
# ones the alias `count`; `count(id)` -> `count_id`; `count_unique(user)` -> `count_unique_user`.
EVENT_ID_COLS = ("id", "event_id", "eventid")
GROUP_ID_COLS = ("issue.id", "issue_id", "group_id")
SHORT_ID_COLS = ("issue",)
COUNT_COLS = ("count", "count_id", "times_seen")
USER_COUNT_COLS = ("count_unique_user", "count_unique_user_id", "count_unique_user_display")
LAST_SEEN_COLS = ("last_seen", "lastseen")
FIRST_SEEN_COLS = ("first_seen", "firstseen")
# Built-in Discover fields that are not tags (a bare key not listed here and not a function is a
# custom tag, as Discover writes them).
BUILTIN = {
    "title",
    "event.type",
    "project",
    "project.name",
    "project.id",
    "user",
    "user.display",
    "user.id",
    "user.email",
    "user.username",
    "user.ip",
    "timestamp",
    "id",
    "event_id",
    "culprit",
    "location",
    "message",
    "platform",
    "platform.name",
    "environment",
    "release",
    "dist",
    "transaction",
    "sdk.name",
    "sdk.version",
    "issue",
    "issue.id",
    "level",
    "logger",
    "error.type",
    "error.value",
    "error.mechanism",
    "error.handled",
    "error.unhandled",
    "stack.filename",
    "stack.function",
    "trace",
    "trace.span",
    "timestamp.to_hour",
    "timestamp.to_day",
    "tags.key",
    "tags.value",
    "times_seen",
    "group_id",
    "issue_id",
    "eventid",
}


def canonical(name: str) -> str:
    """A Discover header as the server-side alias: ``count()`` -> ``count``,
    ``count_unique(user)`` -> ``count_unique_user``; plain fields lowercased as they are."""
    n = name.strip()
    m = re.fullmatch(r"([A-Za-z_][\w]*)\((.*)\)", n)
    if m:
        fn, arg = m.group(1), m.group(2).strip()
        return (fn + ("_" + re.sub(r"\W", "_", arg) if arg else "")).lower()
    return n.lower() if not n.startswith("tags[") else n


def _pick(cols: dict[str, str], names: tuple[str, ...]) -> str | None:
    for n in names:
        if n in cols:
            return cols[n]
    return None


def _cell(col: str | None) -> str:
    """A cell as text: empty is NULL; the `'` that client-side exports put before = + - @ goes."""
    if col is None:
        return "NULL"
    c = ident(col)
    return (
        f"CASE WHEN {c} = '' THEN NULL WHEN regexp_matches({c}, '^''[=+@-]') "
        f"THEN substr({c}, 2) ELSE {c} END"
    )


def _tag_columns(header: list[str]) -> list[tuple[str, str]]:
    """(tag key, column) for `tags[key]` columns and bare custom-tag columns."""
    out = []
    for col in header:
        m = re.fullmatch(r"tags?\[(.*)\]", col.strip())
        if m:
            out.append((m.group(1), col))
            continue
        canon = canonical(col)
        if canon in BUILTIN or "(" in col or col.startswith("__") or canon in COUNT_COLS:
            continue
        if canon in USER_COUNT_COLS or canon in LAST_SEEN_COLS or canon in FIRST_SEEN_COLS:
            continue
        out.append((col.strip(), col))
    return out


def _stage_table(
    ing: Loader, header: list[str], label: str, rejects: list[Reject], result: FileResult
) -> tuple[bool, bool]:
    """``tab`` (one VARCHAR column per header field, plus __line) -> raw_input / groups."""
    cols = {}
    for h in header:
        if h != "__line":
            cols.setdefault(canonical(h), h)
    event_id = _pick(cols, EVENT_ID_COLS)
    group_id = _pick(cols, GROUP_ID_COLS)
    short_id = _pick(cols, SHORT_ID_COLS)
    con = ing.con
    if event_id is None:
        if group_id is None and short_id is None:
            n = con.execute("SELECT count(*) FROM tab").fetchone()[0]
            result.skipped = n
            result.notes.append(
                f"{n} aggregate rows with no event id (`id`) and no issue column: nothing to store"
            )
            return False, False
        # Aggregate rows, one per issue: they describe Sentry groups.
        con.execute(
            f"""CREATE OR REPLACE TEMP TABLE raw_input AS SELECT
                to_json({_cell(group_id)}) AS id,
                to_json({_cell(short_id)}) AS shortId,
                to_json({_cell(cols.get("title"))}) AS title,
                to_json({_cell(cols.get("culprit"))}) AS culprit,
                to_json({_cell(cols.get("level"))}) AS "level",
                NULL::JSON AS status,
                to_json({_cell(_pick(cols, COUNT_COLS))}) AS "count",
                to_json({_cell(_pick(cols, USER_COUNT_COLS))}) AS userCount,
                to_json({_cell(_pick(cols, FIRST_SEEN_COLS))}) AS firstSeen,
                to_json({_cell(_pick(cols, LAST_SEEN_COLS))}) AS lastSeen,
                NULL::JSON AS metadata,
                to_json({_cell(_pick(cols, ("project", "project.name")))}) AS project,
                to_json({_cell(_pick(cols, ("platform", "platform.name")))}) AS platform,
                NULL::JSON AS permalink,
                ? AS __file, __line, NULL::JSON AS __raw
            FROM tab""",
            [label],
        )
        return False, True
    tags = _tag_columns(header)
    tag_sql = (
        "to_json(map_from_entries(list_filter(["
        + ", ".join(f"struct_pack(k := {lit(k)}, v := {_cell(c)})" for k, c in tags)
        + "], lambda x: x.v IS NOT NULL)))"
        if tags
        else "NULL::JSON"
    )
    user = _pick(cols, ("user.display", "user"))
    msg = _pick(cols, ("message",)) or cols.get("title")
    err_type, err_value = cols.get("error.type"), cols.get("error.value")
    exc_sql = "NULL::JSON"
    if err_type or err_value:
        exc_sql = (
            f"CASE WHEN {_cell(err_type)} IS NOT NULL OR {_cell(err_value)} IS NOT NULL THEN "
            f"to_json(struct_pack(type := {_cell(err_type)}, "
            f"value := {_cell(err_value)})) END"
        )
    user_sql = (
        "to_json(struct_pack("
        f"id := coalesce({_cell(cols.get('user.id'))}, {_user_part(user, 'id')}), "
        f"username := coalesce({_cell(cols.get('user.username'))}, {_user_part(user, 'username')}),"
        f" email := coalesce({_cell(cols.get('user.email'))}, {_user_part(user, 'email')}), "
        f"ip_address := coalesce({_cell(cols.get('user.ip'))}, {_user_part(user, 'ip')})))"
    )
    select = {
        "event_id": f"to_json({_cell(event_id)})",
        "timestamp": f"to_json({_cell(cols.get('timestamp'))})",
        "level": f"to_json({_cell(cols.get('level'))})",
        "platform": f"to_json({_cell(_pick(cols, ('platform', 'platform.name')))})",
        "logger": f"to_json({_cell(cols.get('logger'))})",
        "logentry": f"CASE WHEN {_cell(msg)} IS NOT NULL THEN "
        f"to_json(struct_pack(formatted := {_cell(msg)})) END",
        "exception": exc_sql,
        "transaction": f"to_json({_cell(cols.get('transaction'))})",
        "culprit": f"to_json({_cell(cols.get('culprit'))})",
        "user": user_sql,
        "release": f"to_json({_cell(cols.get('release'))})",
        "environment": f"to_json({_cell(cols.get('environment'))})",
        "project": f"to_json({_cell(_pick(cols, ('project', 'project.name')))})",
        "group_id": f"to_json({_cell(group_id)})",
        "shortId": f"to_json({_cell(short_id)})",
        "tags": tag_sql,
    }
    exprs = [f"{select.get(c, 'NULL::JSON')} AS {ident(c)}" for c in RAW_COLUMNS]
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE raw_input AS SELECT {', '.join(exprs)}, ? AS __file, "
        f"__line, to_json(tab) AS __raw FROM tab",
        [label],
    )
    # The issues these events belong to, when the export names them.
    if group_id is not None and short_id is not None:
        con.execute(
            f"""CREATE OR REPLACE TEMP TABLE groups_staged AS
            SELECT gid AS id, sid AS short_id, NULL::VARCHAR AS title, NULL::VARCHAR AS culprit,
                NULL::VARCHAR AS level, NULL::VARCHAR AS status, NULL::BIGINT AS times_seen,
                NULL::BIGINT AS user_count, NULL::TIMESTAMPTZ AS first_seen,
                NULL::TIMESTAMPTZ AS last_seen, NULL::VARCHAR AS project,
                NULL::VARCHAR AS platform, NULL::VARCHAR AS permalink, NULL::JSON AS metadata,
                ? AS source_file, min(__line) AS source_line
            FROM (SELECT {_cell(group_id)} AS gid, {_cell(short_id)} AS sid, __line FROM tab)
            WHERE sid IS NOT NULL AND sid <> 'unknown' AND gid IS NOT NULL
            GROUP BY gid, sid""",
            [label],
        )
        return True, True
    return True, False


def _user_part(col: str | None, part: str) -> str:
    """Discover's `user` column holds the user tag: ``id:42``, ``email:a@b``, ``ip:1.2.3.4``,
    ``username:x``; a bare value is a display name, read as a username."""
    if col is None:
        return "NULL"
    c = _cell(col)
    if part == "username":
        return (
            f"CASE WHEN regexp_matches({c}, '^(id|email|ip|username):') "
            f"THEN regexp_extract({c}, '^username:(.*)$', 1) ELSE {c} END"
        )
    return f"nullif(regexp_extract({c}, '^{part}:(.*)$', 1), '')"


def stage_discover_csv(
    ing: Loader, path: Path, shape: Shape, label: str, rejects: list[Reject], result: FileResult
) -> tuple[bool, bool]:
    """Discover/Explore CSV ("Export All" server aliases or client-side headers), read by DuckDB.

    Malformed rows go to ``rejects`` with their line and text (DuckDB's ``store_rejects``). A good
    row's number is its data row + 1 (the header).
    """
    con = ing.con
    # DuckDB appends to the rejects tables across reads: the previous CSV file's bad rows would
    # be counted again for this one.
    con.execute("DROP TABLE IF EXISTS triage_csv_errors")
    con.execute("DROP TABLE IF EXISTS triage_csv_scans")
    comp = shape.compression or "none"
    read = (
        "read_csv(?, all_varchar=true, header=true, delim=',', quote='\"', escape='\"', "
        f"compression='{comp}', strict_mode=true, store_rejects=true, "
        "rejects_table='triage_csv_errors', rejects_scan='triage_csv_scans')"
    )
    try:
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE tab AS SELECT *, row_number() OVER () + 1 AS __line "
            f"FROM {read}",
            [str(path)],
        )
    except (duckdb.Error, UnicodeDecodeError):
        # DuckDB refuses the whole file for one unterminated quote: read it row by row instead.
        header = _csv_by_rows(ing, path, shape, label, rejects)
        if header is None:
            return False, False
        return _stage_table(ing, header, label, rejects, result)
    for line, text, reason in con.execute(
        "SELECT line, any_value(csv_line), string_agg(DISTINCT error_message, '; ') "
        "FROM triage_csv_errors GROUP BY line ORDER BY line"
    ).fetchall():
        rejects.append(
            Reject(int(line), f"malformed CSV row: {reason}", (text or "")[:RAW_TEXT_LIMIT])
        )
    header = [r[0] for r in con.execute("DESCRIBE tab").fetchall()]
    return _stage_table(ing, header, label, rejects, result)


def _csv_by_rows(
    ing: Loader, path: Path, shape: Shape, label: str, rejects: list[Reject]
) -> list[str] | None:
    """``tab`` from a CSV DuckDB refused: each row parsed on its own (Python's csv), a row that
    does not parse rejected on its line, the next line that parses as a row read on."""
    with inputs.open_bounded(path, shape.compression, ing.bounds, label=label) as fh:
        try:
            text = fh.read().decode("utf-8", "replace").lstrip("\ufeff")
        except (OSError, EOFError, zstandard.ZstdError) as exc:
            rejects.append(Reject(1, f"cannot read (truncated or corrupt compression?): {exc}", ""))
            return None
    first = text.split("\n", 1)[0]
    header = next(csv.reader([first]), [])
    if not header:
        rejects.append(Reject(1, "CSV without a header line", first[:RAW_TEXT_LIMIT]))
        return None
    header = [h if h else f"column{i}" for i, h in enumerate(header, start=1)]
    tmp = inputs.temp_path(".ndjson")
    try:
        with open(tmp, "w", encoding="utf-8") as out:
            for line, row, raw in recover.iter_csv_rows(text):
                if row is None:
                    rejects.append(
                        Reject(
                            line,
                            f"malformed CSV row: not {len(header)} fields (an unterminated quote?)",
                            raw[:RAW_TEXT_LIMIT],
                        )
                    )
                    continue
                rec = dict(zip(header, row, strict=True))
                rec["__line"] = line
                out.write(json.dumps(rec, ensure_ascii=False) + "\n")
        spec = "{" + ", ".join(f"{lit(c)}: 'VARCHAR'" for c in header) + ", '__line': 'BIGINT'}"
        ing.con.execute(
            f"CREATE OR REPLACE TEMP TABLE tab AS SELECT * FROM read_json(?, "
            f"format='newline_delimited', columns={spec})",
            [str(tmp)],
        )
    finally:
        tmp.unlink(missing_ok=True)
    return header


def stage_discover_json(
    ing: Loader, path: Path, shape: Shape, label: str, rejects: list[Reject], result: FileResult
) -> tuple[bool, bool]:
    """``{data: [row...], meta: {fields}}`` from the events API; row keys are the field strings.

    One page is small (the API pages it), so it is parsed whole; rows then take the CSV path.
    """
    try:
        with inputs.open_bounded(path, shape.compression, ing.bounds, label=label) as fh:
            raw = fh.read()
        doc = recover.loads(raw)
    except (OSError, EOFError, zstandard.ZstdError, ValueError) as exc:
        rejects.append(Reject(1, f"cannot read Discover JSON: {exc}", ""))
        return False, False
    pages = doc if isinstance(doc, list) else [doc]
    rows: list[tuple[int, dict]] = []
    header: dict[str, None] = {}
    n = 0
    for page in pages:
        if not isinstance(page, dict) or not isinstance(page.get("data"), list):
            n += 1
            rejects.append(
                Reject(n, "not a {data, meta} object", json.dumps(page)[:RAW_TEXT_LIMIT])
            )
            continue
        for key in (page.get("meta") or {}).get("fields") or {}:
            header[key] = None
        for row in page["data"]:
            n += 1
            if not isinstance(row, dict):
                rejects.append(Reject(n, "row is not an object", json.dumps(row)[:RAW_TEXT_LIMIT]))
                continue
            for key in row:
                header[key] = None
            rows.append((n, row))
    cols = [h for h in header if h != "__line"]
    if not rows:
        return False, False  # an empty page (no rows): 0 records, not an error
    tmp = inputs.temp_path(".ndjson")
    with open(tmp, "w", encoding="utf-8") as t:
        for line, row in rows:
            rec = {
                k: (v if isinstance(v, str) or v is None else json.dumps(v)) for k, v in row.items()
            }
            rec["__line"] = line
            t.write(json.dumps(rec, ensure_ascii=False) + "\n")
    try:
        spec = "{" + ", ".join(f"{lit(c)}: 'VARCHAR'" for c in cols) + ", '__line': 'BIGINT'}"
        ing.con.execute(
            f"CREATE OR REPLACE TEMP TABLE tab AS SELECT * FROM read_json(?, "
            f"format='newline_delimited', columns={spec})",
            [str(tmp)],
        )
    finally:
        tmp.unlink(missing_ok=True)
    return _stage_table(ing, cols, label, rejects, result)
