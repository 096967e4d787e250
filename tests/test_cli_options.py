"""Options every command shares (-q, -v), --format json where scripts read the output, and
--wait on the commands that open a database."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from triage.cli import main


def _commands(group, prefix=()):
    for name, cmd in group.commands.items():
        if hasattr(cmd, "commands"):
            yield from _commands(cmd, (*prefix, name))
        else:
            yield (*prefix, name), cmd


def test_every_command_takes_q_and_v():
    for path, cmd in _commands(main):
        opts = {o for p in cmd.params for o in getattr(p, "opts", [])}
        assert {"-q", "-v"} <= opts, path


@pytest.mark.parametrize("path", [("diff",), ("bursts",), ("report",), ("prune",)])
def test_wait_on_commands_that_open_a_database(path):
    cmd = dict(_commands(main))[path]
    assert "--wait" in {o for p in cmd.params for o in getattr(p, "opts", [])}


def test_verbose_names_config_db_rules_and_quiet_silences(demo_db):
    path = demo_db.path
    demo_db.close()
    res = CliRunner().invoke(main, ["report", "--db", path, "--format", "json", "-v"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["rules"]["name"] == "default"
    assert f"db {path}" in res.stderr and "rules default (the built-in default)" in res.stderr
    assert "config none" in res.stderr
    res = CliRunner().invoke(main, ["report", "--db", path, "--format", "json", "-q"])
    assert res.exit_code == 0 and res.stderr == ""


def test_json_formats_for_scripts(demo_db, tmp_path):
    path = demo_db.path
    demo_db.close()
    runner = CliRunner()
    doc = json.loads(runner.invoke(main, ["rules", "list", "--format", "json"]).stdout)
    assert {t["name"] for t in doc} >= {"default", "openhuman"}
    assert all(t["rules"] > 0 and len(t["hash"]) == 16 for t in doc)
    res = runner.invoke(main, ["rules", "test", "--rules", "openhuman", "--format", "json"])
    assert res.exit_code == 0
    doc = json.loads(res.stdout)
    assert doc["rules"]["name"] == "openhuman" and doc["checked"] > 10 and doc["failures"] == []
    bad = tmp_path / "bad.ndjson"
    bad.write_text('{"event_id": "1", broken\n')
    assert runner.invoke(main, ["ingest", "--db", path, str(bad), "-q"]).exit_code == 0
    doc = json.loads(runner.invoke(main, ["rejects", "--db", path, "--format", "json"]).stdout)
    assert doc["total"] == 1 and doc["rejects"][0]["file"] == str(bad)
    assert doc["rejects"][0]["line"] == 1 and "malformed JSON" in doc["rejects"][0]["reason"]


def test_ingest_summary_as_json(tmp_path):
    import triage

    res = CliRunner().invoke(
        main,
        [
            "ingest",
            "--db",
            str(tmp_path / "t.duckdb"),
            str(triage.demo_paths()[0]),
            "--format",
            "json",
            "-q",
        ],
    )
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["schema"] == "triage.ingest/1"
    assert doc["totals"]["files"] == 2 and doc["totals"]["rejects"] == 0
    assert sum(f["added"] for f in doc["files"] if f["unit"] == "events") == 505
    assert {f["kind"] for f in doc["files"]} == {"raw", "api-issues"}


def test_db_that_is_not_a_database_says_so(tmp_path):
    f = tmp_path / "export.json"
    f.write_text('[{"event_id": "1", "message": "x"}]' + " " * 100)
    for args in (["report", "--db", str(f)], ["ingest", "--db", str(f), str(f)]):
        res = CliRunner().invoke(main, args)
        assert res.exit_code == 2, res.output
        assert "is not a DuckDB database" in res.output and "triage ingest" in res.output


def test_commands_with_their_own_quiet_still_read_it(tmp_path):
    import triage

    args = ["ingest", "--db", str(tmp_path / "t.duckdb"), str(triage.demo_paths()[0]), "-q"]
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 0 and res.stderr == "", res.stderr
    res = CliRunner().invoke(main, ["run", "-q", "--format", "json"])
    assert res.exit_code == 0 and res.stderr == "", res.stderr
