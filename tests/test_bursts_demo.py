"""Polling bursts on the demo export and on small hand-made streams, through API, CLI and report."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from events_factory import raw_event, write_ndjson

import triage
from triage.analysis.bursts import format_period
from triage.cli import main


def test_demo_composio_group_is_one_user_polling_every_5_s(demo_db):
    b = demo_db.bursts()
    top = b.df.iloc[0]
    assert (top["user"], top["events"], top["share"]) == ("u-7f3a91", 253, 1.0)
    assert abs(top["period_s"] - 5.0) < 0.05
    assert format_period(top["period_s"]) == "every 5.0 s"
    assert top["regularity"] > 0.9
    # The demo's billing loop: two users each polling every minute, half the group each.
    billing = b.df[b.df["events"] == 45]
    assert len(billing) == 2 and set(billing["share"]) == {0.5}
    assert all(abs(p - 60) < 1.5 for p in billing["period_s"])
    # Groups of many users at random times have no bursts.
    assert len(b) == 3


def test_by_tag_names_the_method(demo_db):
    b = demo_db.bursts(by="method")
    top = b.df.iloc[0]
    assert top["tag_value"] == "openhuman.composio_list_connections"
    assert top["events"] == 253
    csv = b.to_csv().splitlines()
    assert csv[0].split(",")[:3] == ["group", "user", "method"]
    # A tag no event carries finds nothing (and is not an error).
    assert len(demo_db.bursts(by="no-such-tag")) == 0


def test_min_events_is_a_floor(demo_db):
    assert len(demo_db.bursts(min_events=46)) == 1
    assert len(demo_db.bursts(min_events=254)) == 0
    with pytest.raises(ValueError, match="min_events"):
        demo_db.bursts(min_events=2)
    with pytest.raises(ValueError, match="min_regularity"):
        demo_db.bursts(min_regularity=1.5)


def test_report_columns_carry_burst_evidence():
    groups = triage.run().groups
    row = groups[groups["title"].str.contains("composio unavailable")].iloc[0]
    assert row["burst_events"] == 253 and row["bursting_users"] == 1
    assert row["top_user_share"] == 1.0 and bool(row["polling"])
    assert abs(row["period_s"] - 5.0) < 0.05
    bug = groups[groups["title"].str.contains("Cannot read properties")].iloc[0]
    assert bug["burst_events"] == 0 and not bool(bug["polling"])
    assert bug["top_user_share"] == pytest.approx(1 / 40, abs=1e-3)


def test_report_markdown_and_csv_show_polling():
    rep = triage.run()
    assert "1 user every 5.0 s" in rep.to_markdown()
    header = rep.to_csv().splitlines()[0].split(",")
    for col in ("burst_events", "bursting_users", "top_user_share", "period_s", "polling"):
        assert col in header


def test_cli_table_json_and_csv():
    r = CliRunner().invoke(main, ["bursts", "--demo"])
    assert r.exit_code == 0, r.output
    assert "u-7f3a91" in r.stdout and "every 5.0 s" in r.stdout and "100%" in r.stdout
    r = CliRunner().invoke(main, ["bursts", "--demo", "--format", "json"])
    doc = json.loads(r.stdout)
    assert doc["schema"] == "triage.bursts/1" and doc["by"] is None
    first = doc["bursts"][0]
    assert first["every"] == "every 5.0 s" and first["share"] == 1.0
    assert first["start"].startswith("2026-05-11T08:03:00")
    r = CliRunner().invoke(main, ["bursts", "--demo", "--by", "method", "--format", "csv"])
    assert r.stdout.splitlines()[1].split(",")[2] == "openhuman.composio_list_connections"


def test_cli_errors_are_usage_errors(tmp_path):
    r = CliRunner().invoke(main, ["bursts", "--db", str(tmp_path / "none.duckdb")])
    assert r.exit_code == 2 and "does not exist" in r.output
    r = CliRunner().invoke(main, ["bursts", "--demo", "--min-events", "1"])
    assert r.exit_code == 2
    r = CliRunner().invoke(main, ["bursts", "--demo", "--by", " "])
    assert r.exit_code == 2 and "tag" in r.output


def test_cli_reads_a_database_file(tmp_path):
    path = tmp_path / "t.duckdb"
    with triage.open(path) as s:
        s.ingest(triage.demo_paths())
    r = CliRunner().invoke(main, ["bursts", "--db", str(path), "--min-events", "50"])
    assert r.exit_code == 0, r.output
    assert "u-7f3a91" in r.stdout and "u-1c02d4" not in r.stdout


def _poll(seed, n, every, user="u-1", start=0, message="poll failed", **kw):
    return [
        raw_event(seed, start + i, message=message, user=user, every=every, **kw) for i in range(n)
    ]


def test_restart_after_a_long_gap_is_two_bursts(db, tmp_path):
    # 30 polls every 10 s, the app closed for an hour (360 periods), 30 more.
    events = _poll("a", 30, 10.0) + _poll("b", 30, 10.0, start=390)
    db.ingest([write_ndjson(tmp_path / "e.ndjson", events)])
    df = db.bursts().df
    assert list(df["events"]) == [30, 30]
    assert all(abs(p - 10.0) < 1e-6 for p in df["period_s"])
    assert list(df["share"]) == [0.5, 0.5]


def test_events_without_user_or_below_min_events_are_not_bursts(db, tmp_path):
    anon = [dict(e, user=None) for e in _poll("anon", 40, 5.0)]
    short = _poll("short", 19, 5.0, user="u-short", message="other")
    db.ingest([write_ndjson(tmp_path / "e.ndjson", anon + short)])
    assert len(db.bursts()) == 0
    assert len(db.bursts(min_events=19)) == 1


def test_html_repr_escapes_and_shows_the_period(demo_db):
    html = demo_db.bursts(by="method")._repr_html_()
    assert "every 5.0 s" in html and "<table" in html


def test_user_ids_that_are_emails_or_ips_are_masked(db, tmp_path):
    events = _poll("m", 25, 5.0, user="jane@example.com") + _poll(
        "i", 25, 5.0, user="203.0.113.7", message="other"
    )
    db.ingest([write_ndjson(tmp_path / "e.ndjson", events)])
    b = db.bursts()
    assert len(b) == 2
    assert all(u.startswith("anon:") for u in b.df["user"])
    for text in (b.to_json(), b.to_csv(), b._repr_html_()):
        assert "jane@" not in text and "203.0.113.7" not in text
