"""report --since/--environment/--release/--project: the report covers the matching events only."""

from __future__ import annotations

import json

from click.testing import CliRunner

from triage.cli import main


def test_filters_narrow_every_figure(demo_db):
    whole = demo_db.report("openhuman")
    late = demo_db.report("openhuman", since="2026-05-12")
    n = int(demo_db.sql("SELECT count(*) AS n FROM events WHERE ts >= '2026-05-12'")["n"][0])
    assert late.totals["events"] == n < whole.totals["events"]
    assert int(late.groups["events"].sum()) == n
    # The composio loop ran on May 11: it is not in the later report, nor are its bursts.
    assert "OPENHUMAN-TAURI-1N" not in set(late.groups["group"])
    assert demo_db.report("openhuman", release="openhuman@0.53.20").totals["events"] == 505
    assert demo_db.report("openhuman", release="other@1").totals["events"] == 0
    assert demo_db.report("openhuman", environment="x' OR 1=1 --").totals["events"] == 0
    # Outside the block the table is whole again.
    assert demo_db.report("openhuman").totals == whole.totals


def test_cli_report_filters(demo_db):
    path = demo_db.path
    demo_db.close()
    args = ["report", "--db", path, "--rules", "openhuman", "--format", "json"]
    doc = json.loads(CliRunner().invoke(main, [*args, "--since", "2026-05-12"]).stdout)
    assert doc["totals"]["events"] == 116
    res = CliRunner().invoke(main, [*args, "--environment", "staging"])
    assert res.exit_code == 0 and json.loads(res.stdout)["totals"]["events"] == 0
    res = CliRunner().invoke(main, [*args, "--since", "last tuesday"])
    assert res.exit_code == 2 and "--since" in res.output
