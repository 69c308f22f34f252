"""The cluster's PostgreSQL: Debian's PostgreSQL binaries on a data directory of its own (var/cluster/postgres,
created with initdb on the first run), listening on loopback.

Two databases, both owned by the role ``porter`` (a password, no superuser): ``porter`` for Porter's own tables
(``PORTER_DATABASE_URL``, brought to the current schema by ``python -m bot db upgrade``) and ``porter_tracker``
for Rasa's conversations (``PORTER_TRACKER_DATABASE_URL``). The superuser ``postgres`` has no password and can
only come in through the Unix socket, which sits in the data directory itself (owner-only).

PostgreSQL refuses to run as root. Run as root, the cluster runs it as ``PORTER_CLUSTER_POSTGRES_USER``
(``postgres``, which Debian's package creates) and lets that user's group through var/ and var/cluster/
(search permission only, no listing; everything in them stays owner-only), so that it reaches its data
directory. Errors are logged without the statement and its details, which could quote a shopper's data.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from bot.cluster.passwords import generated_password
from bot.cluster.settings import ClusterSettings
from bot.paths import var_dir

ROLE, PORTER_DATABASE, TRACKER_DATABASE = "porter", "porter", "porter_tracker"
SUPERUSER = "postgres"
MAX_CONNECTIONS = 300


class PostgresError(RuntimeError):
    """PostgreSQL could not be set up; the message says what to do."""


def binary(name: str) -> str:
    """``name`` from PATH, else from the newest /usr/lib/postgresql/*/bin (where Debian puts them)."""
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(
        glob.glob(f"/usr/lib/postgresql/*/bin/{name}"),
        key=lambda path: int(Path(path).parts[-3]) if Path(path).parts[-3].isdigit() else 0,
    )
    if not candidates:
        raise PostgresError(f"{name} not found: install PostgreSQL (apt-get install -y postgresql)")
    return candidates[-1]


def run_as() -> Optional[Tuple[int, int]]:
    """The (uid, gid) PostgreSQL runs as when we are root; None to run it as ourselves."""
    if os.geteuid() != 0:
        return None
    name = os.environ.get("PORTER_CLUSTER_POSTGRES_USER") or "postgres"
    try:
        user = pwd.getpwnam(name)
    except KeyError:
        raise PostgresError(
            f"PostgreSQL refuses to run as root and there is no user {name!r} to run it as: "
            "install Debian's postgresql package or set PORTER_CLUSTER_POSTGRES_USER"
        ) from None
    return user.pw_uid, user.pw_gid


@dataclass
class Postgres:
    settings: ClusterSettings
    owner: Optional[Tuple[int, int]] = field(default_factory=run_as)

    @property
    def data(self) -> Path:
        return self.settings.state / "postgres"

    @cached_property
    def password(self) -> str:
        return generated_password(self.settings.state / "postgres_password")

    def url(self, database: str) -> str:
        return f"postgresql://{ROLE}:{self.password}@127.0.0.1:{self.settings.postgres_port}/{database}"

    def popen_options(self) -> Dict:
        """How to start its processes: as the owner of the data directory."""
        if self.owner is None:
            return {}
        return {"user": self.owner[0], "group": self.owner[1], "extra_groups": []}

    def prepare(self) -> None:
        """Lets PostgreSQL's user reach its directory and creates the data directory on the first run."""
        if self.owner is not None:
            for folder in (var_dir(), self.settings.state):
                os.chown(folder, -1, self.owner[1])
                folder.chmod(0o710)
        if (self.data / "PG_VERSION").exists():
            return
        self.data.mkdir(mode=0o700, exist_ok=True)
        if self.owner is not None:
            os.chown(self.data, *self.owner)
        print(f"[cluster] creating the PostgreSQL data directory {self.data} (initdb)", flush=True)
        done = subprocess.run(
            [
                binary("initdb"),
                "-D",
                str(self.data),
                "-U",
                SUPERUSER,
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                "--encoding=UTF8",
                "--locale=C.UTF-8",
                "--no-instructions",
            ],
            capture_output=True,
            text=True,
            **self.popen_options(),
        )
        if done.returncode != 0:
            raise PostgresError(f"initdb failed:\n{done.stdout}{done.stderr}")

    def command(self) -> List[str]:
        return [
            binary("postgres"),
            "-D",
            str(self.data),
            "-p",
            str(self.settings.postgres_port),
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            f"unix_socket_directories={self.data}",
            "-c",
            f"max_connections={MAX_CONNECTIONS}",
            "-c",
            "log_error_verbosity=terse",
            "-c",
            "log_min_error_statement=panic",
        ]

    def create_databases(self, timeout: float = 60) -> None:
        """The role with the current password and both databases; safe to run at every start."""
        import psycopg2
        from psycopg2 import sql

        deadline = time.monotonic() + timeout
        while True:
            try:
                connection = psycopg2.connect(
                    host=str(self.data), port=self.settings.postgres_port, user=SUPERUSER, dbname="postgres"
                )
                break
            except psycopg2.OperationalError as exc:  # starting up, or recovering after a crash
                if time.monotonic() > deadline:
                    raise PostgresError(
                        f"PostgreSQL did not accept connections within {timeout:.0f} s: {str(exc).strip()}"
                    ) from None
                time.sleep(0.5)
        connection.autocommit = True
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (ROLE,))
                verb = "ALTER" if cursor.fetchone() else "CREATE"
                cursor.execute(
                    sql.SQL(verb + " ROLE {} WITH LOGIN PASSWORD {}").format(
                        sql.Identifier(ROLE), sql.Literal(self.password)
                    )
                )
                for database in (PORTER_DATABASE, TRACKER_DATABASE):
                    cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,))
                    if not cursor.fetchone():
                        cursor.execute(
                            sql.SQL("CREATE DATABASE {} OWNER {}").format(
                                sql.Identifier(database), sql.Identifier(ROLE)
                            )
                        )
        finally:
            connection.close()
