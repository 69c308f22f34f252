"""The conversation as the chat widget shows it, read back from Rasa: what Porter and the agents said and what
the shopper wrote, so a reload, a second tab or a return after closing the page shows everything that was sent.

The widget (rasa-webchat) keeps in the browser only the messages it has already shown: a reload while Porter was
still answering, or an agent's reply that arrived while the page was closed, would otherwise be lost for good.
The page asks for this history before the widget starts and puts it where the widget keeps its conversation.
"""

from __future__ import annotations

from typing import Any, Dict, Iterable, List

MAX_MESSAGES = 200  # the latest ones; older ones are in the shop's records, not in a chat window
_SHOPPER, _PORTER = "client", "response"


def _timestamp(event: Dict[str, Any]) -> int:
    try:
        return int(float(event.get("timestamp") or 0) * 1000)
    except (TypeError, ValueError):
        return 0


def _text(text: str, sender: str, event: Dict[str, Any]) -> Dict[str, Any]:
    return {
        "type": "text",
        "text": text,
        "sender": sender,
        "showAvatar": sender == _PORTER,
        "timestamp": _timestamp(event),
    }


def widget_messages(events: Iterable[Dict[str, Any]], limit: int = MAX_MESSAGES) -> List[Dict[str, Any]]:
    """Rasa's tracker events as the widget's stored messages (its `chat_session.conversation`), oldest first.

    A button the shopper clicked is shown as its title, as the widget showed it; what the widget sends by
    itself (``/greet`` when it opens) and events without text are left out.
    """
    messages: List[Dict[str, Any]] = []
    titles: Dict[str, str] = {}  # payload -> title of the latest buttons Porter sent
    for event in events:
        kind = event.get("event")
        if kind == "user":
            text = str(event.get("text") or "").strip()
            if text.startswith("/"):
                text = titles.get(text, "")
                shown = next((m for m in reversed(messages) if m["type"] == "buttons"), None)
                if text and shown is not None and shown["chosenReply"] is None:
                    shown["chosenReply"] = text
            if text:
                messages.append(_text(text, _SHOPPER, event))
        elif kind == "bot":
            text = str(event.get("text") or "")
            buttons = [
                b for b in (event.get("data") or {}).get("buttons") or [] if isinstance(b, dict) and b.get("title")
            ]
            if buttons:
                titles = {str(b.get("payload") or ""): str(b["title"]) for b in buttons}
                replies = [
                    {"content_type": "text", "title": str(b["title"]), "payload": str(b.get("payload") or "")}
                    for b in buttons
                ]
                messages.append(
                    {
                        "type": "buttons",
                        "text": text,
                        "hint": "",
                        "quick_replies": replies,
                        "sender": _PORTER,
                        "showAvatar": True,
                        "chosenReply": None,
                        "timestamp": _timestamp(event),
                    }
                )
            elif text:
                messages.append(_text(text, _PORTER, event))
    return messages[-limit:]
