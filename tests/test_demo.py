"""The demo run: the seed incident is downgraded, the groups that must stay errors do."""

from __future__ import annotations

import json

from click.testing import CliRunner

import triage
from triage.cli import main


def _group(report: dict, title_part: str) -> dict:
    hits = [g for g in report["groups"] if title_part in g["title"]]
    assert len(hits) == 1, [g["title"] for g in report["groups"]]
    return hits[0]


def test_run_json_follows_the_contract_and_downgrades_the_seed_incident():
    result = CliRunner().invoke(main, ["run", "--format", "json", "--quiet"])
    assert result.exit_code == 0, result.output
    rep = json.loads(result.stdout)
    assert rep["schema"] == "triage.report/1"
    assert rep["rules"]["name"] == "openhuman" and len(rep["rules"]["hash"]) == 16
    for key in ("events", "groups", "leaving_events", "events_per_day_saved"):
        assert key in rep["totals"]
    expected = {
        "group",
        "title",
        "events",
        "users",
        "first_seen",
        "last_seen",
        "level",
        "kind",
        "new_level",
        "reclassified_events",
        "reclassified_share",
        "verdict",
        "rules",
        "burst",
    }
    # Later additions to the contract: the stored key beside a short id, Sentry's own counts,
    # where the group comes from and what it was computed from (docs/grouping.md).
    expected |= {"group_key", "sentry_events", "sentry_users", "group_source", "group_basis"}
    assert all(set(g) == expected for g in rep["groups"])

    composio = _group(rep, "composio unavailable")
    assert composio["verdict"] == "downgrade"
    assert composio["kind"] == "auth_expired"
    assert composio["new_level"] == "info"
    assert (composio["events"], composio["users"]) == (253, 1)
    assert composio["reclassified_share"] == 1.0
    assert composio["rules"] == ["session-expired-text"]
    assert composio["burst"]["users"] == 1 and composio["burst"]["events"] == 253
    assert composio["burst"]["top_user_share"] == 1.0
    assert abs(composio["burst"]["period_s"] - 5.0) < 0.1
    assert (
        composio["group_source"] == "sentry"
    )  # the demo export carries its issues list (short ids)
    assert composio["group_basis"].startswith("default/message: composio unavailable")

    bug = _group(rep, "Cannot read properties of undefined")
    assert bug["verdict"] == "unchanged" and bug["kind"] is None
    assert bug["burst"] is None
    third_party = _group(rep, "Discord API error")
    assert third_party["verdict"] == "unchanged" and third_party["new_level"] == "error"
    assert _group(rep, "database is locked")["verdict"] == "partial"


def test_table_output_names_the_verdicts():
    result = CliRunner().invoke(main, ["run", "--quiet"])
    assert result.exit_code == 0, result.output
    assert "downgrade" in result.stdout and "unchanged" in result.stdout
    assert "composio unavailable" in result.stdout


def test_api_run_returns_a_dataframe_per_group():
    rep = triage.run()
    df = rep.groups
    row = df[df["title"].str.contains("composio unavailable")].iloc[0]
    assert row["verdict"] == "downgrade" and row["events"] == 253
    assert rep.totals["events"] == int(df["events"].sum())


def test_reports_keep_personal_data_out(tmp_path):
    # The demo's real-bug users carry emails and IPs; no rendering may show them.
    rep = triage.run()
    for text in (rep.to_json(), rep.to_csv(), rep.to_markdown()):
        assert "@example.com" not in text and "203.0.113.7" not in text
