"""The HTML report: its figures against SQL, self-containment, escaping, and what a browser shows.

The browser tests open the page in Debian's headless Chromium (``.ci/run`` installs it) and save a
screenshot under ``test-artifacts/`` (gitignored).
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import os
import re
from pathlib import Path

import pytest
import sentry_sdk
from click.testing import CliRunner
from events_factory import raw_event, write_ndjson
from headless_chromium import Browser, find_chromium
from sentry_sdk.transport import Transport

import triage
from triage.cli import main
from triage.render import html as html_report
from triage.rules import load as load_rules
from triage.store import sqlfiles as sqlfiles

REPO = Path(__file__).resolve().parent.parent
ARTIFACTS = REPO / "test-artifacts"
HOSTILE = ["<script>alert(1)</script>", '"><img src=x onerror=alert(1)>']


@pytest.fixture(scope="module")
def chromium() -> str:
    path = find_chromium()
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed: .ci/run installs Debian's chromium package")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    return path


@pytest.fixture(scope="module")
def demo_html(tmp_path_factory) -> Path:
    """`triage run --format html -o FILE` on the built-in demo."""
    out = tmp_path_factory.mktemp("html") / "report.html"
    res = CliRunner().invoke(main, ["run", "-q", "--format", "html", "-o", str(out)])
    assert res.exit_code == 0, res.output
    return out


# ------------------------------------------------------------------------------ in the browser


def test_demo_report_in_chromium_shows_composio_downgraded_with_its_5s_period(chromium, demo_html):
    with Browser(chromium) as b:
        b.open(demo_html.as_uri())
        shot = b.screenshot(ARTIFACTS / "html-report-demo.png")
        charts = b.eval(
            """Array.from(document.querySelectorAll('figure.chart')).map(f => {
                 const s = f.querySelector('svg'); const r = s.getBoundingClientRect();
                 return {kind: f.dataset.chart, w: r.width, h: r.height,
                         marks: s.querySelectorAll('path, rect, use').length,
                         group: f.closest('section').dataset.group,
                         text: s.textContent};
               })"""
        )
        row = b.eval(
            """(() => { const tr = Array.from(document.querySelectorAll('#groups tbody tr'))
                 .find(r => r.textContent.includes('composio unavailable'));
               return {verdict: tr.cells[0].innerText, kind: tr.cells[2].innerText,
                       events: tr.cells[4].innerText, users: tr.cells[5].innerText,
                       group: tr.dataset.group}; })()"""
        )
        section = b.eval(
            f"""(() => {{ const s = document.querySelector(
                   'section.group[data-group="{row["group"]}"]');
                 return {{verdict: s.dataset.verdict, charts: Array.from(
                   s.querySelectorAll('figure.chart')).map(f => f.dataset.chart)}}; }})()"""
        )
        problems = b.problems()

    assert problems == []
    assert row == {
        "verdict": "downgrade",
        "kind": "auth_expired",
        "events": "253",
        "users": "1",
        "group": row["group"],
    }
    assert section == {"verdict": "downgrade", "charts": ["timeline", "interarrival"]}
    # Every chart rendered: it has a size on the page and drawn marks.
    assert len(charts) >= 8
    for c in charts:
        assert c["w"] > 300 and c["h"] > 80 and c["marks"] > 10, c
    (period,) = [c for c in charts if c["group"] == row["group"] and c["kind"] == "interarrival"]
    assert re.search(r"(period|peak) 5\.0 s", period["text"]), period["text"]
    # The screenshot is a real full-page PNG.
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 50_000
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert width == 1280 and height > 2000


def test_group_table_sorts_on_click(chromium, demo_html):
    order = """Array.from(document.querySelectorAll('#groups tbody tr'))
                 .map(r => parseInt(r.cells[5].innerText.replace(/,/g, '')))"""
    with Browser(chromium) as b:
        b.open(demo_html.as_uri())
        b.eval("document.querySelectorAll('#groups th')[5].click()")  # users
        first = b.eval(order)
        b.eval("document.querySelectorAll('#groups th')[5].click()")
        second = b.eval(order)
        b.eval("document.querySelectorAll('#groups th')[0].click()")  # verdict, text
        verdicts = b.eval(
            "Array.from(document.querySelectorAll('#groups tbody tr'))"
            ".map(r => r.cells[0].innerText)"
        )
        problems = b.problems()
    assert problems == []
    assert first == sorted(first, reverse=True) and first[0] == 40
    assert second == sorted(second)
    assert verdicts == sorted(verdicts)


class _Capture(Transport):
    """sentry-sdk transport that keeps envelopes instead of sending them."""

    def __init__(self, options=None):
        super().__init__(options)
        self.envelopes: list = []

    def capture_envelope(self, envelope) -> None:
        self.envelopes.append(envelope)


def _sdk_events(tmp_path: Path) -> Path:
    """Hostile texts captured through the real sentry-sdk, written as an NDJSON export."""
    transport = _Capture()
    sentry_sdk.init(dsn=None, transport=transport, release="app@1.0", default_integrations=False)
    try:
        for text in HOSTILE:
            for _ in range(3):
                sentry_sdk.capture_message(text, level="error")
        try:
            raise ValueError(HOSTILE[1])
        except ValueError:
            sentry_sdk.capture_exception()
        sentry_sdk.flush()
    finally:
        sentry_sdk.get_client().close()
    events = [env.get_event() for env in transport.envelopes if env.get_event()]
    assert len(events) == 7
    path = tmp_path / "hostile.ndjson"
    path.write_text("".join(json.dumps(e) + "\n" for e in events), encoding="utf-8")
    return path


HOSTILE_RULES = """
name = "hostile <b>table</b>"

[[rules]]
id = "img-tag"
kind = "<i>kind</i><script>alert(2)</script>"
level = "info"
any = [{ field = "message", contains = "<img" }]
"""


def test_hostile_event_text_shows_as_text(chromium, tmp_path):
    rules = tmp_path / "hostile.toml"
    rules.write_text(HOSTILE_RULES, encoding="utf-8")
    with triage.open(tmp_path / "h.duckdb") as db:
        db.ingest([_sdk_events(tmp_path)])
        page = db.html_report(rules)
    out = tmp_path / "hostile.html"
    out.write_text(page, encoding="utf-8")

    # Statically: no hostile markup survives, and the only script is ours.
    assert "<script>alert" not in page and "<img" not in page and "<i>kind" not in page
    assert page.count("<script") == 1
    with Browser(chromium) as b:
        b.open(out.as_uri())
        b.screenshot(ARTIFACTS / "html-report-hostile.png")
        text = b.eval("document.body.innerText")
        counts = b.eval(
            """({scripts: document.scripts.length, imgs: document.images.length,
                 italics: document.querySelectorAll('i').length})"""
        )
        problems = b.problems()
    assert problems == []  # an alert() would show here as a dialog
    assert counts == {"scripts": 1, "imgs": 0, "italics": 0}
    for hostile in HOSTILE:
        assert hostile in text, hostile  # the raw text, in the example messages
    assert "<i>kind</i><script>alert(2)</script>" in text


# ------------------------------------------------------------------------------ the page itself


def test_page_is_self_contained_with_a_strict_csp(demo_html):
    page = demo_html.read_text(encoding="utf-8")
    # Nothing is fetched: no external script, style, image, font or frame.
    assert not re.search(r"""\b(src|href)\s*=\s*["']?\s*(https?:|//)""", page, re.I)
    assert not re.search(r"<(link|iframe|img|object|embed)\b", page, re.I)
    assert "@import" not in page
    csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', page).group(1)
    csp = html.unescape(csp)
    assert "default-src 'none'" in csp and "img-src 'none'" in csp
    (script,) = re.findall(r"<script>(.*?)</script>", page, re.S)
    digest = hashlib.sha256(script.encode()).digest()
    assert f"script-src 'sha256-{base64.b64encode(digest).decode()}'" in csp
    # Inline SVG ids are unique across charts (they would clash otherwise: clip paths, glyphs).
    ids = re.findall(r'\bid="([^"]+)"', page)
    assert len(ids) == len(set(ids))


def _figure(page: str, fig_id: str) -> str:
    return re.search(rf'id="{fig_id}">([^<]+)<', page).group(1)


def test_headline_figures_match_sql(demo_db, tmp_path):
    page = demo_db.html_report("openhuman")
    days = demo_db.sql(
        "SELECT greatest(date_diff('second', min(ts), max(ts)) / 86400.0, 1) AS d FROM events"
    )["d"][0]
    h = load_rules("openhuman").hash
    before, after, reclassified = demo_db.con.execute(
        """SELECT count(*) FILTER (WHERE e.level IN ('error', 'fatal')),
                  count(*) FILTER (WHERE coalesce(c.new_level, e.level) IN ('error', 'fatal')),
                  count(c.rule_id)
           FROM events e LEFT JOIN classifications c
             ON c.event_id = e.event_id AND c.ruleset_hash = ?""",
        [h],
    ).fetchone()
    assert _figure(page, "h-reclassified") == f"{reclassified:,}" == "438"
    assert _figure(page, "h-downgraded") == "3"
    assert _figure(page, "h-before") == f"{before / days:,.1f}"
    assert _figure(page, "h-after") == f"{after / days:,.1f}"
    assert float(_figure(page, "h-after")) < float(_figure(page, "h-before"))
    assert _figure(page, "h-rejects") == "0"


def test_rule_hits_list_every_rule_and_unmatched_templates(demo_db):
    report = demo_db.report("openhuman")
    table = load_rules("openhuman")
    hits = html_report._rule_hits(demo_db.con, table)
    assert [r["rule"] for r in hits] == [r.id for r in table.rules]
    by_id = {r["rule"]: r for r in hits}
    assert by_id["session-expired-text"]["events"] == 348
    assert by_id["session-expired-text"]["groups"] == 3
    assert sum(r["events"] for r in hits) == report.totals["reclassified_events"]
    assert by_id["rate-limited"]["events"] == 0
    page = html_report.render(demo_db.con, table, report)
    section = page[page.index('id="unmatched"') :]
    assert "TypeError: Cannot read properties of undefined (reading &#39;map&#39;)" in section
    assert "composio" not in section  # matched by a rule


def test_timeline_and_interarrival_sql(demo_db):
    report = demo_db.report("openhuman")
    h = load_rules("openhuman").hash
    tl = demo_db.con.execute(
        sqlfiles.load("report_timeline.sql"),
        {"ruleset_hash": h, "bucket": "hour", "groups": list(report.groups["group_key"])},
    ).df()
    per_group = tl.groupby("group")["events"].sum().to_dict()
    assert per_group == dict(zip(report.groups["group_key"], report.groups["events"], strict=True))
    composio = report.groups[report.groups["title"].str.startswith("composio")]
    composio = composio.iloc[0]["group_key"]
    sql = sqlfiles.load("report_interarrival.sql")
    gaps = demo_db.con.execute(sql, {"groups": [composio]}).df()
    assert gaps["gaps"].sum() == 252  # 253 events of one user
    peak = gaps.loc[gaps["gaps"].idxmax()]
    assert peak["lo_s"] <= 5.0 <= peak["hi_s"]


def test_long_exports_chart_per_day_and_rejects_are_counted(db, tmp_path):
    events = [raw_event("long", i, message=f"job {i} failed", every=86400 / 3) for i in range(600)]
    path = write_ndjson(tmp_path / "long.ndjson", events)
    path.write_text(path.read_text(encoding="utf-8") + "{not json\n", encoding="utf-8")
    result = db.ingest([path])
    assert result.rejects == 1
    page = db.html_report("openhuman")
    assert "events / day" in page and "events / hour" not in page
    assert _figure(page, "h-rejects") == "1"
    assert 'data-chart="interarrival"' in page  # one user, every 8 h


def test_max_charts_limits_the_per_group_sections(demo_db):
    page = demo_db.html_report("openhuman", max_charts=2)
    assert page.count('<section class="group"') == 2
    assert page.count("<tr data-group=") == 7  # the table keeps every group


def test_group_table_is_cut_at_max_rows_unless_asked_for_all(demo_db):
    everything = demo_db.html_report("openhuman", max_rows=None, max_charts=1)
    cut = demo_db.html_report("openhuman", max_rows=2, max_charts=1)
    groups = len(demo_db.report("openhuman").groups)

    def rows(page: str) -> list[str]:
        table = page[page.index('<table class="sortable" id="groups">') :]
        return re.findall(r'<tr data-group="([^"]+)"', table[: table.index("</table>")])

    assert len(rows(everything)) == groups > 2 and 'id="groups-cut"' not in everything
    assert rows(cut) == rows(everything)[:2]
    assert f"The first 2 of {groups} groups" in cut


def test_cli_all_groups_lists_every_group_past_the_default_cut(tmp_path):
    dbp = tmp_path / "many.duckdb"
    with triage.open(dbp) as db:
        db.ingest_records(
            [
                {
                    "event_id": f"{i:032x}",
                    "timestamp": 1780000000 + i,
                    "exception": {"values": [{"type": f"Error{i}", "value": "boom"}]},
                }
                for i in range(510)
            ],
            source="many",
        )
    pages = {}
    for extra in ([], ["--all-groups"]):
        out = tmp_path / f"r{len(extra)}.html"
        res = CliRunner().invoke(
            main, ["report", "--db", str(dbp), "--format", "html", "-o", str(out), *extra]
        )
        assert res.exit_code == 0, res.output
        pages[bool(extra)] = out.read_text(encoding="utf-8")
    assert pages[False].count("<tr data-group=") == 500 and 'id="groups-cut"' in pages[False]
    assert pages[True].count("<tr data-group=") == 510 and 'id="groups-cut"' not in pages[True]


def test_cli_report_html_to_file_and_stdout(tmp_path):
    dbp = str(tmp_path / "c.duckdb")
    runner = CliRunner()
    demo = [str(p) for p in triage.demo_paths()]
    assert runner.invoke(main, ["ingest", "-q", "--db", dbp, *demo]).exit_code == 0
    out = tmp_path / "r.html"
    res = runner.invoke(main, ["report", "--db", dbp, "--format", "html", "-o", str(out)])
    assert res.exit_code == 0, res.output
    page = out.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and 'data-chart="interarrival"' in page
    res = runner.invoke(main, ["run", "-q", "--format", "html"])
    assert res.exit_code == 0 and res.output.startswith("<!DOCTYPE html>")


# ------------------------------------------------------------------------------ notebooks


def test_reprs_escape_event_text(tmp_path):
    events = [raw_event("h", i, message=HOSTILE[i % 2]) for i in range(4)]
    # A hostile user polling every 5 s: a burst whose user id is shown in the bursts table.
    events += [
        raw_event("p", i, message="poll failed", user=HOSTILE[1], every=5.0, tags={"m": HOSTILE[0]})
        for i in range(30)
    ]
    with triage.open(tmp_path / "n.duckdb") as db:
        db.ingest([write_ndjson(tmp_path / "h.ndjson", events)])
        rep = db.report("openhuman")
        d = db.diff("openhuman-v0.53.20", "openhuman")
        bursts = db.bursts()
        by_tag = db.bursts(by="m")
    shown = rep._repr_html_()
    assert "<script>alert" not in shown and "<img" not in shown
    assert "&lt;script&gt;alert(&lt;num&gt;)&lt;/script&gt;" in shown
    assert "34 events in 3 groups" in shown
    assert "<script>" not in d._repr_html_()
    assert len(bursts) == 1 and len(by_tag) == 1
    for obj in (bursts, by_tag):
        shown = obj._repr_html_()
        assert "<img" not in shown and "<script>" not in shown
        assert "&gt;&lt;img src=x onerror=alert(1)&gt;" in shown
    assert "1 polling bursts per (user, m)" in by_tag._repr_html_()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in by_tag._repr_html_()


def test_example_notebook_runs_top_to_bottom(tmp_path):
    nbformat = pytest.importorskip("nbformat")
    from nbclient import NotebookClient

    nb = nbformat.read(REPO / "examples" / "triage-demo.ipynb", as_version=4)
    NotebookClient(
        nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    ).execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    rich = [o["data"]["text/html"] for o in outputs if "text/html" in o.get("data", {})]
    assert any("composio unavailable" in h and "downgrade" in h for h in rich)
    assert any("polling bursts per (group, user)" in h and "5.005" in h for h in rich)
    page = (tmp_path / "triage-report.html").read_text(encoding="utf-8")
    assert len(page) > 20_000 and page.count('data-chart="timeline"') >= 5
