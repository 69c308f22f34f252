"""Leaving TED out of predictions a rule has already made (bot/rules_before_ted.py) changes no choice Porter makes.

Every prediction of tests/stories' conversations is made twice with the trained model, by Rasa's own prediction
graph and through ``RulesBeforeTED``, and compared whole (action, confidence, policy, events). So are the same
conversations bent where rules may not decide: the shopper's last intent replaced by others, the last action by
others, an action just rejected.
"""

from __future__ import annotations

from typing import Iterator, List

import pytest

from bot.paths import PROJECT_ROOT
from tests.support.porter_server import MODEL
from tests.support.needs import starting

pytestmark = pytest.mark.model


@pytest.fixture(scope="module")
def model():
    """The trained model's processor, its own graph runner with a count of TED's runs, and the conversations."""
    starting("model")
    from rasa.core.agent import Agent
    from rasa.shared.core.generator import TrainingDataGenerator
    from rasa.shared.importers.importer import TrainingDataImporter

    processor = Agent.load(str(MODEL)).processor
    stories = TrainingDataImporter.load_from_dict(
        domain_path=str(PROJECT_ROOT / "domain"), training_data_paths=[str(PROJECT_ROOT / "tests" / "stories")]
    ).get_stories()
    conversations = TrainingDataGenerator(
        stories, processor.domain, augmentation_factor=0, remove_duplicates=False, use_story_concatenation=False
    ).generate()
    ted = processor.graph_runner._instantiated_nodes["run_TEDPolicy2"]
    runs = {"ted": 0}
    predict = ted._fn

    def counted(*args, **kwargs):
        runs["ted"] += 1
        return predict(*args, **kwargs)

    ted._fn = counted
    return processor, conversations, runs


def predict(runner, processor, events):
    from rasa.engine.constants import PLACEHOLDER_TRACKER
    from rasa.shared.core.trackers import DialogueStateTracker

    tracker = DialogueStateTracker.from_events("shopper", events, processor.domain.slots)
    target = processor.model_metadata.core_target
    return runner.run(inputs={PLACEHOLDER_TRACKER: tracker}, targets=[target])[target]


def what_porter_does(prediction) -> tuple:
    """Everything of a prediction that reaches the conversation (event timestamps aside)."""

    def events(items) -> List[dict]:
        return [{key: value for key, value in event.as_dict().items() if key != "timestamp"} for event in items]

    return (
        prediction.probabilities,
        prediction.policy_name,
        prediction.policy_priority,
        events(prediction.events),
        events(prediction.optional_events),
        prediction.is_end_to_end_prediction,
        prediction.is_no_user_prediction,
        prediction.hide_rule_turn,
        prediction.action_metadata,
    )


def prediction_points(conversations) -> Iterator[list]:
    """The events before each action of each conversation."""
    from rasa.shared.core.events import ActionExecuted

    for conversation in conversations:
        events = list(conversation.events)
        for index, event in enumerate(events):
            if index and isinstance(event, ActionExecuted):
                yield events[:index]


def bent(conversations, domain) -> Iterator[list]:
    """The same points with the shopper's last intent, or the last action, replaced by others of the domain's."""
    from rasa.shared.core.events import ActionExecuted, UserUttered

    for number, events in enumerate(prediction_points(conversations)):
        if number % 4:
            continue
        last = events[-1]
        if isinstance(last, UserUttered):
            for intent in domain.intents[number % 5 :: 5]:
                yield events[:-1] + [UserUttered(last.text, {"name": intent, "confidence": 1.0}, last.entities)]
        elif isinstance(last, ActionExecuted):
            for action in domain.action_names_or_texts[number % 7 :: 7]:
                yield events[:-1] + [ActionExecuted(action)]


def test_a_rule_decided_prediction_is_made_without_ted_and_is_the_same(model):
    from bot.rules_before_ted import RulesBeforeTED

    processor, conversations, runs = model
    shortcut = RulesBeforeTED(processor.graph_runner, processor.model_metadata)
    assert shortcut.skips_ted
    points = list(prediction_points(conversations))
    assert len(points) > 500
    without_ted = 0
    for events in points:
        rasas = predict(processor.graph_runner, processor, events)
        before = runs["ted"]
        assert what_porter_does(predict(shortcut, processor, events)) == what_porter_does(rasas)
        if rasas.max_confidence == 1.0 and rasas.policy_name in ("RulePolicy", "MemoizationPolicy"):
            assert runs["ted"] == before, "a rule or a memorised story was certain: TED should not have run"
            without_ted += 1
    assert without_ted > len(points) / 2


def test_predictions_rules_do_not_decide_still_run_ted_and_are_the_same(model):
    from bot.rules_before_ted import RulesBeforeTED

    processor, conversations, runs = model
    shortcut = RulesBeforeTED(processor.graph_runner, processor.model_metadata)
    compared = with_ted = 0
    for events in bent(conversations, processor.domain):
        expected = what_porter_does(predict(processor.graph_runner, processor, events))
        before = runs["ted"]
        assert what_porter_does(predict(shortcut, processor, events)) == expected
        compared += 1
        with_ted += runs["ted"] > before
    assert compared > 500
    assert 0 < with_ted < compared


def test_after_a_rejected_action_ted_runs_and_the_rejected_action_is_not_chosen(model):
    from rasa.shared.core.events import ActionExecutionRejected

    from bot.rules_before_ted import RulesBeforeTED

    processor, conversations, runs = model
    shortcut = RulesBeforeTED(processor.graph_runner, processor.model_metadata)
    events = next(points for points in prediction_points(conversations) if len(points) > 6)
    chosen = predict(shortcut, processor, events)
    rejected = processor.domain.action_names_or_texts[chosen.max_confidence_index]
    events = events + [ActionExecutionRejected(rejected)]
    before = runs["ted"]
    retried = predict(shortcut, processor, events)
    assert runs["ted"] == before + 1
    assert what_porter_does(retried) == what_porter_does(predict(processor.graph_runner, processor, events))
    assert processor.domain.action_names_or_texts[retried.max_confidence_index] != rejected


def test_any_other_run_of_the_graph_is_the_runners_own(model):
    """Understanding a message (the NLU target) goes straight to Rasa's runner."""
    from rasa.core.channels.channel import UserMessage
    from rasa.engine.constants import PLACEHOLDER_MESSAGE

    from bot.rules_before_ted import RulesBeforeTED

    processor, _, runs = model
    shortcut = RulesBeforeTED(processor.graph_runner, processor.model_metadata)
    target = processor.model_metadata.nlu_target
    message = UserMessage("where is my parcel")
    parsed = shortcut.run(inputs={PLACEHOLDER_MESSAGE: [message]}, targets=[target])[target]
    assert parsed[0].get("intent")["name"] == "where_is_my_order"
