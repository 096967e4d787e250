"""Benchmark every stage of the pipeline against DuckDB's own reader and the notebook way.

    python benchmarks/run.py --events 1000000          # the full run (about 20-30 min on 2 cores)
    python benchmarks/run.py --events 100000 --repeat 1  # a quick look

Each stage runs in a fresh Python process (no warm caches, peak RSS per stage from wait4), each
``--repeat`` times; the table shows medians. Baselines run in the same invocation on the same
input, and every ratio is against a baseline of the same run: on a shared machine only ratios
measured together mean anything. Generated data goes to ``--workdir`` (default /tmp), never
the repo.

Stages: the floor, DuckDB's typed ``read_json`` writing the normalized columns into a file
database (``benchmarks/floor.sql``, frozen), on NDJSON, gzip and zstd; two older references
(``read_json`` of every needed field as ``JSON``, and auto-detected); ``triage ingest`` of NDJSON,
gzip and zstd; 200 one-event files against one NDJSON of the same events; classify with
``openhuman`` and with a 200-rule table (65 regex), on realistic and on all-distinct messages,
against the plain ``CASE`` chain; bursts; report; ``triage run --db`` end to end (against ingest
alone). The notebook baseline (``pandas.json_normalize`` and a Python ``re`` loop over the same
rules) runs on a slice (``--baseline-events``, default 100k) and its rate is compared per event.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import generate  # noqa: E402  (benchmarks/ is not a package)

# The raw-event fields a notebook or the normalizer needs; the read_json floor reads these.
NEEDED = [
    "event_id",
    "timestamp",
    "level",
    "platform",
    "logger",
    "message",
    "logentry",
    "exception",
    "transaction",
    "culprit",
    "user",
    "release",
    "environment",
    "project",
    "tags",
    "fingerprint",
]


# ----------------------------------------------------------------------------------------------
# Stages: each runs in its own process (``run.py --stage NAME ...``) and prints one JSON line.


FLOOR_SQL = HERE / "floor.sql"
FLOOR = "typed floor: read_json typed + normalized columns, file db (floor.sql)"
OLD_FLOOR = "read_json, every field as JSON (old floor, reference)"


def _stage(name: str, a: dict) -> dict:
    if name == "floor":
        import duckdb

        con = duckdb.connect(a["db"])
        sql = FLOOR_SQL.read_text(encoding="utf-8")
        t = time.perf_counter()
        con.execute(sql, [a["path"], a["path"]])
        con.close()  # the checkpoint is part of writing a file database
        dt = time.perf_counter() - t
        n = duckdb.connect(a["db"]).execute("SELECT count(*) FROM events_floor").fetchone()[0]
        return {"seconds": dt, "events": n}
    if name == "read_json":
        import duckdb

        con = duckdb.connect(a["db"])
        con.execute("SET preserve_insertion_order = false")
        cols = "{" + ", ".join(f"'{c}': 'JSON'" for c in NEEDED) + "}"
        t = time.perf_counter()
        con.execute(
            f"CREATE TABLE raw AS SELECT * FROM read_json(?, format='newline_delimited', "
            f"columns={cols}, maximum_object_size=16777216)",
            [a["path"]],
        )
        dt = time.perf_counter() - t
        n = con.execute("SELECT count(*) FROM raw").fetchone()[0]
        return {"seconds": dt, "events": n}
    if name == "read_json_auto":
        import duckdb

        con = duckdb.connect(a["db"])
        t = time.perf_counter()
        con.execute("CREATE TABLE raw AS SELECT * FROM read_json_auto(?)", [a["path"]])
        dt = time.perf_counter() - t
        return {"seconds": dt, "events": con.execute("SELECT count(*) FROM raw").fetchone()[0]}
    import triage

    if name == "ingest":
        if a.get("lenient"):
            from triage.ingest import ingester

            ingester.Ingester.typed = False  # today's reference path, for the same-run ratio
        with triage.open(a["db"]) as db:  # creating the schema is not timed (nor for the floor)
            t = time.perf_counter()
            r = db.ingest([a["path"]])
        dt = time.perf_counter() - t  # with the close: the checkpoint, as for the floor
        if r.rejects or not r.added:
            raise SystemExit(f"ingest of {a['path']}: {r.added} added, {r.rejects} rejected")
        out = {"seconds": dt, "events": r.added}
        return out | ({"files": len(r.files)} if len(r.files) > 1 else {})
    if name == "classify":
        from triage.analysis import classify as classify_mod

        with triage.open(a["db"]) as db:
            table = triage.load_rules(a["rules"])
            t = time.perf_counter()
            r = classify_mod.classify(db.con, table, method=a["method"])
            dt = time.perf_counter() - t
            return {
                "seconds": dt,
                "events": r.events,
                "distinct": r.distinct_inputs,
                "matched": r.matched,
            }
    if name == "bursts":
        with triage.open(a["db"]) as db:
            t = time.perf_counter()
            b = db.bursts()
            dt = time.perf_counter() - t
            n = db.con.execute("SELECT count(*) FROM events").fetchone()[0]
            return {"seconds": dt, "events": n, "bursts": len(b)}
    if name == "report":
        with triage.open(a["db"]) as db:
            table = triage.load_rules(a["rules"])
            t = time.perf_counter()
            rep = db.report(table, reclassify=False)
            dt = time.perf_counter() - t
            return {"seconds": dt, "events": int(rep.totals["events"]), "groups": len(rep.groups)}
    if name == "notebook":
        return _notebook(a)
    raise SystemExit(f"unknown stage {name}")


def _notebook(a: dict) -> dict:
    """What a user writes by hand: json.loads + pandas.json_normalize + a loop of ``re``."""
    import re

    import pandas as pd

    import triage
    from triage.rules import All, Any_, Leaf, Not

    table = triage.load_rules(a["rules"])
    t0 = time.perf_counter()
    with open(a["path"], encoding="utf-8") as fh:
        records = [json.loads(line) for _, line in zip(range(a["limit"]), fh, strict=False)]
    df = pd.json_normalize(records)
    t1 = time.perf_counter()

    def text(row: dict, field: str) -> str:
        if field == "message":
            v = row.get("message")
            if not isinstance(v, str):
                v = row.get("exception.values")
                v = v[-1].get("value") if isinstance(v, list) and v else None
            return v or ""
        if field in ("exception.type", "exception.value"):
            v = row.get("exception.values")
            key = field.split(".")[1]
            return (v[-1].get(key) if isinstance(v, list) and v else None) or ""
        col = field if field.startswith("tags.") else field
        v = row.get(col)
        return v if isinstance(v, str) else ""

    compiled: dict[int, re.Pattern] = {}

    def match(cond, row) -> bool:
        if isinstance(cond, Leaf):
            s = text(row, cond.field)
            if cond.op == "regex":
                key = id(cond)
                if key not in compiled:
                    flags = 0 if cond.case_sensitive else re.IGNORECASE
                    compiled[key] = re.compile(cond.value, flags)
                return compiled[key].search(s) is not None
            v = cond.value if cond.case_sensitive else cond.value.lower()
            s = s if cond.case_sensitive else s.lower()
            return {
                "contains": v in s,
                "prefix": s.startswith(v),
                "suffix": s.endswith(v),
                "equals": s == v,
            }[cond.op]
        if isinstance(cond, Not):
            return not match(cond.item, row)
        if isinstance(cond, All):
            return all(match(c, row) for c in cond.items)
        assert isinstance(cond, Any_)
        return any(match(c, row) for c in cond.items)

    kinds = []
    for row in df.to_dict("records"):
        kind = None
        for rule in table.rules:
            if match(rule.condition, row):
                kind = rule.kind
                break
        kinds.append(kind)
    df["kind"] = kinds
    t2 = time.perf_counter()
    df.groupby([df["kind"].fillna("-")]).size()
    t3 = time.perf_counter()
    return {
        "seconds": t3 - t0,
        "load_seconds": t1 - t0,
        "classify_seconds": t2 - t1,
        "events": len(df),
        "matched": int(df["kind"].notna().sum()),
    }


def _stage_main(argv: list[str]) -> int:
    name, args = argv[0], json.loads(argv[1])
    out = _stage(name, args)
    print("RESULT " + json.dumps(out), flush=True)
    return 0


# ----------------------------------------------------------------------------------------------
# The driver


def _run(cmd: list[str], env: dict | None = None) -> tuple[dict, float, float]:
    """Run a command; return (its RESULT json or {}, wall seconds, peak RSS in MB) via wait4."""
    import tempfile

    t = time.perf_counter()
    with tempfile.TemporaryFile() as out_f, tempfile.TemporaryFile() as err_f:
        proc = subprocess.Popen(cmd, stdout=out_f, stderr=err_f, env=env)
        _, status, usage = os.wait4(proc.pid, 0)  # the child's own peak RSS
        proc.returncode = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - t
        out_f.seek(0)
        err_f.seek(0)
        out, err = out_f.read(), err_f.read()
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{err.decode()[-2000:]}")
    result = {}
    for line in out.decode().splitlines():
        if line.startswith("RESULT "):
            result = json.loads(line[7:])
    return result, wall, usage.ru_maxrss / 1024


def _stage_cmd(name: str, **args) -> list[str]:
    return [sys.executable, str(Path(__file__).resolve()), "--stage", name, json.dumps(args)]


class Bench:
    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.rows: list[dict] = []
        self.work = Path(args.workdir)
        self.work.mkdir(parents=True, exist_ok=True)

    def log(self, msg: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)

    def measure(
        self,
        label: str,
        make_cmd,
        *,
        prepare=None,
        size_bytes: int | None = None,
        repeat: int | None = None,
        note: str = "",
        events: int | None = None,
    ) -> dict:
        """Run a stage ``repeat`` times in fresh processes; record medians."""
        runs = []
        for _ in range(repeat or self.args.repeat):
            if prepare:
                prepare()
            result, wall, rss = _run(make_cmd())
            runs.append((result, wall, rss))
        secs = statistics.median(r[0].get("seconds", r[1]) for r in runs)
        events = runs[0][0].get("events", events or self.args.events)
        row = {
            "stage": label,
            "seconds": secs,
            "events": events,
            "rate": events / secs if secs else 0.0,
            "mb_s": (size_bytes / 1e6 / secs) if size_bytes and secs else None,
            "rss_mb": statistics.median(r[2] for r in runs),
            "runs": [round(r[0].get("seconds", r[1]), 3) for r in runs],
            "extra": {k: v for k, v in runs[0][0].items() if k not in ("seconds", "events")},
            "note": note,
        }
        self.rows.append(row)
        self.log(
            f"{label}: {secs:.2f} s, {row['rate']:,.0f} events/s, {row['rss_mb']:.0f} MB "
            f"(runs {row['runs']})"
        )
        return row

    # -- data ------------------------------------------------------------------------------------

    def data(self) -> dict[str, Path]:
        n, seed = self.args.events, self.args.seed
        paths = {
            "ndjson": self.work / f"events-{n}-s{seed}.ndjson",
            "distinct": self.work / f"distinct-{n}-s{seed}.ndjson",
            "rules200": self.work / "rules200.toml",
        }
        for key, distinct in (("ndjson", False), ("distinct", True)):
            p = paths[key]
            if distinct and "classify" not in self.args.stages.split(","):
                continue  # only the classify stages read the all-distinct export
            if not p.exists():
                self.log(f"generating {p} ...")
                tmp = p.with_suffix(".tmp")
                generate.write_events(tmp, n, seed=seed + (1 if distinct else 0), distinct=distinct)
                tmp.rename(p)
        paths["rules200"].write_text(generate.rules_toml(), encoding="utf-8")
        gz = paths["ndjson"].with_name(paths["ndjson"].name + ".gz")
        zst = paths["ndjson"].with_name(paths["ndjson"].name + ".zst")
        if not gz.exists():
            self.log(f"compressing {gz} ...")
            _compress(paths["ndjson"], gz, "gzip")
        paths["gz"] = gz
        if not zst.exists() and _compress(paths["ndjson"], zst, "zstd"):
            self.log(f"compressed {zst}")
        if zst.exists():
            paths["zst"] = zst
        return paths

    # -- the run ---------------------------------------------------------------------------------

    def run(self) -> None:
        a = self.args
        p = self.data()
        size = p["ndjson"].stat().st_size
        db = self.work / "bench.duckdb"
        ddb = self.work / "bench-distinct.duckdb"
        scratch = self.work / "scratch.duckdb"

        def fresh(path: Path):
            return lambda: [q.unlink() for q in (path, Path(f"{path}.wal")) if q.exists()]

        want = set(a.stages.split(","))
        if "ingest" not in want:
            for path, key in ((db, "ndjson"), (ddb, "distinct")):
                if not path.exists() and want & {"classify", "bursts", "report"}:
                    self.log(f"ingesting {p[key]} (not measured) ...")
                    _run(_stage_cmd("ingest", path=str(p[key]), db=str(path)))
        else:
            self.ingest_stages(p, size, db, ddb, scratch, fresh)
        if "small" in want and a.small_files:
            self.small_stages(p, scratch, fresh)
        if "classify" in want:
            self.classify_stages(p, db, ddb)
        if "bursts" in want:
            self.measure("bursts", lambda: _stage_cmd("bursts", db=str(db)))
        if "report" in want:
            self.measure(
                "report (openhuman)", lambda: _stage_cmd("report", db=str(db), rules="openhuman")
            )
        if "e2e" in want:
            self.e2e_stages(p, size)
        if "notebook" in want:
            self.notebook_stages(p)

    def ingest_stages(self, p, size, db, ddb, scratch, fresh) -> None:
        a = self.args
        # Ingest: the typed floor (and the older references), then the pipeline, per compression.
        self.measure(
            FLOOR,
            lambda: _stage_cmd("floor", path=str(p["ndjson"]), db=str(scratch)),
            prepare=fresh(scratch),
            size_bytes=size,
            repeat=a.repeat_slow,
        )
        self.measure(
            OLD_FLOOR,
            lambda: _stage_cmd("read_json", path=str(p["ndjson"]), db=str(scratch)),
            prepare=fresh(scratch),
            size_bytes=size,
            repeat=a.repeat_slow,
        )
        if not a.skip_auto:
            self.measure(
                "read_json, auto-detected columns",
                lambda: _stage_cmd("read_json_auto", path=str(p["ndjson"]), db=str(scratch)),
                prepare=fresh(scratch),
                size_bytes=size,
                repeat=1,
            )
        self.measure(
            "triage ingest, NDJSON",
            lambda: _stage_cmd("ingest", path=str(p["ndjson"]), db=str(db)),
            prepare=fresh(db),
            size_bytes=size,
            repeat=a.repeat_slow,
        )
        if a.lenient:
            self.measure(
                "triage ingest, NDJSON, lenient path only",
                lambda: _stage_cmd("ingest", path=str(p["ndjson"]), db=str(scratch), lenient=True),
                prepare=fresh(scratch),
                size_bytes=size,
                repeat=a.repeat_slow,
            )
        for key, what in (("gz", "gzip"), ("zst", "zstd")):
            if key not in p:
                continue
            try:
                self.measure(
                    f"typed floor, {what}",
                    lambda k=key: _stage_cmd("floor", path=str(p[k]), db=str(scratch)),
                    prepare=fresh(scratch),
                    size_bytes=size,
                    repeat=a.repeat_slow,
                )
                self.measure(
                    f"triage ingest, {what}",
                    lambda k=key: _stage_cmd("ingest", path=str(p[k]), db=str(scratch)),
                    prepare=fresh(scratch),
                    size_bytes=size,
                    repeat=a.repeat_slow,
                )
            except RuntimeError as exc:
                self.log(f"{what} not measured: {str(exc).splitlines()[-1]}")
        if "classify" in a.stages.split(","):
            self.log("ingesting the all-distinct export ...")
            fresh(ddb)()
            _run(_stage_cmd("ingest", path=str(p["distinct"]), db=str(ddb)))

    def small_stages(self, p, scratch, fresh) -> None:
        """N one-event files against one NDJSON of the same events, runs interleaved (on a
        shared machine a load change then hits both alike)."""
        n = self.args.small_files
        one, folder = self.small_files(p, n)
        labels = (
            f"triage ingest, {n} events in one NDJSON",
            f"triage ingest, the same {n} events as one-event files",
        )
        runs: dict[str, list] = {label: [] for label in labels}
        for _ in range(self.args.repeat):
            for label, path in zip(labels, (one, folder), strict=True):
                fresh(scratch)()
                result, wall, rss = _run(_stage_cmd("ingest", path=str(path), db=str(scratch)))
                runs[label].append((result, wall, rss))
        for label in labels:
            rs = runs[label]
            secs = statistics.median(r[0]["seconds"] for r in rs)
            row = {
                "stage": label,
                "seconds": secs,
                "events": n,
                "rate": n / secs,
                "mb_s": None,
                "rss_mb": statistics.median(r[2] for r in rs),
                "runs": [round(r[0]["seconds"], 3) for r in rs],
                "extra": {k: v for k, v in rs[0][0].items() if k not in ("seconds", "events")},
                "note": "runs interleaved with the other",
            }
            self.rows.append(row)
            self.log(f"{label}: {secs:.2f} s (runs {row['runs']})")

    def small_files(self, p, n: int) -> tuple[Path, Path]:
        """The first ``n`` events as one NDJSON file and as ``n`` one-event JSON files (the JSON
        link's and sentry-cli's shape: one pretty-printed object per file)."""
        one = self.work / f"small-{n}-s{self.args.seed}.ndjson"
        folder = self.work / f"small-{n}-s{self.args.seed}"
        if not folder.exists():
            tmp = folder.with_name(folder.name + ".tmp")
            shutil.rmtree(tmp, ignore_errors=True)
            tmp.mkdir()
            lines = []
            with open(p["ndjson"], encoding="utf-8") as fh:
                for i, line in zip(range(n), fh, strict=False):
                    lines.append(line)
                    ev = json.loads(line)
                    (tmp / f"event-{i:05d}.json").write_text(json.dumps(ev, indent=2))
            one.write_text("".join(lines), encoding="utf-8")
            tmp.rename(folder)
        return one, folder

    def classify_stages(self, p, db, ddb) -> None:
        # Classify: the fast form against the plain CASE chain, same data, same run.
        for rules, label in (("openhuman", "openhuman"), (str(p["rules200"]), "200 rules")):
            for dbp, data in ((db, "realistic"), (ddb, "all-distinct")):
                for method, what in (("case", "plain CASE chain"), ("blocked", "blocked+gated")):
                    self.measure(
                        f"classify {label}, {data}, {what}",
                        lambda r=rules, d=dbp, m=method: _stage_cmd(
                            "classify", db=str(d), rules=r, method=m
                        ),
                    )

    def e2e_stages(self, p, size) -> None:
        a = self.args
        # End to end: the CLI a user runs, in memory, JSON report thrown away.
        triage_cli = shutil.which("triage") or str(Path(sys.executable).with_name("triage"))
        e2e_db = self.work / "e2e.duckdb"
        self.measure(
            "triage run --db, end to end (NDJSON)",
            lambda: [
                triage_cli,
                "run",
                str(p["ndjson"]),
                "--db",
                str(e2e_db),
                "--format",
                "json",
                "--output",
                os.devnull,
                "-q",
            ],
            prepare=lambda: [q.unlink() for q in (e2e_db, Path(f"{e2e_db}.wal")) if q.exists()],
            size_bytes=size,
            repeat=a.repeat_slow,
        )

        if a.rss_check:
            m = a.rss_check
            big = self.work / f"events-{m}-s{a.seed}.ndjson"
            if not big.exists():
                self.log(f"generating {big} ...")
                tmp = big.with_suffix(".tmp")
                generate.write_events(tmp, m, seed=a.seed)
                tmp.rename(big)
            self.measure(
                f"triage run, end to end, {m:,} events (RSS check)",
                lambda: [
                    triage_cli,
                    "run",
                    str(big),
                    "--format",
                    "json",
                    "--output",
                    os.devnull,
                    "-q",
                ],
                size_bytes=big.stat().st_size,
                repeat=1,
                events=m,
            )

    def notebook_stages(self, p) -> None:
        a = self.args
        # The notebook way, on a slice.
        limit = min(a.baseline_events, a.events)
        for rules, label in (("openhuman", "openhuman"), (str(p["rules200"]), "200 rules")):
            self.measure(
                f"notebook: json_normalize + re loop, {label}",
                lambda r=rules: _stage_cmd("notebook", path=str(p["ndjson"]), rules=r, limit=limit),
                repeat=1,
                note=f"on the first {limit:,} events",
            )

    # -- output ----------------------------------------------------------------------------------

    def row(self, prefix: str) -> dict | None:
        return next((r for r in self.rows if r["stage"].startswith(prefix)), None)

    def ratios(self) -> list[str]:
        out = []

        def ratio(a: str, b: str, what: str) -> None:
            ra, rb = self.row(a), self.row(b)
            if ra and rb and rb["rate"]:
                out.append(
                    f"- {what}: **{ra['rate'] / rb['rate']:.1f}x** "
                    f"({ra['rate']:,.0f} vs {rb['rate']:,.0f} events/s)"
                )

        ratio("triage ingest, NDJSON", FLOOR, "**ingest NDJSON vs the typed floor**")
        for what in ("gzip", "zstd"):
            ratio(f"triage ingest, {what}", f"typed floor, {what}", f"**ingest {what} vs floor**")
        ratio("triage ingest, NDJSON", OLD_FLOOR, "ingest NDJSON vs the old JSON-typed floor")
        ratio(FLOOR, OLD_FLOOR, "typed floor vs the old JSON-typed floor")
        ratio("triage ingest, NDJSON", "triage ingest, NDJSON, lenient", "typed vs lenient path")
        files, one = (
            self.row("triage ingest, the same"),
            self.row("triage ingest, " + str(self.args.small_files) + " events in one"),
        )
        if files and one:
            out.append(
                f"- **{self.args.small_files} one-event files vs one NDJSON of the same events**: "
                f"**{files['seconds'] / one['seconds']:.2f}x** the time ({files['seconds']:.2f} s "
                f"vs {one['seconds']:.2f} s)"
            )
        for label in ("openhuman", "200 rules"):
            for data in ("realistic", "all-distinct"):
                ratio(
                    f"classify {label}, {data}, blocked",
                    f"classify {label}, {data}, plain",
                    f"classify {label} on {data} messages, blocked vs plain CASE",
                )
        ratio(
            "triage run",
            "notebook: json_normalize + re loop, openhuman",
            "**end to end vs the notebook way** (openhuman rules)",
        )
        for label in ("openhuman", "200 rules"):
            ours = self.row(f"classify {label}, realistic, blocked")
            nb = self.row(f"notebook: json_normalize + re loop, {label}")
            if ours and nb and nb["extra"].get("classify_seconds"):
                nb_rate = nb["events"] / nb["extra"]["classify_seconds"]
                out.append(
                    f"- classify {label} vs the notebook's `re` loop alone: "
                    f"**{ours['rate'] / nb_rate:.0f}x** ({ours['rate']:,.0f} vs {nb_rate:,.0f} "
                    "events/s)"
                )
        e2e, ing = self.row("triage run --db, end to end"), self.row("triage ingest, NDJSON")
        if e2e and ing and e2e["events"] == ing["events"]:
            out.append(
                f"- **end to end vs ingest alone**: **{e2e['seconds'] / ing['seconds']:.2f}x** the "
                f"time ({e2e['seconds']:.1f} s vs {ing['seconds']:.1f} s); end-to-end peak RSS "
                f"{e2e['rss_mb']:,.0f} MB"
            )
        big = self.row("triage run, end to end, ")
        if e2e and big:
            growth = big["rss_mb"] / e2e["rss_mb"] - 1
            out.append(
                f"- end-to-end peak RSS from {e2e['events']:,} to {big['events']:,} events: "
                f"**{growth:+.0%}** ({e2e['rss_mb']:,.0f} MB to {big['rss_mb']:,.0f} MB)"
            )
        return out

    def table(self) -> str:
        lines = [
            "| stage | median s | events/s | MB/s | peak RSS MB | runs (s) | notes |",
            "| --- | ---: | ---: | ---: | ---: | --- | --- |",
        ]
        for r in self.rows:
            extra = ", ".join(
                f"{k} {v:,}" if isinstance(v, int) else f"{k} {v:.2f}"
                for k, v in r["extra"].items()
            )
            note = "; ".join(x for x in (r["note"], extra) if x)
            mbs = f"{r['mb_s']:,.0f}" if r["mb_s"] else ""
            lines.append(
                f"| {r['stage']} | {r['seconds']:.2f} | {r['rate']:,.0f} | {mbs} | "
                f"{r['rss_mb']:,.0f} | {', '.join(map(str, r['runs']))} | {note} |"
            )
        return "\n".join(lines)


def _compress(src: Path, dst: Path, tool: str) -> bool:
    """Compress with the command-line tool when present (fast), else Python's gzip."""
    tmp = dst.with_name(dst.name + ".tmp")
    exe = shutil.which(tool)
    if exe:
        level = "-1" if tool == "gzip" else "-3"
        extra = ["-T0"] if tool == "zstd" else []
        with open(tmp, "wb") as out:
            subprocess.run([exe, level, *extra, "-c", str(src)], stdout=out, check=True)
    elif tool == "gzip":
        import gzip

        with open(src, "rb") as fi, gzip.open(tmp, "wb", compresslevel=1) as fo:
            shutil.copyfileobj(fi, fo, 1 << 20)
    else:
        return False
    tmp.rename(dst)
    return True


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        mem = int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1e9)
    except (ValueError, OSError):
        mem = 0
    import duckdb
    import pandas

    return (
        f"{cpu}, {os.cpu_count()} cores, {mem} GB RAM; Python {platform.python_version()}, "
        f"DuckDB {duckdb.__version__}, pandas {pandas.__version__}; "
        f"load average {os.getloadavg()[0]:.1f} at the end"
    )


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--stage"]:
        return _stage_main(argv[1:])
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--events", type=int, default=1_000_000, help="events to generate (1M)")
    ap.add_argument("--repeat", type=int, default=3, help="runs per quick stage; medians (3)")
    ap.add_argument(
        "--repeat-slow", type=int, default=3, help="runs per ingest and end-to-end stage (3)"
    )
    ap.add_argument(
        "--baseline-events",
        type=int,
        default=100_000,
        help="events the notebook baseline reads (100k; it is slow)",
    )
    ap.add_argument("--seed", type=int, default=1, help="generator seed (1)")
    ap.add_argument(
        "--workdir",
        default=os.path.join(os.environ.get("TMPDIR", "/tmp"), "triage-bench"),
        help="where generated data and databases go (/tmp/triage-bench)",
    )
    ap.add_argument(
        "--results",
        default=str(HERE / "RESULTS.md"),
        help="markdown file to write the table to (benchmarks/RESULTS.md)",
    )
    ap.add_argument(
        "--skip-auto", action="store_true", help="skip the auto-detected read_json stage"
    )
    ap.add_argument(
        "--stages",
        default="ingest,small,classify,bursts,report,e2e,notebook",
        help="comma-separated stages to run (all)",
    )
    ap.add_argument(
        "--rss-check",
        type=int,
        metavar="EVENTS",
        help="also run end to end on EVENTS events, to see how peak RSS grows",
    )
    ap.add_argument(
        "--small-files",
        type=int,
        default=200,
        metavar="N",
        help="stage small: N one-event files vs one NDJSON of them (200; 0 skips)",
    )
    ap.add_argument(
        "--lenient",
        action="store_true",
        help="with the ingest stage: also ingest with the lenient path only (typed path off)",
    )
    args = ap.parse_args(argv)
    bench = Bench(args)
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    t = time.perf_counter()
    bench.run()
    total = time.perf_counter() - t
    cmd = "python benchmarks/run.py " + " ".join(argv)
    text = "\n".join(
        [
            f"# Benchmark results: {args.events:,} events",
            "",
            f"`{cmd.strip()}`, {started}, {total / 60:.0f} min in all. "
            f"Medians of {args.repeat} runs ({args.repeat_slow} for ingest and end to end), "
            "each in a fresh process.",
            "",
            f"Machine: {machine()}.",
            "",
            bench.table(),
            "",
            "Ratios (measured in this run):",
            "",
            *bench.ratios(),
            "",
        ]
    )
    print(text)
    if args.results:
        Path(args.results).write_text(text, encoding="utf-8")
        print(f"written to {args.results}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
