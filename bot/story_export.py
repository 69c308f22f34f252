"""Turns a real conversation into a Rasa test story, so a flow checked by hand becomes a regression test.

Reads the tracker from the running Rasa server and keeps what the policies see: user text with its
entities, actions, forms, and the slots that influence the conversation. Review the story before
committing it: it records what the bot did, which is only right if the conversation was.
"""

from __future__ import annotations

import os
from typing import Optional

import requests

from bot.paths import PROJECT_ROOT, var_dir


def _token() -> str:
    token = os.environ.get("RASA_AUTH_TOKEN")
    path = var_dir() / "rasa_auth_token"
    return token or (path.read_text().strip() if path.exists() else "")


def export_story(conversation_id: str, name: Optional[str] = None, base_url: Optional[str] = None) -> str:
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.trackers import DialogueStateTracker
    from rasa.shared.core.training_data.story_writer.yaml_story_writer import YAMLStoryWriter

    base_url = base_url or f"http://localhost:{os.environ.get('RASA_PORT', '5005')}"
    response = requests.get(
        f"{base_url}/conversations/{conversation_id}/tracker", params={"token": _token()}, timeout=30
    )
    response.raise_for_status()
    domain = Domain.load(str(PROJECT_ROOT / "domain"))
    influencing = {slot.name for slot in domain.slots if slot.influence_conversation} | {"requested_slot"}
    events = [e for e in response.json()["events"] if e.get("event") != "slot" or e.get("name") in influencing]
    tracker = DialogueStateTracker.from_dict(name or conversation_id, events, domain.slots)
    return YAMLStoryWriter().dumps(tracker.as_story().story_steps, is_appendable=True, is_test_story=True)
