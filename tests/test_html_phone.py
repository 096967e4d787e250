"""The HTML report at phone width (390 px) and on a desktop (1280 px), in headless Chromium.

At 390 px no element may stick out of the viewport unless it sits inside a scroll box, the page
itself must not scroll sideways, and the headline figures and the top group's verdict, events
and users must be on screen. Screenshots go to test-artifacts/ (not committed).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner
from headless_chromium import Browser, find_chromium

from triage.cli import main

REPO = Path(__file__).resolve().parent.parent
ARTIFACTS = REPO / "test-artifacts"

OVERFLOW = """(() => {
  const vw = document.documentElement.clientWidth;
  const scrolls = el => {
    for (let p = el.parentElement; p && p !== document.body; p = p.parentElement) {
      const s = getComputedStyle(p);
      if (['auto', 'scroll'].includes(s.overflowX)) return p;
    }
    return null;
  };
  const bad = [];
  for (const el of document.body.querySelectorAll('*')) {
    const r = el.getBoundingClientRect();
    if (r.width === 0 || (r.left >= -1 && r.right <= vw + 1)) continue;
    const box = scrolls(el);
    if (box) {
      const b = box.getBoundingClientRect();
      if (b.left >= -1 && b.right <= vw + 1) continue;
    }
    bad.push(`${el.tagName.toLowerCase()}${el.id ? '#' + el.id : ''}.${el.className} `
             + `${Math.round(r.left)}..${Math.round(r.right)}`);
  }
  const row = document.querySelector('#groups tbody tr');
  const cell = i => { const r = row.cells[i].getBoundingClientRect();
                      return {text: row.cells[i].innerText, left: r.left, right: r.right}; };
  const figures = Array.from(document.querySelectorAll('#headline .figure')).map(f => {
    const r = f.getBoundingClientRect(); return {left: r.left, right: r.right}; });
  return {vw, scrollWidth: document.documentElement.scrollWidth, bad: bad.slice(0, 15),
          verdict: cell(0), events: cell(4), users: cell(5), figures};
})()"""


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
    out = tmp_path_factory.mktemp("html") / "report.html"
    res = CliRunner().invoke(main, ["run", "-q", "--format", "html", "-o", str(out)])
    assert res.exit_code == 0, res.output
    return out


@pytest.mark.parametrize("width", [390, 1280])
def test_report_fits_the_viewport(chromium, demo_html, width):
    with Browser(chromium, width=width, height=844 if width == 390 else 900) as b:
        b.open(demo_html.as_uri())
        shot = b.screenshot(ARTIFACTS / f"html-report-{width}.png")
        page = b.eval(OVERFLOW)
        problems = b.problems()
    assert problems == []
    assert page["vw"] == width
    assert page["bad"] == [], page["bad"]
    assert page["scrollWidth"] <= width, page  # the page itself never scrolls sideways
    # The top group's verdict, events and users are on screen, and so is every headline figure.
    assert page["verdict"]["text"].strip() == "downgrade"
    assert "253" in page["events"]["text"] and page["users"]["text"].strip().endswith("1")
    for part in ("verdict", "events", "users"):
        assert 0 <= page[part]["left"] and page[part]["right"] <= width, (part, page[part])
    assert all(0 <= f["left"] and f["right"] <= width for f in page["figures"]), page["figures"]
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert int.from_bytes(data[16:20], "big") == width
