"""Rasa's server (`rasa run`), started so that its API token never shows in the process list.

`rasa run --auth-token T` puts T in /proc/PID/cmdline, which every local user can read (`ps -ef`). Here the
token comes from RASA_AUTH_TOKEN and is added to Rasa's arguments inside this process, where Linux does not
see it (the command line in /proc stays the one this process was started with); Rasa then runs in-process,
with Porter's log scrubbing installed first and Sanic's own log lines in the same format as the rest.

Rasa's debug log events carry messages, slot values, events and dialogue states as structured fields; the
ones that can hold personal data are reduced to their kind and size before they are written, at any level.
"""

from __future__ import annotations

import asyncio
import os
import sys
import weakref
from typing import Any, Dict, List, Optional

from bot import logs

_TOKEN_OPTIONS = ("-t", "--auth-token")
# The fields of Rasa's structured log events that can hold what a shopper wrote or what Porter knows of them:
# those Rasa's own anonymizer names (rasa/utils/log_utils.py), and the parse results and slots it does not.
PERSONAL_FIELDS = frozenset(
    (
        "text",
        "response_text",
        "user_text",
        "slot_values",
        "parse_data_text",
        "parse_data_entities",
        "prediction_events",
        "tracker_latest_message",
        "prefilled_slots",
        "message",
        "response",
        "slot_candidates",
        "rasa_event",
        "rasa_events",
        "tracker_states",
        "current_states",
        "old_states",
        "successes",
        "current_entity",
        "next_entity",
        "states",
        "entity",
        "token_text",
        "user_message",
        "json_message",
        "entities",
        "slots",
        "value",
    )
)


# Inside those fields, what says how Rasa understood a message without saying what it was
_NAMES = frozenset(("intent", "action_name", "entity", "name", "confidence", "extractor", "active_loop"))


def masked(value: Any) -> Any:
    """What a log may say about a value that can hold personal data: its kind and size, never its content
    (for events, which ones, and which slot; for parse results and states, the intent, entity and action
    names)."""
    if isinstance(value, (list, tuple)):
        return [masked(item) for item in value]
    if isinstance(value, dict):
        return {
            key: item if key in _NAMES and isinstance(item, (str, int, float)) else masked(item)
            for key, item in value.items()
        }
    if isinstance(value, str):
        return f"***({len(value)} characters)"
    key = getattr(value, "key", None)
    return f"{type(value).__name__}({key})" if isinstance(key, str) else type(value).__name__


def _mask_personal_fields(_: Any, __: str, event: Dict[str, Any]) -> Dict[str, Any]:
    """Stands in for Rasa's structlog anonymizer, which does nothing without Rasa Pro's pipeline."""
    for key in PERSONAL_FIELDS.intersection(event):
        event[key] = masked(event[key])
    return event


def prepare_logging() -> None:
    """Porter's log scrubbing, and Rasa's and Sanic's logging set up (when Rasa starts) to match it."""
    import rasa.utils.log_utils
    from sanic.log import LOGGING_CONFIG_DEFAULTS

    logs.install()
    # Rasa builds its structlog processors from this module attribute when it starts (Rasa 3.6.21).
    rasa.utils.log_utils._anonymizer = _mask_personal_fields
    # Sanic configures its loggers from these defaults when Rasa creates its app.
    LOGGING_CONFIG_DEFAULTS["formatters"]["generic"].update(format=logs.FORMAT, datefmt=logs.DATE_FORMAT)


def keep_tracker_store_failures() -> None:
    """A tracker store that says it keeps its own failures (bot/tracker_store.py) is used as it is, not inside
    Rasa's ``FailSafeTrackerStore``: that wrapper answers a database outage with an empty conversation held in
    this process's memory, so the shopper is answered as a stranger and the turn never reaches the database.
    The one place Rasa 3.6.21 wraps a store is ``Agent._create_tracker_store``; other stores keep the wrapper."""
    from rasa.core.agent import Agent

    wrap = Agent._create_tracker_store

    def create(store, domain):
        if getattr(store, "keeps_its_own_failures", False):
            store.domain = domain
            return store
        return wrap(store, domain)

    Agent._create_tracker_store = staticmethod(create)


def validate_action_responses_once_compiled() -> None:
    """Rasa checks every action server response with ``jsonschema.validate(response, schema)``, which first
    checks the large events schema itself against JSON Schema's meta-schema, on every call: 20–30 ms of Rasa's
    CPU per action call, the largest single cost of a turn. The schema never changes, so it is checked and
    compiled once here. Even compiled, jsonschema takes about 2 ms to walk a response's events through the
    schema's ``oneOf`` (6 % of Rasa's CPU under load), so a response is first checked by jsonschema-rs, a
    compiled implementation of the same JSON Schema draft (0.002 ms): one it accepts is accepted. Any other goes
    to jsonschema, which decides and, for a refusal, gives exactly the error ``jsonschema.validate`` gives (the
    same validator class, the same ``best_match``, Rasa's same message added). tests/test_action_responses.py
    checks that the two agree on valid responses and on hundreds of broken ones."""
    import jsonschema_rs
    from jsonschema import validators
    from jsonschema.exceptions import best_match
    from rasa.core.actions.action import RemoteAction
    from rasa.shared.constants import DOCS_BASE_URL

    schema = RemoteAction.action_response_format_spec()
    checker = validators.validator_for(schema)
    checker.check_schema(schema)
    compiled = checker(schema)
    fast = jsonschema_rs.validator_for(schema)

    def validate_action_result(self, result: Dict[str, Any]) -> bool:
        try:
            if fast.is_valid(result):
                return True
        except (ValueError, TypeError, OverflowError):  # a value it cannot read (an integer past 64 bits)
            pass
        error = best_match(compiled.iter_errors(result))
        if error is None:
            return True
        error.message += (
            ". Failed to validate Action server response from API, make sure your response from "
            f"the Action endpoint is valid. For more information about the format visit "
            f"{DOCS_BASE_URL}/custom-actions"
        )
        raise error

    RemoteAction._validate_action_result = validate_action_result


def find_event_types_by_name() -> None:
    """Rasa turns every stored event back into an object through ``Event.resolve_by_type``, which walks the
    whole tree of ``Event`` subclasses (``inspect.isabstract`` on each) for every event it reads: 4 % of Rasa's
    CPU under load, as a conversation's events are read on every turn. The classes do not change while Rasa
    runs, so the name is looked up in a table made from that same walk, in the same order (the first class
    with a name wins, as in the walk); a name the table lacks is left to Rasa's own walk, which also knows
    classes imported later and gives Rasa's own default or error."""
    import rasa.shared.utils.common
    from rasa.shared.core.events import Event

    walk = Event.resolve_by_type
    table: Dict[str, type] = {}
    for cls in rasa.shared.utils.common.all_subclasses(Event):
        table.setdefault(cls.type_name, cls)

    def resolve_by_type(type_name, default=None):
        found = table.get(type_name)
        return found if found is not None else walk(type_name, default)

    Event.resolve_by_type = staticmethod(resolve_by_type)


# How long an idle connection to an endpoint is kept for the next call: under the shortest idle timeout on the
# other side (HAProxy's 15 s in the cluster, bot/cluster/haproxy.py; the action server's 75 s), so Porter never
# sends a call on a connection the other side is closing.
ENDPOINT_KEEP_ALIVE_SECONDS = 10.0
# Each event loop's pool of connections to the endpoints (one loop in a running Rasa; tests make several)
_ENDPOINT_POOLS: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Any]" = weakref.WeakKeyDictionary()


def reuse_endpoint_connections_and_encode_with_ujson() -> None:
    """Rasa makes a new aiohttp session for every call to an endpoint (the action server, NLG, the model server;
    ``EndpointConfig.session``), so every call looks up the host and opens a new connection (3 % of Rasa's CPU
    under load, and a thread hop for the lookup), and encodes the conversation it sends with the standard
    library's encoder (5 %). The sessions are made here the same way, but on one connection pool per event loop
    that outlives them (idle connections kept ENDPOINT_KEEP_ALIVE_SECONDS), and with ujson's encoder (already
    installed with Sanic), which writes the same JSON about three times as fast."""
    import aiohttp
    import ujson
    from rasa.utils.endpoints import DEFAULT_REQUEST_TIMEOUT, EndpointConfig

    import rasa.core.run

    def pool() -> Optional[aiohttp.TCPConnector]:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # outside a loop, the session makes its own pool as Rasa's did
            return None
        connector = _ENDPOINT_POOLS.get(loop)
        if connector is None or connector.closed:
            connector = aiohttp.TCPConnector(limit=0, keepalive_timeout=ENDPOINT_KEEP_ALIVE_SECONDS)
            _ENDPOINT_POOLS[loop] = connector
        return connector

    def session(self) -> aiohttp.ClientSession:
        auth = aiohttp.BasicAuth(self.basic_auth["username"], self.basic_auth["password"]) if self.basic_auth else None
        connector = pool()
        return aiohttp.ClientSession(
            headers=self.headers,
            auth=auth,
            timeout=aiohttp.ClientTimeout(total=DEFAULT_REQUEST_TIMEOUT),
            json_serialize=ujson.dumps,
            connector=connector,
            connector_owner=connector is None,
        )

    EndpointConfig.session = session
    close = rasa.core.run.close_resources

    async def close_resources(app, loop) -> None:
        await close(app, loop)
        await close_endpoint_connections()

    # serve_application registers the module's function when Rasa starts, after this
    rasa.core.run.close_resources = close_resources


async def close_endpoint_connections() -> None:
    """Closes the running event loop's pool of endpoint connections (Rasa's server does when it stops)."""
    connector = _ENDPOINT_POOLS.pop(asyncio.get_running_loop(), None)
    if connector is not None:
        await connector.close()


def read_trackers_under_the_conversation_lock() -> None:
    """Rasa's ``GET /conversations/<id>/tracker`` reads a conversation without its lock, and for one that has no
    events yet it starts a session (running ``action_session_start``) beside the turn that may be starting it
    too. The route's one call, ``MessageProcessor.fetch_full_tracker_with_initial_session``, now holds the
    conversation's lock, as a turn does: the read waits for the turn in progress, so the desk and the widget's
    history (bot/web/widget_history.py) see its replies, and only one writer ever starts a session."""
    from rasa.core.processor import MessageProcessor

    fetch = MessageProcessor.fetch_full_tracker_with_initial_session

    async def locked(self, conversation_id, output_channel=None, metadata=None):
        async with self.lock_store.lock(conversation_id):
            return await fetch(self, conversation_id, output_channel, metadata)

    MessageProcessor.fetch_full_tracker_with_initial_session = locked


def skip_ted_when_a_rule_decides() -> None:
    """Rasa runs TED for every prediction, even when a rule or a memorised story has already decided it with a
    certainty TED cannot beat: a quarter of Rasa's CPU per message under load. The prediction graph each
    processor loads is run through ``RulesBeforeTED`` (bot/rules_before_ted.py, which says why the choice is
    the same), which runs TED only when no other policy is certain."""
    from rasa.core.processor import MessageProcessor

    from bot.rules_before_ted import RulesBeforeTED

    load = MessageProcessor._load_model

    def load_model(model_path):
        filename, metadata, runner = load(model_path)
        return filename, metadata, RulesBeforeTED(runner, metadata)

    MessageProcessor._load_model = staticmethod(load_model)


def run(rasa_args: List[str]) -> int:
    """`rasa run` with ``rasa_args`` and the API token from RASA_AUTH_TOKEN."""
    if any(arg in _TOKEN_OPTIONS or arg.startswith("--auth-token=") for arg in rasa_args):
        print(
            "error: give the Rasa API token in RASA_AUTH_TOKEN, not on the command line "
            "(anyone on this machine can read command lines)",
            file=sys.stderr,
        )
        return 2
    token = (os.environ.get("RASA_AUTH_TOKEN") or "").strip()
    if not token:
        print(
            "error: RASA_AUTH_TOKEN is not set; Rasa's HTTP API must not run without a token "
            "(`python -m bot serve` makes one)",
            file=sys.stderr,
        )
        return 2
    prepare_logging()
    keep_tracker_store_failures()
    validate_action_responses_once_compiled()
    find_event_types_by_name()
    reuse_endpoint_connections_and_encode_with_ujson()
    read_trackers_under_the_conversation_lock()
    skip_ted_when_a_rule_decides()
    from rasa.__main__ import main

    # "--auth-token=T", not "--auth-token T": a token may begin with "-", which argparse takes for an option
    sys.argv = ["rasa", "run", *rasa_args, f"--auth-token={token}"]
    main()
    return 0
