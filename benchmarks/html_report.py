"""What the HTML report costs on top of the group report, on a synthetic export.

Baseline and candidate run in the same process on the same database: ``Store.report`` (classify
and group) against ``Store.html_report`` (the same, plus charts and tables). On a shared machine
only the ratio means much; the medians of ``--repeat`` runs are printed too.

    python benchmarks/html_report.py --events 200000
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import generate  # noqa: E402

import triage  # noqa: E402


def _median(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=200_000, help="Events to generate.")
    ap.add_argument("--repeat", type=int, default=3, help="Runs of each; the median is kept.")
    ap.add_argument("--charts", type=int, default=30, help="Groups charted (max_charts).")
    args = ap.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        export = Path(tmp) / "events.ndjson"
        generate.write_events(export, args.events)
        with triage.open(Path(tmp) / "b.duckdb") as db:
            db.ingest([export])
            groups = len(db.report("openhuman").groups)
            base = _median(lambda: db.report("openhuman"), args.repeat)
            page: list[str] = []
            html = _median(
                lambda: page.append(db.html_report("openhuman", max_charts=args.charts)),
                args.repeat,
            )
    print(
        f"{args.events:,} events, {groups:,} groups, {args.charts} charted: "
        f"report {base:.2f} s, html report {html:.2f} s (median of {args.repeat}); "
        f"ratio {html / base:.1f}x; page {len(page[-1]) / 1e6:.2f} MB"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
