"""A shopper's words as the analytics may keep them: every identifier replaced by its kind, so the team reads
what Porter did not understand without reading who wrote it."""

from __future__ import annotations

import re

from bot.identifiers import find_identifiers

MAX_CHARS = 200
_LONG_NUMBERS = re.compile(r"\d[\d\s-]{4,}\d")  # anything numeric an identifier pattern did not catch
_LABELS = {"email": "<email>", "phone": "<phone>", "order_number": "<order>", "tracking_number": "<tracking>"}


def masked(text: str) -> str:
    text = " ".join(str(text or "").split())
    pieces, at = [], 0
    for found in find_identifiers(text):
        pieces += [text[at : found.start], _LABELS.get(found.entity, "<id>")]
        at = found.end
    pieces.append(text[at:])
    out = _LONG_NUMBERS.sub("<number>", "".join(pieces))
    return out if len(out) <= MAX_CHARS else out[: MAX_CHARS - 1] + "…"
