"""Choosing the next action without running TED when a rule or a memorised story has already chosen it.

Rasa 3.6 runs every policy for every prediction and then keeps the best one (``DefaultPolicyPredictionEnsemble``).
In Porter nearly every prediction is a rule's or a memorised story's at confidence 1.0, which always outranks TED,
and TED is three quarters of a prediction's cost (3.8 of 5.1 ms per prediction on tests/stories' conversations).
``RulesBeforeTED`` runs the other policies first; when one of them is certain, TED's place in the ensemble is taken
by a prediction of nothing, and the same ensemble picks the same winner with the same events. Otherwise TED runs
as before, and the other policies are not run twice.

Why TED cannot change the ensemble's choice then (rasa/core/policies/ensemble.py, Rasa 3.6.21):
- a "no user" prediction beats every other, and TED never makes one;
- an end-to-end prediction beats those made from intents, and TED makes one only when it was trained on story text:
  that is checked once, on the loaded TED, and such a TED is always run;
- otherwise (highest confidence, priority) decides; TED's confidences are at most 1.0 and its priority is lower
  than the certain policy's;
- TED's only events are optional ones, kept only when TED wins;
- after a rejected action the ensemble lowers that action's confidence in every prediction, so a prediction after
  ``ActionExecutionRejected`` always runs TED.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional

from rasa.core.policies.ensemble import DefaultPolicyPredictionEnsemble
from rasa.core.policies.policy import Policy, PolicyPrediction
from rasa.core.policies.ted_policy import TEDPolicy
from rasa.engine.constants import PLACEHOLDER_TRACKER
from rasa.engine.runner.interface import GraphRunner
from rasa.engine.storage.storage import ModelMetadata
from rasa.shared.core.events import ActionExecuted, ActionExecutionRejected
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.constants import TEXT


class RulesBeforeTED:
    """A prediction graph runner that leaves TED out of predictions another policy has already made with
    certainty; every other run, and every other attribute, is the wrapped runner's."""

    def __init__(self, runner: GraphRunner, model: ModelMetadata) -> None:
        self._runner = runner
        self._target = model.core_target
        self._action_count = len(model.domain.action_names_or_texts) if model.domain else 0
        self._skippable: Dict[str, int] = {}  # TED's node name -> its priority
        self._others: List[str] = []
        target = model.predict_schema.nodes.get(self._target) if self._target else None
        if target is None or not issubclass(target.uses, DefaultPolicyPredictionEnsemble):
            return
        for name in target.needs.values():
            node = model.predict_schema.nodes.get(name)  # None for the tracker, which is an input
            if node is None or not issubclass(node.uses, Policy):
                continue
            policy = _loaded_component(runner, name)
            if isinstance(policy, TEDPolicy) and TEXT not in policy.fake_features:
                self._skippable[name] = policy.priority
            else:
                self._others.append(name)
        if not self._others:
            self._skippable.clear()

    @property
    def skips_ted(self) -> bool:
        """Whether this model has a TED that can be left out (one trained on intents, beside other policies)."""
        return bool(self._skippable)

    def run(self, inputs: Optional[Dict[str, Any]] = None, targets: Optional[List[str]] = None) -> Dict[str, Any]:
        """The wrapped runner's result for ``inputs`` and ``targets``; for the next action's prediction, the
        other policies run first and TED only when none of them is certain."""
        tracker = (inputs or {}).get(PLACEHOLDER_TRACKER)
        if (
            not self._skippable
            or targets != [self._target]
            or not isinstance(tracker, DialogueStateTracker)
            or _last_action_was_rejected(tracker)
        ):
            return self._runner.run(inputs=inputs, targets=targets)
        first = self._runner.run(inputs=inputs, targets=self._others)
        known = {**inputs, **{name: first[name] for name in self._others}}
        if any(self._certain(first[name]) for name in self._others):
            for name in self._skippable:
                known[name] = PolicyPrediction([0.0] * self._action_count, TEDPolicy.__name__, self._skippable[name])
        return self._runner.run(inputs=known, targets=targets)

    def _certain(self, prediction: PolicyPrediction) -> bool:
        """A prediction no TED of this model can beat in the ensemble (see the module's docstring)."""
        return prediction.max_confidence >= 1.0 and all(
            prediction.policy_priority > priority for priority in self._skippable.values()
        )

    def __getattr__(self, name: str) -> Any:
        return getattr(self._runner, name)


def _loaded_component(runner: GraphRunner, node_name: str) -> Any:
    """The component a Rasa 3.6 graph runner loaded for ``node_name`` (``DaskGraphRunner`` keeps them in
    ``_instantiated_nodes``, each ``GraphNode`` in ``_component``); None for another runner."""
    node = getattr(runner, "_instantiated_nodes", {}).get(node_name)
    return getattr(node, "_component", None)


def _last_action_was_rejected(tracker: DialogueStateTracker) -> bool:
    """Whether the ensemble will lower a rejected action's confidence in every prediction (see the docstring)."""
    for event in reversed(tracker.events):
        if isinstance(event, ActionExecutionRejected):
            return True
        if isinstance(event, ActionExecuted):
            return False
    return False
