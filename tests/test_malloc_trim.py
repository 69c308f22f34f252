"""The action server gives back what its worker threads freed (bot/malloc_trim.py): its resident memory follows
what it holds, not the busiest moment it had."""

import subprocess
import sys
import textwrap
import time

import pytest

from bot import malloc_trim
from bot.paths import PROJECT_ROOT

# A worker thread takes 64 MB in 4 KB blocks from glibc and frees all but the last one, as a burst of actions
# does: glibc keeps the freed pages. Then the trimmer runs for half a second. Resident memory before and after.
BURST = textwrap.dedent(
    """
    import ctypes, threading, time
    from bot.malloc_trim import Trimmer

    libc = ctypes.CDLL("libc.so.6")
    libc.malloc.restype = ctypes.c_void_p
    libc.free.argtypes = [ctypes.c_void_p]

    def rss_mb():
        with open("/proc/self/status") as status:
            return next(int(l.split()[1]) for l in status if l.startswith("VmRSS")) // 1024

    def burst():
        blocks = [libc.malloc(4096) for _ in range(16384)]
        for block in blocks:
            ctypes.memset(block, 1, 4096)
        for block in blocks[:-1]:
            libc.free(block)

    worker = threading.Thread(target=burst)
    worker.start()
    worker.join()
    before = rss_mb()
    trimmer = Trimmer(0.05).start()
    time.sleep(0.5)
    trimmer.stop()
    print(before, rss_mb())
    """
)


def resident_mb_before_and_after_a_burst(interval: float):
    """Resident memory (MB) right after the burst and after half a second of a trimmer at ``interval``."""
    script = BURST.replace("Trimmer(0.05)", f"Trimmer({interval})")
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=60, check=True
    )
    before, after = map(int, done.stdout.split())
    return before, after


glibc_only = pytest.mark.skipif(
    malloc_trim.glibc_malloc_trim() is None, reason="malloc_trim is glibc's; this C library has none"
)


@glibc_only
def test_memory_a_burst_freed_goes_back_to_the_system():
    before, after = resident_mb_before_and_after_a_burst(0.05)
    assert before - after >= 48, f"resident memory {before} MB before trimming, {after} MB after"


@glibc_only
def test_without_trimming_the_freed_memory_stays():
    """The other half of the test above: with the interval at 0 nothing is given back, so the drop is the
    trimmer's doing and not glibc's own."""
    before, after = resident_mb_before_and_after_a_burst(0)
    assert after >= before - 4, f"resident memory {before} MB before, {after} MB after, with trimming off"


def test_the_interval_is_a_setting_and_a_typo_stops_the_start_naming_it(monkeypatch):
    from bot.action_server import Settings

    monkeypatch.setenv("PORTER_ACTION_TOKEN", "t" * 32)
    monkeypatch.delenv("PORTER_MALLOC_TRIM_SECONDS", raising=False)
    assert Settings.from_env().trim_seconds == malloc_trim.DEFAULT_INTERVAL
    monkeypatch.setenv("PORTER_MALLOC_TRIM_SECONDS", " 2.5 ")
    assert Settings.from_env().trim_seconds == 2.5
    for typo in ("soon", "-1", "inf"):
        monkeypatch.setenv("PORTER_MALLOC_TRIM_SECONDS", typo)
        with pytest.raises(SystemExit, match="PORTER_MALLOC_TRIM_SECONDS"):
            Settings.from_env()


def test_the_trimmer_runs_until_stopped_and_an_interval_of_zero_starts_nothing():
    calls = []
    assert not malloc_trim.Trimmer(0, trim=lambda: calls.append(1) or 1).start().active
    trimmer = malloc_trim.Trimmer(0.01, trim=lambda: calls.append(1) or 1).start()
    deadline = time.monotonic() + 5
    while len(calls) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    trimmer.stop()
    assert len(calls) >= 3 and not trimmer.active
    stopped_at = len(calls)
    time.sleep(0.05)
    assert len(calls) == stopped_at
