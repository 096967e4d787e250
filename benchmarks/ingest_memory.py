"""Peak memory of `triage ingest` against file size: it must stay bounded by DuckDB's
``memory_limit`` (``$TRIAGE_MEMORY_LIMIT``, default 512MB), not grow with the file.

Each size is generated once in a scratch folder (never committed) with benchmarks/generate.py,
then ingested by a fresh ``triage ingest`` process into a fresh database; the peak RSS of that
process comes from ``wait4``. The baseline, in the same run, is DuckDB alone reading the same file
into a table in a fresh process (``read_json_auto`` -> CREATE TABLE), so the ratios hold on a
loaded machine.

    python benchmarks/ingest_memory.py --events 30000,100000,700000 --dir /tmp/triage-mem
    python benchmarks/ingest_memory.py --events 700000 --out benchmarks/results/ingest_memory.md

Results of a run are in benchmarks/results/ingest_memory.md.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
BASELINE = """
import sys, duckdb
con = duckdb.connect(sys.argv[2])
con.execute("SET memory_limit = '{limit}'")
con.execute("CREATE TABLE t AS SELECT * FROM read_json_auto(?, format='newline_delimited', "
            "maximum_object_size=16777216)", [sys.argv[1]])
print(con.execute("SELECT count(*) FROM t").fetchone()[0])
"""


def _run(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, float, int]:
    """(seconds, peak RSS in MB, return code) of one child process."""
    start = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.monotonic() - start
    err = proc.stderr.read().decode("utf-8", "replace") if proc.stderr else ""
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        print(err, file=sys.stderr)
    return seconds, usage.ru_maxrss / 1024, code


def _triage() -> str:
    exe = Path(sys.executable).with_name("triage")
    return str(exe) if exe.exists() else "triage"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--events", default="30000,100000,700000", help="comma-separated sizes")
    ap.add_argument("--dir", default="/tmp/triage-ingest-memory", help="scratch folder")
    ap.add_argument("--limit", default=os.environ.get("TRIAGE_MEMORY_LIMIT", "512MB"))
    ap.add_argument("--out", help="also write the markdown table to this file")
    ap.add_argument("--keep", action="store_true", help="keep the generated files")
    args = ap.parse_args()
    work = Path(args.dir)
    work.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "TRIAGE_MEMORY_LIMIT": args.limit}
    rows = []
    for n in [int(x) for x in args.events.split(",")]:
        src = work / f"events-{n}.ndjson"
        if not src.exists():
            subprocess.run(
                [sys.executable, str(HERE / "generate.py"), "--events", str(n), "--out", str(src)],
                check=True,
                stdout=subprocess.DEVNULL,
            )
        size_mb = src.stat().st_size / 1e6
        results = {}
        for name, cmd in {
            "duckdb": [sys.executable, "-c", BASELINE.format(limit=args.limit), str(src)],
            "triage": [_triage(), "ingest", "--quiet", "--db"],
        }.items():
            db = work / f"{name}-{n}.duckdb"
            for p in (db, Path(str(db) + ".wal")):
                p.unlink(missing_ok=True)
            full = cmd + [str(db)] if name == "duckdb" else cmd + [str(db), str(src)]
            results[name] = _run(full, env)
            db.unlink(missing_ok=True)
        t_s, t_rss, t_code = results["triage"]
        d_s, d_rss, _ = results["duckdb"]
        rows.append(
            f"| {n:,} | {size_mb:,.0f} | {t_rss:,.0f} | {d_rss:,.0f} | {t_rss / size_mb:.2f} | "
            f"{t_s:,.1f} | {d_s:,.1f} | {t_s / d_s:.1f} | {n / t_s:,.0f} | {t_code} |"
        )
        print(rows[-1], flush=True)
        if not args.keep:
            src.unlink()
    table = "\n".join(
        [
            f"memory_limit = {args.limit}; {os.cpu_count()} cores; "
            f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
            "",
            "| events | file MB | triage peak RSS MB | duckdb-only peak RSS MB | RSS / file size | "
            "triage s | duckdb-only s | time ratio | events/s | exit |",
            "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
            *rows,
        ]
    )
    print(table)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(table + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
