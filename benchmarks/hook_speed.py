"""How much the live hook adds per event: microseconds, and against what sentry-sdk itself costs.

    python benchmarks/hook_speed.py [--rules openhuman] [--rounds 15] [--calls 2000]

Prints the median over rounds of the per-event time of: the hook alone on a matching event (the
seed incident), on events no rule matches (an exception, a logging record), and
``sentry_sdk.capture_message`` end to end (to a transport that keeps nothing) without and with the
hook, all measured in the same run so the ratios hold on a busy machine.
"""

from __future__ import annotations

import argparse
import statistics
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
    args = ap.parse_args()

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


if __name__ == "__main__":
    main()
