"""The JSON client every backend adapter uses, against a local Recorder: retries, rate limits, timeouts,
errors that name the backend and never a secret, logs free of personal data, the time budget of an action
and the circuit breaker per backend."""

from __future__ import annotations

import logging
import socket
import sys
import threading
import time
import uuid
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

import pytest

from bot.circuit_breaker import CircuitBreaker
from bot.http_client import (
    BackendConfigError,
    BackendCredentialsError,
    BackendDown,
    BackendRejected,
    BackendUnavailable,
    JsonApi,
    RetryPolicy,
    checked_base_url,
    redact,
    retry_after_seconds,
    time_budget,
)
from tests.support.recorder import Recorder

TOKEN = "shpat_secret-token-for-tests"
FAST = RetryPolicy(attempts=3, backoff=0.001, max_backoff=0.01, max_retry_after=0.02)


class HeaderRecorder(Recorder):
    """The Recorder, plus reply headers: a route calls ``headers(...)`` to add them to the reply it is making."""

    def __init__(self) -> None:
        super().__init__()
        self._local = threading.local()
        local = self._local
        base = self._server.RequestHandlerClass

        class WithHeaders(base):
            def end_headers(self) -> None:
                for key, value in getattr(local, "headers", {}).items():
                    self.send_header(key, value)
                local.headers = {}
                super().end_headers()

        self._server.RequestHandlerClass = WithHeaders
        server, default = self._server, self._server.handle_error

        def quiet(request, client_address) -> None:
            # A client that timed out on a slow route has hung up: nothing to report.
            if not isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
                default(request, client_address)

        server.handle_error = quiet

    def headers(self, **values: str) -> None:
        self._local.headers = {k.replace("_", "-"): v for k, v in values.items()}


def sequence(*replies):
    """A route answering each reply in turn, then repeating the last."""
    remaining = list(replies)

    def reply(request):
        return remaining.pop(0) if len(remaining) > 1 else remaining[0]

    return reply


@pytest.fixture(scope="module")
def api_server():
    recorder = HeaderRecorder()
    yield recorder
    recorder.close()


@pytest.fixture
def prefix():
    return f"/t-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def sleeps():
    return []


@pytest.fixture
def api(api_server, sleeps):
    return JsonApi(
        "Shopify",
        api_server.url,
        {"X-Shopify-Access-Token": TOKEN},
        credentials_hint="SHOPIFY_ACCESS_TOKEN",
        retry=FAST,
        connect_timeout=1,
        read_timeout=1,
        sleep=sleeps.append,
        breaker=CircuitBreaker("Shopify", failures=5, cool_down=30),
    )


def closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def test_a_success_returns_the_decoded_json_and_sends_the_auth_header(api, api_server, prefix):
    api_server.route(prefix, lambda r: (200, {"orders": [{"id": 1}]}))
    response = api.get(f"{prefix}/orders.json", params={"name": "#1001", "status": "any"})
    assert response.status == 200 and response.data == {"orders": [{"id": 1}]}
    sent = api_server.received(prefix)[-1]
    assert sent.headers["x-shopify-access-token"] == TOKEN
    assert sent.query == {"name": ["#1001"], "status": ["any"]}


def test_500_then_200_succeeds_after_one_retry(api, api_server, prefix, sleeps):
    api_server.route(prefix, sequence((500, {"errors": "oops"}), (200, {"ok": True})))
    assert api.get(prefix).data == {"ok": True}
    assert len(api_server.received(prefix)) == 2 and len(sleeps) == 1


def test_backoff_grows_exponentially_and_is_capped():
    policy = RetryPolicy(attempts=6, backoff=1.0, max_backoff=5.0)
    delays = [policy.delay(n) for n in range(1, 6)]
    assert 1.0 <= delays[0] <= 1.1 and 2.0 <= delays[1] <= 2.2 and 4.0 <= delays[2] <= 4.4
    assert delays[3] == delays[4] == 5.0


def test_429_waits_what_retry_after_says_capped(api, api_server, prefix, sleeps):
    def reply(request):
        if len(api_server.received(prefix)) == 1:
            api_server.headers(Retry_After="1")
            return 429, {"errors": "Exceeded 2 calls per second for api client."}
        return 200, {"ok": True}

    api_server.route(prefix, reply)
    assert api.get(prefix).data == {"ok": True}
    assert sleeps == [FAST.max_retry_after]  # asked 1 s, capped to the configured 0.02 s


def test_a_short_retry_after_is_honoured_as_given(api_server, prefix, sleeps):
    api = JsonApi(
        "AfterShip", api_server.url, retry=RetryPolicy(attempts=2, backoff=5, max_retry_after=30), sleep=sleeps.append
    )
    when = format_datetime(datetime.now(timezone.utc) + timedelta(seconds=20), usegmt=True)

    def reply(request):
        if len(api_server.received(prefix)) == 1:
            api_server.headers(Retry_After=when)
            return 429, {"meta": {"code": 429}}
        return 200, {"meta": {"code": 200}}

    api_server.route(prefix, reply)
    assert api.get(prefix).status == 200
    assert len(sleeps) == 1 and 15 <= sleeps[0] <= 20  # an HTTP date, not the 5 s backoff


def test_429_without_retry_after_backs_off_and_gives_up_naming_the_rate_limit(api, api_server, prefix, sleeps):
    api_server.route(prefix, lambda r: (429, {}))
    with pytest.raises(BackendUnavailable, match="Shopify is unavailable: rate limited \\(HTTP 429\\) after 3"):
        api.get(prefix)
    assert len(api_server.received(prefix)) == 3 and len(sleeps) == 2


def test_a_persistent_503_raises_backend_unavailable_after_every_attempt(api, api_server, prefix):
    api_server.route(prefix, lambda r: (503, {"errors": "Unavailable Shop"}))
    with pytest.raises(BackendUnavailable) as caught:
        api.get(prefix)
    assert caught.value.backend == "Shopify" and caught.value.status == 503
    assert str(caught.value) == "Shopify is unavailable: HTTP 503 after 3 attempts"
    assert len(api_server.received(prefix)) == 3


@pytest.mark.parametrize("status", [401, 403])
def test_refused_credentials_are_not_retried_and_name_the_setting(api, api_server, prefix, status):
    api_server.route(prefix, lambda r: (status, {"errors": "[API] Invalid API key or access token"}))
    with pytest.raises(BackendCredentialsError) as caught:
        api.get(prefix)
    message = str(caught.value)
    assert f"HTTP {status}" in message and "check SHOPIFY_ACCESS_TOKEN" in message and TOKEN not in message
    assert isinstance(caught.value, BackendUnavailable)
    assert len(api_server.received(prefix)) == 1


def test_404_is_a_not_found_result(api, api_server, prefix):
    api_server.route(prefix, lambda r: (404, {"errors": "Not Found"}))
    assert api.get(prefix) is None
    assert len(api_server.received(prefix)) == 1


def test_other_4xx_are_rejections_naming_only_the_fields(api, api_server, prefix):
    api_server.route(prefix, lambda r: (422, {"errors": {"shipping_address": ["Rua Augusta 10 is invalid"]}}))
    with pytest.raises(BackendRejected) as caught:
        api.put(prefix, {"order": {"shipping_address": {"address1": "Rua Augusta 10"}}})
    assert str(caught.value) == "Shopify is unavailable: rejected the request (HTTP 422: shipping_address)"
    assert len(api_server.received(prefix)) == 1


def test_a_redirect_is_not_followed(api, api_server, prefix):
    api_server.route(prefix, lambda r: (301, {}))
    with pytest.raises(BackendUnavailable, match="redirect \\(HTTP 301\\): check its base URL"):
        api.get(prefix)


def test_malformed_json_is_unusable(api, api_server, prefix):
    api_server.route(prefix, lambda r: (200, b"<html>502 Bad Gateway</html"))
    with pytest.raises(BackendUnavailable, match="answered with malformed JSON"):
        api.get(prefix)


def test_an_empty_body_is_no_data(api, api_server, prefix):
    api_server.route(prefix, lambda r: (200, b""))
    assert api.get(prefix).data is None


def test_a_slow_backend_times_out_and_is_retried_when_reading(api_server, prefix, sleeps):
    api = JsonApi("17TRACK", api_server.url, retry=FAST, read_timeout=0.2, sleep=sleeps.append)

    def slow(request):
        time.sleep(0.6)
        return 200, {"code": 0}

    api_server.route(prefix, slow)
    with pytest.raises(BackendUnavailable, match="17TRACK is unavailable: no answer within 0.2 s after 3 attempts"):
        api.post(prefix, [{"number": "RR123456789CN"}], idempotent=True)
    assert len(api_server.received(prefix)) == 3


def test_a_timeout_on_a_refund_is_reported_not_repeated(api_server, prefix, sleeps):
    api = JsonApi("Shopify", api_server.url, retry=FAST, read_timeout=0.2, sleep=sleeps.append)

    def slow(request):
        time.sleep(0.6)
        return 201, {"refund": {"id": 1}}

    api_server.route(prefix, slow)
    with pytest.raises(BackendUnavailable, match="not repeated because it may have taken effect"):
        api.post(prefix, {"refund": {"note": "stalled"}})
    assert len(api_server.received(prefix)) == 1 and sleeps == []


def test_a_500_on_a_refund_is_not_repeated_but_a_503_or_429_is(api, api_server, prefix):
    api_server.route(f"{prefix}/a", lambda r: (500, {}))
    with pytest.raises(BackendUnavailable, match="HTTP 500; not repeated"):
        api.post(f"{prefix}/a", {"refund": {}})
    assert len(api_server.received(f"{prefix}/a")) == 1

    api_server.route(f"{prefix}/b", sequence((503, {}), (429, {}), (201, {"refund": {"id": 7}})))
    assert api.post(f"{prefix}/b", {"refund": {}}).data == {"refund": {"id": 7}}
    assert len(api_server.received(f"{prefix}/b")) == 3


def test_connection_errors_are_retried_then_reported(sleeps):
    api = JsonApi("AfterShip", closed_port_url(), retry=FAST, connect_timeout=0.5, sleep=sleeps.append)
    with pytest.raises(BackendUnavailable, match="AfterShip is unavailable: could not connect after 3 attempts"):
        api.post("/trackings", {"tracking": {}})  # never sent, so even a POST is safe to repeat
    assert len(sleeps) == 2


def test_pagination_links_are_followed_only_to_the_same_host(api, api_server, prefix):
    api_server.route(prefix, lambda r: (200, {"page": 2}))
    assert api.get(f"{api_server.url}{prefix}?page_info=abc").data == {"page": 2}
    with pytest.raises(BackendUnavailable, match="another host"):
        api.get(f"https://elsewhere.example{prefix}?page_info=abc")


def test_logs_and_errors_never_show_tokens_emails_phones_or_addresses(api, api_server, prefix, caplog):
    api_server.route(prefix, sequence((502, {}), (200, {"ok": True})))
    with caplog.at_level(logging.DEBUG):
        api.get(
            f"{prefix}/customers/ana.souza@example.com/+351912345678",
            params={"email": "ana.souza@example.com", "address1": "Rua Augusta 10"},
        )
    text = caplog.text
    assert "retry 1 of 2" in text and "HTTP 502" in text
    for secret in (TOKEN, "ana.souza@example.com", "912345678", "Rua Augusta"):
        assert secret not in text
    assert "a***@example.com" in text and "***78" in text
    assert TOKEN not in repr(api)


def test_redact_masks_emails_and_phones():
    assert redact("mail li.wei@example.com or +65 9123 4567") == "mail l***@example.com or ***67"
    assert redact("/orders/450789469.json") == "/orders/***69.json"


def test_retry_after_reads_seconds_and_dates():
    now = datetime(2026, 11, 1, 12, 0, tzinfo=timezone.utc)
    assert retry_after_seconds("2.5", now) == 2.5
    assert retry_after_seconds("Sun, 01 Nov 2026 12:00:30 GMT", now) == 30
    assert retry_after_seconds("Sun, 01 Nov 2026 11:00:00 GMT", now) == 0
    assert retry_after_seconds("soon", now) is None and retry_after_seconds(None, now) is None


def test_settings_are_checked_and_named(monkeypatch):
    monkeypatch.setenv("PORTER_BACKEND_ATTEMPTS", "many")
    with pytest.raises(BackendConfigError, match="PORTER_BACKEND_ATTEMPTS='many' must be a number"):
        RetryPolicy.from_env()
    monkeypatch.setenv("PORTER_BACKEND_ATTEMPTS", "2")
    monkeypatch.setenv("PORTER_BACKEND_BACKOFF", "0.1")
    assert RetryPolicy.from_env() == RetryPolicy(attempts=2, backoff=0.1)


def test_base_urls_must_be_https_except_on_this_machine():
    assert checked_base_url("myshop.myshopify.com/", "SHOPIFY_SHOP_URL") == "https://myshop.myshopify.com"
    assert checked_base_url("http://127.0.0.1:8080", "SHOPIFY_SHOP_URL") == "http://127.0.0.1:8080"
    with pytest.raises(BackendConfigError, match="SHOPIFY_SHOP_URL must use https://"):
        checked_base_url("http://myshop.myshopify.com", "SHOPIFY_SHOP_URL")


# --- the time budget of an action ---------------------------------------------------------------------------


class Hanging:
    """A route that holds every request until released, and notes whether it ever answered."""

    def __init__(self) -> None:
        self.release, self.answered = threading.Event(), threading.Event()

    def __call__(self, request):
        self.release.wait(20)
        self.answered.set()
        return 200, {"ok": True}


@pytest.fixture
def hanging(api_server, prefix):
    route = Hanging()
    api_server.route(prefix, route)
    yield route
    route.release.set()


@pytest.mark.slow
def test_a_hanging_call_and_its_retries_stop_when_the_budget_is_spent(api_server, prefix, hanging):
    api = JsonApi(
        "Shopify",
        api_server.url,
        retry=RetryPolicy(attempts=4, backoff=0.01),
        read_timeout=30,
        breaker=CircuitBreaker("Shopify", failures=5, cool_down=30),
    )
    with (
        time_budget(1.5),
        pytest.raises(
            BackendDown,
            match=r"Shopify is unavailable: no answer within [\d.]+ s; "
            r"the time ran out after 1 of 4 attempts",
        ),
    ):
        api.get(prefix)
    assert not hanging.answered.is_set()  # it gave up while the backend was still holding the request
    assert len(api_server.received(prefix)) == 1


@pytest.mark.slow
def test_a_refund_cut_short_by_the_budget_is_reported_not_repeated(api_server, prefix, hanging):
    api = JsonApi(
        "Shopify",
        api_server.url,
        retry=FAST,
        read_timeout=30,
        breaker=CircuitBreaker("Shopify", failures=5, cool_down=30),
    )
    with time_budget(1.0), pytest.raises(BackendDown, match="not repeated because it may have taken effect"):
        api.post(prefix, {"refund": {"note": "PC-ACA8LG"}})
    assert not hanging.answered.is_set() and len(api_server.received(prefix)) == 1


def test_no_call_starts_when_too_little_of_the_budget_is_left(api, api_server, prefix):
    api_server.route(prefix, lambda r: (200, {"ok": True}))
    with (
        time_budget(FAST.min_attempt / 2),
        pytest.raises(BackendUnavailable, match="the time for this call ran out before it started"),
    ):
        api.get(prefix)
    assert api_server.received(prefix) == []


@pytest.mark.slow
def test_backoff_waits_are_cut_to_the_time_left(api_server, prefix):
    waited = []

    def sleep(seconds):
        waited.append(seconds)
        time.sleep(seconds)

    api = JsonApi(
        "AfterShip",
        api_server.url,
        retry=RetryPolicy(attempts=4, backoff=5, min_attempt=0.5),
        sleep=sleep,
        breaker=CircuitBreaker("AfterShip", failures=5, cool_down=30),
    )
    api_server.route(prefix, lambda r: (503, {}))
    with time_budget(1.5), pytest.raises(BackendDown, match="HTTP 503; the time ran out after 2 of 4 attempts"):
        api.get(prefix)
    assert len(waited) == 1 and waited[0] < 1.0  # not the 5 s backoff: the retry kept its half second
    assert len(api_server.received(prefix)) == 2


def test_a_retry_after_longer_than_the_budget_ends_the_call_at_once(api, api_server, prefix, sleeps):
    def reply(request):
        api_server.headers(Retry_After="20")
        return 429, {"errors": "Exceeded 2 calls per second for api client."}

    api_server.route(prefix, reply)
    api.retry = RetryPolicy(attempts=3, max_retry_after=30)
    with (
        time_budget(5),
        pytest.raises(
            BackendDown,
            match=r"rate limited \(HTTP 429\); asked to wait 20 s, "
            "longer than the time left",
        ),
    ):
        api.get(prefix)
    assert sleeps == [] and len(api_server.received(prefix)) == 1


# --- the circuit breaker ------------------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def guarded(api_server, clock):
    """A client whose circuit opens after 3 failed calls, for 30 s of the test's clock."""
    return JsonApi(
        "Shopify",
        api_server.url,
        retry=FAST,
        read_timeout=1,
        sleep=lambda seconds: None,
        breaker=CircuitBreaker("Shopify", failures=3, cool_down=30, clock=clock),
    )


def fail(api, path, calls):
    for _ in range(calls):
        with pytest.raises(BackendDown):
            api.get(path)


def test_the_circuit_opens_after_n_failed_calls_and_then_fails_at_once_without_calling(
    guarded, api_server, prefix, clock, caplog
):
    api_server.route(prefix, lambda r: (503, {}))
    with caplog.at_level(logging.INFO, logger="bot.circuit_breaker"):
        fail(guarded, prefix, 3)
        called = len(api_server.received(prefix))
        clock.now += 12
        for _ in range(5):
            with pytest.raises(
                BackendUnavailable, match="^Shopify is unavailable: not answering; not tried again for 18 s$"
            ):
                guarded.get(prefix)
    assert called == 9 and len(api_server.received(prefix)) == called  # 3 calls of 3 attempts, then none
    opened = [r.getMessage() for r in caplog.records if "not answering" in r.getMessage()]
    assert opened == ["Shopify: not answering (failed calls in a row: 3); calls fail at once for 30 s"]


def test_after_the_cool_down_one_trial_call_goes_through_and_its_success_closes_the_circuit(
    guarded, api_server, prefix, clock, caplog
):
    caplog.set_level(logging.INFO, logger="bot.circuit_breaker")
    api_server.route(prefix, lambda r: (503, {}))
    fail(guarded, prefix, 3)
    clock.now += 31
    trial_answer, release = [], threading.Event()
    api_server.route(prefix, lambda r: (release.wait(20), (200, {"ok": True}))[1])
    trial = threading.Thread(target=lambda: trial_answer.append(guarded.get(prefix).data))
    trial.start()
    try:
        api_server.wait_for(prefix, count=10)
        with pytest.raises(BackendUnavailable, match="not tried again"):
            guarded.get(prefix)  # another shopper while the trial is still out
        assert len(api_server.received(prefix)) == 10
    finally:
        release.set()
        trial.join(20)
    assert trial_answer == [{"ok": True}]
    assert guarded.get(prefix).data == guarded.get(prefix).data == {"ok": True}  # closed: calls go through
    assert len(api_server.received(prefix)) == 12
    assert [r.getMessage() for r in caplog.records if r.name == "bot.circuit_breaker"] == [
        "Shopify: not answering (failed calls in a row: 3); calls fail at once for 30 s",
        "Shopify: cool-down over; letting one trial call through",
        "Shopify: answering again; calls go through",
    ]  # each change once, naming the backend only


def test_a_failed_trial_opens_the_circuit_again(guarded, api_server, prefix, clock):
    api_server.route(prefix, lambda r: (503, {}))
    fail(guarded, prefix, 3)
    clock.now += 31
    fail(guarded, prefix, 1)
    with pytest.raises(BackendUnavailable, match="not tried again for 30 s"):
        guarded.get(prefix)
    assert len(api_server.received(prefix)) == 12


def test_not_found_and_rejected_answers_show_the_backend_is_up(guarded, api_server, prefix):
    api_server.route(f"{prefix}/down", lambda r: (503, {}))
    api_server.route(f"{prefix}/missing", lambda r: (404, {"errors": "Not Found"}))
    api_server.route(f"{prefix}/refused", lambda r: (400, {"errors": {"order": ["is invalid"]}}))
    for _ in range(4):
        assert guarded.get(f"{prefix}/missing") is None
        with pytest.raises(BackendRejected):
            guarded.put(f"{prefix}/refused", {"order": {}})
    fail(guarded, f"{prefix}/down", 2)
    assert guarded.get(f"{prefix}/missing") is None  # breaks the run of failures
    fail(guarded, f"{prefix}/down", 2)
    assert guarded.get(f"{prefix}/missing") is None  # still closed: never 3 failures in a row
    assert len(api_server.received(f"{prefix}/missing")) == 6


def test_every_client_of_a_backend_shares_its_breaker_set_from_the_environment(api_server, prefix, monkeypatch):
    monkeypatch.setenv("PORTER_BACKEND_BREAKER_FAILURES", "1")
    monkeypatch.setenv("PORTER_BACKEND_BREAKER_SECONDS", "45")
    base = f"{api_server.url}{prefix}"
    api_server.route(prefix, lambda r: (502, {}))
    first, second = (JsonApi("Shopify", base, retry=FAST, sleep=lambda seconds: None) for _ in range(2))
    fail(first, "/orders.json", 1)
    with pytest.raises(BackendUnavailable, match="not tried again for 45 s"):
        second.get("/orders.json")
    assert len(api_server.received(prefix)) == 3


@pytest.mark.parametrize(
    "variable, value", [("PORTER_BACKEND_BREAKER_FAILURES", "five"), ("PORTER_BACKEND_BREAKER_SECONDS", "0")]
)
def test_breaker_settings_are_checked_and_named(api_server, prefix, monkeypatch, variable, value):
    monkeypatch.setenv(variable, value)
    with pytest.raises(BackendConfigError, match=f"{variable}='{value}' must be"):
        JsonApi("Shopify", f"{api_server.url}{prefix}")
