"""Synthetic Sentry exports with known polling loops, to measure burst detection.

``generate(mix, seed)`` is deterministic: the same mix and seed give the same raw SDK events
(``Scenario.events``, ready to write as NDJSON and ingest like any export) and the truth
(``Scenario.truth``: every polling run, with its user, method, span, events and period).
``score`` matches detected bursts against the truth and returns precision, recall and the
period error.

Polls follow a fixed schedule, as ``setInterval`` does: poll *k* fires at ``t0 + k * period``
plus a jitter of up to ``jitter * period`` either way (network and handler latency), and a few
polls may be missing (the SDK's rate limiting, a dropped request). The truth period is the
schedule's.

Mixes (each with random background events of other users on other calls):

- ``steady``: polls at periods from 1 s to 15 min, jitter up to 5 %, a few missed polls;
- ``jitter``: the same with jitter up to 20 %;
- ``restarts``: loops that stop and restart (app closed for minutes to hours, then reopened);
- ``shared_call``: several users polling the same call on the same screen timer;
- ``interleaved``: one user running two loops at once on different methods of one group
  (scored per (user, method): ``by = "method"``);
- ``irregular``: users retrying with exponential backoff and users clicking repeatedly, which
  are bursty but not polls (truth: no burst), among a few real loops;
- ``noise``: loops with stray events of the same user and call inside and around them;
- ``all``: every one of the above in one export.
"""

from __future__ import annotations

import hashlib
import math
import random
from dataclasses import dataclass, field
from typing import Any

import duckdb
import pandas as pd

MIXES = ("steady", "jitter", "restarts", "shared_call", "interleaved", "irregular", "noise", "all")
BASE = 1_777_593_600.0  # 2026-05-01T00:00:00Z
DAY = 86_400.0
PERIOD_MIN, PERIOD_MAX = 1.0, 900.0


@dataclass(frozen=True)
class TrueBurst:
    """One polling run the generator wrote: the thing detection should find."""

    user: str
    method: str
    start: float
    end: float
    period_s: float
    events: int
    message: str = ""  # the events' message: loops with one message share one group


@dataclass
class Scenario:
    name: str
    seed: int
    events: list[dict[str, Any]] = field(default_factory=list)
    truth: list[TrueBurst] = field(default_factory=list)
    by: str | None = None  # the --by the mix is scored with

    def frame(self) -> pd.DataFrame:
        """The events as rows of the normalized table's key columns (for large benchmarks)."""
        return pd.DataFrame(
            {
                "event_id": [e["event_id"] for e in self.events],
                "user_id": [e["user"]["id"] for e in self.events],
                "method": [e["tags"]["method"] for e in self.events],
                "message": [e["message"] for e in self.events],
                "ts": pd.to_datetime([e["timestamp"] for e in self.events], unit="s", utc=True),
            }
        )


class _Gen:
    def __init__(self, name: str, seed: int):
        self.rng = random.Random(f"{name}:{seed}")
        self.sc = Scenario(name=name, seed=seed)
        self.n = 0

    # -- events ---------------------------------------------------------------------------
    def event(self, t: float, user: str, method: str, message: str | None = None) -> None:
        self.n += 1
        digest = hashlib.md5(f"{self.sc.name}:{self.sc.seed}:{self.n}".encode()).hexdigest()
        self.sc.events.append(
            {
                "event_id": digest,
                "timestamp": round(t, 3),
                "level": "error",
                "platform": "native",
                "logger": "app::rpc",
                "message": message or f"{method} failed: backend unavailable",
                "user": {"id": user},
                "tags": {"method": method},
            }
        )

    def period(self) -> float:
        return math.exp(self.rng.uniform(math.log(PERIOD_MIN), math.log(PERIOD_MAX)))

    def start(self) -> float:
        return BASE + self.rng.uniform(0, 3 * DAY)

    def loop(
        self,
        user: str,
        method: str,
        *,
        period: float,
        t0: float,
        n: int,
        jitter: float,
        drop: float = 0.0,
        message: str | None = None,
    ) -> TrueBurst:
        """A polling run on a fixed schedule; records and returns its truth."""
        times = []
        for k in range(n):
            if 0 < k < n - 1 and self.rng.random() < drop:
                continue
            times.append(t0 + k * period + self.rng.uniform(-jitter, jitter) * period)
        times.sort()
        message = message or f"{method} failed: backend unavailable"
        for t in times:
            self.event(t, user, method, message)
        tb = TrueBurst(user, method, times[0], times[-1], period, len(times), message)
        self.sc.truth.append(tb)
        return tb

    def background(self, n: int = 800) -> None:
        """Random events of many users on many calls over five days: no loop anywhere."""
        for _ in range(n):
            user = f"bg-{self.rng.randrange(400)}"
            method = f"bg.method_{self.rng.randrange(40)}"
            self.event(BASE + self.rng.uniform(0, 5 * DAY), user, method)

    # -- mixes ----------------------------------------------------------------------------
    def steady(self, tag: str, jitter_max: float, users: int = 12) -> None:
        for i in range(users):
            self.loop(
                f"{tag}-u{i}",
                f"{tag}.poll_{i}",
                period=self.period(),
                t0=self.start(),
                n=self.rng.randint(25, 150),
                jitter=self.rng.uniform(0, jitter_max),
                drop=self.rng.uniform(0, 0.03),
            )

    def restarts(self, users: int = 8) -> None:
        for i in range(users):
            p, t = self.period(), self.start()
            for _ in range(self.rng.randint(2, 4)):
                tb = self.loop(
                    f"rs-u{i}",
                    f"rs.poll_{i}",
                    period=p,
                    t0=t,
                    n=self.rng.randint(25, 80),
                    jitter=self.rng.uniform(0, 0.2),
                    drop=self.rng.uniform(0, 0.03),
                )
                # Closed for 5 minutes to 3 hours, and at least 10 periods, then reopened.
                t = tb.end + 10 * p + self.rng.uniform(300, 3 * 3600)

    def shared_call(self, calls: int = 3) -> None:
        for c in range(calls):
            p = self.period()
            base = self.start()
            for u in range(self.rng.randint(3, 8)):
                self.loop(
                    f"sh{c}-u{u}",
                    f"sh.poll_{c}",
                    period=p,
                    t0=base + self.rng.uniform(0, 40 * p),
                    n=self.rng.randint(25, 120),
                    jitter=self.rng.uniform(0, 0.2),
                    drop=self.rng.uniform(0, 0.03),
                )

    def interleaved(self, users: int = 8) -> None:
        for i in range(users):
            p1 = self.period()
            p2 = min(PERIOD_MAX, p1 * self.rng.choice([1.0, self.rng.uniform(1.3, 4.0)]))
            t0 = self.start()
            message = "rpc call failed: no backend session token"  # one group, two methods
            a = self.loop(
                f"il-u{i}",
                f"il.list_{i}",
                period=p1,
                t0=t0,
                n=self.rng.randint(40, 150),
                jitter=self.rng.uniform(0, 0.2),
                message=message,
            )
            self.loop(
                f"il-u{i}",
                f"il.status_{i}",
                period=p2,
                t0=t0 + self.rng.uniform(0, 0.5) * (a.end - a.start),
                n=self.rng.randint(25, 100),
                jitter=self.rng.uniform(0, 0.2),
                message=message,
            )

    def irregular(self, users: int = 10) -> None:
        """Bursty users that are not polls: backoff retries and repeated clicks."""
        for i in range(users):
            user, method = f"ir-u{i}", f"ir.call_{i}"
            t = self.start()
            if i % 2 == 0:  # retries with exponential backoff, episode after episode
                base = self.rng.uniform(0.5, 2.0)
                full_jitter = i % 4 == 0
                for _ in range(self.rng.randint(4, 8)):
                    for attempt in range(self.rng.randint(6, 10)):
                        self.event(t, user, method)
                        cap = min(120.0, base * 2**attempt)
                        t += (
                            self.rng.uniform(0, cap)
                            if full_jitter
                            else cap * self.rng.uniform(0.5, 1.0)
                        )
                    t += self.rng.uniform(30, 600)
            else:  # a user clicking a button again and again
                for _ in range(self.rng.randint(25, 80)):
                    self.event(t, user, method)
                    t += self.rng.lognormvariate(math.log(self.rng.uniform(0.5, 5.0)), 0.8)
        self.steady("ir-poll", 0.2, users=4)

    def noise(self, users: int = 10) -> None:
        """Loops with stray events of the same user and call inside and around them."""
        for i in range(users):
            user, method = f"nz-u{i}", f"nz.poll_{i}"
            tb = self.loop(
                user,
                method,
                period=self.period(),
                t0=self.start(),
                n=self.rng.randint(30, 150),
                jitter=self.rng.uniform(0, 0.2),
                drop=self.rng.uniform(0, 0.03),
            )
            span = tb.end - tb.start
            for _ in range(max(1, tb.events // 30)):  # a manual retry now and then
                self.event(tb.start + self.rng.uniform(0, span), user, method)
            for _ in range(self.rng.randint(1, 3)):  # and once in a while, hours away
                away = self.rng.uniform(2 * 3600, DAY) * self.rng.choice([-1, 1])
                t = (tb.start if away < 0 else tb.end) + away
                self.event(t, user, method)


def generate(mix: str, seed: int = 0) -> Scenario:
    """The events and the truth of one mix (see the module docstring), reproducible by seed."""
    if mix not in MIXES:
        raise ValueError(f"unknown mix {mix!r}; expected one of {', '.join(MIXES)}")
    g = _Gen(mix, seed)
    parts = [m for m in MIXES if m != "all"] if mix == "all" else [mix]
    for part in parts:
        if part == "steady":
            g.steady("st", 0.05)
        elif part == "jitter":
            g.steady("jt", 0.20)
        else:
            getattr(g, part)()
    g.background()
    g.sc.by = "method" if mix in ("interleaved", "all") else None
    g.sc.events.sort(key=lambda e: e["timestamp"])
    return g.sc


@dataclass(frozen=True)
class Score:
    """How detection did against the truth of one scenario."""

    mix: str
    seed: int
    by: str | None
    truth: int
    detected: int
    matched: int
    precision: float
    recall: float
    max_period_error: float
    mean_period_error: float

    def line(self) -> str:
        return (
            f"{self.mix:12} seed {self.seed:<3} by {self.by or '-':7} truth {self.truth:3} "
            f"found {self.detected:3} matched {self.matched:3}  precision {self.precision:.3f}  "
            f"recall {self.recall:.3f}  period error max {self.max_period_error:.2%} "
            f"mean {self.mean_period_error:.2%}"
        )


def _overlap(a0: float, a1: float, b0: float, b1: float) -> float:
    """Intersection over union of two time spans."""
    inter = max(0.0, min(a1, b1) - max(a0, b0))
    union = max(a1, b1) - min(a0, b0)
    return inter / union if union > 0 else float(a0 == b0)


def score(
    con: duckdb.DuckDBPyConnection, detected: pd.DataFrame, scenario: Scenario, *, by: str | None
) -> Score:
    """Match each detected burst to at most one true run of the same user and method.

    A match needs the two spans to overlap by at least half their union, so a detection that
    merges a run with its restart, or finds half a run, is not a match. The method of a burst
    is its ``tag_value`` with ``by="method"``, else the method most events of its group carry.
    """
    if by is None:
        group_method = dict(
            con.execute(
                "SELECT group_key, mode(tags['method']) FROM events GROUP BY group_key"
            ).fetchall()
        )
        methods = [group_method.get(g) for g in detected["group"]]
    else:
        methods = list(detected["tag_value"])
    truth = scenario.truth
    if by is None:  # per (group, user), two loops of one user in one group are one stream
        truth = [t for t in truth if not _shares_group(t, truth)]
    free = list(range(len(truth)))
    matched, errors = 0, []
    for (_, row), method in zip(detected.iterrows(), methods, strict=True):
        t0, t1 = row["start"].timestamp(), row["end"].timestamp()
        best, best_iou = None, 0.5
        for idx in free:
            t = truth[idx]
            if t.user != row["user"] or t.method != method:
                continue
            iou = _overlap(t0, t1, t.start, t.end)
            if iou >= best_iou:
                best, best_iou = idx, iou
        if best is not None:
            free.remove(best)
            matched += 1
            errors.append(abs(row["period_s"] - truth[best].period_s) / truth[best].period_s)
    n_det, n_true = len(detected), len(truth)
    return Score(
        mix=scenario.name,
        seed=scenario.seed,
        by=by,
        truth=n_true,
        detected=n_det,
        matched=matched,
        precision=matched / n_det if n_det else 1.0,
        recall=matched / n_true if n_true else 1.0,
        max_period_error=max(errors, default=0.0),
        mean_period_error=sum(errors) / len(errors) if errors else 0.0,
    )


def _shares_group(t: TrueBurst, truth: list[TrueBurst]) -> bool:
    """True for a run of a user with another loop on another method in the same group."""
    return any(o.user == t.user and o.method != t.method and o.message == t.message for o in truth)


# ---------------------------------------------------------------------------------------------
# Planted noise among planted bugs: the truth `triage suggest` is measured against.
#
# ``planted(seed)`` writes an export where every group is known to be either noise (an expected
# condition: a polling loop on an expired session, session-expired texts in varied wording from
# many users, rate limits, timeouts, the network) or a real bug that must stay an error (crashes,
# logic errors, and traps: bugs whose text holds auth, rate-limit or timeout words, a bug that one
# user's polling loop repeats, a crash inside an auth handler, a third party refusing a key).
# Wordings are drawn per seed from pools written from real apps' messages (the openhuman
# classifiers, common browser, HTTP and SDK errors), some of which no built-in wording names:
# recall below 1 is expected and honest.

FEATURES = ("composio", "billing", "team", "webhooks", "referral", "web_search", "voice", "memory")
PROVIDERS = ("OpenAI", "Anthropic", "GitHub", "Stripe", "Slack", "Notion")
HOSTS = ("api.example.com", "backend.internal", "auth.example.org", "cdn.example.net")

AUTH_WORDINGS = (
    "{f} unavailable: no backend session token. Sign in first ({f}_session).",
    "{f}: session expired, please log in again",
    "GET /api/{f} failed: not authenticated",
    "{f} sync failed: JWT expired at {n}",
    "refresh token expired while loading {f}",
    "login required to load {f}",
    "Unauthenticated: {f} needs a signed-in user",
    "auth token missing for {f} request",
    "{f}: session JWT required; complete login first",
    "{f} request rejected: Session expired. Please log in again.",
    "{f}: user must reauthorize the app",  # no built-in wording: expected to be missed
    "{f} backend said: credentials no longer valid",  # no built-in wording either
)
RATE_WORDINGS = (
    "HTTP 429 Too Many Requests from {p}",
    "{p} rate limit exceeded, retry after {n}s",
    "Rate limited by {p}: slow down",
    "{p} API quota exceeded for this month",
    "{p} is throttling requests (retry in {n} ms)",
)
TRANSIENT_WORDINGS = (
    "request to {h} timed out after {n}ms",
    "error sending request for url (https://{h}/v1/{f})",
    "connect ECONNREFUSED {ip}:5432",
    "dns error: failed to lookup address information for {h}",
    "{p} API error (503 Service Unavailable): upstream overloaded",
    "deadline exceeded while calling {h}",
)
BUG_MESSAGES = (
    ("TypeError", "Cannot read properties of undefined (reading '{w}')"),
    ("panic", "called `Option::unwrap()` on a `None` value at src/{f}/mod.rs:{n}"),
    (None, "unique constraint failed: {f}.id"),
    (None, "database is locked (code 5) while writing {f}"),
    (None, "failed to parse session config: unexpected token '<' at position {n}"),  # trap
    (None, "rate limiter state corrupted: negative token count in {f}"),  # trap
    (None, "timeout value must be positive, got -{n}"),  # trap
    ("KeyError", "'session_token'"),  # trap: a crash with an auth word
    ("TypeError", "Session expired handler threw: cannot read 'id' of null"),  # trap
    (None, "assertion failed: left == right in {f} reconciler"),
    (None, "{p} API error (401 Unauthorized): invalid api key"),  # a third party: stays error
    (None, "index {n} out of range for slice of length 3 in {f}"),
)


@dataclass(frozen=True)
class PlantedGroup:
    """One planted group: ``noise`` (an expected condition) or ``bug`` (must stay an error)."""

    key: str
    label: str  # noise | bug
    kind: str  # what the noise is (auth_expired, rate_limited, ...) or the bug's name
    how: str  # polling | many_users | single_user | crash | ...
    message: str
    events: int


@dataclass
class PlantedScenario:
    seed: int
    events: list[dict[str, Any]] = field(default_factory=list)
    groups: list[PlantedGroup] = field(default_factory=list)
    truth: dict[str, str] = field(default_factory=dict)  # event id -> planted group key

    def label_of(self, key: str) -> str:
        return next(g.label for g in self.groups if g.key == key)


class _Planter:
    def __init__(self, seed: int):
        self.rng = random.Random(f"planted:{seed}")
        self.sc = PlantedScenario(seed=seed)
        self.n = 0

    def fill(self, template: str, fixed: dict[str, str]) -> str:
        """One event's text: the group's feature, provider and host, a fresh number and IP."""
        r = self.rng
        return template.format(
            **fixed, n=r.randrange(2, 9000), ip=f"10.0.{r.randrange(256)}.{r.randrange(1, 255)}"
        )

    def fixed(self) -> dict[str, str]:
        r = self.rng
        return {
            "f": r.choice(FEATURES),
            "p": r.choice(PROVIDERS),
            "h": r.choice(HOSTS),
            "w": r.choice(("map", "length", "id", "name")),
        }

    def event(self, key: str, t: float, user: str, text: str, exc: str | None, **kw: Any) -> None:
        self.n += 1
        eid = hashlib.md5(f"planted:{self.sc.seed}:{self.n}".encode()).hexdigest()
        ev: dict[str, Any] = {
            "event_id": eid,
            "timestamp": round(t, 3),
            "level": kw.get("level", "error"),
            "platform": kw.get("platform", "native"),
            "user": {"id": user},
            "tags": {"method": kw.get("method", "app.call")},
        }
        if exc is None:
            ev["logger"] = "app::rpc"
            ev["message"] = text
        else:
            ev["platform"] = "javascript" if exc != "panic" else "native"
            frames = [
                {"filename": "app:///main.js", "function": "run", "in_app": kw.get("in_app", True)}
            ]
            ev["exception"] = {
                "values": [{"type": exc, "value": text, "stacktrace": {"frames": frames}}]
            }
            if exc == "panic":
                ev["level"] = "fatal"
        self.sc.events.append(ev)
        self.sc.truth[eid] = key

    def group(self, label: str, kind: str, how: str, text: str, exc: str | None = None,
              **kw: Any) -> None:  # fmt: skip
        key = f"{label}-{len(self.sc.groups)}"
        r = self.rng
        fixed = self.fixed()
        count = 0
        method = f"app.{kind}_{len(self.sc.groups)}"
        if how == "polling":  # one user, a steady loop
            period = r.choice((2.0, 5.0, 10.0, 30.0, 60.0))
            t = BASE + r.uniform(0, 5 * DAY)
            user = f"poll-{key}"
            for _ in range(r.randint(40, 220)):
                self.event(key, t, user, self.fill(text, fixed), exc, method=method, **kw)
                t += period * r.uniform(0.9, 1.1)
                count += 1
        else:
            users = 1 if how == "single_user" else r.randint(5, 40)
            for _ in range(r.randint(8, 90)):
                t = BASE + r.uniform(0, 7 * DAY)
                self.event(
                    key, t, f"u-{key}-{r.randrange(users)}", self.fill(text, fixed), exc,
                    method=method, **kw,
                )  # fmt: skip
                count += 1
        self.sc.groups.append(PlantedGroup(key, label, kind, how, self.fill(text, fixed), count))


def planted(seed: int = 0) -> PlantedScenario:
    """An export of planted noise among planted bugs, reproducible by seed (see above)."""
    g = _Planter(seed)
    r = g.rng
    for wording in r.sample(AUTH_WORDINGS, 7):
        g.group("noise", "auth_expired", r.choice(("polling", "polling", "many_users")),
                wording)  # fmt: skip
    for wording in r.sample(RATE_WORDINGS, 3):
        g.group("noise", "rate_limited", r.choice(("many_users", "polling")), wording)
    for wording in r.sample(TRANSIENT_WORDINGS, 3):
        g.group("noise", "transient", "many_users", wording)
    # The browser's own fetch failure: a TypeError with no in-app frame, thrown by the platform.
    g.group("noise", "transport", "many_users", "Failed to fetch", exc="TypeError", in_app=False)
    for exc, text in BUG_MESSAGES:
        g.group("bug", "bug", "crash" if exc else "many_users", text, exc=exc)
    # A real bug repeated by one user's polling loop, and one user hitting a bug again and again.
    g.group("bug", "bug", "polling", "failed to decode {f} snapshot: missing field `id`")
    g.group("bug", "bug", "single_user", "migration failed: no such column: {f}_at")
    g.sc.events.sort(key=lambda e: (e["timestamp"], e["event_id"]))
    return g.sc


@dataclass(frozen=True)
class SuggestScore:
    """How `triage suggest` did against the planted truth of one seed."""

    seed: int
    proposals: int
    true_proposals: int
    noise_groups: int
    found_noise: int
    bug_proposals: int  # proposals that move at least one planted bug event
    bug_events_moved: int
    precision: float
    recall: float

    def line(self) -> str:
        return (
            f"seed {self.seed:<3} proposals {self.proposals:3} (true {self.true_proposals:3})  "
            f"noise groups {self.noise_groups:3} found {self.found_noise:3}  "
            f"precision {self.precision:.3f}  recall {self.recall:.3f}  "
            f"proposals downgrading a bug {self.bug_proposals} ({self.bug_events_moved} events)"
        )


def score_suggestions(
    scenario: PlantedScenario, moved: dict[str, list[str]], *, share: float = 0.5
) -> SuggestScore:
    """Score proposals given the event ids each one moves out of error volume.

    A proposal is true when every event it moves is planted noise; a noise group is found when
    proposals move at least ``share`` of its events. Any moved bug event counts against it.
    """
    noise = {g.key for g in scenario.groups if g.label == "noise"}
    per_group: dict[str, int] = {}
    true_props = bug_props = bug_events = 0
    for events in moved.values():
        keys = [scenario.truth.get(e) for e in events]
        bugs = sum(1 for k in keys if k not in noise)
        if events and bugs == 0:
            true_props += 1
        if bugs:
            bug_props += 1
            bug_events += bugs
        for k in keys:
            if k in noise:
                per_group[k] = per_group.get(k, 0) + 1
    sizes = {g.key: g.events for g in scenario.groups}
    found = sum(1 for k in noise if per_group.get(k, 0) >= share * sizes[k])
    n = len(moved)
    return SuggestScore(
        seed=scenario.seed,
        proposals=n,
        true_proposals=true_props,
        noise_groups=len(noise),
        found_noise=found,
        bug_proposals=bug_props,
        bug_events_moved=bug_events,
        precision=true_props / n if n else 1.0,
        recall=found / len(noise) if noise else 1.0,
    )
