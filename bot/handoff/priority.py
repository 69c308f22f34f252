"""Which waiting shopper an agent should take first, and why.

Decided once, when Porter hands over (actions/handoff.py), and kept on the ticket: an angry shopper first, then
an order worth more than the policy lets Porter settle alone, then a shopper who has been handed over about the
same order or in the same conversation before. Among equals, the one waiting longest goes first. The queue, the
desk and the place a shopper is told ("you're number 3") all follow this one order.
"""

from __future__ import annotations

from typing import Iterable, List

ANGRY, HIGH_VALUE, REPEAT_CONTACT = "angry", "high_value", "repeat_contact"
WEIGHTS = {ANGRY: 4, HIGH_VALUE: 2, REPEAT_CONTACT: 1}  # anger outranks value and a repeat together
LABELS = {ANGRY: "Angry", HIGH_VALUE: "High value", REPEAT_CONTACT: "Contacted before"}


def weight(reasons: Iterable[str]) -> int:
    return sum(WEIGHTS.get(reason, 0) for reason in set(reasons))


def ranked(reasons: Iterable[str]) -> List[str]:
    """The known reasons, most important first, each once."""
    return sorted({reason for reason in reasons if reason in WEIGHTS}, key=lambda reason: -WEIGHTS[reason])
