"""Photos shoppers send with a problem (a damaged item, a wrong one): checked, kept, and shown to agents only.

A photo is accepted only when its bytes are a JPEG, PNG or WebP image (whatever the file name or the browser
says) and it is at most ``PORTER_PHOTO_MAX_BYTES`` (5 MB by default). It is kept in Porter's database with the
conversation it came from; its random token is what the shopper's message carries and what the case records
(``photo: widget:<token>``). Only a signed-in agent can see it (``/desk/api/photos/<token>``), and the action
server accepts a token only for the conversation it belongs to, so a token copied into another chat is worth
nothing.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import List, Optional, Tuple

from sqlalchemy import func, select

from bot.storage import Where, database
from bot.storage.schema import photos

DEFAULT_MAX_BYTES = 5 * 1024 * 1024
MAX_PER_DAY = 20  # photos one conversation may send in 24 hours: enough for any problem, not a file store
WIDGET = "widget"
_SIGNATURES = (
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
)


class PhotoRefused(ValueError):
    """The upload is not a photo Porter keeps; the message says why, for the shopper. ``status`` is the HTTP one."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Photo:
    token: str
    conversation_id: str
    source: str
    content_type: str
    size: int
    created_at: str


def max_bytes() -> int:
    raw = (os.environ.get("PORTER_PHOTO_MAX_BYTES") or "").strip()
    return int(raw) if raw.isdigit() and int(raw) > 0 else DEFAULT_MAX_BYTES


def image_type(data: bytes) -> Optional[str]:
    """The image type the bytes themselves say, or None for anything that is not a JPEG, PNG or WebP."""
    for signature, kind in _SIGNATURES:
        if data.startswith(signature):
            return kind
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def _now() -> datetime:
    return datetime.now(timezone.utc)


class PhotoStore:
    def __init__(self, where: Where = None):
        self.db = database(where)

    def keep(self, conversation_id: str, data: bytes, source: str = WIDGET) -> Photo:
        """Checks and keeps one photo; raises PhotoRefused with the reason."""
        if not data:
            raise PhotoRefused("the file is empty", 400)
        if len(data) > max_bytes():
            raise PhotoRefused(f"the photo is larger than {max_bytes() // (1024 * 1024)} MB", 413)
        kind = image_type(data)
        if kind is None:
            raise PhotoRefused("only JPEG, PNG or WebP photos are accepted", 415)
        since = (_now() - timedelta(days=1)).isoformat(timespec="seconds")
        with self.db.writing() as conn:
            self.db.lock(conn, f"photos of {conversation_id}")
            sent = conn.execute(
                select(func.count())
                .select_from(photos)
                .where(photos.c.conversation_id == conversation_id, photos.c.created_at >= since)
            ).scalar()
            if sent >= MAX_PER_DAY:
                raise PhotoRefused(f"at most {MAX_PER_DAY} photos a day in one conversation", 429)
            photo = Photo(
                token=secrets.token_urlsafe(18),
                conversation_id=conversation_id,
                source=source,
                content_type=kind,
                size=len(data),
                created_at=_now().isoformat(timespec="seconds"),
            )
            conn.execute(photos.insert().values(**photo.__dict__, sha256=hashlib.sha256(data).hexdigest(), data=data))
        return photo

    def of(self, token: str, conversation_id: str) -> Optional[Photo]:
        """The photo with this token if it belongs to this conversation, else None."""
        found = self._row(token)
        return found if found is not None and found.conversation_id == conversation_id else None

    def _row(self, token: str) -> Optional[Photo]:
        if not isinstance(token, str) or not 10 <= len(token) <= 64:
            return None
        with self.db.reading() as conn:
            row = conn.execute(
                select(*(photos.c[name] for name in Photo.__dataclass_fields__)).where(photos.c.token == token)
            ).first()
        return Photo(**row._mapping) if row else None

    def data(self, token: str) -> Optional[Tuple[str, bytes]]:
        """(content type, bytes) of a photo, for the desk; None when there is none."""
        if not isinstance(token, str) or not 10 <= len(token) <= 64:
            return None
        with self.db.reading() as conn:
            row = conn.execute(select(photos.c.content_type, photos.c.data).where(photos.c.token == token)).first()
        return (row.content_type, bytes(row.data)) if row else None

    def in_conversation(self, conversation_id: str) -> List[Photo]:
        with self.db.reading() as conn:
            rows = conn.execute(
                select(*(photos.c[name] for name in Photo.__dataclass_fields__))
                .where(photos.c.conversation_id == conversation_id)
                .order_by(photos.c.created_at)
            ).all()
        return [Photo(**row._mapping) for row in rows]
