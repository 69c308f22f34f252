"""Finding order numbers, emails, phones and tracking numbers in what shoppers type.

Shared by the NLU extractor and the action server so that both accept exactly the same shapes. The
order-number pattern is a shop setting (``order_number_pattern`` of the IdentifierExtractor in
config.yml); everything else is fixed. Patterns avoid ``\\b`` because Chinese text has no spaces:
"订单号123456789" must still yield 123456789.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Iterable, List, Optional


DEFAULT_ORDER_NUMBER_PATTERN = r"(?:[A-Za-z]{1,3}[-#]?|#)?\d{4,12}"

_NOT_WORD_BEFORE = r"(?<![A-Za-z0-9@._%+\-])"
_NOT_WORD_AFTER = r"(?![A-Za-z0-9@])"

# Every repetition is bounded and a match may only start where a run of address characters starts: on a
# long run of letters without an '@' the search stays linear instead of retrying from every position.
EMAIL_RE = re.compile(
    r"(?<![A-Za-z0-9._%+\-])[A-Za-z0-9._%+\-]{1,64}@[A-Za-z0-9\-]{1,63}"
    r"(?:\.[A-Za-z0-9\-]{1,63}){0,8}\.[A-Za-z]{2,24}(?![A-Za-z])"
)
# International (+country) numbers, or local numbers written with separators; a bare run of
# digits is an order number, never a phone.
PHONE_RE = re.compile(
    _NOT_WORD_BEFORE + r"(?:\+\d{1,3}[\s\-.]?(?:\(?\d{1,4}\)?[\s\-.]?){2,5}\d{2,4}"
    r"|\(?0\d{1,4}\)?(?:[\s\-.]\d{2,4}){2,4})" + _NOT_WORD_AFTER
)
# UPU S10 (RR123456789CN), UPS (1Z...), long letter+digit codes (LP0012..., YT23...), long digit runs.
TRACKING_RE = re.compile(
    _NOT_WORD_BEFORE
    + r"(?:[A-Za-z]{2}\d{9}[A-Za-z]{2}|1Z[0-9A-Za-z]{16}|[A-Za-z]{2}\d{12,20}|\d{20,30})"
    + _NOT_WORD_AFTER
)


@dataclass(frozen=True)
class Found:
    entity: str
    value: str
    start: int
    end: int


@lru_cache(maxsize=8)
def _order_re(pattern: str) -> re.Pattern:
    return re.compile(_NOT_WORD_BEFORE + "(" + pattern + ")" + r"(?![A-Za-z0-9@])")


def configured_order_number_pattern() -> str:
    """The shop's order-number pattern: the IdentifierExtractor's setting in config.yml."""
    from bot.nlu_settings import component_settings

    return component_settings("IdentifierExtractor").get("order_number_pattern", DEFAULT_ORDER_NUMBER_PATTERN)


def _overlaps(span: Found, taken: Iterable[Found]) -> bool:
    return any(span.start < other.end and other.start < span.end for other in taken)


def find_identifiers(text: str, order_number_pattern: Optional[str] = None) -> List[Found]:
    """All identifiers in ``text``, most specific kinds first, never two on the same characters."""
    pattern = order_number_pattern or configured_order_number_pattern()
    found: List[Found] = []
    for entity, regex in (
        ("email", EMAIL_RE),
        ("tracking_number", TRACKING_RE),
        ("phone", PHONE_RE),
        ("order_number", _order_re(pattern)),
    ):
        for match in regex.finditer(text):
            group = 1 if entity == "order_number" else 0
            span = Found(entity, match.group(group), match.start(group), match.end(group))
            if not _overlaps(span, found):
                found.append(span)
    return sorted(found, key=lambda f: f.start)


def first(text: str, entity: str, order_number_pattern: Optional[str] = None) -> Optional[str]:
    for item in find_identifiers(text or "", order_number_pattern):
        if item.entity == entity:
            return item.value
    return None


def normalize_order_number(value: str) -> str:
    """'#1001', 'a10023 ' and 'A10023' compare equal; the key used for look-ups."""
    return re.sub(r"[\s#]", "", value or "").upper()


def normalize_email(value: str) -> str:
    return (value or "").strip().lower()


def normalize_phone(value: str) -> str:
    digits = re.sub(r"\D", "", value or "")
    return ("+" + digits) if (value or "").strip().startswith("+") else digits


def mask_email(value: str) -> str:
    """For logs: 'ana.souza@example.com' -> 'a***@example.com'."""
    if not value or "@" not in value:
        return "***"
    local, domain = value.split("@", 1)
    return f"{local[:1]}***@{domain}"


def mask_phone(value: str) -> str:
    digits = re.sub(r"\D", "", value or "")
    return f"***{digits[-2:]}" if len(digits) >= 2 else "***"
