"""Fields and groups on real payloads written by others (../shared/corpus/real-payloads/).

- Files that carry Sentry's own `title` (web API and JSON-link copies, GlitchTip's `oss_*`): the
  title we compute from the raw copy of the same event is byte-equal to Sentry's, and the title
  stored for the file itself is Sentry's.
- The raw, JSON-link and web-API copies of each GlitchTip event land in one group.
- No transaction is stored as an event, whatever the shape.

Skips when ../shared is absent (``TRIAGE_SHARED`` names another folder).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

import triage

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("TRIAGE_SHARED") or REPO.parent / "shared")
PAYLOADS = SHARED / "corpus" / "real-payloads"
GLITCHTIP = PAYLOADS / "glitchtip"
COPIES = ("gt-oss_sentry_events-", "gt-oss_sentry_json-")


def _records(path: Path) -> list[dict]:
    """The JSON objects of a file (one object, an array, or NDJSON); [] when it is not JSON."""
    text = path.read_text(encoding="utf-8", errors="replace")
    try:
        doc = json.loads(text)
        return [d for d in (doc if isinstance(doc, list) else [doc]) if isinstance(d, dict)]
    except ValueError:
        out = []
        for line in text.splitlines():
            try:
                obj = json.loads(line)
            except ValueError:
                continue
            if isinstance(obj, dict):
                out.append(obj)
        return out


def _stem(path: Path) -> str:
    """The event a GlitchTip file holds: `python_logging` for all three of its copies."""
    name = path.name
    for prefix in COPIES:
        if name.startswith(prefix):
            return name[len(prefix) : -len(".json")]
    return name[len("gt-") : -len(".json")]


@pytest.fixture(scope="module")
def corpus():
    if not GLITCHTIP.is_dir():
        pytest.skip(f"{PAYLOADS} is not present")
    return PAYLOADS


# Why a selection, not the whole corpus: each file is one ingest (one transaction, one
# normalize); these folders hold every shape with Sentry's titles, every transaction-bearing
# file but a few, and the files of the hand-checked table.
FOLDERS = ("glitchtip", "relay", "self-hosted", "sentry-go")


def _event_id(record: dict) -> str:
    return str(record.get("eventID") or record.get("event_id") or "").replace("-", "").lower()


@pytest.fixture(scope="module")
def stored(corpus):
    """The selection ingested into one database: rows by event id, and the files read."""
    table = REPO / "tests" / "data" / "real_payload_fields.csv"
    files = [corpus / folder for folder in FOLDERS]
    files += [
        corpus / r.split(",", 1)[0] for r in table.read_text(encoding="utf-8").splitlines()[1:]
    ]
    files += [
        p
        for p in (corpus / "event-samples").glob("*.json")
        if '"transaction"' in p.read_text(errors="replace")
    ]
    files += [corpus / "sentry-java" / "java-sentry_event.json"]
    with triage.open(":memory:") as db:
        db.ingest([str(f) for f in dict.fromkeys(files)])
        rows = db.sql(
            "SELECT event_id, source_file, group_key, title, message, platform FROM events"
        )
        skipped = int(db.sql("SELECT sum(skipped) AS n FROM ingest_log")["n"][0])
    read = sorted({p for f in files for p in ([f] if f.is_file() else f.rglob("*")) if p.is_file()})
    return {r.event_id: r for r in rows.itertuples(index=False)}, read, skipped


def test_title_of_the_raw_copy_is_sentrys(corpus):
    pairs = {
        GLITCHTIP / f"gt-{_stem(p)}.json": _records(p)[0]["title"]
        for p in sorted(GLITCHTIP.glob("gt-oss_sentry_*.json"))
        if (GLITCHTIP / f"gt-{_stem(p)}.json").exists()
    }
    assert len(pairs) >= 10
    with triage.open(":memory:") as db:  # the raw copies alone: no Sentry title to take
        db.ingest([str(p) for p in pairs])
        got = dict(db.sql("SELECT event_id, title FROM events").itertuples(index=False))
    wrong = [
        (raw.name, want, got.get(_event_id(_records(raw)[0])))
        for raw, want in pairs.items()
        if got.get(_event_id(_records(raw)[0])) != want
    ]
    assert not wrong, wrong


def test_stored_title_is_sentrys_for_files_that_carry_it(stored):
    rows, read, _ = stored
    titled = [
        (path.name, _event_id(r), r["title"])
        for path in read
        for r in _records(path)
        if isinstance(r.get("title"), str) and _event_id(r)
    ]
    assert len(titled) >= 30
    wrong = [(n, t, rows[k].title) for n, k, t in titled if k in rows and rows[k].title != t]
    assert not wrong, wrong


def test_three_copies_of_a_glitchtip_event_land_in_one_group(stored):
    rows, _, _ = stored
    checked = 0
    for copy in sorted(GLITCHTIP.glob("gt-oss_sentry_events-*.json")):
        stem = _stem(copy)
        paths = [GLITCHTIP / f"gt-{stem}.json", GLITCHTIP / f"gt-oss_sentry_json-{stem}.json", copy]
        ids = {_event_id(r) for p in paths if p.exists() for r in _records(p)[:1]}
        keys = {rows[i].group_key for i in ids if i in rows}
        assert len(keys) == 1, (stem, keys)
        checked += 1
    assert checked >= 10


def test_no_transaction_is_stored_as_an_event(corpus, stored):
    rows, read, skipped = stored
    payloads = [
        r
        for p in read
        for r in _records(p)
        if r.get("type") == "transaction" and ("spans" in r or "start_timestamp" in r)
    ]
    assert len(payloads) >= 5
    assert skipped >= len(payloads)  # every transaction counted as skipped, in any shape
    sources = {Path(r.source_file).name for r in rows.values()}
    # a lone transaction event, and an envelope with one: nothing stored
    assert "go-transaction_event.golden" not in sources
    assert "sh-envelope-with-transaction" not in sources
    # (An envelope written as a JSON array, [header, item header, payload], repeats the
    # transaction's id in its header object; that header is not an export record at all, and
    # files that are not exports are another issue's.)


def test_fields_of_other_payloads_match_the_hand_checked_table(corpus, stored):
    """Payloads without Sentry's own title: message, title and platform as checked by hand
    against each file (tests/data/real_payload_fields.csv)."""
    import csv

    rows, _, _ = stored
    table = REPO / "tests" / "data" / "real_payload_fields.csv"
    checked = list(csv.DictReader(table.open(encoding="utf-8")))
    assert len(checked) >= 15
    wrong = []
    for row in checked:
        event_id = _event_id(_records(corpus / row["file"])[0])
        got = rows.get(event_id)
        want = (row["message"] or None, row["title"], row["platform"])
        message = got.message if got is not None and isinstance(got.message, str) else None
        if got is None or (message, got.title, got.platform) != want:
            wrong.append((row["file"], want, got))
    assert not wrong, wrong
