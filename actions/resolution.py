"""Offering the fixes as buttons and understanding the shopper's pick (actions/fixes.py carries it out).

Buttons carry ``/inform{"fix":"refund"}`` so they work on every channel; a shopper who types instead
("refund please", "2", "no thanks", "a new one please", "nah keep it, partial is fine") is understood too.
A question or an aside in the middle of the choice ("how much longer?", "are you a bot?") is answered with what
Porter knows, and the form asks the choice again, its buttons below the answer.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import problem_replies, resolve_order
from actions.backend_guard import guard_backend
from actions.fixes import carry_out
from actions.form_validation import DomainFileFormValidation
from bot.decisions import problems, remedies

logger = logging.getLogger(__name__)

# A paraphrase picks an offered fix when the sentence encoder (bot/nlu/choice_matcher.py, `fix_candidates`) scores
# it at least PARAPHRASE_MIN_SCORE and PARAPHRASE_MIN_LEAD above every other option the shopper has (the offered
# ones and a person). Measured on 123 typed answers in the 7 languages, after the rules above it: paraphrases that
# name an option score 0.49-0.95, asides and off-topic text stay under 0.47, but neighbouring options sit close
# ("keep it with some money back": full refund 0.63, 0.145 above the partial one). A pick is carried out at once
# and money goes out once, so an unsure reading is asked again (a tap away): a lead of 0.2 picked 45 right and
# none wrong, 0.15 picked 51, 0.12 the first wrong one.
PARAPHRASE_MIN_SCORE = 0.5
PARAPHRASE_MIN_LEAD = 0.2
# Intents whose words never name an option. Agreement in particular: the buttons' titles begin with "Yes, ...",
# so "sure, go ahead" scores "Yes, refund me" 0.65; a bare yes picks only a single real option (below).
NOT_A_NAMING = ("affirm", "deny", "greet", "thank", "goodbye", "human_handoff")
# Asides answered in the middle of the choice, before the choice is asked again.
ANSWERED_INTENTS = ("bot_challenge", "out_of_scope", problems.WHERE_IS_MY_ORDER, problems.REFUND_STATUS)
PARCEL_INTENTS = (*problems.PARCEL, problems.CUSTOMS_ISSUE)

# Words that name one option in every language, where the encoder blurs it with its neighbour ("I'll keep it
# and take the partial refund": full refund 0.64, partial 0.54).
OPTION_WORDS = {
    remedies.PARTIAL_REFUND: re.compile(
        r"\bpartial|\bpartly\b|\bparcial|\bpartiel|\ben partie\b|\bteil(?:erstattung|rückerstattung|weise|betrag)?\b|"
        r"\bчастичн|部分",
        re.IGNORECASE,
    )
}

_QUESTION_MARK = re.compile(r"[?？]\s*$|^\s*¿")
# "can you send a new one instead?" asks for an option; "how much is the partial refund?" asks about one.
_REQUEST = re.compile(
    r"^\s*¿?\s*(?:(?:can|could|would|will)\s+(?:you|u|i|we)\b|please\b|pls\b|how about\b|what about\b|"
    r"(?:me\s+)?(?:puede[sn]?|podr[ií]as?|podr[ií]an|pod[eé]is)\b|y si\b|"
    r"(?:vous\s+)?(?:pouvez|pourriez)\b|(?:tu\s+)?(?:peux|pourrais)\b|et si\b|"
    r"est-ce que (?:vous|tu) (?:pouvez|peux|pourriez)|"
    r"(?:k[öo]nn(?:en|t|test|ten|tet)|kannst|w[üu]rden)\b|"
    r"(?:не\s+)?(?:можете|можно|могли бы|могли)\b|"
    r"(?:voc[eê]s?\s+)?(?:pode[ms]?|poderia[ms]?)\b|d[áa] pra\b|e se\b|"
    r"可以|能不能|能否|能|请|麻烦)|能不能|可不可以|可以吗|行吗|好吗",
    re.IGNORECASE,
)
_QUESTION_WORD = re.compile(
    r"^\s*(?:how|what|what's|whats|where|where's|when|why|which|who|"
    r"qué|cómo|dónde|cuándo|cuánto|cuánta|cuál|por qué|"
    r"quoi|comment|où|quand|combien|pourquoi|quel|quelle|quels|quelles|est-ce|qu'est|c'est quoi|"
    r"was|wie|wo|wann|warum|wieso|weshalb|welche[rsmn]?|wer|"
    r"что|как|где|когда|сколько|почему|зачем|какой|какая|какие|кто|"
    r"o que|onde|quando|quanto|qual|quem|por que|por quê)\b"
    r"|[吗呢]\s*$|什么|怎么|多久|多长时间|哪|为什么|为啥|几天|多少|是不是|有没有",
    re.IGNORECASE,
)
_ASKS_MEANING = re.compile(
    r"\bmean|difference|what is an?\b|what's an?\b|significa|quiere decir|diferencia|veut dire|signifie|"
    r"diff[ée]rence|c'est quoi|bedeutet|hei[ßs]t das|unterschied|значит|означает|разница|что такое|"
    r"o que [ée]\b|diferen[çc]a|意思|区别|是什么",
    re.IGNORECASE,
)
_TELL = re.compile(
    r"\b(?:tell|explain|say|show)\b|\bdecir|d[ií]game|explic|expliqu|\bdire\b|\bsagen|erkl[äa]r|"
    r"сказать|скажите|объясн|подскаж|\bdizer|告诉|解释|说明|说一下",
    re.IGNORECASE,
)


def asks_a_question(text: str) -> bool:
    """A question about the choice or the order, as opposed to a choice put as a question ("can you send a new
    one instead?"); "can you tell me ..." still asks."""
    if _REQUEST.search(text) and not _TELL.search(text):
        return False
    return bool(_QUESTION_MARK.search(text) or _QUESTION_WORD.search(text))


def _explicit(message: Dict[str, Any], text: str, offered: List[str]) -> Optional[str]:
    """A button's payload (as an entity, or typed or relayed verbatim) or a button's number."""
    for entity in message.get("entities") or []:
        if entity.get("entity") == "fix" and entity.get("value") in offered:
            return entity["value"]
    if text.startswith("/") and "{" in text:
        try:
            value = json.loads(text[text.index("{") :]).get("fix")
        except (ValueError, AttributeError):
            value = None
        if value in offered:
            return value
    if text.isdigit() and 1 <= int(text) <= len(offered):  # "2" for the second button on text-only channels
        return offered[int(text) - 1]
    return None


def _named(text: str, offered: List[str]) -> Optional[str]:
    named = [fix for fix, words in OPTION_WORDS.items() if fix in offered and words.search(text)]
    return named[0] if len(named) == 1 else None


def _paraphrased(message: Dict[str, Any], offered: List[str]) -> Optional[str]:
    """The offered fix the message clearly paraphrases, by the encoder's scores; None when unsure or when the
    model gives no scores (older models). A person is always possible; declining is the "no" intent's to say
    ("it still hasn't arrived" reads like "No, thanks" to the encoder)."""
    scores: Dict[str, float] = {}
    for candidate in message.get("fix_candidates") or []:
        try:
            scores[str(candidate["fix"])] = float(candidate["score"])
        except (KeyError, TypeError, ValueError):
            continue
    considered = [fix for fix in dict.fromkeys(list(offered) + [remedies.PERSON]) if fix in scores]
    real = sorted((fix for fix in considered if fix != remedies.NONE), key=lambda fix: -scores[fix])
    if not real:
        return None
    best = real[0]
    runner_up = max((scores[fix] for fix in considered if fix != best), default=0.0)
    if scores[best] >= PARAPHRASE_MIN_SCORE and scores[best] - runner_up >= PARAPHRASE_MIN_LEAD:
        return best
    return None


def chosen_fix(tracker: Tracker, offered: List[str]) -> Optional[str]:
    """The offered fix the latest message picks, or None when it picks none of them.

    In this order: a button (payload or number); "a person, please"; a question, which picks nothing; the word
    that names one option ("partial"); "no", which always declines; an aside (bot, off-topic, parcel, refund
    status), which picks nothing; a paraphrase; "refund please"; a lone "yes" when one real option is offered."""
    message = tracker.latest_message or {}
    text = (message.get("text") or "").strip()
    explicit = _explicit(message, text, offered)
    if explicit or text.startswith("/"):
        return explicit
    intent = (message.get("intent") or {}).get("name")
    if intent == "human_handoff":
        return remedies.PERSON
    if asks_a_question(text):
        return None
    named = _named(text, offered)
    if named:
        return named
    if intent == "deny":
        return remedies.NONE
    if intent in ANSWERED_INTENTS:
        return None
    if intent not in NOT_A_NAMING:
        paraphrase = _paraphrased(message, offered)
        if paraphrase:
            logger.info("a paraphrase picks %s", paraphrase)
            return paraphrase
    if intent == problems.REQUEST_REFUND and remedies.REFUND in offered:
        return remedies.REFUND
    if intent == "affirm":
        real = [f for f in offered if f != remedies.NONE]
        if len(real) == 1:
            return real[0]
    return None


def answer_instead(tracker: Tracker) -> List[problem_replies.Reply]:
    """What to say to a message that picks nothing, before the form asks the choice again (buttons below)."""
    message = tracker.latest_message or {}
    text = (message.get("text") or "").strip()
    intent = (message.get("intent") or {}).get("name")
    if intent == "bot_challenge":
        return [("utter_iamabot", {})]
    question = asks_a_question(text)
    about_the_options = question and bool(_ASKS_MEANING.search(text))
    if intent == "out_of_scope" and not about_the_options:
        return [("utter_only_orders", {})]
    about_the_order = question or intent == problems.REFUND_STATUS or intent in PARCEL_INTENTS
    facts = resolve_order.facts_of(tracker) if about_the_order else None
    if facts is None:
        return [("utter_invalid_fix", {})]
    if about_the_options:
        return facts.options()
    if intent == problems.REFUND_STATUS:
        return facts.refund()
    if intent in PARCEL_INTENTS:
        return facts.parcel()
    return facts.options()  # any other question about the choice: what each option means, with the amounts


class ValidateResolutionForm(DomainFileFormValidation):
    def name(self) -> Text:
        return "validate_resolution_form"

    def validate_fix(
        self, slot_value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        if tracker.get_slot("requested_slot") != "fix":
            return {"fix": None}  # the form is just starting: the offer has not been shown yet
        offered = tracker.get_slot("offered_fixes") or []
        fix = chosen_fix(tracker, offered)
        if fix is None:
            for response, values in answer_instead(tracker):
                dispatcher.utter_message(response=response, **values)
        return {"fix": fix}


class ActionAskFix(Action):
    def name(self) -> Text:
        return "action_ask_fix"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        dispatcher.utter_message(response=tracker.get_slot("offer") or "utter_ask_fix_refund_reship")
        return []


class ActionCarryOutFix(Action):
    """Does what the shopper chose and confirms it with a case reference."""

    def name(self) -> Text:
        return "action_carry_out_fix"

    @guard_backend
    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        return carry_out(tracker.get_slot("fix"), dispatcher, tracker)
