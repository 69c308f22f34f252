"""The domain and the action server agree: every custom action the domain names exists, and vice versa."""

import yaml

from bot.domain_files import domain_dict
from bot.paths import PROJECT_ROOT

DOMAIN = domain_dict()


def registered_actions():
    from rasa_sdk.executor import ActionExecutor

    executor = ActionExecutor()
    executor.register_package("actions")
    return set(executor.actions)


def action_names():
    """The domain's actions, each a name or a name with its settings (``send_domain``)."""
    return {action if isinstance(action, str) else next(iter(action)) for action in DOMAIN["actions"]}


def test_domain_actions_and_action_server_match():
    assert action_names() == registered_actions()


def test_no_call_to_the_action_server_carries_the_domain(monkeypatch):
    """Rasa builds each call as endpoints.yml and the domain say: none carries the domain (300 KB, whose
    encoding and decoding cost more than the form's whole check), form validations included."""
    from rasa.core.actions.action import RemoteAction
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.trackers import DialogueStateTracker
    from rasa.utils.endpoints import read_endpoint_config

    import re

    endpoints = PROJECT_ROOT / "endpoints.yml"
    for variable in set(re.findall(r"\$\{(\w+)\}", endpoints.read_text(encoding="utf-8"))):
        monkeypatch.setenv(variable, "set-by-the-test")  # as `python -m bot serve` sets them
    domain = Domain.load(str(PROJECT_ROOT / "domain"))
    endpoint = read_endpoint_config(str(endpoints), "action_endpoint")
    tracker = DialogueStateTracker.from_events("shopper", [], domain.slots)
    assert any(name.startswith("validate_") for name in action_names())
    for name in sorted(action_names()):
        call = RemoteAction(name, endpoint)._action_call_format(tracker, domain)
        assert "domain" not in call, name


def test_every_response_an_action_names_exists():
    import re

    names = set()
    for path in (PROJECT_ROOT / "actions").glob("*.py"):
        names |= set(re.findall(r'"(utter_[a-z_]+)"', path.read_text(encoding="utf-8")))
    names -= {"utter_situation_"}
    missing = {n for n in names if n not in DOMAIN["responses"]}
    assert not missing
    situations = {
        f"utter_situation_{k}"
        for k in (
            "in_transit",
            "stalled",
            "untracked_overdue",
            "untracked_in_window",
            "failed_attempt",
            "address_problem",
            "lost",
            "not_shipped",
            "cancelled",
        )
    }
    assert situations <= set(DOMAIN["responses"])


def test_a_session_ends_when_a_verification_expires():
    """Rasa starts a new session (which never carries a verification) exactly when actions/authorization.py
    would stop trusting the verification anyway: one number, in two files, kept equal."""
    from bot.decisions.policy import load_policy

    assert DOMAIN["session_config"]["session_expiration_time"] == load_policy().verification_expiry_minutes


def test_every_kind_of_problem_is_an_intent_trained_in_every_language():
    """bot/decisions/problems.py is the list the desk, the handoff and the remedies read: a problem missing from the
    domain or from one language's training data is one shoppers of that language could never raise."""
    from bot.decisions import problems
    from bot.languages import supported_languages

    assert set(problems.ALL) <= set(DOMAIN["intents"])
    for language in supported_languages():
        data = yaml.safe_load((PROJECT_ROOT / "data" / "nlu" / f"{language}.yml").read_text(encoding="utf-8"))
        trained = {block["intent"] for block in data["nlu"] if "intent" in block}
        assert set(problems.ALL) <= trained, (language, set(problems.ALL) - trained)


def test_the_desk_has_a_name_for_every_situation_fix_and_handoff_reason():
    """An agent reading a ticket sees words, not codes, for everything Porter can record on it."""
    from bot.decisions import remedies, situations
    from bot.handoff import reasons

    assert set(situations.LABELS) == set(situations.KINDS)
    assert set(remedies.FIX_LABELS) == set(remedies.FIXES)
    codes = {value for name, value in vars(reasons).items() if name.isupper() and isinstance(value, str)}
    assert set(reasons.LABELS) == codes


def test_the_desk_names_every_language_porter_can_recognise():
    from bot.languages import english_name, supported_languages
    from bot.nlu.language_id import _SCRIPT_LANGUAGE, WATCHED_UNSUPPORTED

    recognised = set(supported_languages()) | set(WATCHED_UNSUPPORTED) | {code for _, code in _SCRIPT_LANGUAGE}
    unnamed = {code for code in recognised if english_name(code) == code}
    assert not unnamed
