"""`triage diff`: two rule tables over the same past events, and the warnings a reviewer needs."""

from __future__ import annotations

import json
import shutil
import subprocess
import textwrap

import pytest
from click.testing import CliRunner
from events_factory import raw_event, write_ndjson

import triage
from triage.analysis.lint import lint
from triage.cli import main

# A table with a deliberately broad 401 rule: every 401 is "our session expired" (issue #2286).
BROAD_401 = """
name = "broad-401"

[[rules]]
id = "session-expired-text"
kind = "auth_expired"
level = "info"
any = [
    { field = "message", contains = "no backend session token" },
    { field = "message", contains = "session jwt required" },
]

[[rules]]
id = "any-401"
kind = "auth_expired"
level = "info"
field = "message"
contains = "401"
examples.match = ["GET /teams failed (401 Unauthorized)"]
"""


def _one(df, title_part: str):
    hits = df[df["title"].str.contains(title_part, regex=False)]
    assert len(hits) == 1, list(df["title"])
    return hits.iloc[0]


def _section_of(d, title_part: str) -> str:
    return _one(d.groups, title_part)["section"]


def test_demo_v0_53_20_to_openhuman_newly_downgrades_the_seed_incident(demo_db):
    d = demo_db.diff("openhuman-v0.53.20", "openhuman")
    new = d.section("newly_downgraded")
    composio = _one(new, "composio unavailable")
    assert (composio["events"], composio["users"]) == (253, 1)
    assert composio["base_level"] == "error" and not isinstance(composio["base_kind"], str)
    assert (composio["head_kind"], composio["head_level"]) == ("auth_expired", "info")
    assert (composio["leaving_events"], composio["moving_users"]) == (253, 1)
    assert list(composio["head_rules"]) == ["session-expired-text"]

    # The collateral the later narrowing fixed: v0.53.20 downgraded the third-party 401.
    discord = _one(d.section("no_longer_downgraded"), "Discord API error")
    assert (discord["base_kind"], discord["base_level"]) == ("auth_expired", "info")
    assert (discord["head_kind"], discord["head_level"]) == ("provider_auth", "error")
    assert list(discord["base_rules"]) == ["session-401-unauthorized"]
    assert discord["entering_events"] == 30

    assert _section_of(d, "Cannot read properties") == "unchanged"
    assert _section_of(d, "panic: index out of bounds") == "unchanged"
    # The mixed group becomes partial: a warning shows what moves and what stays.
    assert _section_of(d, "database is locked") == "changed_kind"
    partial = [w for w in d.warnings if w.check == "partial_group"]
    assert len(partial) == 1 and partial[0].rule == "session-expired-text"
    assert partial[0].examples == ("session JWT required; complete login first",)
    assert any("database is locked" in s for s in partial[0].staying_examples)

    t = d.totals
    leaving = int(d.groups["leaving_events"].sum())
    assert t["leaving_events"] == leaving == 253 + 90 + 60 + 5
    assert t["entering_events"] == 30
    assert t["error_events_before"] - t["error_events_after"] == t["net_leaving_events"]
    assert t["net_leaving_per_day"] == pytest.approx((leaving - 30) / t["days"], rel=1e-3)
    assert (t["newly_downgraded"], t["no_longer_downgraded"], t["unchanged"]) == (3, 1, 2)


def test_reverse_diff_lists_the_seed_incident_as_no_longer_downgraded(demo_db):
    d = demo_db.diff("openhuman", "openhuman-v0.53.20")
    composio = _one(d.section("no_longer_downgraded"), "composio unavailable")
    assert (composio["events"], composio["users"], composio["entering_events"]) == (253, 1, 253)
    assert list(composio["base_rules"]) == ["session-expired-text"]
    discord = _one(d.section("newly_downgraded"), "Discord API error")
    assert list(discord["head_rules"]) == ["session-401-unauthorized"]
    # Reversing swaps leaving and entering.
    assert (d.totals["leaving_events"], d.totals["entering_events"]) == (30, 408)
    over = [w for w in d.warnings if w.check == "overrides_error_rule"]
    assert [w.rule for w in over] == ["session-401-unauthorized"]
    assert "provider_auth" in over[0].message
    html = d._repr_html_()
    assert "session-401-unauthorized" in html and "&lt;num&gt;" in html and "<num>" not in html


def test_broad_401_rule_warns_about_the_third_party_group(demo_db, tmp_path):
    head = tmp_path / "broad.toml"
    head.write_text(BROAD_401, encoding="utf-8")
    d = demo_db.diff("openhuman", head)
    assert _section_of(d, "Discord API error") == "newly_downgraded"
    warned = [w for w in d.warnings if "Discord API error" in w.title]
    assert warned and {w.rule for w in warned} == {"any-401"}
    assert any("Discord API error (401 Unauthorized)" in ex for w in warned for ex in w.examples)
    md = d.to_markdown()
    assert "any-401" in md and "Discord API error (401 Unauthorized)" in md
    # Templates' placeholders are escaped, or a PR would render `<num>` as an HTML tag.
    assert "Discord API error (&lt;num&gt; Unauthorized)" in md
    # And lint, run on the same table before it ships, flags the pattern itself.
    generic = [f for f in lint(triage.load_rules(head)) if f.check == "generic_pattern"]
    assert [f.rule for f in generic] == ["any-401"] and "'401'" in generic[0].message


def test_collateral_by_tag_names_the_rule_and_the_differing_method(tmp_path):
    # Our backend's own 401s (the rule's intent) beside the demo's Discord 401s.
    backend = [
        raw_event(
            "team401",
            i,
            message='GET /teams/me/usage failed (401 Unauthorized): {"success":false}',
            logger="openhuman::observability::report_error",
            tags={"method": "openhuman.team_get_usage", "domain": "rpc"},
            user=f"u-{i % 3}",
        )
        for i in range(40)
    ]
    write_ndjson(tmp_path / "backend.ndjson", backend)
    head = tmp_path / "broad.toml"
    head.write_text(BROAD_401, encoding="utf-8")
    with triage.open(tmp_path / "t.duckdb") as s:
        s.ingest([*triage.demo_paths(), tmp_path / "backend.ndjson"])
        plain = s.diff("openhuman", head)
        tagged = s.diff("openhuman", head, tags=["method"])
    # The backend group was already downgraded (by backend-401): it is what the rule is for.
    assert _section_of(tagged, "GET /teams/me/usage") == "unchanged"
    assert not [w for w in plain.warnings if w.check == "collateral"]
    collateral = [w for w in tagged.warnings if w.check == "collateral"]
    assert len(collateral) == 1
    w = collateral[0]
    assert w.rule == "any-401" and "Discord API error" in w.title
    diff = w.details["differences"][0]
    assert diff["dimension"] == "tags.method"
    assert diff["group_values"] == ["openhuman.channels_discord_send"]
    assert diff["other_values"] == [{"value": "openhuman.team_get_usage", "events": 40}]
    assert "openhuman.team_get_usage" in w.message
    assert w.examples and w.examples[0].startswith("Discord API error (401 Unauthorized)")


def test_cli_diff_formats(tmp_path):
    runner = CliRunner()
    args = ["diff", "--demo", "--base", "openhuman-v0.53.20", "--head", "openhuman"]
    res = runner.invoke(main, [*args, "--format", "json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["schema"] == "triage.diff/1"
    assert doc["base"]["name"] == "openhuman-v0.53.20" and doc["head"]["name"] == "openhuman"
    new = {g["title"][:20]: g for g in doc["sections"]["newly_downgraded"]}
    composio = new["composio unavailable"]
    assert (composio["events"], composio["users"]) == (253, 1)
    assert composio["after"] == {
        "kind": "auth_expired",
        "level": "info",
        "verdict": "downgrade",
        "rules": ["session-expired-text"],
    }
    assert doc["sections"]["unchanged"] == {"groups": 2, "events": 52}
    assert doc["totals"]["leaving_events"] == 408
    (warning,) = doc["warnings"]
    assert warning["check"] == "partial_group" and warning["rule"] == "session-expired-text"
    assert warning["examples"] == ["session JWT required; complete login first"]

    md = runner.invoke(main, [*args, "--format", "markdown"])
    assert md.exit_code == 0
    assert md.stdout.startswith("### Impact: `openhuman-v0.53.20` → `openhuman`")
    assert "#### Newly downgraded (3)" in md.stdout
    assert "#### No longer downgraded (1)" in md.stdout

    table = runner.invoke(main, args)
    assert table.exit_code == 0
    assert "Newly downgraded (3)" in table.stdout and "composio unavailable" in table.stdout

    strict = runner.invoke(main, [*args, "--strict", "--format", "json"])
    assert strict.exit_code == 1 and "warning" in strict.stderr


def test_cli_diff_errors_exit_2(tmp_path):
    runner = CliRunner()
    res = runner.invoke(main, ["diff", "--demo", "--base", "nope", "--head", "openhuman"])
    assert res.exit_code == 2 and "--base" in res.stderr and "no rule table" in res.stderr
    empty = tmp_path / "empty.duckdb"
    args = ["diff", "--db", str(empty), "--base", "default", "--head", "openhuman"]
    res = runner.invoke(main, args)
    assert res.exit_code == 2 and "does not exist" in res.stderr and not empty.exists()
    triage.open(empty).close()
    res = runner.invoke(main, args)
    assert res.exit_code == 2 and "no events" in res.stderr


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_diff_reads_a_table_at_a_git_revision(tmp_path, monkeypatch):
    def git(*args):
        subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True)

    git("init", "-q")
    git("config", "user.email", "t@example.invalid")
    git("config", "user.name", "t")
    rules_file = tmp_path / "rules.toml"
    rules_file.write_text(
        textwrap.dedent(
            """
            [[rules]]
            id = "old"
            kind = "auth_expired"
            level = "info"
            field = "message"
            contains = "invalid token"
            """
        ),
        encoding="utf-8",
    )
    git("add", "rules.toml")
    git("commit", "-q", "-m", "old rules")
    rules_file.write_text(
        rules_file.read_text() + '\n[[rules]]\nid = "seed"\nkind = "auth_expired"\n'
        'level = "info"\nfield = "message"\ncontains = "no backend session token"\n',
        encoding="utf-8",
    )
    monkeypatch.chdir(tmp_path)
    res = CliRunner().invoke(
        main,
        ["diff", "--demo", "--base", "HEAD:rules.toml", "--head", "rules.toml", "--format", "json"],
    )
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["base"]["name"] == "HEAD:rules.toml"
    titles = [g["title"] for g in doc["sections"]["newly_downgraded"]]
    assert any(t.startswith("composio unavailable") for t in titles)

    res = CliRunner().invoke(main, ["diff", "--demo", "--base", "HEAD~5:rules.toml", "--head", "x"])
    assert res.exit_code == 2 and "git" in res.stderr


def test_kind_change_without_level_change_is_its_own_section(demo_db):
    current = triage.load_rules("openhuman")
    renamed = current.content.replace(
        'id = "session-expired-text"\nkind = "auth_expired"',
        'id = "session-expired-text"\nkind = "session_missing"',
    )
    assert renamed != current.content
    head = triage.rules.parse(renamed, name="renamed")
    d = demo_db.diff(current, head)
    changed = d.section("changed_kind")
    composio = _one(changed, "composio unavailable")
    assert (composio["base_kind"], composio["head_kind"]) == ("auth_expired", "session_missing")
    assert composio["base_level"] == composio["head_level"] == "info"
    assert (composio["moving_events"], composio["changed_events"]) == (0, 253)
    assert d.section("newly_downgraded").empty and d.section("no_longer_downgraded").empty
    assert (d.totals["leaving_events"], d.totals["entering_events"]) == (0, 0)
    # The partial group's matched events changed kind too, but nothing left error volume.
    assert sorted(t.split(" ")[0] for t in changed["title"]) == ["composio", "database", "no"]


def test_same_table_on_both_sides_changes_nothing(demo_db):
    d = demo_db.diff("openhuman", "openhuman")
    assert set(d.groups["section"]) == {"unchanged"}
    assert d.warnings == [] and d.totals["unchanged"] == d.totals["groups"] == 7
