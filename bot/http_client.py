"""One small JSON-over-HTTP client for every backend adapter (Shopify, AfterShip, 17TRACK).

What it guarantees, so adapters do not each reinvent it:

- every request has a connect and a read timeout;
- 5xx answers, 429 (waiting what ``Retry-After`` says, capped) and connection failures are retried with
  exponential backoff, a few times, then ``BackendUnavailable`` is raised;
- a request that changes something (``idempotent=False``, e.g. creating a refund) is retried only when it
  certainly did not take effect: the connection was never made, or the answer was 429 or 503. A read timeout
  or a 500 after a refund was sent is reported, not repeated, so money never goes out twice;
- 404 is a normal answer ("not found": ``None``); 401/403 raise ``BackendCredentialsError`` naming the
  setting to check; other 4xx raise ``BackendRejected``; none of them is retried;
- redirects are not followed (a redirect would carry the credentials header to another host);
- log lines name the backend, the method and the path; never headers, query strings, bodies, tokens, emails,
  phones or addresses. Exception messages follow the same rule, so the lead can log them as they are.

Settings (environment, all optional): ``PORTER_BACKEND_CONNECT_TIMEOUT`` (seconds, default 5),
``PORTER_BACKEND_READ_TIMEOUT`` (default 15), ``PORTER_BACKEND_ATTEMPTS`` (tries in all, default 4),
``PORTER_BACKEND_BACKOFF`` (seconds before the first retry, doubling, default 0.5).
"""
from __future__ import annotations

import email.utils
import logging
import os
import random
import re
import time
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable, Dict, Mapping, Optional
from urllib.parse import urlsplit

import requests

logger = logging.getLogger(__name__)


class BackendUnavailable(RuntimeError):
    """A backend cannot give a usable answer now. ``str()`` names the backend and the reason, never a secret."""

    def __init__(self, backend: str, reason: str, status: Optional[int] = None):
        self.backend = backend
        self.reason = reason
        self.status = status
        super().__init__(f"{backend} is unavailable: {reason}")


class BackendCredentialsError(BackendUnavailable):
    """The backend refused our credentials (401/403): an operator must check the named setting."""


class BackendRejected(BackendUnavailable):
    """The backend understood the request and refused it (a 4xx other than 401/403/404/429)."""


class BackendConfigError(ValueError):
    """A backend is selected but a setting it needs is missing or wrong; the message names the variable."""


def require_env(name: str, needed_by: str, environ: Optional[Mapping[str, str]] = None) -> str:
    value = (environ if environ is not None else os.environ).get(name, "").strip()
    if not value:
        raise BackendConfigError(f"{name} is not set: {needed_by} needs it")
    return value


_LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1"}


def checked_base_url(value: str, variable: str) -> str:
    """An https base URL (plain http only for this machine, as tests use): credentials never travel in clear."""
    value = value.strip().rstrip("/")
    if "://" not in value:
        value = "https://" + value
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise BackendConfigError(f"{variable}={value!r} is not a URL like https://myshop.myshopify.com")
    if parts.scheme == "http" and parts.hostname not in _LOCAL_HOSTS:
        raise BackendConfigError(f"{variable} must use https:// (plain http would send the credentials in clear)")
    return value


# --- the time an action may still spend -------------------------------------------------------------------

_deadline: ContextVar[Optional[float]] = ContextVar("porter_backend_deadline", default=None)


@contextmanager
def time_budget(seconds: float):
    """Everything called inside may spend at most ``seconds`` in all (the action server's deadline per
    action): calls, retries and waits are cut to what is left, and nothing starts once it is used up."""
    token = _deadline.set(time.monotonic() + seconds)
    try:
        yield
    finally:
        _deadline.reset(token)


def remaining_time() -> Optional[float]:
    """Seconds left of the current time budget, None when there is none."""
    deadline = _deadline.get()
    return None if deadline is None else deadline - time.monotonic()


# --- keeping personal data out of logs -------------------------------------------------------------------

_EMAIL = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-.]+")
_LONG_DIGITS = re.compile(r"\+?\d[\d\s\-().]{6,}\d")


def redact(text: str) -> str:
    """Masks emails and phone-like digit runs in a string meant for a log line."""
    text = _EMAIL.sub(lambda m: m.group(0)[:1] + "***@" + m.group(0).split("@", 1)[1], text)
    return _LONG_DIGITS.sub(lambda m: "***" + re.sub(r"\D", "", m.group(0))[-2:], text)


class _RedactUrls(logging.Filter):
    """urllib3 logs every URL it calls at DEBUG, query string included: keep only the redacted path."""

    _QUERY = re.compile(r"\?[^\s\"]*")

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a record we cannot format is left alone
            return True
        record.msg, record.args = redact(self._QUERY.sub("?…", message)), ()
        return True


logging.getLogger("urllib3.connectionpool").addFilter(_RedactUrls())


# --- retry policy ------------------------------------------------------------------------------------------

def _env_number(name: str, default: float, kind=float) -> float:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = kind(raw)
    except ValueError:
        raise BackendConfigError(f"{name}={raw!r} must be a number")
    if value <= 0:
        raise BackendConfigError(f"{name}={raw!r} must be above 0")
    return value


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 4              # tries in all, the first one included
    backoff: float = 0.5           # seconds before the first retry; doubles for each further retry
    max_backoff: float = 8.0       # no single wait longer than this
    max_retry_after: float = 30.0  # a longer Retry-After is cut to this: a shopper is waiting

    def delay(self, retry: int) -> float:
        """Seconds to wait before retry number ``retry`` (1 for the first), with a little jitter."""
        base = self.backoff * (2 ** (retry - 1))
        return min(self.max_backoff, base * random.uniform(1.0, 1.1))

    @classmethod
    def from_env(cls) -> "RetryPolicy":
        return cls(attempts=int(_env_number("PORTER_BACKEND_ATTEMPTS", 4, int)),
                   backoff=_env_number("PORTER_BACKEND_BACKOFF", 0.5))


def retry_after_seconds(value: Optional[str], now: Optional[datetime] = None) -> Optional[float]:
    """Retry-After as seconds: either a number of seconds or an HTTP date. None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - (now or datetime.now(timezone.utc))).total_seconds())


# --- the client --------------------------------------------------------------------------------------------

@dataclass
class ApiResponse:
    status: int
    data: Any                                   # the decoded JSON body (None when the body is empty)
    headers: Mapping[str, str] = field(default_factory=dict)
    links: Dict[str, Dict[str, str]] = field(default_factory=dict)  # the Link header, by rel ("next", ...)


_RETRY_ANY_METHOD = {429, 503}     # the backend says it did nothing: safe to repeat even a refund
_RETRY_IDEMPOTENT = {500, 502, 503, 504}
_SENDS_NOTHING = ("NewConnectionError", "ConnectionRefusedError", "NameResolutionError", "gaierror")


def _never_sent(exc: BaseException) -> bool:
    """True when the connection failed before the request could reach the backend."""
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return True
    seen = 0
    current: Optional[BaseException] = exc
    while current is not None and seen < 10:
        if any(name in type(current).__name__ for name in _SENDS_NOTHING):
            return True
        inner = current.args[0] if current.args and isinstance(current.args[0], BaseException) else None
        current = getattr(current, "reason", None) or inner or current.__cause__ or current.__context__
        seen += 1
    return False


class JsonApi:
    """A JSON API at ``base_url`` answering with the given auth headers.

    ``name`` appears in errors and logs ("Shopify"); ``credentials_hint`` names the setting to check when the
    backend refuses the credentials ("SHOPIFY_ACCESS_TOKEN").
    """

    def __init__(self, name: str, base_url: str, headers: Optional[Mapping[str, str]] = None, *,
                 credentials_hint: str = "the credentials", retry: Optional[RetryPolicy] = None,
                 connect_timeout: Optional[float] = None, read_timeout: Optional[float] = None,
                 session: Optional[requests.Session] = None, sleep: Callable[[float], None] = time.sleep):
        self.name = name
        self.base_url = base_url.rstrip("/")
        self._headers = {"Accept": "application/json", **dict(headers or {})}
        self.credentials_hint = credentials_hint
        self.retry = retry or RetryPolicy.from_env()
        self.connect_timeout = connect_timeout or _env_number("PORTER_BACKEND_CONNECT_TIMEOUT", 5.0)
        self.read_timeout = read_timeout or _env_number("PORTER_BACKEND_READ_TIMEOUT", 15.0)
        self.session = session or requests.Session()
        self._sleep = sleep

    def __repr__(self) -> str:  # never show the headers: they hold the token
        return f"JsonApi({self.name!r}, {self.base_url!r})"

    def get(self, path: str, params: Optional[Mapping[str, Any]] = None) -> Optional[ApiResponse]:
        return self.request("GET", path, params=params)

    def put(self, path: str, body: Any) -> Optional[ApiResponse]:
        return self.request("PUT", path, body=body)

    def post(self, path: str, body: Any, idempotent: bool = False) -> Optional[ApiResponse]:
        return self.request("POST", path, body=body, idempotent=idempotent)

    def _url(self, path: str) -> str:
        if path.startswith(("http://", "https://")):
            # Pagination links come back as full URLs: follow them only to the same origin.
            mine, theirs = urlsplit(self.base_url), urlsplit(path)
            if (mine.scheme, mine.netloc) != (theirs.scheme, theirs.netloc):
                raise BackendUnavailable(self.name, "pointed to another host; not following it")
            return path
        return self.base_url + "/" + path.lstrip("/")

    def _where(self, method: str, url: str) -> str:
        return f"{method} {redact(urlsplit(url).path)}"

    def request(self, method: str, path: str, *, params: Optional[Mapping[str, Any]] = None, body: Any = None,
                idempotent: Optional[bool] = None) -> Optional[ApiResponse]:
        """The decoded answer, or None for 404. Raises BackendUnavailable (or a subclass) otherwise."""
        method = method.upper()
        if idempotent is None:
            idempotent = method in ("GET", "HEAD", "PUT", "DELETE", "OPTIONS")
        url = self._url(path)
        where = self._where(method, url)
        attempts = max(1, self.retry.attempts)
        last_problem = "no answer"
        for attempt in range(1, attempts + 1):
            final = attempt == attempts
            try:
                response = self.session.request(
                    method, url, params=params, json=body, headers=self._headers,
                    timeout=(self.connect_timeout, self.read_timeout), allow_redirects=False)
            except requests.exceptions.RequestException as exc:
                never_sent = _never_sent(exc)
                if never_sent:
                    last_problem = "could not connect"
                elif isinstance(exc, requests.exceptions.Timeout):
                    last_problem = f"no answer within {self.read_timeout:g} s"
                elif isinstance(exc, requests.exceptions.ConnectionError):
                    last_problem = "the connection broke"
                else:
                    raise BackendUnavailable(self.name, f"request failed ({type(exc).__name__})")
                if not (idempotent or never_sent):
                    raise BackendUnavailable(
                        self.name, f"{last_problem}; not repeated because it may have taken effect")
                if final:
                    break
                self._wait(where, last_problem, self.retry.delay(attempt), attempt, attempts)
                continue

            status = response.status_code
            if 200 <= status < 300:
                return ApiResponse(status, self._decode(response), response.headers, dict(response.links or {}))
            if status == 404:
                return None
            if status in (401, 403):
                raise BackendCredentialsError(
                    self.name, f"refused the credentials (HTTP {status}): check {self.credentials_hint}", status)
            if 300 <= status < 400:
                raise BackendUnavailable(
                    self.name, f"answered with a redirect (HTTP {status}): check its base URL", status)
            retryable = status in _RETRY_ANY_METHOD or (idempotent and status in _RETRY_IDEMPOTENT)
            if 400 <= status < 500 and status != 429:
                raise BackendRejected(self.name, f"rejected the request (HTTP {status}{self._error_keys(response)})",
                                      status)
            last_problem = "rate limited (HTTP 429)" if status == 429 else f"HTTP {status}"
            if not retryable:
                why = "" if idempotent else "; not repeated because it may have taken effect"
                raise BackendUnavailable(self.name, last_problem + why, status)
            if final:
                raise BackendUnavailable(self.name, f"{last_problem} after {attempts} attempts", status)
            delay = self.retry.delay(attempt)
            if status == 429:
                asked = retry_after_seconds(response.headers.get("Retry-After"))
                if asked is not None:
                    delay = min(asked, self.retry.max_retry_after)
            self._wait(where, last_problem, delay, attempt, attempts)
        raise BackendUnavailable(self.name, f"{last_problem} after {attempts} attempts")

    def _wait(self, where: str, problem: str, delay: float, attempt: int, attempts: int) -> None:
        logger.warning("%s: %s: %s; retry %d of %d in %.2f s", self.name, where, problem, attempt, attempts - 1,
                       delay)
        self._sleep(delay)

    def _decode(self, response: requests.Response) -> Any:
        if not response.content or not response.content.strip():
            return None
        try:
            return response.json()
        except ValueError:
            logger.warning("%s: answered HTTP %s with a body that is not JSON", self.name, response.status_code)
            raise BackendUnavailable(self.name, "answered with malformed JSON", response.status_code)

    @staticmethod
    def _error_keys(response: requests.Response) -> str:
        """The names (only) of the fields an error body complains about: useful, and free of personal data."""
        try:
            data = response.json()
        except ValueError:
            return ""
        errors = data.get("errors") if isinstance(data, dict) else None
        if isinstance(errors, dict) and errors:
            return ": " + ", ".join(sorted(str(k) for k in errors)[:5])
        return ""
