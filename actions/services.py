"""The shop's services as the actions see them, opened once per action-server process.

The policy is validated on import, so a broken policy file stops the action server at start-up with a
message naming the key, instead of failing in the middle of a shopper's conversation.
"""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from functools import lru_cache

from bot.decisions.cases import CaseBook
from bot.decisions.policy import Policy, load_policy
from bot.backends import open_store
from bot.shop.store import OrderStore

logger = logging.getLogger(__name__)


@lru_cache(maxsize=1)
def policy() -> Policy:
    return load_policy()


@lru_cache(maxsize=1)
def store() -> OrderStore:
    return open_store()


@lru_cache(maxsize=1)
def cases() -> CaseBook:
    return CaseBook()


def now() -> datetime:
    return datetime.now(timezone.utc)


policy()  # fail fast on a bad policy file
store()  # ...and on a missing or unknown backend setting (no network call: adapters connect on first use)
