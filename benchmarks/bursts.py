"""Polling bursts: accuracy on the seeded scenarios, and speed on a million events.

    python benchmarks/bursts.py                      # accuracy (5 seeds) + speed (1M events)
    python benchmarks/bursts.py --seeds 10 --events 200000 --repeat 3
    python benchmarks/bursts.py --skip-accuracy      # speed only

Accuracy: every mix of ``triage.scenarios`` (steady, jitter, restarts, shared_call,
interleaved, irregular, noise, all), each seed ingested from NDJSON like any export, detected
with the defaults, matched against the generator's truth: precision, recall, period error.
Targets: precision and recall >= 0.95, period error <= 5 %.

Speed: ``--events`` events written straight into the events table with SQL (polling users at
periods from 1 s to 15 min with +-20 % jitter, and random background events), then
``Store.bursts()`` timed ``--repeat`` times, against a baseline measured in the same run on
the same table: one plain LAG window over the same partitions, the least any window-function
burst detector must do. On a shared machine only that ratio means much; medians are quoted.
It also checks the million-event run finds the polling users it planted.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import triage
from triage import scenarios

ROOT = Path(__file__).resolve().parent.parent


def accuracy(seeds: int) -> bool:
    print(f"accuracy: {len(scenarios.MIXES)} mixes x {seeds} seeds, default parameters")
    print(
        f"{'mix':12} {'by':7} {'truth':>6} {'found':>6} {'precision':>9} {'recall':>7} "
        f"{'period err max':>14} {'mean':>7}"
    )
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        for mix in scenarios.MIXES:
            rows = []
            for seed in range(seeds):
                sc = scenarios.generate(mix, seed)
                path = Path(tmp) / f"{mix}-{seed}.ndjson"
                path.write_text("".join(json.dumps(e) + "\n" for e in sc.events))
                with triage.open(":memory:") as db:
                    db.ingest([path])
                    for by in [sc.by] if sc.by else [None, "method"]:
                        rows.append(scenarios.score(db.con, db.bursts(by=by).df, sc, by=by))
            for by in sorted({r.by or "-" for r in rows}):
                rs = [r for r in rows if (r.by or "-") == by]
                truth, found = sum(r.truth for r in rs), sum(r.detected for r in rs)
                matched = sum(r.matched for r in rs)
                p = matched / found if found else 1.0
                rc = matched / truth if truth else 1.0
                worst = max(r.max_period_error for r in rs)
                mean = statistics.fmean(r.mean_period_error for r in rs)
                low_p = min(r.precision for r in rs)
                low_r = min(r.recall for r in rs)
                good = low_p >= 0.95 and low_r >= 0.95 and worst <= 0.05
                ok &= good
                print(
                    f"{mix:12} {by:7} {truth:6} {found:6} {p:9.3f} {rc:7.3f} {worst:14.2%} "
                    f"{mean:7.2%}  worst seed P {low_p:.3f} R {low_r:.3f}  "
                    f"{'ok' if good else 'BELOW TARGET'}"
                )
    return ok


PLANT = """
CREATE OR REPLACE TABLE plan AS
SELECT
    u,
    exp(ln(1.0) + random() * (ln(900.0) - ln(1.0))) AS period,
    1777593600 + random() * 20 * 86400 AS t0,
    (100 + floor(random() * 500))::INTEGER AS n
FROM range($pollers) r(u);

INSERT INTO events (event_id, group_key, ts, level, user_id, tags, message)
SELECT
    md5('p' || u || ':' || k),
    'g-poll-' || (u % 50),
    to_timestamp(t0 + k * period + (random() * 2 - 1) * 0.2 * period),
    'error',
    'poller-' || u,
    MAP {'method': 'rpc.poll_' || (u % 50)},
    'poll failed'
FROM plan, range(n) k(k);

INSERT INTO events (event_id, group_key, ts, level, user_id, tags, message)
SELECT
    md5('b' || i),
    'g-bg-' || floor(random() * 500)::INTEGER,
    to_timestamp(1777593600 + random() * 30 * 86400),
    'error',
    'bg-' || floor(random() * 100000)::INTEGER,
    MAP {'method': 'rpc.bg_' || floor(random() * 500)::INTEGER},
    'something failed'
FROM range($events - (SELECT count(*) FROM events)) r(i);
"""

BASELINE = """
SELECT count(*), sum(dt) FROM (
    SELECT epoch(ts) - lag(epoch(ts)) OVER (PARTITION BY user_id, group_key ORDER BY ts) AS dt
    FROM events WHERE ts IS NOT NULL AND user_id IS NOT NULL
)
"""


def speed(events: int, repeat: int, workdir: Path) -> None:
    db_path = workdir / f"bursts-{events}.duckdb"
    db_path.unlink(missing_ok=True)
    pollers = max(1, int(events * 0.6 / 350))
    with triage.open(db_path) as db:
        db.con.execute("SELECT setseed(0.42)")
        t = time.perf_counter()
        params = {"pollers": pollers, "events": events}
        for stmt in filter(str.strip, PLANT.split(";")):
            db.con.execute(stmt, {k: v for k, v in params.items() if f"${k}" in stmt})
        n = db.con.execute("SELECT count(*) FROM events").fetchone()[0]
        planted = db.con.execute(
            "SELECT count(DISTINCT user_id) FROM events WHERE user_id LIKE 'poller-%'"
        ).fetchone()[0]
        print(
            f"\nspeed: {n:,} events ({planted:,} polling users, the rest random background) "
            f"written in {time.perf_counter() - t:.1f} s"
        )
    with triage.open(db_path, read_only=True) as db:
        base, runs = [], []
        found = None
        for _ in range(repeat):
            t = time.perf_counter()
            db.con.execute(BASELINE).fetchall()
            base.append(time.perf_counter() - t)
            t = time.perf_counter()
            found = db.bursts()
            runs.append(time.perf_counter() - t)
        mb, mr = statistics.median(base), statistics.median(runs)
        df = found.df
        hit = df[df["user"].str.startswith("poller-")]["user"].nunique()
        false = int((~df["user"].str.startswith("poller-")).sum())
        print(f"  baseline (one LAG window)   median {mb:6.2f} s  runs {_fmt(base)}")
        print(f"  triage bursts               median {mr:6.2f} s  runs {_fmt(runs)}")
        print(f"  ratio bursts / baseline     {mr / mb:.1f}x   ({n / mr:,.0f} events/s)")
        print(
            f"  found {len(df):,} bursts: {hit:,} of {planted:,} polling users, "
            f"{false} on background users"
        )
    db_path.unlink(missing_ok=True)


def _fmt(xs: list[float]) -> str:
    return " ".join(f"{x:.2f}" for x in xs)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=5, help="Seeds per mix for accuracy.")
    ap.add_argument("--events", type=int, default=1_000_000, help="Events for the speed run.")
    ap.add_argument("--repeat", type=int, default=5, help="Timed runs (the median is quoted).")
    ap.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()))
    ap.add_argument("--skip-accuracy", action="store_true", help="Speed only.")
    ap.add_argument("--skip-speed", action="store_true", help="Accuracy only.")
    a = ap.parse_args(argv)
    ok = True
    if not a.skip_accuracy:
        ok = accuracy(a.seeds)
    if not a.skip_speed:
        speed(a.events, a.repeat, a.workdir)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
