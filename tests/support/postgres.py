"""A throwaway PostgreSQL server from Debian's packages, for tests that need the real engine: a new cluster
(``initdb``) in a temporary folder, listening on 127.0.0.1 on a free port, trusted without a password, stopped
and deleted at the end. PostgreSQL refuses to run as root, so under root (CI) the cluster belongs to the
``postgres`` user that Debian's package creates."""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional

import psycopg2

from tests.support import needs
from tests.support.porter_server import free_port

USER = "porter"  # the cluster's superuser; the tests connect as it


def _binary(name: str) -> str:
    """``name`` from PATH, else from the newest /usr/lib/postgresql/N/bin (Debian keeps it off PATH)."""
    found = shutil.which(name) or next(
        (
            str(path)
            for path in sorted(
                Path("/usr/lib/postgresql").glob(f"*/bin/{name}"), key=lambda p: int(p.parts[-3]), reverse=True
            )
        ),
        None,
    )
    if found is None:
        raise RuntimeError(f"PostgreSQL's {name} was not found: install the server (apt-get install postgresql)")
    return found


@dataclass
class PostgresServer:
    folder: Path
    port: int
    owner: Optional[str]  # the user the cluster runs as when the tests run as root

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{USER}@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        """The URL of a new, empty database: one per test, so none sees another's rows."""
        name = f"test_{secrets.token_hex(6)}"
        connection = psycopg2.connect(self.url())
        try:
            connection.autocommit = True
            with connection.cursor() as cursor:
                cursor.execute(f"CREATE DATABASE {name}")
        finally:
            connection.close()
        return self.url(name)

    def pg_ctl(self, *args: str) -> None:
        _run([_binary("pg_ctl"), "-D", str(self.folder / "data"), *args], self.owner, self.folder)

    def stop(self) -> None:
        try:
            self.pg_ctl("stop", "-m", "fast", "-w")
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)


def _run(command: List[str], owner: Optional[str], folder: Path) -> None:
    done = subprocess.run(command, user=owner, cwd=folder, capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise RuntimeError(f"{Path(command[0]).name} failed:\n{done.stdout}{done.stderr}")


def start_postgres() -> PostgresServer:
    needs.starting("engines")
    owner = "postgres" if os.geteuid() == 0 else None
    if owner:
        try:
            pwd.getpwnam(owner)
        except KeyError:
            raise RuntimeError(
                "as root, the test cluster runs as the user postgres, which Debian's postgresql "
                "package creates: install it, or run the tests as another user"
            ) from None
    folder = Path(tempfile.mkdtemp(prefix="porter-postgres-"))
    if owner:
        shutil.chown(folder, user=owner, group=owner)
    server = PostgresServer(folder, free_port(), owner)
    try:
        _run(
            [
                _binary("initdb"),
                "-D",
                str(folder / "data"),
                "-U",
                USER,
                "--auth=trust",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
            ],
            owner,
            folder,
        )
        server.pg_ctl(
            "start",
            "-w",
            "-l",
            str(folder / "server.log"),
            "-o",
            f"-p {server.port} -k {folder} -c listen_addresses=127.0.0.1 -c max_connections=300 -c fsync=off",
        )
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return server
