"""`make bench --hour` says which kind of memory grew: the split it prints must add up and put memory where it is."""

import mmap
import os

from benchmarks.speed import process_stats


def test_the_kinds_add_up_to_the_resident_memory_of_the_process():
    kinds = process_stats.resident_by_kind_mb(os.getpid())
    total = process_stats.resident_mb(os.getpid())
    assert set(kinds) == {"heap", "anonymous", "libraries", "files"}
    assert kinds["libraries"] > 1  # the interpreter's own shared objects are mapped and touched
    assert abs(sum(kinds.values()) - total) < 0.05 * total  # smaps and status are read a moment apart


def test_private_memory_mapped_and_touched_shows_up_as_anonymous():  # what malloc does for a large block
    before = process_stats.resident_by_kind_mb(os.getpid())["anonymous"]
    with mmap.mmap(-1, 64 * 1024 * 1024, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS) as block:
        for offset in range(0, len(block), mmap.PAGESIZE):
            block[offset] = 1
        grown = process_stats.resident_by_kind_mb(os.getpid())["anonymous"]
    assert grown - before > 60  # 64 MiB = 67 MB, less whatever else was let go meanwhile
