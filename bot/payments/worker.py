"""The retry worker, ``python -m bot payments retry [--once]``: every payment case whose money has not gone
out is reconciled and, if needed, paid again when its schedule says so (``bot.payments.schedule``).

A case whose attempts are used up keeps its state and is marked ``gave_up_at``: agents see it on the desk
("retries stopped...") and pay it by hand after checking the order system.
"""

from __future__ import annotations

import logging
import signal
import threading
from datetime import datetime, timezone
from typing import Any, Callable, List

from bot.decisions.cases import Case, CaseBook
from bot.payments.schedule import RetrySchedule
from bot.payments.settle import settle

logger = logging.getLogger(__name__)


def retry_due(store: Any, book: CaseBook, schedule: RetrySchedule) -> List[Case]:
    """One pass: every due case settled once; returns them as they stand afterwards."""
    now = datetime.now(timezone.utc)
    settled = []
    for case in book.payments_open():
        if not schedule.due(case, now):
            continue
        try:
            settled.append(settle(case, store, book, schedule))
        except Exception as exc:  # one case Porter cannot handle must not stop the others being paid
            logger.error("payments: case %s: attempt failed unexpectedly (%s)", case.reference, type(exc).__name__)
    return settled


def _stop_on_sigterm() -> threading.Event:
    """Set on SIGTERM (how Kubernetes and the cluster stop a process): the pass under way finishes, no case is
    left half-paid, and the worker exits instead of waiting to be killed. As PID 1 in a container a process
    without a handler ignores SIGTERM."""
    stop = threading.Event()
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
    return stop


def run(store: Any, book: CaseBook, schedule: RetrySchedule, once: bool, report: Callable[[Case], None]) -> None:
    """Passes until interrupted or terminated (or one pass with ``once``), each settled case given to
    ``report``."""
    stop = _stop_on_sigterm()
    while not stop.is_set():
        for case in retry_due(store, book, schedule):
            report(case)
        if once:
            return
        stop.wait(schedule.poll)
    logger.info("payments: stopped on request")
