"""A small client for Sentry's web API: cursor paging, rate limits and retries, nothing more.

Built on urllib3 (already installed with sentry-sdk, which uses it for its own transport): it keeps
connections alive across the hundreds of page requests a pull makes and verifies TLS with the
system's certificates. The retry policy is written out here rather than delegated to
``urllib3.Retry`` because a page must also be retried when its body arrives cut short or is not
JSON, and because every wait is logged so a scheduled job's log says why it was slow.

The auth token is sent in the ``Authorization`` header only, to the configured base URL only (a
``Link`` header naming another host is followed by its cursor, on our own host), and it never
appears in a message, an exception or a repr.
"""

from __future__ import annotations

import email.utils
import json
import logging
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
    """``Retry-After`` as seconds: a number of seconds or an HTTP date (RFC 9110 §10.2.3)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(when.timestamp() - (time.time() if now is None else now), 0.0)


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
        max_retry_after: float = 300.0,
        timeout: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
    ):
        base = (url or os.environ.get(URL_ENV) or DEFAULT_URL).strip().rstrip("/")
        parts = urlsplit(base)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"invalid Sentry URL {base!r}: expected http(s)://host[:port]")
        self.base_url = base
        self._origin = (parts.scheme, parts.netloc)
        self._token = token if token is not None else os.environ.get(TOKEN_ENV)
        if not self._token:
            raise SentryAuthError(
                f"no auth token: set {TOKEN_ENV} to a Sentry auth token with the event:read, "
                "project:read and org:read scopes"
            )
        self.retries = retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.max_retry_after = max_retry_after
        self._sleep = sleep
        self._http = urllib3.PoolManager(
            timeout=urllib3.Timeout(connect=min(timeout, 10.0), read=timeout),
            retries=False,
            headers={
                "Authorization": f"Bearer {self._token}",
                "Accept": "application/json",
                "User-Agent": "sentry-triage",
            },
        )
        self.requests = 0  # HTTP requests sent, retries included

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
        log.warning(
            "%s from %s: retry %d of %d in %.1f s", why, url, attempt, self.retries, seconds
        )
        self._sleep(seconds)

    def get(self, url: str) -> tuple[object, dict[str, str]]:
        """GET one URL on the base URL's host; return (decoded JSON, headers)."""
        if (urlsplit(url).scheme, urlsplit(url).netloc) != self._origin:
            raise SentryAPIError(f"refusing to send the auth token to another host: {url}")
        attempt = 0
        while True:
            why: str
            delay = min(self.backoff * (2**attempt), self.max_backoff)
            try:
                self.requests += 1
                resp = self._http.request("GET", url, preload_content=False)
                try:
                    body = resp.read()
                finally:
                    resp.release_conn()
            except urllib3.exceptions.HTTPError as exc:
                # connection refused/reset, timeouts, and bodies cut short (IncompleteRead)
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
                                f"than {self.max_retry_after:.0f} s; run again later"
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
        number = 0
        while True:
            url = self.url_for(path, {**params, "cursor": cursor})
            doc, headers = self.get(url)
            number += 1
            if not isinstance(doc, list):
                raise SentryAPIError(
                    f"expected a JSON list from {url}, got a JSON {type(doc).__name__}"
                )
            nxt = parse_link_header(headers.get("link")).get("next")
            next_cursor = nxt.cursor if nxt and nxt.results else None
            if nxt and nxt.results and not next_cursor:
                next_cursor = _cursor_from_url(nxt.url)
            yield Page(url=url, records=doc, number=number, next_cursor=next_cursor)
            if not next_cursor or next_cursor == cursor:
                return
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


def _one_line(exc: Exception) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:200]
