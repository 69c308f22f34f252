"""Agent accounts and their desk sessions, in the shop database next to the tickets.

Passwords are never stored: only a salted scrypt hash (hashlib, memory-hard), compared in constant time.
A session is a random token given to the browser in a cookie; the database keeps only its SHA-256, so a
copy of the database does not let anyone sign in. Each session also has its own CSRF token, which every
state-changing request of the desk must carry.

Accounts are created by an operator (`python -m bot agents add NAME [--role admin]`); the desk has no
sign-up page.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import List, Optional, Tuple

from sqlalchemy import delete, func, insert, select
from sqlalchemy.exc import IntegrityError

from bot.storage import Where, database
from bot.storage.schema import agent_sessions, agents

AGENT, ADMIN = "agent", "admin"
ROLES = (AGENT, ADMIN)
MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 1024  # scrypt happily hashes anything; a megabyte "password" is an attack, not a password
MAX_NAME_LENGTH = 64
SESSION_HOURS = 12

# scrypt with n=2**15, r=8, p=1 takes ~60 ms and 32 MiB here: slow for a guesser, fine for a sign-in.
_SCRYPT_N, _SCRYPT_R, _SCRYPT_P, _KEY_BYTES = 2**15, 8, 1, 32
_SCRYPT_MAXMEM = 64 * 1024 * 1024


class AgentError(ValueError):
    """A request the account store refuses, with a message an operator can act on."""


@dataclass(frozen=True)
class Agent:
    id: int
    name: str
    role: str
    created_at: str

    @property
    def is_admin(self) -> bool:
        return self.role == ADMIN


@dataclass(frozen=True)
class Session:
    agent: Agent
    csrf_token: str
    expires_at: datetime


def mask_name(name: Optional[str]) -> str:
    """For logs: 'maria.silva' -> 'm***'. Agents' names are personal data like the shoppers'."""
    return f"{name[:1]}***" if name else "***"


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def hash_password(password: str, salt: Optional[bytes] = None) -> str:
    """'scrypt$n$r$p$salt$key' with a fresh 16-byte salt: the parameters travel with the hash."""
    salt = salt if salt is not None else secrets.token_bytes(16)
    key = hashlib.scrypt(
        password.encode("utf-8"),
        salt=salt,
        n=_SCRYPT_N,
        r=_SCRYPT_R,
        p=_SCRYPT_P,
        dklen=_KEY_BYTES,
        maxmem=_SCRYPT_MAXMEM,
    )
    return f"scrypt${_SCRYPT_N}${_SCRYPT_R}${_SCRYPT_P}${_b64(salt)}${_b64(key)}"


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, key = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(key)
        actual = hashlib.scrypt(
            password.encode("utf-8"),
            salt=base64.b64decode(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            dklen=len(expected),
            maxmem=_SCRYPT_MAXMEM,
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


# Checked against when the name is unknown, so a wrong name takes as long as a wrong password.
_DUMMY_HASH = hash_password("not a password of anyone", salt=b"\0" * 16)


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def check_name(name: str) -> str:
    name = unicodedata.normalize("NFC", (name or "").strip())
    if not name:
        raise AgentError("an agent needs a name")
    if len(name) > MAX_NAME_LENGTH:
        raise AgentError(f"an agent's name has at most {MAX_NAME_LENGTH} characters")
    if any(ch.isspace() or unicodedata.category(ch).startswith("C") for ch in name):
        raise AgentError("an agent's name has no spaces or control characters (e.g. maria.silva)")
    return name


def check_password(password: str) -> str:
    if not password:
        raise AgentError("the password is empty")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AgentError(f"the password is too short: use at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise AgentError(f"the password is too long: at most {MAX_PASSWORD_LENGTH} characters")
    return password


def check_role(role: str) -> str:
    if role not in ROLES:
        raise AgentError(f"unknown role {role!r}: choose {' or '.join(ROLES)}")
    return role


def _agent(row) -> Agent:
    return Agent(id=row.id, name=row.name, role=row.role, created_at=row.created_at)


def _named(name: str):
    """The condition for an agent's name: names ignore case (ASCII on SQLite, as its NOCASE always did)."""
    return func.lower(agents.c.name) == func.lower(name)


class AgentStore:
    def __init__(self, where: Where = None, session_hours: float = SESSION_HOURS):
        self.db = database(where)
        self.session_hours = session_hours

    # --- accounts ----------------------------------------------------------------------------------------

    def add(self, name: str, password: str, role: str = AGENT) -> Agent:
        name, role = check_name(name), check_role(role)
        check_password(password)
        hashed = hash_password(password)
        try:
            with self.db.writing() as conn:
                result = conn.execute(
                    insert(agents).values(name=name, role=role, password_hash=hashed, created_at=_iso(_now()))
                )
                row = conn.execute(select(agents).where(agents.c.id == result.inserted_primary_key[0])).one()
        except IntegrityError:  # the unique index on the name, whatever its case
            existing = self.get(name)
            same = f" (names ignore case: {existing.name!r})" if existing and existing.name != name else ""
            raise AgentError(f"an agent named {name!r} already exists{same}") from None
        return _agent(row)

    def get(self, name: str) -> Optional[Agent]:
        with self.db.reading() as conn:
            row = conn.execute(select(agents).where(_named((name or "").strip()))).first()
        return _agent(row) if row else None

    def list(self) -> List[Agent]:
        with self.db.reading() as conn:
            rows = conn.execute(select(agents).order_by(func.lower(agents.c.name), agents.c.id)).all()
        return [_agent(r) for r in rows]

    def authenticate(self, name: str, password: str) -> Optional[Agent]:
        """The agent when name and password match, else None (the same for an unknown name)."""
        name = unicodedata.normalize("NFC", (name or "").strip())
        password = password or ""
        if len(password) > MAX_PASSWORD_LENGTH or len(name) > MAX_NAME_LENGTH:
            return None
        with self.db.reading() as conn:
            row = conn.execute(select(agents).where(_named(name))).first()
        stored = row.password_hash if row else _DUMMY_HASH
        matches = verify_password(password, stored)
        return _agent(row) if row and matches else None

    # --- sessions ----------------------------------------------------------------------------------------

    def start_session(self, agent: Agent) -> Tuple[str, Session]:
        """(cookie token, session): the token is shown once, only its hash is kept."""
        token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        now = _now()
        expires = now + timedelta(hours=self.session_hours)
        with self.db.writing() as conn:
            conn.execute(delete(agent_sessions).where(agent_sessions.c.expires_at <= _iso(now)))
            conn.execute(
                insert(agent_sessions).values(
                    token_hash=_token_hash(token),
                    agent_id=agent.id,
                    csrf_token=csrf,
                    created_at=_iso(now),
                    expires_at=_iso(expires),
                )
            )
        return token, Session(agent=agent, csrf_token=csrf, expires_at=expires)

    def session(self, token: Optional[str]) -> Optional[Session]:
        """The live session of a cookie token; None when unknown or expired."""
        if not token or len(token) > 200:
            return None
        with self.db.reading() as conn:
            row = conn.execute(
                select(agent_sessions.c.csrf_token, agent_sessions.c.expires_at, agents)
                .join(agents, agents.c.id == agent_sessions.c.agent_id)
                .where(agent_sessions.c.token_hash == _token_hash(token))
            ).first()
        if row is None:
            return None
        expires = datetime.fromisoformat(row.expires_at)
        if expires <= _now():
            return None
        return Session(agent=_agent(row), csrf_token=row.csrf_token, expires_at=expires)

    def end_session(self, token: Optional[str]) -> None:
        if token:
            with self.db.writing() as conn:
                conn.execute(delete(agent_sessions).where(agent_sessions.c.token_hash == _token_hash(token)))
