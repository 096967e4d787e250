"""The README's Python snippets run as written, top to bottom, in one fresh process.

The working folder holds what the README's "Everyday use" assumes: `triage.duckdb` made by
`triage run --db triage.duckdb`, an `exports/` folder and a `my-rules.toml`. A snippet that
leaves the database open would make a later read-only open fail, as it would for a reader who
pasted it and then ran a cron job.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

import triage
from triage.cli import main

README = Path(__file__).resolve().parent.parent / "README.md"
MY_RULES = """name = "my-app"

[[rules]]
id = "no-session-token"
kind = "auth_expired"
level = "info"
field = "message"
contains = "no backend session token"
examples.match = ["composio unavailable: no backend session token. Sign in first."]
"""


def python_blocks(text: str) -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", text, flags=re.S | re.M)


def test_readme_has_python_snippets():
    blocks = python_blocks(README.read_text(encoding="utf-8"))
    assert len(blocks) >= 4
    assert any("triage.open" in b for b in blocks)


def test_readme_python_snippets_run(tmp_path):
    res = CliRunner().invoke(
        main, ["run", "-q", "--db", str(tmp_path / "triage.duckdb"), "--format", "json"]
    )
    assert res.exit_code == 0, res.output
    shutil.copytree(triage.demo_paths()[0], tmp_path / "exports")
    (tmp_path / "my-rules.toml").write_text(MY_RULES)
    blocks = python_blocks(README.read_text(encoding="utf-8"))
    script = "\n\n".join(f"# --- README python block {i + 1}\n{b}" for i, b in enumerate(blocks))
    (tmp_path / "readme_blocks.py").write_text(script)
    proc = subprocess.run(
        [sys.executable, "readme_blocks.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "SENTRY_DSN": ""},
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (tmp_path / "report.html").stat().st_size > 10_000
