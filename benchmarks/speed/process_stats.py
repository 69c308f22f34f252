"""What a server process costs, read from /proc: CPU seconds used so far and resident memory now."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Dict

_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User and system time of the process, all its threads included."""
    fields = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS  # utime, stime (fields 14 and 15 of proc(5))


def resident_mb(pid: int) -> float:
    """VmRSS in MB (10^6 bytes): what the process holds in RAM now."""
    for line in (Path("/proc") / str(pid) / "status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024 / 1e6
    raise RuntimeError(f"no VmRSS for process {pid}")


def resident_by_kind_mb(pid: int) -> Dict[str, float]:
    """Resident memory in MB split by what holds it (/proc/PID/smaps): malloc's main `heap`, `anonymous` mappings
    (thread stacks, malloc's other arenas, Python's own arenas), shared `libraries`, other `files`. A total that grows
    says nothing about why; which of these grows does."""
    kinds: Dict[str, int] = {"heap": 0, "anonymous": 0, "libraries": 0, "files": 0}
    kind = "anonymous"
    for line in (Path("/proc") / str(pid) / "smaps").read_text().splitlines():
        fields = line.split()
        if fields and "-" in fields[0] and not fields[0].endswith(":"):
            path = fields[5] if len(fields) > 5 else ""
            if path == "[heap]":
                kind = "heap"
            elif not path or path.startswith("["):
                kind = "anonymous"
            elif ".so" in path:
                kind = "libraries"
            else:
                kind = "files"
        elif fields and fields[0] == "Rss:":
            kinds[kind] += int(fields[1])
    return {k: v * 1024 / 1e6 for k, v in kinds.items()}
