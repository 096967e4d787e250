"""Discover/Explore exports (CSV both ways, JSON {data, meta}), compression, stdin and globs."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import zstandard

import triage

E1, E2, E3 = "1" * 32, "2" * 32, "3" * 32


def _events(db):
    return {r["event_id"]: r for r in db.sql("SELECT * FROM events").to_dict("records")}


SERVER_CSV = (
    "id,title,timestamp,level,issue,issue.id,user.display,release,tags[foo],customer_tier\r\n"
    f'{E1},"composio unavailable: no backend session token",2026-01-02T03:04:05+00:00,error,'
    "OPENHUMAN-TAURI-1N,6001,id:7,app@1,bar,gold\r\n"
    f'{E2},"=SUM(1) said, with a comma",2026-01-02T03:04:10Z,warning,OPENHUMAN-TAURI-1N,6001,'
    "email:a@b.example,,,\r\n"
    "this row is short\r\n"
    f"{E3},rust panic,2026-01-03T00:00:00Z,fatal,unknown,,ip:10.0.0.1,,,\r\n"
)


def test_server_side_csv_events_with_issue_tags_and_users(db, tmp_path):
    f = tmp_path / "discover.csv"
    f.write_text(SERVER_CSV)
    res = db.ingest([f]).files[0]
    assert res.kind == "discover-csv"
    assert (res.records, res.added, res.rejects) == (4, 3, 1) and res.accounted
    rej = db.rejects().to_dict("records")[0]
    assert rej["source_line"] == 4 and "this row is short" in rej["raw_text"]
    ev = _events(db)
    a = ev[E1]
    assert a["message"] == "composio unavailable: no backend session token"
    assert (a["level"], a["release"], a["user_id"]) == ("error", "app@1", "7")
    assert a["tags"] == {"foo": "bar", "customer_tier": "gold"}
    assert (a["group_id"], a["group_key"], a["short_id"]) == ("6001", "6001", "OPENHUMAN-TAURI-1N")
    assert str(a["ts"]) == "2026-01-02 03:04:05+00:00"
    assert ev[E2]["user_id"].startswith("anon:")  # an email is never stored
    assert ev[E3]["level"] == "fatal" and pd.isna(ev[E3]["group_id"])
    groups = db.groups().to_dict("records")
    assert [(g["id"], g["short_id"]) for g in groups] == [("6001", "OPENHUMAN-TAURI-1N")]
    # The report names the group by its short id.
    rep = db.report("openhuman").groups.set_index("group")
    assert rep.loc["OPENHUMAN-TAURI-1N", "events"] == 2


def test_client_side_csv_headers_and_quote_prefix(db, tmp_path):
    f = tmp_path / "Discover 2026-01-02.csv"
    f.write_text(
        'id,message,timestamp,tags[level],"count()",issue\n'
        f"{E1},'=1+1 is not a formula,2026-01-02T03:04:05Z,warning,1,APP-9\n"
    )
    res = db.ingest([f]).files[0]
    assert res.added == 1
    e = _events(db)[E1]
    assert e["message"] == "=1+1 is not a formula"  # the ' Discover added is removed
    assert e["level"] == "warning"  # from tags[level]
    assert (e["short_id"], e["group_key"]) == ("APP-9", "APP-9")


def test_aggregate_csv_rows_are_groups(db, tmp_path):
    f = tmp_path / "agg.csv"
    f.write_text(
        "issue,issue.id,title,count_id,count_unique_user,last_seen\r\n"
        "APP-1,11,boom,25,3,2026-01-02T00:00:00Z\r\n"
        "APP-2,12,bang,7,1,2026-01-03T00:00:00Z\r\n"
    )
    res = db.ingest([f]).files[0]
    assert (res.unit, res.added, res.records) == ("groups", 2, 2)
    g = db.groups().set_index("short_id")
    assert g.loc["APP-1", "times_seen"] == 25 and g.loc["APP-1", "user_count"] == 3
    assert g.loc["APP-2", "id"] == "12"
    # Client-side headers for the same aggregates.
    f2 = tmp_path / "agg2.csv"
    f2.write_text('issue,"count()","count_unique(user)"\nAPP-1,30,4\n')
    db.ingest([f2])
    g = db.groups().set_index("short_id")
    assert (g.loc["APP-1", "times_seen"], g.loc["APP-1", "user_count"]) == (30, 4)
    assert g.loc["APP-1", "title"] == "boom"  # what the new row did not say is kept


def test_aggregates_without_an_issue_are_counted_as_skipped(db, tmp_path):
    f = tmp_path / "by-title.csv"
    f.write_text("title,count()\nboom,3\nbang,4\n")
    res = db.ingest([f]).files[0]
    assert (res.records, res.added, res.skipped) == (2, 0, 2) and res.accounted
    assert "nothing to store" in res.notes[0]


def test_discover_json_event_rows(db, tmp_path):
    doc = {
        "data": [
            {"id": E1, "title": "boom", "timestamp": "2026-01-02T03:04:05+00:00", "issue": "A-1"},
            "not a row",
        ],
        "meta": {"fields": {"id": "string", "title": "string", "timestamp": "date"}},
    }
    f = tmp_path / "events.json"
    f.write_text(json.dumps(doc))
    res = db.ingest([f]).files[0]
    assert (res.kind, res.records, res.added, res.rejects) == ("discover-json", 2, 1, 1)
    assert _events(db)[E1]["message"] == "boom"


def test_compressed_files_whatever_their_names(db, tmp_path):
    ev = lambda i: json.dumps({"event_id": f"{i:032x}", "message": f"m{i}"})  # noqa: E731
    data = ("\n".join(ev(i) for i in range(1, 51)) + "\n").encode()
    (tmp_path / "a.ndjson.zst").write_bytes(zstandard.ZstdCompressor().compress(data))
    (tmp_path / "b.data").write_bytes(gzip.compress(data.replace(b'"m', b'"n')))
    (tmp_path / "c.csv.gz").write_bytes(gzip.compress(SERVER_CSV.encode()))
    res = db.ingest([tmp_path / "*.*"])
    by = {f.path.rsplit("/", 1)[1]: f for f in res.files}
    assert by["a.ndjson.zst"].shape == "raw (ndjson, zstd)" and by["a.ndjson.zst"].added == 50
    assert by["b.data"].duplicates == 50  # same ids, other compression
    assert by["c.csv.gz"].kind == "discover-csv" and by["c.csv.gz"].added == 3


def test_truncated_zstd_keeps_what_came_before(db, tmp_path):
    lines = [json.dumps({"event_id": f"{i:032x}", "message": "x" * 200}) for i in range(2000)]
    blob = zstandard.ZstdCompressor().compress(("\n".join(lines) + "\n").encode())
    f = tmp_path / "cut.ndjson.zst"
    f.write_bytes(blob[: len(blob) // 2])
    res = db.ingest([f]).files[0]
    assert res.rejects == 1 and 0 < res.added < 2000 and res.accounted
    assert "truncated" in db.rejects()["reason"][0]


def test_stdin_through_the_cli(tmp_path):
    dbp = tmp_path / "t.duckdb"
    payload = gzip.compress(
        (json.dumps({"event_id": E1, "message": "from a pipe"}) + "\n").encode()
    )
    cmd = [str(Path(sys.executable).with_name("triage")), "ingest", "--db", str(dbp), "-"]
    out = subprocess.run(cmd, input=payload, capture_output=True, check=False)
    assert out.returncode == 0, out.stderr.decode()
    assert b"<stdin>: raw (ndjson, gzip)" in out.stderr
    with triage.open(dbp) as db:
        assert db.events()["message"].tolist() == ["from a pipe"]
        assert db.ingest_log()["source_file"].tolist() == ["<stdin>"]
