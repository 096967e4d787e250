"""The typed fast path: DuckDB's JSON reader with typed columns, normalized in the statement that
reads, for the common event shapes (raw SDK events, the "JSON" link, web API events).

Why: the lenient path reads every field as ``JSON`` into a temporary table, then the normalizer's
macros parse each value again per access (``json_type`` then ``json_extract``). Reading scalars
as ``VARCHAR`` and raw tags as a ``MAP`` lets the reader parse each value once, and reading and
normalizing in one statement writes no copy of the input.

It is a shortcut, never a second definition: ``queries/normalize_typed.sql`` replaces only the
first half of ``queries/normalize_raw.sql`` (reading the fields); the second half (message,
exception, template, user, group key) is the lenient file's own text, and grouping and dedupe run
after on the staged rows for both paths alike. A file whose values do not fit the typed columns
fails the reader and goes through the lenient path, which stays the reference.
``tests/test_ingest_typed.py`` proves both paths give the same rows, column for column.
"""

from __future__ import annotations

import hashlib
from functools import cache

from triage.ingest.records import RAW_COLUMNS
from triage.store import sqlfiles

# Read as VARCHAR: fields the normalizer only ever reads as text (triage_str). DuckDB's VARCHAR of
# any JSON value is what triage_str gives for it.
TEXT_FIELDS = {
    "event_id",
    "eventID",
    "id",
    "level",
    "platform",
    "logger",
    "transaction",
    "culprit",
    "environment",
    "project",
    "projectID",
    "group_id",
    "groupID",
    "shortId",
    "title",
}
# The split point of normalize_raw.sql: from here on, both paths share its text.
SHARED_FROM = "\ntexts AS ("
# SHA-256 (first 16 hex) of normalize_raw.sql before SHARED_FROM, the lenient first half that
# normalize_typed.sql mirrors. When that half changes, the typed path switches itself off (never
# a row that differs) until normalize_typed.sql is brought level and this hash updated.
MIRRORS = "bf797b6fc724127f"  # with Sentry grouping inputs (issue 13) in both


@cache
def in_step() -> bool:
    """Whether normalize_typed.sql still mirrors the lenient first half (see MIRRORS)."""
    lenient = sqlfiles.load("normalize_raw.sql")
    if SHARED_FROM not in lenient:
        return False
    first = lenient[: lenient.index(SHARED_FROM)]
    return hashlib.sha256(first.encode()).hexdigest()[:16] == MIRRORS


def columns(tags_map: bool) -> dict[str, str]:
    """The typed ``columns`` of read_json. Raw SDK events mostly carry tags as an object, read as
    a MAP (``tags_map``); the JSON link and the web API as lists of pairs, read as JSON."""
    cols = {c: ("VARCHAR" if c in TEXT_FIELDS else "JSON") for c in RAW_COLUMNS}
    cols["fingerprint"] = "VARCHAR[]"
    if tags_map:
        cols["tags"] = "MAP(VARCHAR, VARCHAR)"
    return cols


def tags_misfit(error: str) -> bool:
    """Whether the reader refused a MAP of tags (tags as pairs, or a key twice): then the file is
    read again with tags as JSON, still typed otherwise."""
    return "Map keys must be unique" in error or "Expected OBJECT, but got ARRAY" in error


def normalize_sql(tags_map: bool) -> str:
    """The normalizer over a typed ``raw_input``: typed first half + the lenient second half."""
    lenient = sqlfiles.load("normalize_raw.sql")
    if SHARED_FROM not in lenient:
        raise RuntimeError("normalize_raw.sql lost its `texts` relation: the typed path needs it")
    shared = lenient[lenient.index(SHARED_FROM) :]
    first = sqlfiles.load("normalize_typed.sql").rstrip()
    tags = "tags" if tags_map else "triage_tags(tags)"
    exp = "'-?[0-9]+(\\.[0-9]+)?e[-+][0-9]+'"
    exponent = " OR ".join(
        [f"regexp_full_match({_ident(f)}, {exp})" for f in sorted(TEXT_FIELDS)]
        + [f"list_bool_or(list_transform(fingerprint, lambda x: regexp_full_match(x, {exp})))"]
    )
    return first.replace("__TAGS__", tags).replace("__EXPONENT__", exponent) + shared


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
