"""triage prune: old events leave a daily pull's database; an erasure request removes a user."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

import triage
from triage.cli import main


def _write(path, events):
    path.write_text("".join(json.dumps(e) + "\n" for e in events))
    return path


def test_prune_before_a_date_and_by_user(db, tmp_path):
    db.ingest(triage.demo_paths())
    db.classify("openhuman")
    total = int(db.sql("SELECT count(*) AS n FROM events")["n"][0])
    old = int(db.sql("SELECT count(*) AS n FROM events WHERE ts < '2026-05-12'")["n"][0])
    assert 0 < old < total
    dry = db.prune(before="2026-05-12", dry_run=True)
    assert (dry.events, dry.dry_run) == (old, True)
    assert int(db.sql("SELECT count(*) AS n FROM events")["n"][0]) == total  # nothing deleted
    res = db.prune(before="2026-05-12")
    assert res.events == old
    left = db.sql("SELECT min(ts) AS t, count(*) AS n FROM events")
    assert str(left["t"][0]) >= "2026-05-12" and left["n"][0] == total - old
    orphans = db.sql(
        "SELECT count(*) AS n FROM classifications WHERE event_id NOT IN "
        "(SELECT event_id FROM events)"
    )["n"][0]
    assert orphans == 0
    # The report still runs on what is left.
    assert db.report("openhuman").totals["events"] == total - old


def test_erasure_by_email_finds_the_stand_in_id_and_rejects(db, tmp_path):
    f = _write(
        tmp_path / "e.ndjson",
        [
            {
                "event_id": "a" * 32,
                "message": "x",
                "timestamp": 1778486580.0,
                "user": {"email": "ada@example.com"},
            },
            {
                "event_id": "b" * 32,
                "message": "y",
                "timestamp": 1778486581.0,
                "user": {"id": "u-keep"},
            },
        ],
    )
    (tmp_path / "bad.ndjson").write_text('{"event_id": "c", "user": "ada@example.com", broken\n')
    db.ingest([f, tmp_path / "bad.ndjson"])
    assert db.sql("SELECT count(*) AS n FROM rejects")["n"][0] == 1
    # Rejects never hold the email (stored masked), so only the event goes.
    assert "ada@example.com" not in db.sql("SELECT raw_text FROM rejects")["raw_text"][0]
    res = db.prune(users=["ada@example.com"])
    assert (res.events, res.rejects) == (1, 0)
    assert list(db.sql("SELECT user_id FROM events")["user_id"]) == ["u-keep"]


def test_prune_needs_a_date_or_a_user(db):
    with pytest.raises(ValueError, match="nothing to prune"):
        db.prune()
    with pytest.raises(ValueError, match="not a date"):
        db.prune(before="last tuesday")


def test_cli_prune(demo_db):
    path = demo_db.path
    demo_db.close()
    runner = CliRunner()
    res = runner.invoke(main, ["prune", "--db", path, "--before", "2026-05-12", "--dry-run"])
    assert res.exit_code == 0, res.output
    assert "would delete 389 events" in res.output
    res = runner.invoke(main, ["prune", "--db", path, "--user", "u-7f3a91", "--format", "json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout) == {"events": 253, "rejects": 0, "dry_run": False}
    res = runner.invoke(main, ["prune", "--db", path])
    assert res.exit_code == 2 and "nothing to prune" in res.output
