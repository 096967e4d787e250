"""The parity corpus: every rule example, every fixture and sample message, and case/Unicode
variants of each, as rows of rule fields; and the SQL classifier run over such rows."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pandas

from triage.rules import RuleTable, fields_of, load
from triage.targets.sql import compile_blocked

REPO = Path(__file__).resolve().parent.parent
SAMPLES = REPO.parent / "shared" / "samples"
STRESS = REPO / "tests" / "data" / "parity-stress.toml"
TABLES = ["openhuman", "openhuman-v0.53.20", "default", str(STRESS)]

# Code point swaps that trip naive case handling: Kelvin sign and long s fold to k/s in RE2 but
# do not lowercase to them; dotted/dotless i and final sigma differ between lower() flavours.
SWAPS = [
    ("k", "\u212a"),
    ("K", "\u212a"),
    ("s", "\u017f"),
    ("S", "\u017f"),
    ("i", "\u0130"),
    ("I", "\u0131"),
    ("ss", "\u00df"),
    ("SS", "\u1e9e"),
    ("e", "\u00e9"),
    (" ", "\u00a0"),
    (" ", "\n"),
    (" ", "\u2028"),
    ("o", "\u03bf"),
    ("a", "a\u0301"),
]


def variants(text: str) -> Iterator[str]:
    """The text and its case and Unicode variations."""
    yield text
    yield text.upper()
    yield text.lower()
    yield text.swapcase()
    yield text.title()
    for a, b in SWAPS:
        if a in text:
            yield text.replace(a, b)
            yield text.upper().replace(a.upper(), b)
    yield "\u03a3" + text + "\u03a3"
    yield "\U0001f600 " + text
    yield text + "\r"


def _strings(obj: object) -> Iterator[str]:
    if isinstance(obj, str):
        yield obj
    elif isinstance(obj, dict):
        for v in obj.values():
            yield from _strings(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from _strings(v)


def sample_messages() -> list[str]:
    """Every string in ../shared/samples (JSON files and envelope lines), when present."""
    out: list[str] = []
    if not SAMPLES.is_dir():
        return out
    for path in sorted(SAMPLES.iterdir()):
        if path.suffix not in (".json", ".envelope"):
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        docs = [text] if path.suffix == ".json" else text.splitlines()
        for doc in docs:
            try:
                out.extend(_strings(json.loads(doc)))
            except ValueError:
                out.append(doc)
    return out


def fixture_messages() -> list[str]:
    """Messages and exception values of the built-in demo export."""
    from triage.sentry import event_fields

    out = []
    for path in sorted((REPO / "fixtures").rglob("*.ndjson")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                f = event_fields(json.loads(line))
                out += [f["message"], f["exception.value"], f["exception.type"]]
    return out


def example_rows(tables: list[str]) -> list[dict[str, str]]:
    rows = []
    for spec in tables:
        for rule in load(spec).rules:
            rows += [dict(ex.fields) for ex in (*rule.match_examples, *rule.no_match_examples)]
    return rows


def corpus(tables: list[str] = TABLES) -> list[dict[str, str]]:
    """Rows of rule fields, deduplicated, in a stable order."""
    base: list[dict[str, str]] = example_rows(tables)
    base += [{"message": m} for m in fixture_messages() + sample_messages()]
    seen: set[str] = set()
    rows: list[dict[str, str]] = []
    for row in base:
        row = {k: v for k, v in row.items() if "\x00" not in v}
        if not row or sum(len(v) for v in row.values()) > 4000:
            continue
        per_field = {k: list(variants(v)) for k, v in row.items()}
        for i in range(max(len(vs) for vs in per_field.values())):  # all fields varied alike
            out = {k: vs[i] if i < len(vs) else row[k] for k, vs in per_field.items()}
            key = json.dumps(out, sort_keys=True)
            if key not in seen:
                seen.add(key)
                rows.append(out)
        for k, v in row.items():
            for var in variants(v):
                out = {**row, k: var}
                key = json.dumps(out, sort_keys=True)
                if key not in seen:
                    seen.add(key)
                    rows.append(out)
    return rows


def sql_classify(table: RuleTable, rows: list[dict[str, str]]) -> list[str | None]:
    """The SQL classifier (the reference; the gated form `classify` runs) over rows of fields."""
    fields: list[str] = []
    for rule in table.rules:
        fields += [f for f in fields_of(rule.condition) if f not in fields]
    col = {f: f"c{i}" for i, f in enumerate(fields)}
    compiled = compile_blocked(table, column=lambda f: col[f])
    con = duckdb.connect()
    try:
        frame = pandas.DataFrame(
            {"i": range(len(rows)), **{col[f]: [r.get(f, "") for r in rows] for f in fields}}
        )
        con.register("frame", frame)
        con.execute("CREATE TABLE rows AS SELECT * FROM frame")
        got = dict(con.execute(f"SELECT i, {compiled.expr} FROM rows", compiled.params).fetchall())
    finally:
        con.close()
    ids = [r.id for r in table.rules]
    return [ids[got[i] - 1] if got.get(i) else None for i in range(len(rows))]
