"""Classify and report on ClickHouse (chdb, in process) vs DuckDB: the same events, the same run.

    python benchmarks/clickhouse.py                      # 1M events, 200-rule table, 3 repeats
    python benchmarks/clickhouse.py --events 200000 --repeat 5 --rules openhuman
    python benchmarks/clickhouse.py --url http://localhost:8123/default   # a real server

Events come from ``benchmarks/generate.py`` (realistic: repeated messages, 35 % expected noise),
ingested once by DuckDB's normalizer and copied into ClickHouse (not timed: both engines then
hold the same normalized rows). Timed, ``--repeat`` times each, medians quoted:

- DuckDB: ``Store.report(table)``: classify (once per distinct input, gated blocks, stored in
  ``classifications``), then the group report with burst evidence.
- ClickHouse: ``triage.analysis.clickhouse.build``: the rule index computed inline per event in
  the report query (nothing stored), then the group report (no burst evidence: no twin yet).

Both reports are checked to agree (groups, events, verdicts) before any figure is printed.
On a shared 2-core machine only the ratio in one run means much.
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import sys
import tempfile
import time
from pathlib import Path

import triage
from triage.analysis import clickhouse as ch_analysis
from triage.rules import load
from triage.store.clickhouse import connect, copy_from_duckdb

ROOT = Path(__file__).resolve().parent.parent


def _generator():
    spec = importlib.util.spec_from_file_location("bench_generate", ROOT / "benchmarks/generate.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _median_time(fn, repeat: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--rules", default="bench-200", help="bench-200 (generated) or a table")
    ap.add_argument("--url", default=None, help="ClickHouse URL (default: chdb in process)")
    args = ap.parse_args(argv)
    gen = _generator()
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        if args.rules == "bench-200":
            (tmp_path / "rules200.toml").write_text(gen.rules_toml(), encoding="utf-8")
            table = load(tmp_path / "rules200.toml")
        else:
            table = load(args.rules)
        t0 = time.perf_counter()
        gen.write_events(tmp_path / "events.ndjson", args.events, seed=1)
        store = triage.open(tmp_path / "bench.duckdb")
        store.ingest([tmp_path / "events.ndjson"])
        n = store.con.execute("SELECT count(*) FROM events").fetchone()[0]
        print(f"setup: {n:,} events generated and ingested in {time.perf_counter() - t0:.1f} s")

        if args.url:
            url = args.url
        else:  # an in-memory chdb engine lives while a client holds it: keep this one open
            admin = connect("chdb://memory")
            admin.command("CREATE DATABASE IF NOT EXISTS triage_bench")
            url = "chdb://memory/triage_bench"
        ch = connect(url)
        ch.command("DROP TABLE IF EXISTS triage_events")
        t0 = time.perf_counter()
        copy_from_duckdb(ch, store.con)
        engine = f"{'chdb' if url.startswith('chdb:') else 'server'} (ClickHouse {ch.version()})"
        print(f"setup: copied into {engine} in {time.perf_counter() - t0:.1f} s")

        duck_s, duck = _median_time(lambda: store.report(table), args.repeat)
        ch_s, click = _median_time(lambda: ch_analysis.build(ch, table), args.repeat)
        a = duck.groups.set_index("group_key")[["events", "verdict"]].sort_index()
        b = click.groups.set_index("group_key")[["events", "verdict"]].sort_index()
        for df in (a, b):
            df["events"], df["verdict"] = df["events"].astype(int), df["verdict"].astype(object)
        if not a.equals(b) or duck.totals["leaving_events"] != click.totals["leaving_events"]:
            print("FAIL: the two reports differ", file=sys.stderr)
            return 1
        import duckdb

        print(
            f"{n:,} events, rule table {table.name} ({len(table.rules)} rules), median of "
            f"{args.repeat}, classify + report, same run:\n"
            f"  DuckDB {duckdb.__version__}: {duck_s:.2f} s, {n / duck_s:,.0f} events/s\n"
            f"  {engine}: {ch_s:.2f} s, {n / ch_s:,.0f} events/s\n"
            f"  ratio ClickHouse/DuckDB time: {ch_s / duck_s:.2f}; reports agree on "
            f"{len(a)} groups, {duck.totals['leaving_events']:,} events leaving error volume"
        )
        ch.command("DROP TABLE IF EXISTS triage_events")
        ch.close()
        store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
