"""What the desk shows of a ticket, as JSON for desk.js: its summary in the agents' words (labels for codes,
times as epochs, why it goes first, the shopper's last words) and the conversation as one timeline."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any, Dict, List, Optional

from bot.decisions import problems, remedies, situations
from bot.handoff import priority, reasons
from bot.handoff.tickets import SENT, Ticket, TicketMessage
from bot.languages import english_name
from bot.web.desk_rasa import DESK_MESSAGE_KEY

CHANNELS = {
    "socketio": "Storefront chat",
    "rest": "REST API",
    "whatsapp": "WhatsApp",
    "telegram": "Telegram",
    "twilio": "WhatsApp (Twilio)",
}
PROBLEMS = problems.LABELS
SITUATIONS = situations.LABELS
FIXES = remedies.FIX_LABELS
REASONS = reasons.LABELS


def label(table: Dict[str, str], code: Optional[str]) -> Optional[str]:
    if not code:
        return None
    return table.get(code) or code.replace("_", " ").capitalize()


def epoch(iso: Optional[str]) -> Optional[float]:
    return datetime.fromisoformat(iso).timestamp() if iso else None


def _reason_name(reason: str) -> Optional[str]:
    if reason in SITUATIONS:  # a person was one of the fixes offered for this situation, and was chosen
        return f"Chose a person ({SITUATIONS[reason][:1].lower()}{SITUATIONS[reason][1:]})"
    return label(REASONS, reason)


def summary(ticket: Ticket, position: Optional[int] = None) -> Dict[str, Any]:
    created = epoch(ticket.created_at)
    return {
        "id": ticket.id,
        "status": ticket.status,
        "agent": ticket.agent,
        "position": position,
        "language": ticket.language,
        "language_name": english_name(ticket.language) if ticket.language else None,
        "channel": ticket.channel,
        "channel_name": label(CHANNELS, ticket.channel) or "unknown",
        "order_number": ticket.order_number,
        "problem": ticket.problem,
        "problem_name": label(PROBLEMS, ticket.problem),
        "situation": ticket.situation,
        "situation_name": label(SITUATIONS, ticket.situation),
        "offered": [label(FIXES, fix) for fix in ticket.offered],
        "reason": ticket.reason,
        "reason_name": _reason_name(ticket.reason),
        "case_reference": ticket.case_reference,
        "created_at": created,
        "claimed_at": epoch(ticket.claimed_at),
        "closed_at": epoch(ticket.closed_at),
        "waiting_seconds": max(0, int(time.time() - created)) if created else None,
        "priority": [priority.LABELS[reason] for reason in priority.ranked(ticket.priority)],
        "shopper_name": ticket.shopper_name,
        "preview": _preview(ticket),
    }


PREVIEW_CHARACTERS = 90


def _preview(ticket: Ticket) -> Optional[str]:
    """The shopper's last words before the handoff, cut short for the queue."""
    said = [line.get("text") or "" for line in ticket.transcript if line.get("who") == "shopper"]
    last = " ".join(said[-1].split()) if said else ""
    return (last[: PREVIEW_CHARACTERS - 1] + "…" if len(last) > PREVIEW_CHARACTERS else last) or None


def timeline(
    ticket: Ticket, events: Optional[List[Dict[str, Any]]], messages: List[TicketMessage]
) -> List[Dict[str, Any]]:
    """The conversation as the agent reads it: the ticket's transcript up to the handoff, then what was
    said since (from the tracker), the agents' replies and the internal notes, in time order."""
    items: List[Dict[str, Any]] = []
    for line in ticket.transcript:
        items.append(
            {
                "kind": "shopper" if line.get("who") == "shopper" else "bot",
                "text": line.get("text", ""),
                "at": line.get("at"),
            }
        )
    stamps = [line.get("at") for line in ticket.transcript if isinstance(line.get("at"), (int, float))]
    cutoff = max(stamps) if stamps else (epoch(ticket.created_at) or 0) - 1
    replies = {m.id: m for m in messages if m.kind == "reply"}
    reply_times: Dict[int, float] = {}
    for event in events or []:
        at = event.get("timestamp") or 0
        if at <= cutoff:
            continue
        if event.get("event") == "resume" and not ticket.is_open:
            break  # Porter's conversation goes on from here: not this ticket's any more
        text = (event.get("text") or "").strip()
        if event.get("event") == "user" and text:
            items.append({"kind": "shopper", "text": event["text"], "at": at})
        elif event.get("event") == "bot":
            desk_id = (event.get("metadata") or {}).get(DESK_MESSAGE_KEY)
            if desk_id in replies:
                reply_times[desk_id] = at
            elif text and desk_id is None:
                items.append({"kind": "bot", "text": event["text"], "at": at})
    previous = 0.0
    for message in messages:  # in the order they were written; created_at only has whole seconds
        at = max(reply_times.get(message.id) or epoch(message.created_at) or 0.0, previous)
        previous = at
        items.append(
            {
                "kind": "agent" if message.kind == "reply" else "note",
                "text": message.text,
                "author": message.author,
                "at": at,
                "id": message.id,
                "delivery": SENT if message.id in reply_times else message.settled_delivery,
            }
        )
    order = sorted(enumerate(items), key=lambda pair: (pair[1]["at"] or 0, pair[0]))
    return [item for _, item in order]
