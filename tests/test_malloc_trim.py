"""The action server gives back what its worker threads freed (bot/malloc_trim.py): its resident memory follows
what it holds, not the busiest moment it had."""

import subprocess
import sys
import textwrap
import time

import pytest

from bot import malloc_trim
from bot.paths import PROJECT_ROOT

# What both scripts below start with: glibc's malloc and free, and the process's resident memory in MB.
PRELUDE = textwrap.dedent(
    """
    import ctypes, threading, time
    from bot.malloc_trim import Trimmer

    libc = ctypes.CDLL("libc.so.6")
    libc.malloc.restype = ctypes.c_void_p
    libc.malloc.argtypes = [ctypes.c_size_t]
    libc.free.argtypes = [ctypes.c_void_p]

    def rss_mb():
        with open("/proc/self/status") as status:
            return next(int(l.split()[1]) for l in status if l.startswith("VmRSS")) // 1024
    """
)

# A worker thread takes 64 MB in 4 KB blocks from glibc and frees all but the last one, as a burst of actions
# does: glibc keeps the freed pages. Then the trimmer runs for half a second. Resident memory before and after.
BURST = textwrap.dedent(
    """
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


# The server's first large block came from mmap and was freed, which raised glibc's thresholds. Later, eight
# worker threads at once each take one block of that size (each from its own arena, not mmap) and free it. The
# trimmer starts first, as in the server. Resident memory (MB) before the workers and after half a second.
LARGE_BLOCKS = textwrap.dedent(
    """
    SIZE = 6_000_000

    def take_one(all_hold):
        block = libc.malloc(SIZE)
        ctypes.memset(block, 1, SIZE)
        all_hold.wait()
        libc.free(block)

    libc.free(libc.malloc(SIZE))
    trimmer = Trimmer(0.05).start()
    before = rss_mb()
    all_hold = threading.Barrier(8)
    workers = [threading.Thread(target=take_one, args=(all_hold,)) for _ in range(8)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    time.sleep(0.5)
    trimmer.stop()
    print(before, rss_mb())
    """
)


def resident_mb_before_and_after(script: str, interval: float):
    """Resident memory (MB) printed by ``script`` run with a trimmer at ``interval`` instead of 0.05 s."""
    done = subprocess.run(
        [sys.executable, "-c", PRELUDE + script.replace("Trimmer(0.05)", f"Trimmer({interval})")],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    before, after = map(int, done.stdout.split())
    return before, after


glibc_only = pytest.mark.skipif(
    malloc_trim.glibc_malloc_trim() is None, reason="malloc_trim is glibc's; this C library has none"
)


@glibc_only
def test_memory_a_burst_freed_goes_back_to_the_system():
    before, after = resident_mb_before_and_after(BURST, 0.05)
    assert before - after >= 48, f"resident memory {before} MB before trimming, {after} MB after"


@glibc_only
def test_without_trimming_the_freed_memory_stays():
    """The other half of the test above: with the interval at 0 nothing is given back, so the drop is the
    trimmer's doing and not glibc's own."""
    before, after = resident_mb_before_and_after(BURST, 0)
    assert after >= before - 4, f"resident memory {before} MB before, {after} MB after, with trimming off"


@glibc_only
def test_large_blocks_worker_threads_freed_go_back_too():
    before, after = resident_mb_before_and_after(LARGE_BLOCKS, 0.05)
    assert after - before <= 3, f"resident memory {before} MB before the workers, {after} MB after"


@glibc_only
def test_without_trimming_each_worker_keeps_its_large_block():
    """The other half: with trimming off (and glibc's thresholds left to grow), the freed 6 MB blocks stay. With
    trimming but unpinned thresholds, 6 to 12 MB of them stayed here; with neither, 46 MB."""
    before, after = resident_mb_before_and_after(LARGE_BLOCKS, 0)
    assert after - before >= 30, f"resident memory {before} MB before the workers, {after} MB after, trimming off"


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
    assert not malloc_trim.Trimmer(0, trim=lambda: calls.append(1) or 1, pin=lambda: True).start().active
    trimmer = malloc_trim.Trimmer(0.01, trim=lambda: calls.append(1) or 1, pin=lambda: True).start()
    deadline = time.monotonic() + 5
    while len(calls) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    trimmer.stop()
    assert len(calls) >= 3 and not trimmer.active
    stopped_at = len(calls)
    time.sleep(0.05)
    assert len(calls) == stopped_at
