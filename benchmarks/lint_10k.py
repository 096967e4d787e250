"""`triage rules lint` on a 10,000-rule table: wall time and peak RSS, against 1,000 rules.

    python benchmarks/lint_10k.py [--rules 10000] [--baseline 1000] [--events 30] [--timeout 600]

Generates a table of ``--rules`` varied rules (contains, prefix, regex, tag equals, any/all/not,
examples on every rule, a few shadowed), a database of ``--events`` events (the issue's hostile
run used 30; ``--events 0`` uses the demo export, 505 events), then runs ``triage rules lint
--db`` in a child process for the baseline table and the big one, without and with ``--db``, and
prints wall time and the child's peak RSS (``ru_maxrss``). Targets (issue 16): under a minute and
under 1 GB at 10k rules. A child past ``--timeout`` is killed and reported as such.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import triage

WORDS = (
    "token session upload billing refresh socket cache render sync vault keyring bridge "
    "webhook quota tenant invoice avatar thumbnail codec decoder scheduler"
).split()


def make_table(n: int) -> str:
    """``n`` rules, every one with an example that matches it (so shadowing is checked too)."""
    out = ['name = "bench-10k"\n']
    for i in range(n):
        w = WORDS[i % len(WORDS)]
        phrase = f"{w} failure code x{i:05d}"
        kind = ("auth_expired", "rate_limited", "network", "noise")[i % 4]
        level = ("info", "warning", "debug", "info")[i % 4]
        head = f'[[rules]]\nid = "r{i:05d}"\nkind = "{kind}"\nlevel = "{level}"\n'
        shape = i % 5
        if shape == 0:
            body = f'field = "message"\ncontains = "{phrase}"\n'
        elif shape == 1:
            body = f'field = "message"\nregex = "{w} failure code x{i:05d}\\\\b"\n'
        elif shape == 2:
            body = (
                f'any = [\n  {{ field = "message", prefix = "{phrase}" }},\n'
                f'  {{ field = "tags.method", equals = "app.{w}_{i}" }},\n]\n'
            )
        elif shape == 3:
            body = (
                f'all = [\n  {{ field = "message", contains = "{phrase}" }},\n'
                f'  {{ not = {{ field = "logger", equals = "tests" }} }},\n]\n'
            )
        else:
            body = f'field = "exception.value"\ncontains = "{phrase}"\n'
        example = f'examples.match = ["{phrase} happened"]\n' if shape != 4 else ""
        out.append(head + body + example)
    return "\n".join(out)


def make_db(path: Path, events: int) -> None:
    with triage.open(path) as db:
        if events <= 0:
            db.ingest(triage.demo_paths())
            return
        import json

        lines = []
        for i in range(events):
            w = WORDS[i % len(WORDS)]
            lines.append(
                json.dumps(
                    {
                        "event_id": f"{i:032x}",
                        "timestamp": 1_780_000_000 + i * 60,
                        "level": "error",
                        "platform": "javascript",
                        "message": f"{w} failure code x{i * 7:05d} happened",
                        "user": {"id": f"u-{i % 5}"},
                        "tags": {"method": f"app.{w}_{i}"},
                    }
                )
            )
        src = path.with_suffix(".ndjson")
        src.write_text("\n".join(lines) + "\n", encoding="utf-8")
        db.ingest([src])


def run_child(args: list[str], timeout: float) -> tuple[str, float, float]:
    """(status, seconds, peak RSS in MB) of ``triage ARGS`` in a fresh process."""
    code = "import sys; from triage.cli import main; sys.argv = ['triage', *sys.argv[1:]]; main()"
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-c", code, *args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        _, err = proc.communicate(timeout=timeout)
        status = f"exit {proc.returncode}"
        if proc.returncode not in (0, 1):
            status += f" ({err.decode(errors='replace').strip().splitlines()[-1:]})"
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        status = f"killed at {timeout:g} s"
    seconds = time.perf_counter() - t0
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return status, seconds, peak_kb / 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rules", type=int, default=10_000)
    ap.add_argument("--baseline", type=int, default=1_000)
    ap.add_argument("--events", type=int, default=30)
    ap.add_argument("--timeout", type=float, default=600)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmpd = Path(tmp)
        db = tmpd / "bench.duckdb"
        make_db(db, a.events)
        print(f"database: {a.events or 'demo'} events; python {sys.version.split()[0]}")
        print(f"{'rules':>7} {'--db':>5} {'status':<28} {'seconds':>8} {'peak RSS MB':>12}")
        for n in (a.baseline, a.rules):
            table = tmpd / f"rules_{n}.toml"
            table.write_text(make_table(n), encoding="utf-8")
            for with_db in (False, True):
                args = ["rules", "lint", "--rules", str(table), "--format", "json"]
                if with_db:
                    args += ["--db", str(db)]
                # RUSAGE_CHILDREN is a running maximum over every child: measure each in its own
                # grandchild so the figure is that run's own peak.
                status, seconds, peak = _isolated(args, a.timeout)
                print(
                    f"{n:>7} {'yes' if with_db else 'no':>5} {status:<28} {seconds:>8.1f} "
                    f"{peak:>12.0f}"
                )


def _isolated(args: list[str], timeout: float) -> tuple[str, float, float]:
    """Run :func:`run_child` inside a fresh interpreter so ``RUSAGE_CHILDREN`` covers one run."""
    code = (
        "import sys, json; sys.path.insert(0, sys.argv[1]); import lint_10k as b; "
        "print(json.dumps(b.run_child(json.loads(sys.argv[2]), float(sys.argv[3]))))"
    )
    import json

    out = subprocess.run(
        [sys.executable, "-c", code, str(Path(__file__).parent), json.dumps(args), str(timeout)],
        capture_output=True,
        text=True,
        check=True,
    )
    status, seconds, peak = json.loads(out.stdout.strip().splitlines()[-1])
    return status, seconds, peak


if __name__ == "__main__":
    main()
