"""--fail-on on report and run: exit 1 once per new finding, named on stderr; stdout stays clean."""

from __future__ import annotations

import json

from click.testing import CliRunner
from events_factory import raw_event, write_ndjson

from triage.cli import main


def _invoke(*args: str):
    return CliRunner().invoke(main, list(args))


def _poll(seed: str, n: int, message: str, user: str = "u-1", every: float = 5.0) -> list[dict]:
    return [raw_event(seed, i, message=message, user=user, every=every) for i in range(n)]


def test_run_json_stdout_stays_machine_readable_while_findings_go_to_stderr():
    r = _invoke("run", "--format", "json", "--quiet", "--fail-on", "burst")
    assert r.exit_code == 1, r.output
    rep = json.loads(r.stdout)  # the whole of stdout is the report
    assert rep["schema"] == "triage.report/1"
    lines = r.stderr.strip().splitlines()
    assert lines and all(line.startswith("fail-on burst: new bursting group ") for line in lines)
    composio = [g for g in rep["groups"] if "composio unavailable" in g["title"]][0]
    assert any(composio["group"] in line and "every 5.0 s" in line for line in lines)


def test_run_without_fail_on_exits_0_on_the_same_data():
    r = _invoke("run", "--format", "json", "--quiet")
    assert r.exit_code == 0 and r.stderr == ""


def test_report_fails_once_per_new_downgraded_group(tmp_path):
    db = str(tmp_path / "t.duckdb")
    first = write_ndjson(
        tmp_path / "day1.ndjson",
        _poll("a", 30, "composio unavailable: no backend session token. Sign in first.")
        + [raw_event("bug", i, exc=("KeyError", "'user'")) for i in range(5)],
    )
    assert _invoke("ingest", str(first), "--db", db, "-q").exit_code == 0
    r1 = _invoke(
        "report",
        "--db",
        db,
        "--rules",
        "openhuman",
        "--format",
        "json",
        "--fail-on",
        "new-downgrade",
    )
    assert r1.exit_code == 1
    assert r1.stderr.count("fail-on new-downgrade:") == 1
    assert "composio unavailable" in r1.stderr and "auth_expired" in r1.stderr
    assert json.loads(r1.stdout)["totals"]["downgraded_groups"] == 1

    r2 = _invoke(
        "report",
        "--db",
        db,
        "--rules",
        "openhuman",
        "--format",
        "json",
        "--fail-on",
        "new-downgrade",
    )
    assert r2.exit_code == 0, r2.stderr  # reported yesterday: not new
    assert r2.stderr == ""

    second = write_ndjson(
        tmp_path / "day2.ndjson",
        [
            raw_event("t", i, exc=("CoreRpcError", "Core RPC openhuman.x timed out after 30s"))
            for i in range(4)
        ],
    )
    assert _invoke("ingest", str(second), "--db", db, "-q").exit_code == 0
    r3 = _invoke(
        "report",
        "--db",
        db,
        "--rules",
        "openhuman",
        "--format",
        "json",
        "--fail-on",
        "new-downgrade",
    )
    assert r3.exit_code == 1
    assert r3.stderr.count("fail-on new-downgrade:") == 1
    assert "timed out" in r3.stderr and "composio" not in r3.stderr


def test_report_fails_on_new_rejects_naming_file_and_line(tmp_path):
    db = str(tmp_path / "t.duckdb")
    f = tmp_path / "broken.ndjson"
    f.write_text(json.dumps(raw_event("x", 0, message="ok")) + "\n{not json\n", encoding="utf-8")
    assert _invoke("ingest", str(f), "--db", db, "-q").exit_code == 0
    r1 = _invoke("report", "--db", db, "--fail-on", "rejects")
    assert r1.exit_code == 1
    assert f"fail-on rejects: rejected record {f}:2: malformed JSON" in r1.stderr
    r2 = _invoke("report", "--db", db, "--fail-on", "rejects")
    assert r2.exit_code == 0 and "fail-on" not in r2.stderr


def test_a_second_run_with_a_new_bursting_group_exits_1_then_quiet(tmp_path):
    """The scheduled-job sequence on files: burst, new burst, nothing new."""
    db = str(tmp_path / "job.duckdb")
    day1 = write_ndjson(tmp_path / "d1.ndjson", _poll("p1", 40, "poll A failed", user="alice"))
    day2 = write_ndjson(
        tmp_path / "d2.ndjson",
        _poll("p2", 40, "poll B failed", user="bob", every=30.0)
        + [raw_event("lone", i, message="one-off", every=3600.0) for i in range(3)],
    )
    day3 = write_ndjson(tmp_path / "d3.ndjson", [raw_event("quiet", 0, message="one more")])
    args = ["--db", db, "--quiet", "--format", "json", "--fail-on", "burst"]
    r1 = _invoke("run", str(day1), *args)
    assert r1.exit_code == 1 and "poll A failed" in r1.stderr
    r2 = _invoke("run", str(day2), *args)
    assert r2.exit_code == 1
    assert r2.stderr.count("new bursting group") == 1
    assert "poll B failed" in r2.stderr and "every 30.0 s" in r2.stderr
    assert "poll A failed" not in r2.stderr
    json.loads(r2.stdout)
    r3 = _invoke("run", str(day3), *args)
    assert r3.exit_code == 0, r3.stderr
    assert r3.stderr == ""


def test_fail_on_rejects_an_unknown_check():
    r = _invoke("run", "--fail-on", "everything")
    assert r.exit_code == 2
    assert "Invalid value for '--fail-on'" in r.stderr


def test_an_unexpected_failure_is_one_line_and_exit_4(monkeypatch):
    import triage.api

    def boom(*a, **kw):
        raise RuntimeError("disk on fire\nsecond line")

    monkeypatch.setattr(triage.api.Store, "report", boom)
    r = _invoke("run", "--quiet")
    assert r.exit_code == 4
    assert r.stderr == (
        "Error: unexpected RuntimeError: disk on fire (set TRIAGE_DEBUG=1 for a traceback)\n"
    )
    monkeypatch.setenv("TRIAGE_DEBUG", "1")
    r = _invoke("run", "--quiet")
    assert isinstance(r.exception, RuntimeError)
