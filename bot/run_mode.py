"""Whether this installation is a shop's production or a developer's machine, and whether the demo is on.

``PORTER_ENV=production`` closes what only development needs: the REST channel without a token, and the demo
storefront's ``?customer=`` sign-in. ``PORTER_DEMO=1`` (set by `make run` and the tests, never by default)
turns that sign-in on; production refuses it.
"""

from __future__ import annotations

import logging
import os

logger = logging.getLogger(__name__)
_TRUE = ("1", "true", "yes", "on")


def production() -> bool:
    return (os.environ.get("PORTER_ENV") or "").strip().lower() == "production"


def demo() -> bool:
    wanted = (os.environ.get("PORTER_DEMO") or "").strip().lower() in _TRUE
    if wanted and production():
        logger.error("PORTER_DEMO is ignored because PORTER_ENV=production: the demo sign-in stays off")
        return False
    return wanted
