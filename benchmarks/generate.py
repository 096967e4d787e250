"""Deterministic synthetic Sentry exports and a 200-rule table for the benchmarks.

Why synthetic: the benchmark must run anywhere, at any size, and give the same input every time.
The events look like what the SDKs send (see ../shared/context/sentry-formats.md): a message or an
exception chain with a stack trace, tags (5 to 25), contexts, breadcrumbs, a user; about 3 KB each.
Messages come from templates with variable parts (numbers, hex ids, UUIDs, durations, URLs), a
share of them are expected errors the ``openhuman`` table downgrades (expired sessions, timeouts,
transport errors, rate limits), and a share of the events are polling bursts: one user hitting the
same failing call every few seconds.

    python benchmarks/generate.py --events 1000000 --out /tmp/bench/events.ndjson
    python benchmarks/generate.py --events 100000 --out /tmp/bench/events.ndjson.gz   # gzip
    python benchmarks/generate.py --rules /tmp/bench/rules200.toml                    # the table

``--distinct`` makes every message distinct (the worst case for the classifier).
Same ``--seed`` and ``--events``: byte-identical output.
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import sys
from collections.abc import Iterator
from pathlib import Path

# --------------------------------------------------------------------------------------------
# Message templates. Slots: {n} a small number, {big} a large number, {hex} a hex id, {uuid},
# {ms} a duration in ms, {url}, {svc} a service name, {path} an API path, {status} an HTTP status.
# (template, exception type or None for a log message, logger, expected?)

EXPECTED = [
    (
        "composio unavailable: no backend session token. Sign in first (auth_store_session).",
        None,
        "openhuman::observability::report_error",
    ),
    (
        "Web search unavailable: no backend session token. Sign in first so the server can proxy "
        "search.",
        None,
        "openhuman::observability::report_error",
    ),
    ("session JWT required; complete login and store_session first", None, "openhuman::rpc"),
    (
        'OpenHuman API error (401 Unauthorized): {{"success":false,"error":"Session expired. '
        'Please log in again."}}',
        None,
        "openhuman::api",
    ),
    ("SESSION_EXPIRED: please re-auth (request {hex})", None, "openhuman::auth"),
    ("rpc {svc}.list timed out after {ms}ms", None, "openhuman::rpc"),
    (
        "error sending request for url ({url}): client error (Connect)",
        "reqwest::Error",
        "openhuman::http",
    ),
    (
        "dns error: failed to lookup address information for {svc}.example.net",
        "reqwest::Error",
        "openhuman::http",
    ),
    (
        "connection refused (os error 111) while calling {svc} after {ms}ms",
        "std::io::Error",
        "openhuman::http",
    ),
    (
        "Anthropic API error (429 Too Many Requests): rate limit exceeded, retry in {n}s",
        None,
        "openhuman::llm",
    ),
    ("inference budget exceeded for workspace {hex} ({n} of {big} tokens)", None, "openhuman::llm"),
    ("upstream {svc} returned 503 Service Unavailable after {ms}ms", None, "openhuman::http"),
    ("GET /api/v1/{path} failed (401 Unauthorized): token expired", None, "openhuman::api"),
    (
        'Discord API error (401 Unauthorized): {{"message": "401: Unauthorized", "code": 0}}',
        None,
        "openhuman::integrations",
    ),
    ("unknown param 'cursor_{n}' for method {svc}.list", None, "openhuman::rpc"),
    ("TLS handshake eof while connecting to {svc}:443", "std::io::Error", "openhuman::http"),
]

REAL = [
    ("index out of bounds: the len is {n} but the index is {big}", "panic", "openhuman::core"),
    (
        "called `Option::unwrap()` on a `None` value at src/{path}.rs:{n}:{n}",
        "panic",
        "openhuman::core",
    ),
    ("Cannot read properties of undefined (reading '{svc}')", "TypeError", "app.ui"),
    ("{svc} is not a function", "TypeError", "app.ui"),
    ("Unexpected token '<' in JSON at position {big}", "SyntaxError", "app.api"),
    ('relation "{svc}_events" does not exist', "ProgrammingError", "db"),
    (
        'duplicate key value violates unique constraint "{svc}_pkey" (id={big})',
        "IntegrityError",
        "db",
    ),
    ("Failed to render component {svc}View: {hex}", "Error", "app.ui"),
    ("KeyError: '{svc}_id' while handling job {uuid}", "KeyError", "worker"),
    ("ZeroDivisionError in report {big}", "ZeroDivisionError", "worker"),
    ("assertion failed: buffer.len() <= {big}", "panic", "openhuman::core"),
    ("Maximum call stack size exceeded in {svc}", "RangeError", "app.ui"),
    ("file not found: /var/lib/{svc}/{hex}.json", "FileNotFoundError", "worker"),
    ("sqlite: database is locked (after {ms}ms)", "OperationalError", "db"),
    ("invariant violated: {svc} state {n} -> {n}", "Error", "app.state"),
    ("POST /api/v2/{path} returned 500 Internal Server Error for {uuid}", None, "app.api"),
    ("could not parse config value '{svc}': expected integer, got {hex}", "ValueError", "config"),
    ("memory allocation of {big} bytes failed", "panic", "openhuman::core"),
]

SERVICES = [
    "composio",
    "gmail",
    "slack",
    "notion",
    "github",
    "linear",
    "calendar",
    "drive",
    "search",
    "memory",
    "embedding",
    "billing",
    "teams",
    "skills",
    "voice",
    "sync",
    "auth",
    "profile",
    "channels",
    "webhooks",
    "socket",
    "uploads",
    "tasks",
    "agents",
]
PATHS = [
    "teams",
    "users/me",
    "channels/list",
    "skills/run",
    "billing/usage",
    "memory/query",
    "threads",
    "uploads/sign",
    "agents/{id}/run",
    "settings",
]
PLATFORMS = {
    "openhuman": "native",
    "app": "javascript",
    "db": "python",
    "worker": "python",
    "config": "python",
}
POLL_METHODS = [
    "openhuman.composio_list_connections",
    "openhuman.channels_status",
    "openhuman.sync_poll",
    "openhuman.billing_usage",
    "openhuman.memory_health",
]
TAG_KEYS = [
    "domain",
    "operation",
    "method",
    "os",
    "os.name",
    "browser",
    "browser.name",
    "device",
    "device.family",
    "runtime",
    "runtime.name",
    "server_name",
    "url",
    "handled",
    "mechanism",
    "level",
    "transaction",
    "release",
    "environment",
    "locale",
    "app.version",
    "feature",
    "tenant",
    "region",
    "shard",
    "build",
    "channel",
    "arch",
    "cpu",
    "gpu",
]


class _Slots:
    """Values for template slots, drawn from small pools (real exports repeat themselves)."""

    def __init__(self, rng: random.Random, distinct: bool):
        self.rng = rng
        self.distinct = distinct
        self.hexes = [f"{rng.getrandbits(48):012x}" for _ in range(200)]
        self.uuids = [
            f"{rng.getrandbits(32):08x}-{rng.getrandbits(16):04x}-4{rng.getrandbits(12):03x}-"
            f"8{rng.getrandbits(12):03x}-{rng.getrandbits(48):012x}"
            for _ in range(100)
        ]

    def fill(self, template: str, i: int) -> str:
        r = self.rng
        # In --distinct mode the first numeric-ish slot carries the event number.
        uniq = [self.distinct]

        def num(small: bool) -> str:
            if uniq[0]:
                uniq[0] = False
                return str(i)
            return str(r.randint(1, 64) if small else r.choice((256, 1024, 4096, 65536, 1048576)))

        out = template
        while "{" in out:
            start = out.index("{")
            if out.startswith("{{", start):  # a literal brace: skip it
                out = out[:start] + "\x00" + out[start + 2 :]
                continue
            end = out.index("}", start)
            slot = out[start + 1 : end]
            if slot == "n":
                val = num(True)
            elif slot == "big":
                val = num(False)
            elif slot == "hex":
                val = f"{i:012x}" if uniq[0] else r.choice(self.hexes)
                uniq[0] = False
            elif slot == "uuid":
                val = r.choice(self.uuids)
            elif slot == "ms":
                val = num(True) if uniq[0] else str(r.choice((5000, 10000, 30000, 60000)))
            elif slot == "url":
                val = f"https://api.example.com/v1/{r.choice(SERVICES)}?page={num(True)}"
            elif slot == "svc":
                val = r.choice(SERVICES)
            elif slot == "path":
                val = r.choice(PATHS).replace("{id}", num(True))
            else:
                val = slot
            out = out[:start] + val + out[end + 1 :]
        out = out.replace("\x00", "{").replace("}}", "}")
        if uniq[0]:  # a template with no variable part: say which event it is
            out = f"{out} [#{i}]"
        return out


def _padding_pool(rng: random.Random) -> list[tuple[str, str]]:
    """Pre-serialized stack traces and breadcrumbs: the bulk of a real event's bytes."""
    pool = []
    for _ in range(256):
        frames = [
            {
                "filename": f"src/{rng.choice(SERVICES)}/{rng.choice(SERVICES)}.rs",
                "function": f"{rng.choice(SERVICES)}::{rng.choice(SERVICES)}_{rng.randint(1, 99)}",
                "lineno": rng.randint(1, 2000),
                "colno": rng.randint(1, 120),
                "in_app": rng.random() < 0.5,
                "module": f"openhuman::{rng.choice(SERVICES)}",
            }
            for _ in range(rng.randint(4, 16))
        ]
        crumbs = [
            {
                "timestamp": 1778400000 + rng.randint(0, 86400),
                "category": rng.choice(("http", "ui.click", "navigation", "console", "rpc")),
                "level": rng.choice(("info", "debug", "warning")),
                "message": f"{rng.choice(SERVICES)} {rng.choice(('ok', 'sent', 'done'))} "
                f"in {rng.randint(1, 900)}ms",
                "data": {
                    "url": f"https://api.example.com/v1/{rng.choice(PATHS)}",
                    "status_code": rng.choice((200, 200, 200, 204, 304, 404)),
                },
            }
            for _ in range(rng.randint(2, 12))
        ]
        pool.append(
            (
                json.dumps({"frames": frames}, separators=(",", ":")),
                json.dumps({"values": crumbs}, separators=(",", ":")),
            )
        )
    return pool


def events(
    n: int,
    *,
    seed: int = 1,
    distinct: bool = False,
    expected_share: float = 0.35,
    burst_share: float = 0.10,
) -> Iterator[str]:
    """``n`` raw SDK events as NDJSON lines (no newline), deterministic for a seed."""
    rng = random.Random(seed)
    slots = _Slots(rng, distinct)
    pads = _padding_pool(rng)
    users = [f"u-{rng.getrandbits(32):08x}" for _ in range(5000)]
    start = 1778400000.0  # 2026-05-10
    span = 30 * 86400.0
    burst_left = 0
    burst: dict = {}
    for i in range(n):
        if burst_left == 0 and rng.random() < burst_share / 150:
            burst_left = rng.randint(50, 250)
            tmpl = rng.choice(EXPECTED[:5])  # no slot a template does not mask
            burst = {
                "user": rng.choice(users),
                "method": rng.choice(POLL_METHODS),
                "t": start + rng.random() * span,
                "period": rng.choice((2.0, 5.0, 10.0, 30.0)),
                "tmpl": tmpl,
                "transaction": f"/{rng.choice(PATHS)}",
            }
        if burst_left:
            burst_left -= 1
            burst["t"] += burst["period"] + rng.uniform(-0.2, 0.2)
            tmpl, exc_type, logger = burst["tmpl"]
            user, ts, method = burst["user"], burst["t"], burst["method"]
            transaction = burst["transaction"]
        else:
            tmpl, exc_type, logger = rng.choice(EXPECTED if rng.random() < expected_share else REAL)
            user, ts = rng.choice(users), start + rng.random() * span
            method = f"openhuman.{rng.choice(SERVICES)}_{rng.choice(('list', 'get', 'run'))}"
            transaction = f"/{rng.choice(PATHS)}"
        text = slots.fill(tmpl, i)
        platform = PLATFORMS.get(logger.split("::")[0].split(".")[0], "other")
        n_tags = rng.randint(5, 25)
        tags = {"method": method, "domain": "rpc"}
        for k in rng.sample(TAG_KEYS, n_tags - 2):
            tags.setdefault(k, f"{k.split('.')[-1]}-{rng.randint(1, 12)}")
        ev: dict = {
            "event_id": f"{rng.getrandbits(128):032x}",
            "timestamp": round(ts, 3),
            "platform": platform,
            "level": "error" if rng.random() < 0.9 else rng.choice(("warning", "fatal")),
            "logger": logger,
            "release": f"openhuman@0.53.{rng.randint(10, 30)}",
            "environment": "production" if rng.random() < 0.9 else "staging",
            "server_name": None,
            "transaction": transaction,
            "user": {"id": user, "ip_address": "{{auto}}"},
            "tags": tags,
            "contexts": {
                "os": {
                    "name": rng.choice(("macOS", "Windows", "Linux")),
                    "version": f"{rng.randint(10, 15)}.{rng.randint(0, 9)}",
                },
                "runtime": {"name": "tauri", "version": "2.1.0"},
                "app": {"app_start_time": "2026-05-10T00:00:00Z", "app_memory": 123456789},
            },
            "sdk": {
                "name": "sentry.rust" if platform == "native" else "sentry.javascript.browser",
                "version": "0.34.0",
            },
        }
        frames, crumbs = pads[rng.randrange(len(pads))]
        if exc_type is None:
            ev["message"] = text
            head = json.dumps(ev, separators=(",", ":"))
            yield f'{head[:-1]},"breadcrumbs":{crumbs}}}'
        else:
            value = json.dumps(text)
            exc = (
                f'{{"values":[{{"type":{json.dumps(exc_type)},"value":{value},'
                f'"module":{json.dumps(logger)},"mechanism":{{"type":"generic","handled":false}},'
                f'"stacktrace":{frames}}}]}}'
            )
            head = json.dumps(ev, separators=(",", ":"))
            yield f'{head[:-1]},"exception":{exc},"breadcrumbs":{crumbs}}}'


def write_events(path: str | Path, n: int, **kw) -> int:
    """Write ``n`` events as NDJSON (gzip when the name ends in .gz); return the bytes written."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    opener = gzip.open if path.name.endswith(".gz") else open
    size = 0
    with opener(
        path, "wt", encoding="utf-8", **({"compresslevel": 1} if path.name.endswith(".gz") else {})
    ) as fh:  # noqa: E501
        buf: list[str] = []
        for line in events(n, **kw):
            buf.append(line)
            if len(buf) >= 2000:
                chunk = "\n".join(buf) + "\n"
                size += len(chunk)
                fh.write(chunk)
                buf.clear()
        if buf:
            chunk = "\n".join(buf) + "\n"
            size += len(chunk)
            fh.write(chunk)
    return size


# --------------------------------------------------------------------------------------------
# The 200-rule table (65 regex). Realistic shape: specific rules first, broad ones later, some
# rules overlapping (priority matters), many rules that match nothing in a given export.


def _toml_str(s: str) -> str:
    """A TOML literal string when possible (no escapes to get wrong), else a basic string."""
    if "'" not in s and "\n" not in s:
        return f"'{s}'"
    return json.dumps(s)


def rules_toml(n_rules: int = 200, n_regex: int = 65, seed: int = 7) -> str:
    """A valid rule table of ``n_rules`` rules, ``n_regex`` of them with a regex condition."""
    rng = random.Random(seed)
    kinds = [
        "auth_expired",
        "provider_auth",
        "transport",
        "timeout",
        "rate_limited",
        "budget_exceeded",
        "validation",
        "noise",
        "upstream",
    ]
    levels = ["info", "warning", "debug", "drop", "info", "warning"]
    # Regexes that match generated messages, and ones that match nothing here (other apps' noise).
    hit_regex = [
        r"timed out after \d+ms",
        r"\(429 [A-Za-z ]+\)",
        r"budget exceeded for workspace [0-9a-f]+",
        r"^GET /api/v\d+/\S+ failed \(401",
        r"connection refused \(os error \d+\)",
        r"dns error: failed to lookup address information for \w+",
        r"upstream \w+ returned 50[234]",
        r"unknown param '[a-z_]+\d+'",
        r"no backend session token",
        r"session (jwt required|expired)",
        r"error sending request for url \(https?://[^)]+\)",
        r"tls handshake (eof|failure)",
        r"SESSION_EXPIRED",
        r"retry in \d+s$",
        r"Discord API error \(401",
    ]
    miss_regex = [
        r"ECONNRESET at [A-Za-z]+\.\w+ \(node:\w+:\d+",
        r"ResizeObserver loop (limit|completed)",
        r"^Non-Error promise rejection captured with value: \w+",
        r"ChunkLoadError: Loading chunk \d+",
        r"NetworkError when attempting to fetch resource\.?$",
        r"Script error\.?$",
        r"^Request aborted( by user)?$",
        r"quota exceeded for bucket [a-z0-9-]+",
        r"certificate (has expired|verify failed) for [\w.]+",
        r"broken pipe \(os error 32\)",
        r"cancell?ed by (user|client) after \d+ ?ms",
        r"^\[HMR\] ",
        r"heartbeat missed \d+ times",
        r"too many open files \(os error 24\)",
        r"deadlock detected on relation \d+",
    ]
    hit_words = [
        "no backend session token",
        "session jwt required",
        "timed out",
        "client error (Connect)",
        "dns error",
        "connection refused",
        "(429 ",
        "rate limit",
        "budget exceeded",
        "503 service unavailable",
        "401 unauthorized",
        "unknown param '",
        "tls handshake",
        "Session expired",
        "sign in first",
        "proxy search",
    ]
    miss_words = [
        "ECONNABORTED",
        "socket hang up",
        "AbortError",
        "Failed to fetch",
        "Load failed",
        "cancelled",
        "ResizeObserver",
        "ChunkLoadError",
        "hydration failed",
        "quota exceeded",
        "EPIPE",
        "ETIMEDOUT",
        "Invalid CSRF token",
        "payment required",
        "service worker",
        "extension context invalidated",
        "illegal invocation",
        "out of memory",
        "disk full",
        "permission denied",
        "moved permanently",
        "not modified",
        "gone away",
        "too many redirects",
        "maintenance mode",
    ]
    regex_at = set(rng.sample(range(n_rules), n_regex))
    lines = [
        "# Generated by benchmarks/generate.py: 200 rules, 65 regex, for the classify benchmark.",
        'name = "bench-200"',
        'description = "synthetic 200-rule table (benchmarks/generate.py)"',
        "",
    ]
    for i in range(n_rules):
        hit = rng.random() < 0.3
        if i in regex_at:
            pat = rng.choice(hit_regex if hit else miss_regex)
            if not hit:  # make each miss rule its own pattern
                pat = f"{pat}|{rng.choice(SERVICES)}-{i}-unmatched"
            leaf = f"field = 'message', regex = {_toml_str(pat)}"
            if rng.random() < 0.2:
                leaf += ", case_sensitive = true"
            cond = leaf
        else:
            word = rng.choice(hit_words if hit else miss_words)
            if not hit:
                word = f"{word} {i}" if rng.random() < 0.5 else word
            shape = rng.random()
            if shape < 0.55:
                cond = f"field = 'message', contains = {_toml_str(word)}"
            elif shape < 0.7:
                cond = (
                    f"all = [{{ field = 'message', contains = {_toml_str(word)} }}, "
                    f"{{ field = 'tags.domain', equals = 'rpc' }}]"
                )
            elif shape < 0.8:
                other = rng.choice(miss_words)
                cond = (
                    f"any = [{{ field = 'message', contains = {_toml_str(word)} }}, "
                    f"{{ field = 'exception.value', contains = {_toml_str(other)} }}]"
                )
            elif shape < 0.88:
                cond = (
                    f"all = [{{ field = 'message', contains = {_toml_str(word)} }}, "
                    f"{{ not = {{ field = 'logger', prefix = 'app.' }} }}]"
                )
            elif shape < 0.94:
                cond = f"field = 'exception.type', equals = {_toml_str(rng.choice(('panic', 'TypeError', 'KeyError', 'AbortError', 'DOMException')))}"  # noqa: E501
            else:
                cond = f"field = 'message', prefix = {_toml_str(word)}"
        lines += [
            "[[rules]]",
            f'id = "r{i:03d}"',
            f'kind = "{rng.choice(kinds)}"',
            f'level = "{rng.choice(levels)}"',
            f"when = {{ {cond} }}",
            "",
        ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--events", type=int, default=100_000, help="how many events (default 100k)")
    ap.add_argument("--out", help="NDJSON file to write (.gz for gzip)")
    ap.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    ap.add_argument("--distinct", action="store_true", help="make every message distinct")
    ap.add_argument("--rules", help="also write the 200-rule TOML table to this path")
    args = ap.parse_args(argv)
    if not args.out and not args.rules:
        ap.error("give --out and/or --rules")
    if args.out:
        size = write_events(args.out, args.events, seed=args.seed, distinct=args.distinct)
        print(
            f"{args.out}: {args.events} events, {size / 1e6:.0f} MB uncompressed", file=sys.stderr
        )
    if args.rules:
        Path(args.rules).write_text(rules_toml(), encoding="utf-8")
        print(f"{args.rules}: 200 rules", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
