"""Start-up cost: what `import triage.sentry` adds to a host application, and `triage --version`.

Each command runs in a fresh process, interleaved, ``--repeat`` times; medians of wall time and
of CPU time (user + sys of the child), beside the baseline of the same interpreter doing nothing
and importing sentry_sdk alone, measured in the same run. On a loaded machine the wall time
includes waiting for a core; the CPU time does not.

    python benchmarks/startup.py --repeat 5
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

PY = sys.executable
TRIAGE = shutil.which("triage") or str(Path(PY).with_name("triage"))
CASES = {
    "python -c pass": [PY, "-c", "pass"],
    "import sentry_sdk": [PY, "-c", "import sentry_sdk"],
    "import triage.sentry": [PY, "-c", "import triage.sentry"],
    "triage --version": [TRIAGE, "--version"],
}
HEAVY_CHECK = (
    "import sys, triage.sentry; "
    "print(sorted(m for m in ('duckdb', 'pandas', 'matplotlib') if m in sys.modules))"
)


def once(cmd: list[str]) -> tuple[float, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, env=os.environ)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    runs: dict[str, list[tuple[float, float]]] = {k: [] for k in CASES}
    for cmd in CASES.values():  # warm the file cache once
        once(cmd)
    for _ in range(args.repeat):
        for name, cmd in CASES.items():
            runs[name].append(once(cmd))
    print(f"load average {os.getloadavg()[0]:.1f}; medians of {args.repeat} runs")
    print(f"{'command':24} {'wall ms':>9} {'cpu ms':>9}")
    med = {}
    for name, xs in runs.items():
        wall = statistics.median(w for w, _ in xs) * 1000
        cpu = statistics.median(c for _, c in xs) * 1000
        med[name] = (wall, cpu)
        print(f"{name:24} {wall:9.0f} {cpu:9.0f}")
    base, hooked = med["import sentry_sdk"], med["import triage.sentry"]
    hook = [a - b for a, b in zip(hooked, base, strict=True)]
    print(f"import triage.sentry on top of sentry_sdk: {hook[0]:.0f} ms wall, {hook[1]:.0f} ms cpu")
    heavy = subprocess.run([PY, "-c", HEAVY_CHECK], capture_output=True, text=True, check=True)
    print(f"heavy modules loaded by import triage.sentry: {heavy.stdout.strip()}")


if __name__ == "__main__":
    main()
