"""`triage suggest` on the command line: formats, --explain, --apply, and its errors."""

from __future__ import annotations

import json

from click.testing import CliRunner

import triage
from triage.cli import main
from triage.rules import load

DEMO = ["suggest", "--demo", "--rules", "openhuman-v0.53.20"]
SEED = "composio unavailable: no backend session token. Sign in first (auth_store_session)."


def test_table_json_markdown_toml():
    runner = CliRunner()
    res = runner.invoke(main, DEMO)
    assert res.exit_code == 0, res.output
    assert "1. auth-expired-" in res.output and "253 events" in res.output
    assert "Not proposed" in res.output and "crash" in res.output
    doc = json.loads(runner.invoke(main, [*DEMO, "--format", "json"]).output)
    assert doc["schema"] == "triage.suggest/1"
    assert doc["candidates"][0]["title"] == SEED
    assert doc["candidates"][0]["kind"] == "auth_expired"
    md = runner.invoke(main, [*DEMO, "--format", "markdown"]).output
    assert md.startswith("### Suggested rules for `openhuman-v0.53.20`")
    toml = runner.invoke(main, [*DEMO, "--format", "toml"]).output
    assert toml.startswith("[[rules]]") and toml.count("[[rules]]") == len(doc["candidates"])


def test_explain(tmp_path):
    runner = CliRunner()
    doc = json.loads(runner.invoke(main, [*DEMO, "--format", "json"]).output)
    bug = next(d for d in doc["not_proposed"] if "Cannot read" in d["title"])
    # A prefix of the key (the demo's keys are Sentry ids: 8 characters are all shared).
    res = runner.invoke(main, [*DEMO, "--explain", bug["group_key"][:-1]])
    assert res.exit_code == 0, res.output
    assert "not proposed" in res.output and "TypeError is a crash" in res.output
    first = doc["candidates"][0]
    res = runner.invoke(main, [*DEMO, "--explain", first["group_key"]])
    assert f"proposed as {first['id']}" in res.output and "[[rules]]" in res.output
    res = runner.invoke(main, [*DEMO, "--explain", "zzzz"])
    assert res.exit_code == 2 and "no group 'zzzz'" in res.output


def test_apply_writes_a_copy_and_prints_the_diff(tmp_path):
    db = tmp_path / "t.duckdb"
    with triage.open(db) as s:
        s.ingest(triage.demo_paths())
    out = tmp_path / "rules.toml"
    runner = CliRunner()
    doc = json.loads(
        runner.invoke(main, ["suggest", "--db", str(db), "--rules", "openhuman-v0.53.20",
                             "--format", "json"]).output
    )  # fmt: skip
    first = doc["candidates"][0]["id"]
    res = runner.invoke(
        main,
        ["suggest", "--db", str(db), "--rules", "openhuman-v0.53.20", "--apply", str(out),
         "--accept", first, "--format", "json"],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    d = json.loads(res.stdout)
    assert d["schema"] == "triage.diff/1"
    assert [g["title"] for g in d["sections"]["newly_downgraded"]] == [SEED]
    assert d["head"]["name"] == "openhuman-v0.53.20+suggest"
    assert load(str(out)).rules[-1].id == first
    lint = runner.invoke(main, ["rules", "lint", "--rules", str(out), "--db", str(db), "--strict"])
    assert lint.exit_code == 0, lint.output


def test_errors_exit_2(tmp_path):
    runner = CliRunner()
    res = runner.invoke(main, [*DEMO, "--accept", "x"])
    assert res.exit_code == 2 and "--apply" in res.output
    res = runner.invoke(main, ["suggest", "--db", str(tmp_path / "none.duckdb")])
    assert res.exit_code == 2 and "does not exist" in res.output
    res = runner.invoke(main, ["suggest", "--demo", "--rules", "nope"])
    assert res.exit_code == 2
    shipped = load("openhuman").source  # builtin:openhuman
    assert shipped.startswith("builtin:")
    import triage.rules.rulesets

    target = triage.rules.rulesets.__file__.replace("__init__.py", "mine.toml")
    res = runner.invoke(main, [*DEMO, "--apply", target])
    assert res.exit_code == 2 and "shipped rule table" in res.output
    res = runner.invoke(main, [*DEMO, "--apply", str(tmp_path / "x.toml"), "--accept", "nope"])
    assert res.exit_code == 2 and "no candidate nope" in res.output
