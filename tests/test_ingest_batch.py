"""Many small files: read, normalized and stored per batch, with the same result as one by one.

The batch path (triage.ingest.Ingester.ingest_batch) must leave exactly the tables the file-by-
file path leaves: every column of every event, the ingest_log rows (per-file accounting) and the
rejects. These tests ingest the same inputs both ways into fresh databases and compare.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

import triage
from triage.ingest import ingester as ingest

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent.parent / "shared"
if not SHARED.exists():
    SHARED = Path("/work/shared")


def _tables(db) -> dict[str, list]:
    con = db.con
    return {
        "events": con.execute(
            "SELECT * EXCLUDE (ingested_at) FROM events ORDER BY source_file, source_line, event_id"
        ).fetchall(),
        "ingest_log": con.execute(
            "SELECT * EXCLUDE (ingested_at) FROM ingest_log ORDER BY source_file"
        ).fetchall(),
        "lines": sorted(
            con.execute("SELECT DISTINCT source_file, source_line FROM events").fetchall()
        ),
        "rejects": con.execute(
            "SELECT * EXCLUDE (rejected_at) FROM rejects ORDER BY source_file, source_line, reason"
        ).fetchall(),
    }


def _both_ways(
    tmp_path: Path, monkeypatch, paths: list[Path], expect_batch: bool = True
) -> tuple[dict, dict, list, list]:
    """Ingest ``paths`` batched and one by one; (tables, tables, results, results).
    Asserts that the batched run stored at least one batch (did not fall back every time)."""
    out = []
    stored = []
    batch = ingest.Ingester._batch

    def counting(self, todo):
        done = batch(self, todo)
        stored.append(len(done))
        return done

    monkeypatch.setattr(ingest.Ingester, "_batch", counting)
    for mode in ("batch", "one"):
        monkeypatch.setattr(ingest, "BATCH_FILES", 500 if mode == "batch" else 1)
        with triage.open(tmp_path / f"{mode}.duckdb") as db:
            r = db.ingest([str(p) for p in paths])
            out.append((_tables(db), r))
    (a, ra), (b, rb) = out
    assert stored or not expect_batch, "no batch was stored: every file went one by one"
    return a, b, ra.files, rb.files


def _one_event_files(folder: Path, n: int = 40) -> list[dict]:
    folder.mkdir()
    events = []
    for i in range(n):
        ev = {
            "event_id": f"{i:032x}",
            "timestamp": 1780000000 + i * 5,
            "level": ["error", "warning", 40, "fatal"][i % 4],
            "platform": "python",
            "logger": "app",
            "message": f"composio unavailable: no backend session token {i}",
            "tags": {"method": f"m{i % 3}", "n": i} if i % 5 else [["method", "pairs"]],
            "user": {"id": f"u{i % 7}"} if i % 2 else {"email": f"x{i}@example.com"},
        }
        if i % 3 == 0:
            ev["exception"] = {"values": [{"type": "KeyError", "value": f"'k{i}'"}]}
        events.append(ev)
        text = json.dumps(ev, indent=2) if i % 2 else json.dumps(ev)
        (folder / f"e{i:03d}.json").write_text(text, encoding="utf-8")
    # a small NDJSON and a small array in the same folder
    (folder / "few.ndjson").write_text(
        "\n".join(json.dumps(dict(e, event_id=f"{100 + k:032x}")) for k, e in enumerate(events[:3]))
        + "\n",
        encoding="utf-8",
    )
    (folder / "few-array.json").write_text(
        json.dumps([dict(e, event_id=f"{200 + k:032x}") for k, e in enumerate(events[:3])]),
        encoding="utf-8",
    )
    return events


def test_one_event_files_land_as_one_batch_with_per_file_accounting(tmp_path, monkeypatch):
    folder = tmp_path / "events"
    _one_event_files(folder)
    a, b, files_a, files_b = _both_ways(tmp_path, monkeypatch, [folder])
    assert a == b
    assert len(a["events"]) == 46 and len(a["ingest_log"]) == 42
    assert [(f.path, f.records, f.added, f.duplicates, f.rejects) for f in files_a] == [
        (f.path, f.records, f.added, f.duplicates, f.rejects) for f in files_b
    ]
    assert all(f.accounted for f in files_a)
    # Line numbers: the record's position in its own file.
    lines = {(Path(f).name, n) for f, n in a["lines"]}
    assert ("few.ndjson", 3) in lines and ("few-array.json", 3) in lines


def test_a_batch_lands_in_one_transaction_and_a_rerun_is_a_no_op(tmp_path, monkeypatch):
    folder = tmp_path / "events"
    _one_event_files(folder, n=10)
    with triage.open(tmp_path / "t.duckdb") as db:
        statements = []
        db.con.execute("SELECT 1")  # the connection is live
        first = db.ingest([folder])
        again = db.ingest([folder])
        statements.append(db.con.execute("SELECT count(*) FROM events").fetchone()[0])
    assert first.added == 16 and not first.rejects
    assert again.already_ingested == len(again.files) == 12 and again.added == 0
    assert statements == [16]


def test_odd_files_in_the_folder_fall_back_one_by_one_with_the_same_result(tmp_path, monkeypatch):
    folder = tmp_path / "events"
    events = _one_event_files(folder, n=12)
    (folder / "broken.json").write_text('{"event_id": "ab", "message": ', encoding="utf-8")
    (folder / "list-of-one-string.json").write_text('["not an event"]', encoding="utf-8")
    (folder / "bad-utf8.json").write_bytes(b'{"event_id": "cd", "message": "\xff"}')
    # The same event in two files (the second through another shape): it merges, not adds.
    (folder / "zz-again.json").write_text(
        json.dumps(dict(events[1], groupID="313", title="x")), encoding="utf-8"
    )
    (folder / "zz-copy.json").write_text((folder / "e002.json").read_text(), encoding="utf-8")
    a, b, files_a, _ = _both_ways(tmp_path, monkeypatch, [folder])
    assert a == b
    assert len(a["rejects"]) >= 3
    assert all(f.accounted for f in files_a)


@pytest.mark.parametrize(
    "where",
    [REPO / "fixtures", SHARED / "samples", SHARED / "corpus" / "real-payloads"],
    ids=["fixtures", "samples", "real-payloads"],
)
def test_batched_and_one_by_one_agree_on_real_exports(tmp_path, monkeypatch, where):
    if not where.exists():
        pytest.skip(f"{where} is absent")
    # A copy, so that the demo database and other non-exports are not in the way; of the real
    # payloads every fourth file (every shape is there; the one-by-one reference is slow).
    copy = tmp_path / "in"
    files = sorted(
        f
        for f in where.rglob("*")
        if f.is_file() and f.suffix not in (".py", ".md") and ".duckdb" not in f.name
    )
    if where.name == "real-payloads":
        files = files[::4]
    for f in files:
        dst = copy / f.relative_to(where)
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(f, dst)
    # A batch is expected when two or more files hold events (the demo's issues list and the
    # grouping cases, a table of test inputs, do not).
    events = [
        f
        for f in files
        if f.name != "issues.json" and f.suffix != ".pyc" and f.parent.name != "grouping"
    ]
    a, b, files_a, _ = _both_ways(tmp_path, monkeypatch, [copy], len(events) > 1)
    assert a == b
    assert all(f.accounted for f in files_a)
    print(f"{where.name}: {len(files_a)} files, {len(a['events'])} events agree both ways")
