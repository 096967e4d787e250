"""Every shape of Sentry export ingests: shape detection, web API events and issues, merging.

Fields are asserted against what each file itself says (parsed here with json), never against
numbers copied from it.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

import triage
from triage.cli import main
from triage.common.pii import is_pii_value
from triage.ingest.shapes import detect

SEEN_TWICE = "00952c9936084f759aecdb0f195dd82f"


def _event(db, event_id: str) -> dict:
    rows = db.sql("SELECT * FROM events WHERE event_id = ?", [event_id]).to_dict("records")
    assert len(rows) == 1, rows
    return rows[0]


def _ts(text: str):
    import pandas as pd

    return pd.Timestamp(text).tz_convert("UTC") if pd.Timestamp(text).tzinfo else None


def _tags(obj) -> dict:
    tags = obj.get("tags") or {}
    if isinstance(tags, dict):
        return {k: v for k, v in tags.items()}
    out = {}
    for t in tags:
        k, v = (t["key"], t["value"]) if isinstance(t, dict) else t
        out.setdefault(k, v)
    return out


# -- shape detection ----------------------------------------------------------------------------

EXPECTED_KIND = {
    "raw-": "raw",
    "jsonlink-": "jsonlink",
    "api-event-": "api-events",
    "api-issue": "api-issues",
    "api-discover": "discover-json",
    "envelope-": "envelope",
}


def test_every_sample_is_detected_by_content_even_renamed(samples, tmp_path):
    for f in sorted(samples.glob("*.json")) + sorted(samples.glob("*.envelope")):
        kind = next(v for k, v in EXPECTED_KIND.items() if f.name.startswith(k))
        assert detect(f).kind == kind, f.name
        # The name says nothing: a gzipped copy called .txt is detected the same.
        renamed = tmp_path / (f.stem + ".txt")
        renamed.write_bytes(gzip.compress(f.read_bytes()))
        shape = detect(renamed)
        assert (shape.kind, shape.compression) == (kind, "gzip"), f.name


def test_layouts_and_forced_kind(tmp_path):
    ev = {"event_id": "a" * 32, "message": "x"}
    (tmp_path / "a.ndjson").write_text(json.dumps(ev) + "\n" + json.dumps(ev) + "\n")
    (tmp_path / "b.json").write_text(json.dumps([ev, ev], indent=2))
    (tmp_path / "c.json").write_text(json.dumps(ev, indent=2))
    (tmp_path / "d.csv").write_text("id,title,issue\r\n" + "a" * 32 + ",boom,PROJ-1\r\n")
    (tmp_path / "e.json").write_text("")
    layouts = {p.name: (detect(p).kind, detect(p).layout) for p in sorted(tmp_path.iterdir())}
    assert layouts == {
        "a.ndjson": ("raw", "ndjson"),
        "b.json": ("raw", "array"),
        "c.json": ("raw", "object"),
        "d.csv": ("discover-csv", "csv"),
        "e.json": ("raw", "empty"),
    }
    assert detect(tmp_path / "a.ndjson", "api-events").kind == "api-events"


# -- every sample ingests, fields from the file itself -------------------------------------------


def test_every_sample_ingests_with_fields_from_the_file(samples, tmp_path):
    for f in sorted(samples.glob("*.json")):
        doc = json.loads(f.read_text())
        with triage.open(tmp_path / f"{f.stem}.duckdb") as db:
            res = db.ingest([f]).files[0]
            assert res.rejects == 0 and res.accounted, (f.name, res.errors)
            if f.name.startswith("api-issue"):
                issues = doc if isinstance(doc, list) else [doc]
                got = db.groups().set_index("short_id")
                for issue in issues:
                    g = got.loc[issue["shortId"]]
                    assert g["id"] == issue["id"]
                    assert g["times_seen"] == int(issue["count"])  # a string in the API
                    assert g["user_count"] == issue["userCount"]
                    assert g["title"] == issue["title"]
                    assert g["status"] == issue["status"]
                continue
            if f.name.startswith("api-discover"):
                rows = doc["data"]
                got = db.groups().set_index("short_id")
                for row in rows:
                    assert got.loc[row["issue"]]["times_seen"] == row["count()"]
                    assert got.loc[row["issue"]]["id"] == str(row["issue.id"])
                continue
            event_id = (doc.get("event_id") or doc.get("eventID")).replace("-", "")
            e = _event(db, event_id)
            assert e["source_file"] == str(f)
            if "level" in doc:
                assert e["level"] == doc["level"]
            if doc.get("platform"):
                assert e["platform"] == doc["platform"]
            when = doc.get("datetime") or doc.get("dateCreated") or doc.get("timestamp")
            if isinstance(when, str):
                assert e["ts"] == _ts(when).floor("us")
            elif when is None:
                assert e["ts"] is None or str(e["ts"]) == "NaT"
            exc = doc.get("exception")
            if f.name.startswith("api-event"):
                exc = next(x["data"] for x in doc["entries"] if x["type"] == "exception")
                assert e["group_id"] == doc["groupID"] == e["group_key"]
                assert e["project"] == doc["projectID"]
            if exc:
                last = exc["values"][-1]
                assert (e["exc_type"], e["exc_value"]) == (last["type"], last["value"])
            if doc.get("logentry"):
                le = doc["logentry"]
                params = le.get("params")
                expected = le.get("formatted") or (
                    le["message"] % tuple(params) if isinstance(params, list) else le["message"]
                )
                assert e["message"] == expected
            tags = _tags(doc)
            for k, v in tags.items():
                if str(v).startswith(("email:", "ip:")) or k == "user.ip" or is_pii_value(str(v)):
                    # Personal data: a keyed stand-in (tests/test_pii.py), never the value.
                    assert "anon:" in e["tags"][k] and str(v) not in e["tags"][k], (f.name, k)
                    continue
                assert e["tags"][k] in (str(v), str(v).lower()), (f.name, k)


def test_envelope_samples_keep_event_items_and_count_the_rest(samples, db):
    from sentry_sdk.envelope import Envelope

    for f in sorted(samples.glob("*.envelope")):
        env = Envelope.deserialize(f.read_bytes())
        res = db.ingest([f]).files[0]
        events = [i for i in env.items if i.type == "event"]
        assert res.records == len(env.items), f.name
        assert res.added == len(events) and res.skipped == len(env.items) - len(events)
        assert res.accounted and res.rejects == 0
        for item in events:
            payload = item.payload.json
            event_id = (payload.get("event_id") or env.headers["event_id"]).replace("-", "")
            e = _event(db, event_id)
            assert e["source_file"] == str(f)
            if isinstance(payload.get("message"), str):
                assert e["message"] == payload["message"]
            elif isinstance(payload.get("message"), dict):
                assert e["message"] == payload["message"]["formatted"]
            for k, v in _tags(payload).items():
                assert e["tags"][k] == str(v)


# -- one event through three shapes ---------------------------------------------------------------


@pytest.mark.parametrize(
    "order",
    [("raw", "jsonlink", "api-event"), ("api-event", "raw", "jsonlink")],
    ids=["raw-first", "api-first"],
)
def test_one_event_through_three_shapes_is_one_event(samples, db, order):
    files = {s: samples / f"{s}-js-browser6-exception.json" for s in order}
    docs = {s: json.loads(p.read_text()) for s, p in files.items()}
    results = [db.ingest([files[s]]).files[0] for s in order]
    assert [r.added for r in results] == [1, 0, 0]
    assert [r.duplicates for r in results] == [0, 1, 1]
    assert db.sql("SELECT count(*) AS n FROM events")["n"][0] == 1
    e = _event(db, SEEN_TWICE)
    api = docs["api-event"]
    # The web API knows the group id; every shape agrees on the rest.
    assert e["group_id"] == e["group_key"] == api["groupID"]
    assert e["project"] == api["projectID"] == str(docs["jsonlink"]["project"])
    raw_exc = docs["raw"]["exception"]["values"][-1]
    api_exc = next(x for x in api["entries"] if x["type"] == "exception")["data"]["values"][-1]
    link_exc = docs["jsonlink"]["exception"]["values"][-1]
    assert (raw_exc["type"], raw_exc["value"]) == (api_exc["type"], api_exc["value"])
    assert (link_exc["type"], link_exc["value"]) == (e["exc_type"], e["exc_value"])
    assert e["level"] == docs["raw"]["level"] == docs["jsonlink"]["level"]
    assert e["ts"] == _ts(api["dateCreated"]) == _ts(docs["jsonlink"]["datetime"])
    # Tags: the union of what each shape knows (the raw payload's own tag included).
    for k in _tags(docs["raw"]):
        assert k in e["tags"]
    for k in _tags(api):
        assert k in e["tags"]


def test_each_shape_alone_normalizes_the_same_fields(samples, tmp_path):
    got = {}
    for s in ("raw", "jsonlink", "api-event"):
        with triage.open(tmp_path / f"{s}.duckdb") as db:
            db.ingest([samples / f"{s}-js-browser6-exception.json"])
            got[s] = _event(db, SEEN_TWICE)
    for field in ("event_id", "ts", "level", "platform", "exc_type", "exc_value", "template"):
        assert got["raw"][field] == got["jsonlink"][field] == got["api-event"][field], field
    assert got["raw"]["environment"] == got["jsonlink"]["environment"]
    assert got["jsonlink"]["environment"] == got["api-event"]["environment"]


# -- issues and the report -------------------------------------------------------------------------


def test_issues_list_and_api_events_report_groups_by_short_id(samples, db):
    issue = json.loads((samples / "api-issue-detail-js.json").read_text())
    event = json.loads((samples / "api-event-js-cloudflare.json").read_text())
    assert event["groupID"] == issue["id"]  # the two files describe the same Sentry issue
    db.ingest([samples / "api-event-js-cloudflare.json", samples / "api-issue-detail-js.json"])
    rep = db.report("openhuman")
    row = rep.groups.set_index("group").loc[issue["shortId"]]
    assert row["group_key"] == issue["id"]
    assert row["events"] == 1
    assert row["sentry_events"] == int(issue["count"])
    assert row["sentry_users"] == issue["userCount"]
    out = json.loads(rep.to_json())
    g = next(g for g in out["groups"] if g["group"] == issue["shortId"])
    assert g["sentry_events"] == int(issue["count"])


def test_issue_count_as_int_or_string_and_newer_values_win(db, tmp_path):
    base = {
        "id": "77",
        "shortId": "APP-1N",
        "title": "boom",
        "userCount": 3,
        "status": "unresolved",
    }
    (tmp_path / "a.json").write_text(json.dumps([{**base, "count": "10"}]))
    (tmp_path / "b.json").write_text(json.dumps([{**base, "count": 12, "status": "resolved"}]))
    first = db.ingest([tmp_path / "a.json"]).files[0]
    second = db.ingest([tmp_path / "b.json"]).files[0]
    assert (first.added, second.added, second.duplicates) == (1, 0, 1)
    g = db.groups().to_dict("records")
    assert len(g) == 1
    assert (g[0]["times_seen"], g[0]["status"], g[0]["short_id"]) == (12, "resolved", "APP-1N")


# -- the function the pull client calls --------------------------------------------------------


def test_ingest_records_takes_a_parsed_page_through_the_same_path(samples, db):
    page = [json.loads((samples / "api-event-js-cloudflare.json").read_text()), 42]
    res = db.ingest_records(page, source="sentry:acme/issues/6507376925/events?cursor=0:0:0")
    assert res.kind == "api-events"
    assert (res.records, res.added, res.rejects) == (2, 1, 1)
    log = db.ingest_log().to_dict("records")
    assert log[-1]["source_file"] == "sentry:acme/issues/6507376925/events?cursor=0:0:0"
    rej = db.rejects().to_dict("records")
    assert rej[0]["source_file"] == log[-1]["source_file"] and rej[0]["raw_text"] == "42"
    again = db.ingest_records(page, source="sentry:acme/issues/6507376925/events?cursor=0:0:0")
    assert again.already_ingested and again.added == 0
    issues = [json.loads((samples / "api-issue-detail-js.json").read_text())]
    res = db.ingest_records(issues, source="sentry:acme/issues?cursor=0:0:0")
    assert (res.kind, res.unit, res.added) == ("api-issues", "groups", 1)


# -- a bad file must not cost the good ones ------------------------------------------------------


def test_a_broken_file_does_not_poison_the_batch(db, tmp_path):
    tmp_path = tmp_path / "exports"
    tmp_path.mkdir()
    good = {"event_id": "b" * 32, "message": "fine", "timestamp": 1700000000}
    (tmp_path / "1-bad.ndjson").write_text('{"event_id": "' + "c" * 32 + '"}\n{broken\n')
    (tmp_path / "2-trunc.ndjson.gz").write_bytes(gzip.compress(b'{"event_id":"x"}\n' * 50)[:-12])
    (tmp_path / "3-good.json").write_text(json.dumps(good))
    res = db.ingest([tmp_path])
    by = {Path(f.path).name: f for f in res.files}
    assert by["1-bad.ndjson"].added == 1 and by["1-bad.ndjson"].rejects == 1
    assert by["2-trunc.ndjson.gz"].rejects >= 1
    assert by["3-good.json"].added == 1
    assert all(f.accounted for f in res.files)
    assert len(db.ingest_log()) == 3


def test_cli_prints_the_detected_shape_and_can_force_one(samples, tmp_path):
    runner = CliRunner()
    dbp = str(tmp_path / "t.duckdb")
    r = runner.invoke(main, ["ingest", "--db", dbp, str(samples / "api-event-js-cloudflare.json")])
    assert r.exit_code == 0, r.output
    assert "api-events (object)" in r.stderr
    f = tmp_path / "issue.ndjson"
    f.write_text(json.dumps({"id": "5", "title": "t"}) + "\n")
    r = runner.invoke(main, ["ingest", "--db", dbp, "--input-format", "api-issues", str(f)])
    assert r.exit_code == 0, r.output
    assert "api-issues (ndjson)" in r.stderr and "1 groups added" in r.stderr
    r = runner.invoke(main, ["ingest", "--db", dbp, str(tmp_path / "nope-*.json")])
    assert r.exit_code == 2 and "no file matches" in r.stderr


def test_progress_bar_on_a_terminal_and_silent_otherwise():
    import io

    from rich.console import Console

    from triage.ingest.ingester import FileResult
    from triage.render.progress import IngestProgress

    buf = io.StringIO()
    term = Console(file=buf, force_terminal=True, width=120)
    with IngestProgress(2, console=term) as p:
        p.advance(FileResult("a", "raw (ndjson)", added=1500, duplicates=500))
        p.advance(FileResult("b", "raw (ndjson)", added=10))
        p._progress.refresh()
    assert p.events == 2010
    assert "2/2" in buf.getvalue() and "2,010 events" in buf.getvalue()
    quiet = io.StringIO()
    with IngestProgress(2, console=Console(file=quiet, force_terminal=False)) as p:
        p.advance(FileResult("a", "raw (ndjson)", added=5))
    assert quiet.getvalue() == ""
    off = io.StringIO()
    with IngestProgress(1, enabled=False, console=Console(file=off, force_terminal=True)) as p:
        p.advance(FileResult("a", "raw (ndjson)", added=5))
    assert off.getvalue() == ""
