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
- inside a ``time_budget`` (the action server sets one per action) timeouts and waits are cut to the time
  left, no attempt starts with less than ``RetryPolicy.min_attempt`` left, and a ``Retry-After`` longer than
  what is left ends the call at once. The read timeout bounds each wait for bytes, not the whole answer: the
  action server's own deadline covers a backend that trickles;
- one circuit breaker per backend, by name and base URL (``bot.circuit_breaker``): after several calls in a
  row failed because the backend is down (no connection, no answer in time, 5xx, 429 past its retries), calls
  fail at once for a cool-down, then one trial call decides;
- log lines name the backend, the method and the path; never headers, query strings, bodies, tokens, emails,
  phones or addresses. Exception messages follow the same rule, so the lead can log them as they are.

Settings (environment, all optional): ``PORTER_BACKEND_CONNECT_TIMEOUT`` (seconds, default 5),
``PORTER_BACKEND_READ_TIMEOUT`` (default 15), ``PORTER_BACKEND_ATTEMPTS`` (tries in all, default 4),
``PORTER_BACKEND_BACKOFF`` (seconds before the first retry, doubling, default 0.5),
``PORTER_BACKEND_BREAKER_FAILURES`` (failed calls in a row that open the circuit, default 5),
``PORTER_BACKEND_BREAKER_SECONDS`` (how long it stays open, default 30).
"""

from __future__ import annotations

import email.utils
import logging
import os
import random
import math
import re
import threading
import time
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable, Dict, Mapping, Optional, Tuple
from urllib.parse import urlsplit

import requests

from bot.circuit_breaker import CircuitBreaker

logger = logging.getLogger(__name__)


class BackendUnavailable(RuntimeError):
    """A backend cannot give a usable answer now. ``str()`` names the backend and the reason, never a secret."""

    def __init__(self, backend: str, reason: str, status: Optional[int] = None, may_have_taken_effect: bool = False):
        self.backend = backend
        self.reason = reason
        self.status = status
        # A change was sent and no clear answer came back: it may have happened (a refund to reconcile, never
        # to repeat blindly). False means it certainly did not.
        self.may_have_taken_effect = may_have_taken_effect
        super().__init__(f"{backend} is unavailable: {reason}")


class BackendCredentialsError(BackendUnavailable):
    """The backend refused our credentials (401/403): an operator must check the named setting."""


class BackendRejected(BackendUnavailable):
    """The backend understood the request and refused it (a 4xx other than 401/403/404/429)."""


class BackendDown(BackendUnavailable):
    """No usable answer because the backend is down: no connection, no answer in time, 5xx, or 429 past the
    retries. What the circuit breaker counts."""


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
        raise BackendConfigError(f"{name}={raw!r} must be a number") from None
    if value <= 0:
        raise BackendConfigError(f"{name}={raw!r} must be above 0")
    return value


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 4  # tries in all, the first one included
    backoff: float = 0.5  # seconds before the first retry; doubles for each further retry
    max_backoff: float = 8.0  # no single wait longer than this
    max_retry_after: float = 30.0  # a longer Retry-After is cut to this: a shopper is waiting
    min_attempt: float = 0.5  # no attempt starts inside a time budget with less than this left

    def delay(self, retry: int) -> float:
        """Seconds to wait before retry number ``retry`` (1 for the first), with a little jitter."""
        base = self.backoff * (2 ** (retry - 1))
        return min(self.max_backoff, base * random.uniform(1.0, 1.1))

    @classmethod
    def from_env(cls) -> "RetryPolicy":
        return cls(
            attempts=int(_env_number("PORTER_BACKEND_ATTEMPTS", 4, int)),
            backoff=_env_number("PORTER_BACKEND_BACKOFF", 0.5),
        )


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
    data: Any  # the decoded JSON body (None when the body is empty)
    headers: Mapping[str, str] = field(default_factory=dict)
    links: Dict[str, Dict[str, str]] = field(default_factory=dict)  # the Link header, by rel ("next", ...)


_RETRY_ANY_METHOD = {429, 503}  # the backend says it did nothing: safe to repeat even a refund
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


_breakers: Dict[Tuple[str, str], CircuitBreaker] = {}
_breakers_lock = threading.Lock()


def breaker_for(name: str, base_url: str) -> CircuitBreaker:
    """The circuit breaker of the backend ``name`` at ``base_url``, shared by every client of it in this process
    (every action thread); its settings are read from the environment when it is first needed."""
    with _breakers_lock:
        key = (name, base_url)
        if key not in _breakers:
            _breakers[key] = CircuitBreaker(
                name,
                int(_env_number("PORTER_BACKEND_BREAKER_FAILURES", 5, int)),
                _env_number("PORTER_BACKEND_BREAKER_SECONDS", 30.0),
            )
        return _breakers[key]


class JsonApi:
    """A JSON API at ``base_url`` answering with the given auth headers.

    ``name`` appears in errors and logs ("Shopify"); ``credentials_hint`` names the setting to check when the
    backend refuses the credentials ("SHOPIFY_ACCESS_TOKEN").
    """

    def __init__(
        self,
        name: str,
        base_url: str,
        headers: Optional[Mapping[str, str]] = None,
        *,
        credentials_hint: str = "the credentials",
        retry: Optional[RetryPolicy] = None,
        connect_timeout: Optional[float] = None,
        read_timeout: Optional[float] = None,
        session: Optional[requests.Session] = None,
        sleep: Callable[[float], None] = time.sleep,
        breaker: Optional[CircuitBreaker] = None,
    ):
        self.name = name
        self.base_url = base_url.rstrip("/")
        self.breaker = breaker or breaker_for(name, self.base_url)
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

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Optional[Mapping[str, Any]] = None,
        body: Any = None,
        idempotent: Optional[bool] = None,
    ) -> Optional[ApiResponse]:
        """The decoded answer, or None for 404. Raises BackendUnavailable (or a subclass) otherwise, at once
        while the backend's circuit is open."""
        closed_for = self.breaker.refusal()
        if closed_for is not None:
            raise BackendUnavailable(self.name, f"not answering; not tried again for {math.ceil(closed_for)} s")
        try:
            answer = self._attempts(method, path, params, body, idempotent)
        except BackendDown:
            self.breaker.failed()
            raise
        except BackendUnavailable as exc:
            if exc.status is None:  # never reached it (no time left, another host)
                self.breaker.released()
            else:  # it answered: a refusal, a redirect, a body Porter cannot read; it is up
                self.breaker.succeeded()
            raise
        except BaseException:
            self.breaker.released()
            raise
        self.breaker.succeeded()
        return answer

    def _attempts(
        self, method: str, path: str, params: Optional[Mapping[str, Any]], body: Any, idempotent: Optional[bool]
    ) -> Optional[ApiResponse]:
        method = method.upper()
        if idempotent is None:
            idempotent = method in ("GET", "HEAD", "PUT", "DELETE", "OPTIONS")
        url = self._url(path)
        where = self._where(method, url)
        attempts = max(1, self.retry.attempts)
        last_problem, last_status = "no answer", None
        for attempt in range(1, attempts + 1):
            final = attempt == attempts
            # The first attempt needs min_attempt seconds of the budget; the wait before a retry kept them for it.
            timeouts = self._timeouts(self.retry.min_attempt if attempt == 1 else 0.0)
            if timeouts is None:
                raise self._out_of_time(last_problem, last_status, attempt - 1, attempts)
            try:
                response = self.session.request(
                    method,
                    url,
                    params=params,
                    json=body,
                    headers=self._headers,
                    timeout=timeouts,
                    allow_redirects=False,
                )
            except requests.exceptions.RequestException as exc:
                never_sent = _never_sent(exc)
                if never_sent:
                    last_problem = "could not connect"
                elif isinstance(exc, requests.exceptions.Timeout):
                    last_problem = f"no answer within {timeouts[1]:.3g} s"
                elif isinstance(exc, requests.exceptions.ConnectionError):
                    last_problem = "the connection broke"
                else:
                    raise BackendUnavailable(self.name, f"request failed ({type(exc).__name__})") from exc
                last_status = None
                if not (idempotent or never_sent):
                    raise BackendDown(
                        self.name,
                        f"{last_problem}; not repeated because it may have taken effect",
                        may_have_taken_effect=True,
                    ) from exc
                if final:
                    break
                self._wait(where, last_problem, last_status, self.retry.delay(attempt), attempt, attempts)
                continue

            status = response.status_code
            if 200 <= status < 300:
                return ApiResponse(status, self._decode(response), response.headers, dict(response.links or {}))
            if status == 404:
                return None
            if status in (401, 403):
                raise BackendCredentialsError(
                    self.name, f"refused the credentials (HTTP {status}): check {self.credentials_hint}", status
                )
            if 300 <= status < 400:
                raise BackendUnavailable(
                    self.name, f"answered with a redirect (HTTP {status}): check its base URL", status
                )
            retryable = status in _RETRY_ANY_METHOD or (idempotent and status in _RETRY_IDEMPOTENT)
            if 400 <= status < 500 and status != 429:
                raise BackendRejected(
                    self.name, f"rejected the request (HTTP {status}{self._error_keys(response)})", status
                )
            last_problem = "rate limited (HTTP 429)" if status == 429 else f"HTTP {status}"
            last_status = status
            if not retryable:
                why = "" if idempotent else "; not repeated because it may have taken effect"
                raise (BackendDown if status >= 500 else BackendUnavailable)(
                    self.name, last_problem + why, status, may_have_taken_effect=not idempotent and status >= 500
                )
            if final:
                raise BackendDown(self.name, f"{last_problem} after {attempts} attempts", status)
            delay = self.retry.delay(attempt)
            if status == 429:
                asked = retry_after_seconds(response.headers.get("Retry-After"))
                if asked is not None:
                    delay = min(asked, self.retry.max_retry_after)
                    left = remaining_time()
                    if left is not None and delay > left - self.retry.min_attempt:
                        raise BackendDown(
                            self.name, f"{last_problem}; asked to wait {delay:g} s, longer than the time left", status
                        )
            self._wait(where, last_problem, last_status, delay, attempt, attempts)
        raise BackendDown(self.name, f"{last_problem} after {attempts} attempts")

    def _timeouts(self, needed: float) -> Optional[Tuple[float, float]]:
        """Connect and read timeouts cut to the time budget; None when less than ``needed`` seconds are left."""
        left = remaining_time()
        if left is None:
            return self.connect_timeout, self.read_timeout
        if left <= 0 or left < needed:
            return None
        return min(self.connect_timeout, left), min(self.read_timeout, left)

    def _out_of_time(self, problem: str, status: Optional[int], tried: int, attempts: int) -> BackendUnavailable:
        if not tried:
            return BackendUnavailable(self.name, "the time for this call ran out before it started")
        return BackendDown(self.name, f"{problem}; the time ran out after {tried} of {attempts} attempts", status)

    def _wait(self, where: str, problem: str, status: Optional[int], delay: float, attempt: int, attempts: int) -> None:
        """Waits before the next retry, cut so that it still has ``min_attempt`` seconds of the time budget."""
        left = remaining_time()
        if left is not None:
            if left <= self.retry.min_attempt:
                raise self._out_of_time(problem, status, attempt, attempts)
            delay = min(delay, left - self.retry.min_attempt)
        logger.warning("%s: %s: %s; retry %d of %d in %.2f s", self.name, where, problem, attempt, attempts - 1, delay)
        self._sleep(delay)

    def _decode(self, response: requests.Response) -> Any:
        if not response.content or not response.content.strip():
            return None
        try:
            return response.json()
        except ValueError:
            logger.warning("%s: answered HTTP %s with a body that is not JSON", self.name, response.status_code)
            raise BackendUnavailable(self.name, "answered with malformed JSON", response.status_code) from None

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
