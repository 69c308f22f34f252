"""What a channel says itself, in the shopper's language, when a message never reaches Rasa (too long, sent
faster than Porter reads, a voice note Porter cannot read) or Rasa could not finish its turn. (Rasa's own
replies live in the domain; these are answered around it.) The desk's notices of who is talking (an agent joined,
Porter is back) are here too. The texts are each catalog's ``notices``."""

from __future__ import annotations

from typing import List, Optional

from bot.catalogs import entry
from bot.languages import supported_languages

TOO_LONG = "too_long"  # {length} and {limit} in characters
SLOW_DOWN = "slow_down"
TRY_AGAIN = "try_again"
CANNOT_READ = "cannot_read"  # a voice note, video, sticker or location on WhatsApp
AGENT_JOINED = "agent_joined"  # an agent claimed the shopper's ticket in the desk ({agent}: the agent's name)
BACK_WITH_PORTER = "back_with_porter"  # the agent handed back or resolved: Porter answers again


def spoken(language: Optional[str]) -> bool:
    """Whether a notice can be said in ``language`` (its first two letters) rather than in English."""
    return str(language or "")[:2].lower() in supported_languages()


def say(notice: str, language: Optional[str], **values: object) -> str:
    """The notice in ``language`` (its first two letters), English when Porter does not speak it."""
    code = str(language or "")[:2].lower()
    return str(entry("notices", notice, code if spoken(code) else "en")).format(**values)


def every_language(notice: str) -> List[str]:
    """The notice's text in each language Porter speaks, placeholders unfilled."""
    return [str(entry("notices", notice, code)) for code in supported_languages()]
