"""Gives the memory the action server has freed back to the system, every few seconds.

The action server's worker threads allocate through glibc's malloc, which keeps what they free for later
instead of returning it, so the server's resident memory crept up under steady traffic while the objects it
held did not (tracemalloc: flat). With twelve callers at once, 61 MB of malloc arenas held 22 MB in use.
``malloc_trim(0)`` hands the free pages back; here it takes under a millisecond. ``PORTER_MALLOC_TRIM_SECONDS``
sets the interval (default 10; 0 turns it off). Where the C library is not glibc (musl, macOS) there is no such
call and nothing is done. Figures before and after: README, "Measured: `make bench`".

Large blocks are the other half. glibc serves a block above its mmap threshold from a mapping of its own and
unmaps it when freed, but the first such block freed raises that threshold (and the trim threshold, to twice it),
so later ones come from the arenas, and a worker thread's arena kept part of them past ``malloc_trim``: under
``make bench --hour`` four worker arenas grew by 2.6 MB each and kept it (/proc/PID/smaps, per mapping). While
trimming, both thresholds are pinned at glibc's starting 128 KiB, so a freed large block goes back at once.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import platform
import threading
from typing import Any, Callable, Optional

from bot.env_seconds import seconds_setting

logger = logging.getLogger(__name__)

DEFAULT_INTERVAL = 10.0  # seconds
THRESHOLD = 128 * 1024  # bytes: glibc's own starting mmap and trim thresholds, pinned (mallopt stops their growth)
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # mallopt's parameter numbers (malloc.h)


def _glibc_function(name: str) -> Optional[Any]:
    """A function of glibc's malloc, or None where the C library is not glibc."""
    if platform.libc_ver()[0] != "glibc":
        return None
    try:
        return getattr(ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6"), name)
    except (OSError, AttributeError):
        return None


def glibc_malloc_trim() -> Optional[Callable[[], int]]:
    """glibc's ``malloc_trim(0)``, or None where the C library is not glibc."""
    trim = _glibc_function("malloc_trim")
    if trim is None:
        return None
    trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    return lambda: trim(0)


def pin_glibc_thresholds() -> bool:
    """Pins malloc's trim and mmap thresholds at ``THRESHOLD``; False where the C library is not glibc."""
    mallopt = _glibc_function("mallopt")
    if mallopt is None:
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return bool(mallopt(M_MMAP_THRESHOLD, THRESHOLD)) and bool(mallopt(M_TRIM_THRESHOLD, THRESHOLD))


def interval_from_env() -> float:
    """``PORTER_MALLOC_TRIM_SECONDS``; a value that is not a number of seconds stops the start, naming it."""
    try:
        return seconds_setting(os.environ, "PORTER_MALLOC_TRIM_SECONDS", DEFAULT_INTERVAL)
    except ValueError as exc:
        raise SystemExit(f"error: {exc} (0 turns trimming off)") from None


class Trimmer:
    """A daemon thread calling ``malloc_trim`` every ``interval`` seconds until stopped; the thresholds are pinned
    when it starts (and stay pinned: glibc has no way back to its growing ones)."""

    def __init__(
        self, interval: float, trim: Optional[Callable[[], int]] = None, pin: Callable[[], bool] = pin_glibc_thresholds
    ) -> None:
        self.interval = interval
        self._trim = trim or glibc_malloc_trim()
        self._pin = pin
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None

    @property
    def active(self) -> bool:
        return self._thread is not None

    def start(self) -> "Trimmer":
        if self.interval > 0 and self._trim is not None and self._thread is None:
            if not self._pin():
                logger.warning("could not pin malloc's thresholds; freed large blocks may stay with the server")
            self._thread = threading.Thread(target=self._run, name="malloc-trim", daemon=True)
            self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self._trim()
            except Exception:  # noqa: BLE001 - never take the server down for a memory nicety
                logger.warning("malloc_trim failed; no longer trimming", exc_info=True)
                return

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
