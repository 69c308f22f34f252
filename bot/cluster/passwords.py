"""Passwords of the cluster's own PostgreSQL and Redis: random, generated once into var/cluster/ (owner-only),
never on a command line. Nothing outside the cluster needs to choose them: both listen on loopback only."""

from __future__ import annotations

import os
import secrets
from pathlib import Path


def generated_password(path: Path) -> str:
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_hex(24))  # hex: safe in a URL without quoting
    path.chmod(0o600)
    return path.read_text().strip()
