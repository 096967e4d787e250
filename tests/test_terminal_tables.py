"""Terminal tables fit 80 and 120 columns with the numbers a reader needs in full; report
--limit/--only/--sort; the notebook and REPL views of a report."""

from __future__ import annotations

import json
import re

import pytest
from click.testing import CliRunner

import triage
from triage.cli import main

DEMO_GROUPS = {
    "OPENHUMAN-TAURI-1N": ("downgrade", 253, 1),
    "OPENHUMAN-TAURI-2C": ("downgrade", 90, 2),
    "OPENHUMAN-TAURI-2H": ("partial", 20, 5),
    "OPENHUMAN-TAURI-1A": ("unchanged", 40, 40),
}


def _run(args, width):
    res = CliRunner().invoke(main, args, env={"COLUMNS": str(width), "TRIAGE_RULES": ""})
    assert res.exit_code == 0, res.output
    return res.stdout


@pytest.mark.parametrize("width", [80, 120])
def test_report_fits_and_shows_verdict_events_users_kind_level(width):
    out = _run(["run"], width)
    lines = out.splitlines()
    assert max(len(ln.rstrip()) for ln in lines) <= width
    header = next(ln for ln in lines if ln.startswith("verdict"))
    for col in ("verdict", "group", "title", "events", "users", "new level", "kind"):
        assert col in header, (col, header)
    for group, (verdict, events, users) in DEMO_GROUPS.items():
        row = next(ln for ln in lines if group in ln)
        cells = row.split()
        assert cells[0] == verdict and group in cells
        assert f" {events} " in row and re.search(rf"\s{users}\s", row), row
    composio = next(ln for ln in lines if "OPENHUMAN-TAURI-1N" in ln)
    assert "auth_expired" in composio and "info" in composio
    assert "…" in composio  # the title is what gets cut


def test_wider_terminals_show_more_columns():
    narrow = _run(["run"], 80).splitlines()
    wide = _run(["run"], 200).splitlines()
    h80 = next(ln for ln in narrow if ln.startswith("verdict"))
    h200 = next(ln for ln in wide if ln.startswith("verdict"))
    assert "share" not in h80 and "polling" not in h80
    assert "share" in h200 and "polling" in h200 and "rules" in h200
    assert "1 user every 5.0 s" in next(ln for ln in wide if "OPENHUMAN-TAURI-1N" in ln)


@pytest.mark.parametrize("width", [80, 120])
def test_diff_and_bursts_keep_their_numbers(width):
    out = _run(["diff", "--demo", "--base", "openhuman-v0.53.20", "--head", "openhuman"], width)
    rows = [ln for ln in out.splitlines() if ln.startswith("OPENHUMAN-TAURI-")]
    assert rows and all(len(ln.rstrip()) <= width for ln in rows)
    composio = next(ln for ln in rows if ln.startswith("OPENHUMAN-TAURI-1N"))
    assert " 253 " in composio and re.search(r"\s1\s", composio) and "error" in composio
    out = _run(["bursts", "--demo"], width)
    row = next(ln for ln in out.splitlines() if ln.startswith("OPENHUMAN-TAURI-1N"))
    assert " 253 " in row and "every 5.0 s" in row and "100%" in row


def test_report_limit_only_sort(demo_db):
    path = demo_db.path
    demo_db.close()
    base = ["report", "--db", path, "--rules", "openhuman", "--format", "json"]
    doc = json.loads(_run(base, 120))
    assert len(doc["groups"]) == 7  # json: every group unless asked
    doc = json.loads(_run([*base, "--only", "downgrade"], 120))
    assert {g["verdict"] for g in doc["groups"]} == {"downgrade"} and len(doc["groups"]) == 3
    assert doc["totals"]["groups"] == 7  # totals still cover every group
    doc = json.loads(_run([*base, "--sort", "users", "--limit", "2"], 120))
    assert [g["users"] for g in doc["groups"]] == [40, 8]
    out = _run(["report", "--db", path, "--rules", "openhuman", "--limit", "2"], 120)
    assert "2 of 7 groups shown" in out


def test_report_on_an_empty_database_is_an_error(db):
    path = db.path
    db.close()
    res = CliRunner().invoke(main, ["report", "--db", path])
    assert res.exit_code == 2 and "run `triage ingest` first" in res.output


def test_notebook_and_repl_views():
    rep = triage.run()
    text = repr(rep)
    assert len(text.splitlines()) <= 7 and "OPENHUMAN-TAURI-1N" in text
    assert text.startswith("<Report rules openhuman")
    df = rep.display_frame()
    assert list(df.columns[:6]) == ["verdict", "group", "title", "events", "users", "kind"]
    assert (df["first_seen"].dt.microsecond == 0).all()
    html = rep._repr_html_()
    assert html.index("<th>verdict</th>") < html.index("<th>group</th>") < html.index("<th>kind")
    assert ".147" not in html  # times to the second
