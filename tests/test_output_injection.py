"""Event text cannot become a spreadsheet formula in CSV or markup in markdown output.

CSV: a cell starting with ``= + - @``, a tab or a carriage return is run as a formula by Excel,
LibreOffice and Google Sheets; OWASP's advice is a ``'`` before it. Markdown: a title such as
``![x](https://evil/p.png)`` would load an image in a PR comment; event text is escaped so it
renders as the characters it is.
"""

from __future__ import annotations

import csv
import io

import pytest
from click.testing import CliRunner
from events_factory import raw_event, write_ndjson
from markdown_it import MarkdownIt

import triage
from triage.cli import main

FORMULAS = ["=1+2*cmd|' /C calc'!A0", "+SUM(1,2)", "-2+3+cmd", "@SUM(9)", "\t=tab", "\r=cr"]
MARKUP = (
    "![pixel](https://evil.example/p.png) **loud** [click](https://evil.example/x) _em_ "
    "<img src=x onerror=alert(1)> `tick` <https://evil.example/auto> ~~gone~~"
)


def _hostile_db(tmp_path):
    events = []
    for k, text in enumerate([*FORMULAS, MARKUP]):
        # 25 polls 5 s apart from one user, so each is a group with a burst, tagged with the text
        events += [
            raw_event(
                f"h{k}",
                i,
                message=f"{text} failure {k}",
                user=text,
                every=5.0,
                tags={"method": text},
            )
            for i in range(25)
        ]
    path = write_ndjson(tmp_path / "hostile.ndjson", events)
    db = triage.open(tmp_path / "h.duckdb")
    db.ingest([path])
    return db


RULES = """
name = "hostile"
[[rules]]
id = "loud"
kind = "noise"
level = "info"
field = "message"
contains = "failure"
"""


def _cells(text: str) -> list[str]:
    return [c for row in csv.reader(io.StringIO(text)) for c in row]


def _assert_neutral(cells: list[str]) -> None:
    bad = [c for c in cells if c[:1] in ("=", "+", "-", "@", "\t", "\r")]
    assert not bad, bad


def test_report_csv_neutralises_formula_cells(tmp_path):
    with _hostile_db(tmp_path) as db:
        text = db.report("openhuman").to_csv()
    cells = _cells(text)
    _assert_neutral(cells)
    # kept, behind a quote (titles are templates: numbers read <num>)
    assert any(c.startswith("'=<num>+<num>*cmd") for c in cells)
    assert any(c.startswith("'@SUM(<num>)") for c in cells)


def test_bursts_csv_neutralises_users_and_tag_values(tmp_path):
    with _hostile_db(tmp_path) as db:
        by_group = db.bursts().to_csv()
        by_tag = db.bursts(by="method").to_csv()
    for text in (by_group, by_tag):
        cells = _cells(text)
        _assert_neutral(cells)
        assert "'+SUM(1,2)" in cells  # the user
    assert "'-2+3+cmd" in _cells(by_tag)  # the tag value


def test_cli_csv_outputs_are_neutral(tmp_path):
    _hostile_db(tmp_path).close()
    db = str(tmp_path / "h.duckdb")
    for args in (["report", "--format", "csv"], ["bursts", "--format", "csv", "--by", "method"]):
        r = CliRunner().invoke(main, [*args, "--db", db])
        assert r.exit_code == 0, r.output
        _assert_neutral(_cells(r.stdout))


def test_csv_leaves_numbers_alone(tmp_path):
    with _hostile_db(tmp_path) as db:
        rows = list(csv.DictReader(io.StringIO(db.bursts().to_csv())))
    assert all(float(r["period_s"]) == pytest.approx(5.0) for r in rows)


def _rendered_cells(markdown: str) -> str:
    html = MarkdownIt("commonmark").enable("table").enable("strikethrough").render(markdown)
    start = html.find("<tbody>")
    assert start >= 0, html
    end = html.find("<p><em>Unchanged")  # the diff's own closing line is emphasis, by design
    return html[start : end if end > 0 else None]


def _assert_inert(html: str) -> None:
    for tag in ("<img", "<a ", "<strong>", "<em>", "<s>", "<del>", "<code>tick"):
        assert tag not in html, (tag, html)
    assert "![pixel]" in html and "**loud**" in html  # the text is still there, as text


def test_report_markdown_event_text_is_inert(tmp_path):
    rules = tmp_path / "rules.toml"
    rules.write_text(RULES, encoding="utf-8")
    with _hostile_db(tmp_path) as db:
        md = db.report(str(rules)).to_markdown()
    _assert_inert(_rendered_cells(md))


def test_diff_markdown_event_text_is_inert(tmp_path):
    rules = tmp_path / "rules.toml"
    rules.write_text(RULES, encoding="utf-8")
    empty = tmp_path / "empty.toml"
    empty.write_text('name = "empty"\nrules = []\n', encoding="utf-8")
    with _hostile_db(tmp_path) as db:
        md = db.diff(str(empty), str(rules)).to_markdown()
    _assert_inert(_rendered_cells(md))


@pytest.mark.parametrize("value", ["nan", "NaN", "inf", "-0.5", "1.5"])
@pytest.mark.parametrize("command", ["report", "run", "diff"])
def test_threshold_out_of_range_or_nan_is_refused(value, command):
    args = {
        "report": ["report", "--db", ":memory:"],
        "run": ["run"],
        "diff": ["diff", "--demo", "--base", "openhuman", "--head", "openhuman"],
    }[command]
    r = CliRunner().invoke(main, [*args, "--threshold", value])
    assert r.exit_code == 2, r.output
    assert "--threshold" in r.stderr


def test_api_refuses_a_nan_threshold():
    with triage.open(":memory:") as db:
        db.ingest(triage.demo_paths())
        with pytest.raises(ValueError, match="threshold"):
            db.report("openhuman", threshold=float("nan"))
