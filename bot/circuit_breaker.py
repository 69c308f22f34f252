"""A circuit breaker for one backend: once it has failed several calls in a row, stop calling it for a while.

Without it, every shopper asking about an order while Shopify hangs waits out their own timeout and retries;
with it, they hear at once that the order system is not answering and get a person. After the cool-down one
trial call goes through (half-open): its success closes the circuit, its failure opens it again.

Only calls that mean "the backend is down" count (the caller decides: connection failures, timeouts, 5xx,
429 past its retries); an answer of any kind, even a 404 or a refusal, shows the backend is there. One breaker
is shared by every thread of the process, so its state is changed under a lock. State changes are logged
once, naming the backend only.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Callable, Optional

logger = logging.getLogger(__name__)

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half-open"


class CircuitBreaker:
    def __init__(self, name: str, failures: int, cool_down: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.name = name
        self.failures = failures  # failed calls in a row that open the circuit
        self.cool_down = cool_down  # seconds it stays open before a trial call
        self._clock = clock
        self._lock = threading.Lock()
        self.state = CLOSED
        self._failed_in_a_row = 0
        self._opened_at = 0.0
        self._trial_running = False

    def refusal(self) -> Optional[float]:
        """None when a call may go ahead now (the caller then reports how it went: ``succeeded``, ``failed``
        or ``released``); otherwise the seconds until the backend is tried again."""
        with self._lock:
            if self.state == CLOSED:
                return None
            if self.state == OPEN:
                left = self._opened_at + self.cool_down - self._clock()
                if left > 0:
                    return left
                self.state = HALF_OPEN
                logger.info("%s: cool-down over; letting one trial call through", self.name)
            if self._trial_running:
                return self.cool_down  # the trial decides; if it fails, the next one is a cool-down away
            self._trial_running = True
            return None

    def succeeded(self) -> None:
        """The backend answered (whatever the answer)."""
        with self._lock:
            self._failed_in_a_row = 0
            self._trial_running = False
            if self.state != CLOSED:
                self.state = CLOSED
                logger.warning("%s: answering again; calls go through", self.name)

    def failed(self) -> None:
        """The call failed in a way that means the backend is down."""
        with self._lock:
            self._failed_in_a_row += 1
            self._trial_running = False
            if self.state == HALF_OPEN or (self.state == CLOSED and self._failed_in_a_row >= self.failures):
                self.state, self._opened_at = OPEN, self._clock()
                logger.warning(
                    "%s: not answering (failed calls in a row: %d); calls fail at once for %g s",
                    self.name,
                    self._failed_in_a_row,
                    self.cool_down,
                )

    def released(self) -> None:
        """The admitted call ended without learning anything about the backend (e.g. it never started)."""
        with self._lock:
            self._trial_running = False
