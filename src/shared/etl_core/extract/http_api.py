"""Reading JSON records from an HTTP API page by page: pagination, auth, retries, a rate limit.

Only the standard library (urllib) is used: the Lambda package stays small, and the
retry policy is the one written here, where it can honour ``Retry-After``. One page is in
memory at a time (at most ``max_response_bytes``); records go out in batches of ``batch_rows``.

What the API answers cannot steer the reader: the opener speaks http(s) only (no
``file:``, ``ftp:`` or ``data:`` handlers), next-page links and redirects must stay on the
allowed origins (the URL's own and the spec's ``allowed_origins``), and the credentials
(``Authorization`` and the spec's headers) go only to those origins: a redirect elsewhere
is followed without them, or refused when it leaves http(s).
"""
from __future__ import annotations

import base64
import email.utils
import random
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any, Iterator

from etl_core import redaction
from etl_core.aws import secret_json, secret_text
from etl_core.errors import SourceError, SourceNotFound, TransientError
from etl_core.extract.batches import ExtractContext, TextBatch
from etl_core.extract.records import MISSING, RecordBatcher, field_value, json_type, parse_json
from etl_core.settings import named_variable
from etl_core.spec.sources import HttpAuth, HttpRetry, HttpSource

BACKOFF_BASE_SECONDS = 0.5
_LINK = re.compile(r'<([^>]*)>\s*((?:;\s*[^;,]*)*)')
_SCHEMES = ("http", "https")
#: Request headers that carry credentials: sent only to the allowed origins.
_SECRET_HEADER = re.compile(r"authorization|api[-_]?key|token|secret|cookie|password", re.IGNORECASE)


def origin(url: str) -> str:
    """``scheme://host:port`` of a URL, default ports made explicit, for comparing origins."""
    parts = urllib.parse.urlsplit(url)
    port = parts.port or {"http": 80, "https": 443}.get(parts.scheme, 0)
    return f"{parts.scheme}://{(parts.hostname or '').lower()}:{port}"


@dataclass(frozen=True)
class Policy:
    """Where a source may go, and what it may carry there."""

    name: str
    origins: frozenset[str]
    credentials: tuple[str, ...]
    max_bytes: int

    @classmethod
    def of(cls, source: HttpSource, url: str, headers: dict[str, str]) -> "Policy":
        allowed = frozenset(origin(u) for u in [url, *source.allowed_origins])
        credentials = tuple(k for k in headers if _SECRET_HEADER.search(k) or k in source.headers)
        return cls(source.name, allowed, credentials, source.max_response_bytes)

    def check(self, url: str, what: str) -> str:
        """``url`` if the source may request it; a SourceError naming the source otherwise."""
        scheme = urllib.parse.urlsplit(url).scheme
        if scheme not in _SCHEMES:
            raise SourceError(f"source {self.name!r}: {what} {url!r} is not http(s); only http and https URLs are followed")
        if origin(url) not in self.origins:
            raise SourceError(f"source {self.name!r}: {what} {url!r} leaves the allowed origins "
                              f"({', '.join(sorted(self.origins))}); list it in allowed_origins to follow it")
        return url


class _Redirects(urllib.request.HTTPRedirectHandler):
    """Redirects over http(s) only; to another origin than the allowed ones, without the credentials."""

    def __init__(self, policy: Policy) -> None:
        self.policy = policy

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # noqa: ANN001 - urllib's signature
        if urllib.parse.urlsplit(newurl).scheme not in _SCHEMES:
            raise SourceError(f"source {self.policy.name!r}: {req.full_url} redirects to {newurl!r}, which is not http(s)")
        new = super().redirect_request(req, fp, code, msg, headers, newurl)
        if new is not None and origin(newurl) not in self.policy.origins:
            for name in self.policy.credentials:
                new.remove_header(name.capitalize())
                new.remove_header(name)
        return new


def _opener(policy: Policy) -> urllib.request.OpenerDirector:
    """An opener with the http(s) handlers only: no file:, ftp: or data: URL can be opened."""
    opener = urllib.request.OpenerDirector()
    for handler in (urllib.request.ProxyHandler(), urllib.request.UnknownHandler(), urllib.request.HTTPHandler(),
                    urllib.request.HTTPSHandler(), urllib.request.HTTPDefaultErrorHandler(), _Redirects(policy),
                    urllib.request.HTTPErrorProcessor()):
        opener.add_handler(handler)
    return opener


@dataclass
class Response:
    url: str
    headers: Any
    body: bytes


def authorization(auth: HttpAuth) -> str:
    """The Authorization header value, from the secret (or, locally, the environment variable)."""
    if auth.secret_arn and auth.type == "bearer":
        text = secret_text(auth.secret_arn)
        token = secret_json(auth.secret_arn, ("token",))["token"] if text.lstrip().startswith("{") else text
        redaction.register(token)
        return f"Bearer {token}"
    if auth.secret_arn:
        secret = secret_json(auth.secret_arn, ("username", "password"))
        credentials = f"{secret['username']}:{secret['password']}"
    else:
        credentials = named_variable(auth.env)
        if not credentials:
            raise SourceError(f"auth: environment variable {auth.env} is not set")
        if auth.type == "bearer":
            redaction.register(credentials)
            return f"Bearer {credentials}"
    user, _, password = credentials.partition(":")
    redaction.register_basic(user, password)
    return "Basic " + base64.b64encode(credentials.encode()).decode("ascii")


def retry_delay(retry_after: str | None, attempt: int, max_delay: float) -> float:
    """Seconds to wait before the next attempt: ``Retry-After`` (seconds or an HTTP date) if the
    server sent a valid one, else exponential back-off with full jitter; never more than ``max_delay``."""
    if retry_after:
        try:
            return min(max(float(retry_after), 0.0), max_delay)
        except ValueError:
            pass
        try:
            return min(max(email.utils.parsedate_to_datetime(retry_after).timestamp() - time.time(), 0.0), max_delay)
        except (TypeError, ValueError):
            pass
    return random.uniform(0, min(max_delay, BACKOFF_BASE_SECONDS * 2**attempt))


class RateLimiter:
    """Spaces requests at least ``1 / requests_per_second`` apart (no limit when None)."""

    def __init__(self, requests_per_second: float | None) -> None:
        self.interval = 1 / requests_per_second if requests_per_second else 0.0
        self._next = 0.0

    def wait(self) -> None:
        now = time.monotonic()
        if now < self._next:
            time.sleep(self._next - now)
        self._next = max(now, self._next) + self.interval


def _read_bounded(answer: Any, policy: Policy, url: str) -> bytes:
    body = answer.read(policy.max_bytes + 1)
    if len(body) > policy.max_bytes:
        raise SourceError(f"source {policy.name!r}: {url} answered more than max_response_bytes={policy.max_bytes}")
    return body


def fetch(url: str, headers: dict[str, str], retry: HttpRetry, limiter: RateLimiter, timeout: float, policy: Policy) -> Response:
    """GET ``url`` (which ``policy`` allows); 429, 5xx and connection failures are retried, at most
    ``retry.attempts`` tries in all. The final URL (after redirects) must be allowed too."""
    policy.check(url, "URL")
    opener = _opener(policy)
    problem = ""
    for attempt in range(retry.attempts):
        limiter.wait()
        retry_after = None
        try:
            # The scheme is checked above and the opener has no handler for any other: nosec B310.
            with opener.open(urllib.request.Request(url, headers=headers), timeout=timeout) as answer:  # nosec B310
                return Response(answer.geturl(), answer.headers, _read_bounded(answer, policy, url))
        except urllib.error.HTTPError as exc:
            if exc.code != 429 and exc.code < 500:
                detail = exc.read()[:200].decode("utf8", errors="replace")
                error = SourceNotFound if exc.code in (404, 410) else SourceError
                raise error(f"GET {url}: HTTP {exc.code} {exc.reason}: {detail}") from None
            problem = f"HTTP {exc.code} {exc.reason}"
            retry_after = exc.headers.get("Retry-After")
        except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
            problem = str(getattr(exc, "reason", exc))
        if attempt + 1 < retry.attempts:
            time.sleep(retry_delay(retry_after, attempt, retry.max_delay_seconds))
    raise TransientError(f"GET {url}: {problem} after {retry.attempts} attempt(s)")


def next_link(link_header: str | None, base: str) -> str | None:
    """The ``rel="next"`` target of an RFC 5988 Link header, resolved against the page's URL."""
    for target, params in _LINK.findall(link_header or ""):
        rels = re.search(r'rel\s*=\s*"?([^";]+)"?', params)
        if rels and "next" in rels.group(1).split():
            return urllib.parse.urljoin(base, target)
    return None


def with_params(url: str, params: dict[str, str]) -> str:
    if not params:
        return url
    parts = urllib.parse.urlsplit(url)
    query = dict(urllib.parse.parse_qsl(parts.query, keep_blank_values=True)) | params
    return urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(query)))


def _page_records(source: HttpSource, response: Response, page: int) -> tuple[Any, list]:
    try:
        body = parse_json(response.body)
    except ValueError as exc:
        raise SourceError(f"source {source.name!r}: page {page} ({response.url}) is not valid JSON: {exc}") from None
    records = field_value(body, source.records_path) if source.records_path and isinstance(body, dict) else body
    if not isinstance(records, list):
        where = f"at {source.records_path!r}" if source.records_path else "as the body"
        found = "nothing" if records is MISSING else json_type(records)
        raise SourceError(f"source {source.name!r}: page {page} ({response.url}) has no records array {where}, found {found}")
    return body, records


def read_api(source: HttpSource, ctx: ExtractContext) -> Iterator[TextBatch]:
    """Batches of the API's records, page after page until the pagination says there are no more."""
    paging = source.pagination
    headers = {"Accept": "application/json", **source.headers}
    if source.auth:
        headers["Authorization"] = authorization(source.auth)
    policy = Policy.of(source, ctx.uri, headers)
    for name in policy.credentials:
        redaction.register(headers[name].split(" ", 1)[-1])
    limiter = RateLimiter(source.requests_per_second)
    batcher = RecordBatcher(source.columns, source.optional, source.batch_rows)
    params = dict(source.params)
    if paging.size_param:
        params[paging.size_param] = str(paging.size)
    position: int | str | None = {"page": paging.start, "offset": 0}.get(paging.style)
    url: str | None = ctx.uri
    seen: set[str] = set()
    for page in range(1, paging.max_pages + 1):
        request = with_params(url, {**params, paging.query_param: str(position)} if position is not None else params)
        if request in seen:
            raise SourceError(f"source {source.name!r}: page {page} would request {request} again; the API's pagination loops")
        seen.add(request)
        response = fetch(request, headers, source.retry, limiter, source.timeout_seconds, policy)
        body, records = _page_records(source, response, page)
        for index, record in enumerate(records, start=1):
            batcher.add(record, f"{request}#record={index}")
            if batcher.full:
                yield batcher.take()
        short = not records or (paging.size is not None and len(records) < paging.size)
        if paging.style == "none" or (paging.style in ("page", "offset") and short):
            break
        if paging.style == "page":
            position = int(position) + 1
        elif paging.style == "offset":
            position = int(position) + len(records)
        elif paging.style == "cursor":
            position = field_value(body, paging.cursor_path) if isinstance(body, dict) else None
            if position in (None, "") or not isinstance(position, (str, int)):
                break
        else:
            url = next_link(response.headers.get("Link"), response.url)
            if url is None:
                break
            policy.check(url, f"page {page}'s next link")
    else:
        raise SourceError(f"source {source.name!r}: still more pages after pagination.max_pages={paging.max_pages}")
    yield batcher.take()
