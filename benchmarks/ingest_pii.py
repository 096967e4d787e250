"""What the personal-data scrubbing and the inflate bound cost at ingest.

1. Scrubbing: the same NDJSON (every event with an email user, an IP, Sentry's `user` tag and five
   other tags) ingested into a fresh in-memory database with the scrubbing on (the default) and off
   (``keep_pii=True``: the macros' CASE skips it), interleaved, median of ``--repeat`` runs each;
   the ratio is what the scrubbing costs on a file where every event carries personal data.
2. The inflate bound: the same file as .zst, ingested with the default bounds (it is inflated once,
   counting, before DuckDB reads it) against the plain file; and a zstd bomb refused.

    python benchmarks/ingest_pii.py --events 100000 --repeat 3
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import zstandard

import triage


def _write(path: Path, n: int) -> None:
    with open(path, "w") as fh:
        for i in range(n):
            email = f"user{i % 300}@example.com"
            ip = f"10.0.{i % 200}.{i % 250}"
            ev = {
                "event_id": f"{i:032x}",
                "timestamp": 1_700_000_000 + i,
                "level": "error",
                "platform": "python",
                "message": f"request {i % 500} failed for {email} from {ip}",
                "tags": {
                    "user": f"email:{email}",
                    "release": "1.2.3",
                    "method": f"m{i % 20}",
                    "browser": "Chrome 120",
                    "os.name": "Linux",
                    "url": "https://x/y",
                },
                "user": {"email": email, "ip_address": ip},
            }
            fh.write(json.dumps(ev) + "\n")


def _ingest(path: Path, **kw) -> tuple[float, object]:
    start = time.perf_counter()
    with triage.open(":memory:") as db:
        res = db.ingest([path], **kw)
    return time.perf_counter() - start, res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        plain = Path(d) / "events.ndjson"
        _write(plain, args.events)
        packed = Path(d) / "events.ndjson.zst"
        packed.write_bytes(zstandard.ZstdCompressor(level=3).compress(plain.read_bytes()))
        bomb = Path(d) / "bomb.zst"
        frame = zstandard.ZstdCompressor(level=19).compress(b"\0" * (64 << 20))
        bomb.write_bytes(frame * 64)  # 4 GiB of zeros
        on, off, zst = [], [], []
        for _ in range(args.repeat):
            on.append(_ingest(plain)[0])
            off.append(_ingest(plain, keep_pii=True)[0])
            zst.append(_ingest(packed)[0])
        t_bomb, res = _ingest(bomb)
        assert res.rejects == 1, res
        smaller = plain.stat().st_size / packed.stat().st_size
        bomb_kib = bomb.stat().st_size / 1024
    med = statistics.median
    print(f"{args.events:,} events, median of {args.repeat}, interleaved:")
    print(f"  scrubbing on  {med(on):6.2f} s")
    print(f"  scrubbing off {med(off):6.2f} s   (on/off {med(on) / med(off):.2f}x)")
    print(
        f"  .zst ({smaller:.0f}x smaller), bounds on {med(zst):6.2f} s   "
        f"(zst/plain {med(zst) / med(on):.2f}x)"
    )
    print(f"  4 GiB zstd bomb ({bomb_kib:.0f} KiB) refused in {t_bomb:.2f} s")


if __name__ == "__main__":
    sys.exit(main())
