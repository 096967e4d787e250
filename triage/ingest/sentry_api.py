"""A small client for Sentry's web API: cursor paging, rate limits and retries, nothing more.

Built on urllib3 (already installed with sentry-sdk, which uses it for its own transport): it keeps
connections alive across the hundreds of page requests a pull makes and verifies TLS with the
system's certificates. The retry policy is written out here rather than delegated to
``urllib3.Retry`` because a page must also be retried when its body arrives cut short or is not
JSON, and because every wait is logged so a scheduled job's log says why it was slow.

The auth token is sent in the ``Authorization`` header only, to the configured base URL only (a
``Link`` header naming another host is followed by its cursor, on our own host), and it never
appears in a message, an exception or a repr: every message is passed through :meth:`redact`,
which also covers a server that echoes the header back in an error body. A base URL carrying
credentials (``https://user:password@host``) is refused, naming it as ``user:***@host``.

A hostile or broken server cannot keep a pull reading or waiting without end: a response body is
capped (``max_response_bytes``), one request has a deadline covering its body too
(``request_timeout``: a byte dripped every few seconds never trips a per-read timeout), a run has
a deadline (``max_duration``) and a page budget (``max_pages``), a cursor already followed is a
cycle, and ``Retry-After`` is read defensively (NaN, negative: ignored; huge: refused).
"""

from __future__ import annotations

import email.utils
import json
import logging
import math
import os
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlencode, urlsplit

import urllib3

log = logging.getLogger("triage.ingest.pull")

DEFAULT_URL = "https://sentry.io"
TOKEN_ENV = "SENTRY_AUTH_TOKEN"
URL_ENV = "SENTRY_URL"
RETRY_STATUSES = frozenset({500, 502, 503, 504})
# Bounds of one pull; each has a `triage pull` option to raise it, named in its message.
DEFAULT_MAX_RESPONSE_BYTES = 100 * 1024 * 1024  # --max-response-mb: a page of 100 full events is
# a few MB; Sentry's own event size limit is 1 MB compressed
DEFAULT_REQUEST_TIMEOUT = 120.0  # --request-timeout: one request, its whole body included
DEFAULT_MAX_DURATION = 6 * 3600.0  # --max-duration: one run, waits included
DEFAULT_MAX_PAGES = 20_000  # --max-pages: pages per run (2M events at 100 a page)
DEFAULT_MAX_RETRY_AFTER = 300.0  # --max-retry-after
REDACTED = "[redacted]"


class SentryAPIError(Exception):
    """A request failed for good: retries spent, or an answer that retrying cannot change."""


class SentryAuthError(SentryAPIError):
    """401/403: the token is missing, wrong, expired or lacks a scope. Retrying will not help."""


class SentryNotFound(SentryAPIError):
    """404: the organization, project or issue does not exist (or the token cannot see it)."""


@dataclass(frozen=True)
class Link:
    """One entry of a ``Link`` header (docs.sentry.io/api/pagination)."""

    url: str
    rel: str
    results: bool
    cursor: str | None


@dataclass
class Page:
    """One page of a list endpoint: its records and where it came from."""

    url: str  # without the token, safe to print and to store as a source name
    records: list
    number: int
    next_cursor: str | None


_LINK_RE = re.compile(r"<([^>]*)>((?:\s*;\s*[\w-]+\s*=\s*(?:\"[^\"]*\"|[^;,\s]*))*)")
_PARAM_RE = re.compile(r";\s*([\w-]+)\s*=\s*(?:\"([^\"]*)\"|([^;,\s]*))")


def parse_link_header(value: str | None) -> dict[str, Link]:
    """``Link`` header -> ``{rel: Link}``; unknown or malformed entries are ignored."""
    links: dict[str, Link] = {}
    for m in _LINK_RE.finditer(value or ""):
        params = {k.lower(): (q if q is not None else u) for k, q, u in _PARAM_RE.findall(m[2])}
        rel = params.get("rel")
        if rel:
            links[rel] = Link(
                url=m[1],
                rel=rel,
                results=params.get("results", "").lower() == "true",
                cursor=params.get("cursor"),
            )
    return links


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """``Retry-After`` as seconds: a number of seconds or an HTTP date (RFC 9110 §10.2.3).

    None when it says nothing usable (absent, NaN, negative, not a date), so the caller backs
    off as for any retry; ``inf`` or a date centuries away come back as they are, for the
    caller to refuse as longer than it will wait.
    """
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return None if math.isnan(seconds) or seconds < 0 else seconds
    try:
        when = email.utils.parsedate_to_datetime(value)
    except Exception:  # TypeError, ValueError, IndexError, OverflowError on odd dates
        return None
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(when.timestamp() - (time.time() if now is None else now), 0.0)


_USERINFO_RE = re.compile(r"(?<=://)([^/@\s:]*)(?::[^/@\s]*)?@")
_BEARER_RE = re.compile(r"(?i)\b(bearer|basic)(\s+)[A-Za-z0-9._~+/=-]{8,}")


def redact(text: str, secrets: tuple[str, ...] = ()) -> str:
    """``text`` without the given secrets, bearer/basic credentials or URL passwords."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, REDACTED)
    text = _BEARER_RE.sub(lambda m: f"{m[1]}{m[2]}{REDACTED}", text)
    return _USERINFO_RE.sub(lambda m: f"{m[1]}:***@", text)


def _detail(body: bytes) -> str:
    """Sentry's error bodies are ``{"detail": "..."}``; fall back to the start of the text."""
    try:
        doc = json.loads(body)
        if isinstance(doc, dict) and isinstance(doc.get("detail"), str):
            return doc["detail"]
    except ValueError:
        pass
    return body[:200].decode("utf-8", "replace").strip()


class SentryClient:
    """GET requests against one Sentry instance, with paging, rate limits and retries.

    ``retries`` bounds the retries of one request (429, 5xx, connection errors, cut-short or
    non-JSON bodies); waits grow as ``backoff * 2**n`` up to ``max_backoff`` seconds, except that a
    429's ``Retry-After`` is honoured as given, up to ``max_retry_after``.
    """

    def __init__(
        self,
        url: str | None = None,
        token: str | None = None,
        *,
        retries: int = 5,
        backoff: float = 1.0,
        max_backoff: float = 30.0,
        max_retry_after: float = DEFAULT_MAX_RETRY_AFTER,
        timeout: float = 30.0,
        request_timeout: float = DEFAULT_REQUEST_TIMEOUT,
        max_duration: float | None = DEFAULT_MAX_DURATION,
        max_pages: int | None = DEFAULT_MAX_PAGES,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self._token = token if token is not None else os.environ.get(TOKEN_ENV)
        base = (url or os.environ.get(URL_ENV) or DEFAULT_URL).strip().rstrip("/")
        parts = urlsplit(base)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(
                f"invalid Sentry URL {self.redact(base)!r}: expected http(s)://host[:port]"
            )
        if parts.username is not None or parts.password is not None:
            raise ValueError(
                f"Sentry URL {self.redact(base)} holds credentials (user:password@): Sentry's API "
                f"authenticates with the token in {TOKEN_ENV}; give the URL without them"
            )
        self.base_url = base
        self._origin = (parts.scheme, parts.netloc)
        if not self._token:
            raise SentryAuthError(
                f"no auth token: set {TOKEN_ENV} to a Sentry auth token with the event:read, "
                "project:read and org:read scopes"
            )
        self.retries = retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.max_retry_after = max_retry_after
        self.timeout = timeout
        self.request_timeout = request_timeout
        self.max_duration = max_duration
        self.max_pages = max_pages
        self.max_response_bytes = max_response_bytes
        self._sleep = sleep
        self._started = time.monotonic()
        self._http = urllib3.PoolManager(
            retries=False,
            headers={
                "Authorization": f"Bearer {self._token}",
                "Accept": "application/json",
                "User-Agent": "sentry-triage",
            },
        )
        self.requests = 0  # HTTP requests sent, retries included
        self.pages_read = 0  # pages of every list endpoint, this run

    def redact(self, text: str) -> str:
        """``text`` safe to print or store: the token, bearer credentials, URL passwords out."""
        return redact(str(text), (self._token or "",))

    def _run_deadline(self) -> float:
        return math.inf if self.max_duration is None else self._started + self.max_duration

    def _past_run_deadline(self, url: str) -> SentryAPIError:
        return SentryAPIError(
            f"the pull has run for its {self.max_duration:g} s (--max-duration) at {url}; "
            "stopped. Raise --max-duration, or pull a shorter --since window"
        )

    def __repr__(self) -> str:
        return f"SentryClient({self.base_url!r})"

    def close(self) -> None:
        self._http.clear()

    def __enter__(self) -> SentryClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- one request ------------------------------------------------------------------------------

    def url_for(self, path: str, params: dict | None = None) -> str:
        """``/api/0/...`` path plus query parameters on the base URL (None values dropped)."""
        query = urlencode(
            {k: v for k, v in (params or {}).items() if v is not None}, doseq=True, safe=":"
        )
        return f"{self.base_url}{path}" + (f"?{query}" if query else "")

    def _wait(self, seconds: float, why: str, url: str, attempt: int) -> None:
        if time.monotonic() + seconds > self._run_deadline():
            raise self._past_run_deadline(url)
        log.warning(
            "%s from %s: retry %d of %d in %.1f s",
            self.redact(why),
            url,
            attempt,
            self.retries,
            seconds,
        )
        self._sleep(seconds)

    def _read(self, resp: urllib3.BaseHTTPResponse, url: str, deadline: float) -> bytes:
        """The whole body, within ``max_response_bytes`` and before ``deadline``."""
        cap = self.max_response_bytes
        length = resp.headers.get("content-length")
        if length and length.isdigit() and int(length) > cap:
            raise _TooLarge(url, cap)
        chunks: list[bytes] = []
        size = 0
        while True:
            if time.monotonic() > deadline:
                raise _TimedOut()
            chunk = resp.read1(256 * 1024)  # whatever has arrived, decoded (gzip included)
            if not chunk:
                return b"".join(chunks)
            size += len(chunk)
            if size > cap:
                raise _TooLarge(url, cap)
            chunks.append(chunk)

    def get(self, url: str) -> tuple[object, dict[str, str]]:
        """GET one URL on the base URL's host; return (decoded JSON, headers)."""
        if (urlsplit(url).scheme, urlsplit(url).netloc) != self._origin:
            raise SentryAPIError(
                f"refusing to send the auth token to another host: {self.redact(url)}"
            )
        try:
            return self._get(url)
        except SentryAPIError as exc:
            exc.args = (self.redact(str(exc)),)  # a body may echo the Authorization header
            raise

    def _get(self, url: str) -> tuple[object, dict[str, str]]:
        attempt = 0
        while True:
            why: str
            delay = min(self.backoff * (2**attempt), self.max_backoff)
            run_deadline = self._run_deadline()
            now = time.monotonic()
            if now >= run_deadline:
                raise self._past_run_deadline(url)
            deadline = min(now + self.request_timeout, run_deadline)
            wait = max(deadline - now, 0.001)
            try:
                self.requests += 1
                resp = self._http.request(
                    "GET",
                    url,
                    preload_content=False,
                    timeout=urllib3.Timeout(
                        connect=min(self.timeout, 10.0, wait), read=min(self.timeout, wait)
                    ),
                )
                try:
                    body = self._read(resp, url, deadline)
                except BaseException:
                    resp.close()  # the rest of the body is unread: drop the connection
                    raise
                resp.release_conn()
            except _TooLarge as exc:
                raise SentryAPIError(str(exc)) from None
            except (_TimedOut, urllib3.exceptions.TimeoutError) as exc:
                if time.monotonic() >= run_deadline:
                    raise self._past_run_deadline(url) from None
                if isinstance(exc, _TimedOut) or time.monotonic() >= deadline:
                    why = (
                        f"the response did not complete within {self.request_timeout:g} s "
                        "(--request-timeout)"
                    )
                else:
                    why = f"connection error ({type(exc).__name__}: {_one_line(exc)})"
            except urllib3.exceptions.HTTPError as exc:
                # connection refused/reset, and bodies cut short (IncompleteRead)
                why = f"connection error ({type(exc).__name__}: {_one_line(exc)})"
            else:
                status = resp.status
                headers = {k.lower(): v for k, v in resp.headers.items()}
                if status == 200:
                    try:
                        return json.loads(body), headers
                    except ValueError as exc:
                        why = f"response body is not JSON, perhaps cut short ({exc})"
                elif status in (401, 403):
                    raise SentryAuthError(
                        f"HTTP {status} from {url}: {_detail(body) or resp.reason}. Check "
                        f"{TOKEN_ENV}: the token must be valid for this organization, with the "
                        "event:read, project:read and org:read scopes"
                    )
                elif status == 404:
                    raise SentryNotFound(
                        f"HTTP 404 from {url}: {_detail(body) or 'not found'}. Check --org, "
                        "--project and --url (self-hosted Sentry)"
                    )
                elif status == 429:
                    why = "HTTP 429 (rate limited)"
                    after = retry_after_seconds(headers.get("retry-after"))
                    if after is None:
                        reset = headers.get("x-sentry-rate-limit-reset")
                        if reset and reset.replace(".", "", 1).isdigit():
                            after = max(float(reset) - time.time(), 0.0)
                    if after is not None:
                        if after > self.max_retry_after:
                            raise SentryAPIError(
                                f"HTTP 429 from {url}: Sentry asks to wait {after:.0f} s, longer "
                                f"than {self.max_retry_after:.0f} s (--max-retry-after); run "
                                "again later"
                            )
                        delay, why = after, f"HTTP 429 (rate limited, Retry-After {after:g} s)"
                elif status in RETRY_STATUSES:
                    why = f"HTTP {status}"
                    after = retry_after_seconds(headers.get("retry-after"))
                    if after is not None:  # a 503 in maintenance may say when to come back
                        delay = min(after, self.max_retry_after)
                        why = f"HTTP {status} (Retry-After {after:g} s)"
                else:
                    raise SentryAPIError(
                        f"HTTP {status} from {url}: {_detail(body) or resp.reason}"
                    )
            attempt += 1
            if attempt > self.retries:
                raise SentryAPIError(f"{why} from {url}; gave up after {self.retries} retries")
            self._wait(delay, why, url, attempt)

    # -- paging -----------------------------------------------------------------------------------

    def pages(self, path: str, params: dict | None = None) -> Iterator[Page]:
        """Every page of a list endpoint, following ``rel="next"`` while ``results="true"``.

        The next page is requested by its cursor on our own base URL and path, so a ``Link`` that
        names an internal host name (self-hosted Sentry behind a proxy) still works.
        """
        params = dict(params or {})
        cursor: str | None = None
        seen: set[str | None] = {None}
        number = 0
        while True:
            url = self.url_for(path, {**params, "cursor": cursor})
            if self.max_pages is not None and self.pages_read >= self.max_pages:
                raise SentryAPIError(
                    f"more than {self.max_pages} pages in this run (--max-pages) at {url}; "
                    "stopped. Raise --max-pages, or pull a shorter --since window"
                )
            doc, headers = self.get(url)
            number += 1
            self.pages_read += 1
            if not isinstance(doc, list):
                raise SentryAPIError(
                    f"expected a JSON list from {url}, got a JSON {type(doc).__name__}"
                )
            nxt = parse_link_header(headers.get("link")).get("next")
            next_cursor = nxt.cursor if nxt and nxt.results else None
            if nxt and nxt.results and not next_cursor:
                next_cursor = _cursor_from_url(nxt.url)
            yield Page(url=url, records=doc, number=number, next_cursor=next_cursor)
            if not next_cursor:
                return
            if next_cursor in seen:
                raise SentryAPIError(
                    f"cursor cycle: {url} names cursor {next_cursor!r} as the next page, a page "
                    f"already read ({number} pages of {path} read); stopped"
                )
            seen.add(next_cursor)
            cursor = next_cursor

    # -- the endpoints a pull needs ---------------------------------------------------------------

    def project_issues(
        self, org: str, project: str, *, query: str = "", since: datetime | None = None
    ) -> Iterator[Page]:
        """Issues of a project, all statuses unless ``query`` says otherwise, seen since ``since``.

        The endpoint defaults to ``is:unresolved`` when no query is sent, so one is always sent:
        noisy groups are often archived (ignored) in Sentry yet keep sending events.
        """
        terms = [query.strip()] if query and query.strip() else []
        if since is not None:
            terms.append(f"lastSeen:>={_iso(since)}")
        return self.pages(
            f"/api/0/projects/{_seg(org)}/{_seg(project)}/issues/", {"query": " ".join(terms)}
        )

    def issue_events(
        self,
        org: str,
        issue_id: str,
        *,
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> Iterator[Page]:
        """Full events of one issue from ``start`` to ``end`` (newest first, as Sentry sends)."""
        params: dict[str, str] = {"full": "true"}
        if start is not None:
            params["start"] = _iso(start)
            params["end"] = _iso(end or datetime.now(UTC))
        path = f"/api/0/organizations/{_seg(org)}/issues/{_seg(issue_id)}/events/"
        return self.pages(path, params)


def check_slug(value: str) -> str:
    """``value`` when it is a valid organization or project slug; ValueError otherwise."""
    return _seg(value)


def _seg(value: str) -> str:
    """A path segment: slugs and ids only, so a value cannot walk to another endpoint."""
    value = str(value)
    if not re.fullmatch(r"[\w.-]+", value):
        raise ValueError(f"invalid Sentry slug or id {value!r}")
    return value


def _iso(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")


def _cursor_from_url(url: str) -> str | None:
    from urllib.parse import parse_qs

    return (parse_qs(urlsplit(url).query).get("cursor") or [None])[0]


class _TooLarge(Exception):
    def __init__(self, url: str, cap: int) -> None:
        mib = cap / (1024 * 1024)
        super().__init__(
            f"the response from {url} is larger than {mib:g} MiB (--max-response-mb); stopped "
            "reading it"
        )


class _TimedOut(Exception):
    """The request's deadline passed while its body was still arriving."""


def _one_line(exc: Exception) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:200]
