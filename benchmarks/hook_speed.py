"""How much the live hook adds per event: microseconds, and against what sentry-sdk itself costs.

    python benchmarks/hook_speed.py [--rules openhuman] [--rounds 15] [--calls 2000]

Prints the median over rounds of the per-event time of: the hook alone on a matching event (the
seed incident), on events no rule matches (an exception, a logging record), and
``sentry_sdk.capture_message`` end to end (to a transport that keeps nothing) without and with the
hook, all measured in the same run so the ratios hold on a busy machine.

``--baseline CHECKOUT`` also compiles the table with another checkout's hook matcher
(``CHECKOUT/triage/targets/python.py``, e.g. a ``git worktree`` of the commit before a change)
and times both on every event in alternating rounds: the two medians and their ratio come from
the same run (a second copy of the baseline, timed alongside, shows the noise).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable

import sentry_sdk
from sentry_sdk.transport import Transport

import triage.sentry as ts

SEED = "composio unavailable: no backend session token. Sign in first (auth_store_session)."
EVENTS = {
    "match (seed incident)": {
        "level": "error",
        "exception": {"values": [{"type": "RuntimeError", "value": SEED}]},
        "tags": {"method": "openhuman.composio_list_connections"},
    },
    "no match (exception)": {
        "level": "error",
        "exception": {
            "values": [{"type": "TypeError", "value": "Cannot read properties of undefined"}]
        },
    },
    "no match (log record)": {
        "level": "error",
        "logentry": {"message": "db %s locked", "formatted": "db main locked", "params": ["main"]},
        "logger": "core.db",
    },
}


class NullTransport(Transport):
    def capture_envelope(self, envelope):  # keeps nothing
        pass


def per_call_us(fn: Callable[[], object], rounds: int, calls: int) -> float:
    samples = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        for _ in range(calls):
            fn()
        samples.append((time.perf_counter() - t0) / calls * 1e6)
    return statistics.median(samples)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rules", default="openhuman", help="rule table (name or path)")
    ap.add_argument("--rounds", type=int, default=15, help="timed rounds (median is reported)")
    ap.add_argument("--calls", type=int, default=2000, help="calls per round")
    ap.add_argument("--baseline", help="a checkout whose hook matcher to compare with")
    args = ap.parse_args()
    if args.baseline:
        compare(args)
        return

    hook = ts.before_send(args.rules)
    print(f"rules: {args.rules}; median of {args.rounds} rounds x {args.calls} calls")
    for name, ev in EVENTS.items():
        us = per_call_us(lambda ev=ev: hook(dict(ev), None), args.rounds, args.calls)
        print(f"  hook alone, {name:24} {us:7.2f} us/event")

    results = {}
    for label, before_send in (("without hook", None), ("with hook", hook)):
        sentry_sdk.init(
            dsn=None, transport=NullTransport(), default_integrations=False, before_send=before_send
        )
        results[label] = per_call_us(
            lambda: sentry_sdk.capture_message(SEED), args.rounds, max(args.calls // 4, 1)
        )
        sentry_sdk.get_client().close()
    base, hooked = results["without hook"], results["with hook"]
    print(f"  sentry_sdk.capture_message without hook {base:7.2f} us/event (baseline)")
    print(
        f"  sentry_sdk.capture_message with hook    {hooked:7.2f} us/event "
        f"(x{hooked / base:.3f}, +{hooked - base:.2f} us)"
    )


def _load_matcher_module(path, name: str):
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader, path
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def compare(args: argparse.Namespace) -> None:
    """This checkout's matcher against ``--baseline``'s, in rounds whose order rotates. A second,
    separately loaded copy of the baseline is timed too: its gap to the first is the noise."""
    from pathlib import Path

    from triage.rules import load
    from triage.targets.python import compile_table

    path = Path(args.baseline) / "triage" / "targets" / "python.py"
    table = load(args.rules)
    matchers = {
        "baseline": _load_matcher_module(path, "baseline_a").compile_table(table),
        "this": compile_table(table),
        "baseline again": _load_matcher_module(path, "baseline_b").compile_table(table),
    }
    print(f"rules: {args.rules}; baseline {path}")
    print(f"median of {args.rounds} rounds x {args.calls} calls, the order rotating every round")
    for name, ev in EVENTS.items():
        samples: dict[str, list[float]] = {k: [] for k in matchers}
        for r in range(args.rounds):
            items = list(matchers.items())
            for label, m in items[r % 3 :] + items[: r % 3]:
                samples[label].append(
                    per_call_us(lambda ev=ev, m=m: ts.apply(dict(ev), m), 1, args.calls)
                )
        med = {k: statistics.median(v) for k, v in samples.items()}
        print(
            f"  hook alone, {name:24} baseline {med['baseline']:6.2f} us  "
            f"this {med['this']:6.2f} us (x{med['this'] / med['baseline']:.3f})  "
            f"baseline again {med['baseline again']:6.2f} us "
            f"(x{med['baseline again'] / med['baseline']:.3f}: the noise)"
        )


if __name__ == "__main__":
    main()
