"""``REV:path`` never lets a rule-table name be read by git as an option.

``git show --output=FILE`` writes FILE: a ``--base`` of ``--output=/tmp/x:rules.toml`` used to
make git write /tmp/x and then diff against an empty table, exit 0.
"""

from __future__ import annotations

import shutil
import subprocess

import pytest
from click.testing import CliRunner

import triage
from triage.cli import main
from triage.rules.source import RuleSourceError, load

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


@pytest.fixture
def repo(tmp_path, monkeypatch):
    def git(*args):
        subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True)

    git("init", "-q")
    git("config", "user.email", "t@example.invalid")
    git("config", "user.name", "t")
    (tmp_path / "rules.toml").write_text(
        '[[rules]]\nid = "seed"\nkind = "auth_expired"\nlevel = "info"\nfield = "message"\n'
        'contains = "no backend session token"\n',
        encoding="utf-8",
    )
    git("add", "rules.toml")
    git("commit", "-q", "-m", "rules")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_diff_base_that_is_a_git_option_writes_nothing_and_exits_2(repo, tmp_path):
    out = tmp_path / "x"
    r = CliRunner().invoke(
        main, ["diff", "--demo", "--base", f"--output={out}:rules.toml", "--head", "openhuman"]
    )
    assert r.exit_code == 2, r.output
    assert "--base" in r.stderr and "starts with '-'" in r.stderr
    assert not out.exists()


def test_rules_lint_rules_that_is_a_git_option_writes_nothing(repo, tmp_path):
    out = tmp_path / "y"
    r = CliRunner().invoke(main, ["rules", "lint", "--rules", f"--output={out}:rules.toml"])
    assert r.exit_code == 2, r.output
    assert not out.exists()


def test_db_diff_refuses_an_option_as_revision(repo, tmp_path):
    out = tmp_path / "z"
    with triage.open(":memory:") as db, pytest.raises(RuleSourceError, match="starts with '-'"):
        db.diff(f"--output={out}:rules.toml", "openhuman")
    assert not out.exists()


@pytest.mark.parametrize("spec", ["HEAD:-rules.toml", "HEAD:--output=q", "-p:rules.toml"])
def test_a_path_or_revision_starting_with_a_dash_is_refused(repo, spec):
    with pytest.raises(RuleSourceError, match="starts with '-'"):
        load(spec)


def test_a_revision_still_reads(repo):
    assert [r.id for r in load("HEAD:rules.toml").rules] == ["seed"]
    assert [r.id for r in load("HEAD:./rules.toml").rules] == ["seed"]
