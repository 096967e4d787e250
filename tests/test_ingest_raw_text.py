"""The record text built on demand (not stored per row): id-less events and rejected issues.

The JSON fast path no longer keeps a ``__raw`` column; these pin what that text is used for.
"""

from __future__ import annotations

import json


def test_event_without_id_gets_the_same_id_on_the_fast_and_the_slow_path(db, tmp_path):
    events = [
        {"message": "no id here", "level": "error", "tags": {"a": "1"}},
        {"event_id": "", "message": "empty id"},
        {"event_id": "ab" * 16, "message": "has an id"},
    ]
    lines = [json.dumps(e) for e in events]
    fast = tmp_path / "fast.ndjson"
    fast.write_text("\n".join(lines) + "\n")
    slow = tmp_path / "slow.ndjson"  # a blank line sends it through the record-by-record reader
    slow.write_text("\n\n".join(lines) + "\n")
    first = db.ingest([fast]).files[0]
    ids = [
        r[0] for r in db.con.execute("SELECT event_id FROM events ORDER BY source_line").fetchall()
    ]
    assert (first.added, first.rejects) == (3, 0)
    assert len(set(ids)) == 3 and all(len(i) == 32 for i in ids) and ids[2] == "ab" * 16
    second = db.ingest([slow]).files[0]
    assert (second.added, second.duplicates) == (0, 3)


def test_issue_without_id_is_rejected_with_its_own_text(db, tmp_path):
    issues = [
        {"id": "1", "shortId": "APP-1", "title": "fine", "count": "3"},
        {"title": "orphan issue", "firstSeen": "2024-01-01T00:00:00Z", "count": "2"},
    ]
    f = tmp_path / "issues.ndjson"
    f.write_text("\n".join(json.dumps(i) for i in issues) + "\n")
    res = db.ingest([f]).files[0]
    assert (res.kind, res.added, res.rejects) == ("api-issues", 1, 1) and res.accounted
    rej = db.rejects().to_dict("records")
    assert rej[0]["source_line"] == 2 and "without `id`" in rej[0]["reason"]
    assert json.loads(rej[0]["raw_text"])["title"] == "orphan issue"


def test_one_read_gives_the_hash_and_finds_blank_lines_anywhere(tmp_path):
    import hashlib

    from triage.ingest.ingester import _scan

    line = b'{"message": "x"}'
    cases = {
        b"": False,
        line + b"\n" + line + b"\n": False,
        line + b"\r\n" + line + b"\r\n": False,
        line + b"\n\n" + line: True,
        line + b"\r\n\r\n" + line: True,
        b"\n" + line: True,
        # on a 1 MiB read boundary: the blank line spans two chunks
        b"x" * ((1 << 20) - 1) + b"\n\n" + line: True,
        b"x" * ((1 << 20) - 1) + b"\n" + line: False,
    }
    for i, (data, blank) in enumerate(cases.items()):
        f = tmp_path / f"{i}.ndjson"
        f.write_bytes(data)
        assert _scan(f) == (hashlib.sha256(data).hexdigest(), blank), i
