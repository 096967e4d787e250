"""Every export of a 10k-rule table: seconds and peak RSS per target (issue 16: < 60 s, < 1 GB).

    python benchmarks/rules_10k.py [--rules 10000] [--repeat 3] [--targets typescript,rust]

Generates a deterministic table of ``--rules`` rules (``rules_toml``: literal tests on several
fields, regexes a glob can and cannot express, ``any``/``all``/``not``, case-sensitive tests, tag
fields, two examples per rule), then runs ``triage.export`` for each target in a fresh process
``--repeat`` times and prints the median seconds and the largest peak RSS (from ``wait4``). Loading
the table is timed on its own, in the same run, as the baseline every export pays.
``rules_toml`` is importable: ``rules lint --db`` at 10k rules is measured with the same table.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

WORDS = (
    "token session backend provider socket timeout chunk loading quota upstream gateway "
    "refused reset denied expired invalid missing unavailable throttled offline cancelled "
    "database locked permission manifest worker channel stream cursor payload schema"
).split()
TARGETS = ["json", "typescript", "rust", "sentry-fingerprint"]


def _lit(rnd: random.Random, i: int) -> str:
    return f"{rnd.choice(WORDS)} {rnd.choice(WORDS)} {i:05d}"


def _rule(rnd: random.Random, i: int) -> tuple[str, str, str]:
    """(condition TOML, an example it matches as TOML, a message it does not)."""
    text = _lit(rnd, i)
    miss = f"nothing here {i:05d}"
    shape = i % 10
    q = json.dumps
    if shape in (0, 1, 2):
        return f"field = 'message'\ncontains = {q(text)}", q(f"E: {text.upper()}!"), miss
    if shape == 3:
        cs = "true" if i % 20 == 3 else "false"
        return (
            f"field = 'message'\nprefix = {q(text)}\ncase_sensitive = {cs}",
            q(text + " (x)"),
            miss,
        )
    if shape == 4:  # a regex a glob can express (plain alternation)
        a, b = text, _lit(rnd, i + 100000)
        return f"field = 'message'\nregex = {q(a + '|' + b)}", q(f"x {b} y"), miss
    if shape == 5:  # a regex with classes and repetition: not a glob
        w = rnd.choice(WORDS)
        pattern = rf"\b{w}-{i:05d}\s+\d{{2,4}}\b"
        return (
            f"field = 'message'\nregex = {q(pattern)}",
            q(f"{w}-{i:05d}  123"),
            f"{w}-{i:05d} x",
        )
    if shape == 6:
        return (
            "any = [\n"
            f"  {{ field = 'exception.type', equals = {q('Err' + str(i))}, "
            "case_sensitive = true },\n"
            f"  {{ field = 'tags.method', suffix = {q('.call' + str(i))} }},\n"
            "]",
            f"{{ 'exception.type' = {q('Err' + str(i))} }}",
            miss,
        )
    if shape == 7:
        return (
            "all = [\n"
            f"  {{ field = 'message', contains = {q(text)} }},\n"
            f"  {{ not = {{ field = 'logger', equals = {q('core.' + str(i))} }} }},\n"
            "]",
            q(f"- {text} -"),
            miss,
        )
    if shape == 8:
        return (
            f"field = 'logger'\nequals = {q('app.mod' + str(i))}",
            f"{{ logger = {q('APP.mod' + str(i))} }}",
            miss,
        )
    return (
        f"field = 'exception.value'\ncontains = {q(text)}",
        f"{{ 'exception.value' = {q('x ' + text)} }}",
        miss,
    )


def rules_toml(n: int = 10_000, seed: int = 16) -> str:
    """A valid rule table of ``n`` rules, the same text for the same ``(n, seed)``."""
    rnd = random.Random(seed)
    out = [f'name = "bench-{n}"', ""]
    for i in range(n):
        cond, hit, miss = _rule(rnd, i)
        out += ["[[rules]]", f'id = "r{i:05d}"', f'kind = "kind_{i % 37}"']
        out += [f'level = "{("info", "warning", "debug", "drop")[i % 4]}"', cond]
        out.append(f"examples.match = [{hit}]")
        out += [f"examples.no_match = [{json.dumps(miss)}]", ""]
    return "\n".join(out)


CHILD = """
import sys, time
t0 = time.perf_counter()
import triage
from triage.rules import load
table = load(sys.argv[1])
t1 = time.perf_counter()
if sys.argv[2] != "load":
    res = triage.export(table, to=sys.argv[2])
    n = len(res.text)
else:
    n = 0
t2 = time.perf_counter()
print(f"{t1 - t0} {t2 - t1} {n}")
"""


def run_child(path: Path, target: str, timeout: float) -> tuple[float, float, int, float]:
    """(load s, export s, output chars, peak RSS MB) of one fresh process; a process past
    ``timeout`` is killed and counts as ``inf`` seconds."""
    with tempfile.TemporaryFile() as out:
        proc = subprocess.Popen([sys.executable, "-c", CHILD, str(path), target], stdout=out)
        deadline = time.monotonic() + timeout
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                proc.kill()
                _, status, usage = os.wait4(proc.pid, 0)
                return 0.0, float("inf"), 0, usage.ru_maxrss / 1024
            time.sleep(0.05)
        proc.returncode = status
        if status != 0:
            raise SystemExit(f"{target}: child failed (status {status})")
        out.seek(0)
        load_s, export_s, chars = out.read().decode().split()
    return float(load_s), float(export_s), int(chars), usage.ru_maxrss / 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rules", type=int, default=10_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--targets", default=",".join(TARGETS))
    ap.add_argument("--timeout", type=float, default=600, help="seconds before a run is killed")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"rules{args.rules}.toml"
        path.write_text(rules_toml(args.rules), encoding="utf-8")
        print(
            f"{args.rules} rules ({path.stat().st_size / 1e6:.1f} MB TOML); median of "
            f"{args.repeat} fresh processes; peak RSS is the largest"
        )
        for target in ["load", *args.targets.split(",")]:
            runs = [run_child(path, target, args.timeout) for _ in range(args.repeat)]
            load_s = statistics.median(r[0] for r in runs)
            exp_s = statistics.median(r[1] for r in runs)
            rss = max(r[3] for r in runs)
            print(
                f"  {target:20} export {exp_s:8.2f} s  (load {load_s:5.2f} s)  "
                f"peak RSS {rss:7.0f} MB  output {runs[0][2] / 1e6:6.1f} MB"
            )


if __name__ == "__main__":
    main()
