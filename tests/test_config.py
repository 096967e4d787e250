"""The config file: found like ruff's ([tool.triage] in the nearest pyproject.toml, or a
triage.toml), overridden by the environment, then by flags; `triage config` names each source."""

from __future__ import annotations

import json
import shutil

import pytest
from click.testing import CliRunner

import triage
from triage.cli import main

MY_RULES = """name = "my-app"
[[rules]]
id = "token"
kind = "auth_expired"
level = "info"
field = "message"
contains = "no backend session token"
"""


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A project folder with [tool.triage], its rules and database, and a sub-folder to run in."""
    for var in ("TRIAGE_DB", "TRIAGE_RULES", "TRIAGE_CONFIG", "SENTRY_ORG", "SENTRY_URL"):
        monkeypatch.delenv(var, raising=False)
    root = tmp_path / "app"
    (root / "rules").mkdir(parents=True)
    (root / "rules" / "my-app.toml").write_text(MY_RULES)
    (root / "pyproject.toml").write_text(
        '[project]\nname = "app"\n\n[tool.triage]\ndb = "data/triage.duckdb"\n'
        'rules = "rules/my-app.toml"\nthreshold = 0.9\ntags = ["method"]\norg = "acme"\n'
    )
    (root / "data").mkdir()
    with triage.open(root / "data" / "triage.duckdb") as db:
        db.ingest(triage.demo_paths())
    (root / "src" / "deep").mkdir(parents=True)
    monkeypatch.chdir(root / "src" / "deep")
    return root


def _config(runner=None, env=None) -> dict:
    res = (runner or CliRunner()).invoke(main, ["config", "--format", "json"], env=env)
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)


def test_pyproject_tool_triage_is_found_from_a_sub_folder(project):
    doc = _config()
    assert doc["file"] == str(project / "pyproject.toml")
    s = doc["settings"]
    where = f"{project / 'pyproject.toml'} [tool.triage]"
    assert s["db"] == {"value": str(project / "data" / "triage.duckdb"), "source": where}
    assert s["rules"]["value"] == str(project / "rules" / "my-app.toml")
    assert s["threshold"] == {"value": 0.9, "source": where}
    assert s["tags"]["value"] == ["method"] and s["org"]["value"] == "acme"
    assert s["url"]["source"] == "default" and s["project"]["value"] is None


def test_report_uses_the_config_db_and_rules_and_says_so(project):
    res = CliRunner().invoke(main, ["report", "--format", "table"])
    assert res.exit_code == 0, res.output
    assert "rules my-app" in res.output and "pyproject.toml [tool.triage]" in res.output
    doc = json.loads(CliRunner().invoke(main, ["report", "--format", "json"]).stdout)
    assert doc["rules"]["name"] == "my-app"
    assert doc["totals"]["events"] == 505


def test_environment_beats_the_file_and_flags_beat_both(project, tmp_path):
    runner = CliRunner()
    s = _config(runner, env={"TRIAGE_RULES": "openhuman"})["settings"]
    assert s["rules"] == {"value": "openhuman", "source": "$TRIAGE_RULES"}
    res = runner.invoke(main, ["report", "--format", "json"], env={"TRIAGE_RULES": "openhuman"})
    assert json.loads(res.stdout)["rules"]["name"] == "openhuman"
    res = runner.invoke(
        main,
        ["report", "--format", "json", "--rules", "default"],
        env={"TRIAGE_RULES": "openhuman"},
    )
    assert json.loads(res.stdout)["rules"]["name"] == "default"
    # $TRIAGE_DB beats the file's db: an empty folder's database does not exist.
    res = runner.invoke(main, ["report"], env={"TRIAGE_DB": str(tmp_path / "none.duckdb")})
    assert res.exit_code == 2 and "none.duckdb does not exist" in res.output


def test_triage_toml_wins_over_pyproject_in_the_same_folder(project):
    (project / "triage.toml").write_text('rules = "openhuman"\nthreshold = 0.5\n')
    doc = _config()
    assert doc["file"] == str(project / "triage.toml")
    assert doc["settings"]["rules"] == {
        "value": "openhuman",
        "source": str(project / "triage.toml"),
    }
    assert doc["settings"]["db"]["source"] == "default"  # the pyproject is not merged in


def test_unknown_key_is_an_error_with_did_you_mean(project):
    (project / "triage.toml").write_text('rule = "openhuman"\n')
    res = CliRunner().invoke(main, ["report"])
    assert res.exit_code == 2
    assert "triage.toml: unknown key 'rule' (did you mean 'rules'?)" in res.output
    (project / "triage.toml").write_text("threshold = 2\n")
    res = CliRunner().invoke(main, ["config"])
    assert res.exit_code == 2 and "threshold must be between 0 and 1" in res.output


def test_demo_keeps_openhuman_and_ignores_the_config_db(project):
    runner = CliRunner()
    doc = json.loads(runner.invoke(main, ["run", "--format", "json"]).stdout)
    assert doc["rules"]["name"] == "openhuman"
    res = runner.invoke(
        main, ["diff", "--demo", "--base", "openhuman-v0.53.20", "--head", "openhuman"]
    )
    assert res.exit_code == 0, res.output
    res = runner.invoke(main, ["bursts", "--demo"])
    assert res.exit_code == 0, res.output
    # Outside any project the default table is `default`, and the report says so.
    shutil.rmtree(project / "rules")
    (project / "pyproject.toml").write_text('[project]\nname = "app"\n')
    res = runner.invoke(main, ["report", "--db", str(project / "data" / "triage.duckdb")])
    assert res.exit_code == 0, res.output
    assert "rules default" in res.output and "the built-in default" in res.output


def test_triage_config_env_points_at_a_file(project, tmp_path):
    other = tmp_path / "elsewhere.toml"
    other.write_text('rules = "default"\n')
    doc = _config(env={"TRIAGE_CONFIG": str(other)})
    assert doc["file"] == str(other) and doc["settings"]["rules"]["value"] == "default"
