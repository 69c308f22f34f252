"""Handoff tickets: a conversation waiting for, or owned by, a person.

The action server opens a ticket when Porter hands over (with everything the agent needs to not ask again);
the agent desk claims, answers, hands back or resolves it. Both write here, in the shop database, so a
restart loses neither a ticket nor its place in the queue. Messages agents write (replies and internal
notes) are kept here too; what the shopper writes stays in Rasa's tracker store. A reply keeps its delivery
state (sending, sent, not confirmed) from the moment it is written: a reply is never lost because Rasa was
slow to answer, and never sent twice because the desk could not tell whether it had gone.

A conversation has at most one open ticket: handing over twice joins the same queue place. An order has at
most one place in the queue: a conversation that verified an order which already has an open ticket from
another conversation (the shopper in a second tab, on another channel, or a script) joins it. While they wait,
the queue shows the oldest and the others share its place; claiming one claims them all; when the order's
ticket is already claimed, the new one goes straight to that agent. Each ticket keeps its own conversation,
transcript and page, because the desk replies to, and hands back, one conversation per ticket; a note on each
names the other.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timedelta, timezone
from typing import Any, Dict, List, Optional, Sequence, Tuple

from sqlalchemy import func, insert, or_, select, update

from bot.handoff.priority import ranked, weight
from bot.storage import Where, database
from bot.storage.schema import ticket_messages, tickets

WAITING, CLAIMED, HANDED_BACK, RESOLVED = "waiting", "claimed", "handed_back", "resolved"
OPEN_STATUSES = (WAITING, CLAIMED)
MESSAGE_KINDS = ("reply", "note")
SENDING, SENT, NOT_CONFIRMED = "sending", "sent", "not_confirmed"  # a reply's delivery; a note has none
# A reply still SENDING this long after its attempt started was cut off (the web server stopped mid-send): the
# desk waits at most 60 s for Rasa, so nothing is still in flight.
STALE_SENDING_SECONDS = 150

PORTER = "Porter"  # the author of the notes Porter writes itself


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _ago(seconds: float) -> str:
    return (datetime.now(timezone.utc) - timedelta(seconds=seconds)).isoformat(timespec="seconds")


@dataclass(frozen=True)
class Ticket:
    id: int
    conversation_id: str
    channel: Optional[str]
    language: Optional[str]
    order_number: Optional[str]
    problem: Optional[str]
    situation: Optional[str]
    offered: List[str]
    reason: str
    case_reference: Optional[str]
    status: str
    agent: Optional[str]
    created_at: str
    claimed_at: Optional[str]
    closed_at: Optional[str]
    # [{"who": "shopper" | "bot", "text": ..., "at": ISO time}] up to the handoff
    transcript: List[Dict[str, Any]] = field(default_factory=list)
    verified_order: Optional[str] = None  # the order this conversation proved it owns at the handoff
    priority: List[str] = field(default_factory=list)  # why it goes first (bot/handoff/priority.py)
    shopper_name: Optional[str] = None  # the verified order's customer name
    seen_message: Optional[str] = None  # the last shopper message its agent has seen (Rasa's message id)

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    def to_dict(self) -> Dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class TicketMessage:
    id: int
    ticket_id: int
    kind: str  # "reply" (sent to the shopper) or "note" (agents only)
    author: str
    text: str
    created_at: str
    delivery: Optional[str] = None  # replies only: SENDING, SENT or NOT_CONFIRMED
    delivery_at: Optional[str] = None  # when the current delivery attempt started

    @property
    def settled_delivery(self) -> Optional[str]:
        """The delivery state as the agent should see it: a stale SENDING is NOT_CONFIRMED; a reply from before
        delivery states were kept was only kept when sent."""
        if self.kind != "reply":
            return None
        if self.delivery == SENDING and (self.delivery_at or "") < _ago(STALE_SENDING_SECONDS):
            return NOT_CONFIRMED
        return self.delivery or SENT

    def to_dict(self) -> Dict[str, Any]:
        return asdict(self)


def _ticket(row) -> Ticket:
    data = dict(row._mapping)
    data["offered"] = json.loads(data["offered"] or "[]")
    data["transcript"] = json.loads(data["transcript"] or "[]")
    data["priority"] = json.loads(data.get("priority") or "[]")
    return Ticket(**data)


def _message(row) -> TicketMessage:
    return TicketMessage(**row._mapping)


def _open_of(conversation_id: str):
    return (tickets.c.conversation_id == conversation_id) & tickets.c.status.in_(OPEN_STATUSES)


class TicketStore:
    def __init__(self, where: Where = None):
        self.db = database(where)

    def open_ticket(
        self,
        *,
        conversation_id: str,
        reason: str,
        channel: Optional[str] = None,
        language: Optional[str] = None,
        order_number: Optional[str] = None,
        problem: Optional[str] = None,
        situation: Optional[str] = None,
        offered: Optional[List[str]] = None,
        case_reference: Optional[str] = None,
        transcript: Optional[List[Dict[str, Any]]] = None,
        verified_order: Optional[str] = None,
        priority: Sequence[str] = (),
        shopper_name: Optional[str] = None,
    ) -> Tuple[Ticket, bool]:
        """(ticket, created): the conversation's open ticket if it has one, else a new one. ``verified_order`` is
        the order the conversation proved it owns just now (never a mere claim): it joins that order's open
        ticket, as the module says. The conversation and the order are locked while this decides, so two
        processes never give them two places in the queue."""
        with self.db.writing() as conn:
            self.db.lock(conn, f"ticket of conversation {conversation_id}")
            if verified_order:
                self.db.lock(conn, f"tickets of order {verified_order}")
            row = conn.execute(select(tickets).where(_open_of(conversation_id))).first()
            if row is not None:
                return _ticket(row), False
            joined = (
                conn.execute(
                    select(tickets.c.id, tickets.c.status, tickets.c.agent)
                    .where(tickets.c.verified_order == verified_order, tickets.c.status.in_(OPEN_STATUSES))
                    .order_by(tickets.c.id)
                    .limit(1)
                ).first()
                if verified_order
                else None
            )
            claimed_by = joined.agent if joined and joined.status == CLAIMED else None
            now = _now()
            ticket_id = conn.execute(
                insert(tickets).values(
                    conversation_id=conversation_id,
                    channel=channel,
                    language=language,
                    order_number=order_number,
                    problem=problem,
                    situation=situation,
                    offered=json.dumps(offered or []),
                    reason=reason,
                    case_reference=case_reference,
                    status=CLAIMED if claimed_by else WAITING,
                    agent=claimed_by,
                    created_at=now,
                    claimed_at=now if claimed_by else None,
                    transcript=json.dumps(transcript or [], ensure_ascii=False),
                    verified_order=verified_order,
                    priority=json.dumps(ranked(priority)),
                    shopper_name=shopper_name,
                )
            ).inserted_primary_key[0]
            if joined:
                notes = (
                    (
                        joined.id,
                        f"Ticket {ticket_id} is another conversation about order "
                        f"{verified_order} ({channel or 'unknown channel'}). Reply to it from its own page.",
                    ),
                    (
                        ticket_id,
                        f"Joined ticket {joined.id}, an earlier conversation about order "
                        f"{verified_order}: one place in the queue, one agent.",
                    ),
                )
                conn.execute(
                    insert(ticket_messages),
                    [
                        {"ticket_id": t, "kind": "note", "author": PORTER, "text": text, "created_at": now}
                        for t, text in notes
                    ],
                )
            row = conn.execute(select(tickets).where(tickets.c.id == ticket_id)).one()
        return _ticket(row), True

    def handed_over_before(self, conversation_id: str, verified_order: Optional[str]) -> bool:
        """Whether this conversation, or another about the same verified order, had a ticket already."""
        same = tickets.c.conversation_id == conversation_id
        if verified_order:
            same = or_(same, tickets.c.verified_order == verified_order)
        with self.db.reading() as conn:
            return conn.execute(select(tickets.c.id).where(same).limit(1)).first() is not None

    def get(self, ticket_id: int) -> Optional[Ticket]:
        with self.db.reading() as conn:
            row = conn.execute(select(tickets).where(tickets.c.id == ticket_id)).first()
        return _ticket(row) if row else None

    def open_for(self, conversation_id: str) -> Optional[Ticket]:
        with self.db.reading() as conn:
            row = conn.execute(select(tickets).where(_open_of(conversation_id))).first()
        return _ticket(row) if row else None

    def queue(self) -> List[Ticket]:
        """Waiting tickets in the order agents should take them: the most urgent first (bot/handoff/priority.py),
        then the oldest. One per verified order, its oldest: the others of that order wait behind it, out of the
        queue, and lend it their reasons to go first."""
        with self.db.reading() as conn:
            rows = conn.execute(select(tickets).where(tickets.c.status == WAITING).order_by(tickets.c.id)).all()
        places: List[Ticket] = []
        reasons: Dict[int, set] = {}
        first_of_order: Dict[str, Ticket] = {}
        for ticket in map(_ticket, rows):
            place = first_of_order.get(ticket.verified_order) if ticket.verified_order else None
            if place is not None:
                reasons[place.id].update(ticket.priority)
                continue
            if ticket.verified_order:
                first_of_order[ticket.verified_order] = ticket
            places.append(ticket)
            reasons[ticket.id] = set(ticket.priority)
        places.sort(key=lambda t: (-weight(reasons[t.id]), t.created_at, t.id))
        return [replace(t, priority=ranked(reasons[t.id])) for t in places]

    def list(self, statuses: Tuple[str, ...] = OPEN_STATUSES) -> List[Ticket]:
        with self.db.reading() as conn:
            rows = conn.execute(
                select(tickets).where(tickets.c.status.in_(statuses)).order_by(tickets.c.created_at, tickets.c.id)
            ).all()
        return [_ticket(r) for r in rows]

    def of_order(self, verified_order: str) -> List[Ticket]:
        """Every ticket of conversations that verified this order, newest first: its history with the team."""
        with self.db.reading() as conn:
            rows = conn.execute(
                select(tickets).where(tickets.c.verified_order == verified_order).order_by(tickets.c.id.desc())
            ).all()
        return [_ticket(r) for r in rows]

    def closed(self, limit: int = 50) -> List[Ticket]:
        """The tickets closed most recently (handed back or resolved), newest first."""
        with self.db.reading() as conn:
            rows = conn.execute(
                select(tickets)
                .where(tickets.c.status.in_((HANDED_BACK, RESOLVED)))
                .order_by(tickets.c.closed_at.desc(), tickets.c.id.desc())
                .limit(limit)
            ).all()
        return [_ticket(r) for r in rows]

    def find(self, text: str, orders: Sequence[str] = (), limit: int = 50) -> List[Ticket]:
        """Tickets, newest first, whose number is ``text``, whose order number or case reference contains it, or
        whose transcript does (the email or phone the shopper typed to verify); and every ticket of ``orders``
        (the orders of the cases a reference names)."""
        needle = text.strip().lower()
        matches = [
            func.lower(tickets.c.order_number).contains(needle, autoescape=True),
            func.lower(tickets.c.verified_order).contains(needle, autoescape=True),
            func.lower(tickets.c.case_reference).contains(needle, autoescape=True),
            func.lower(tickets.c.transcript).contains(needle, autoescape=True),
        ]
        if needle.lstrip("#").isdigit() and len(needle.lstrip("#")) < 10:
            matches.append(tickets.c.id == int(needle.lstrip("#")))
        if orders:
            matches.append(tickets.c.verified_order.in_(list(orders)))
        with self.db.reading() as conn:
            rows = conn.execute(
                select(tickets)
                .where(or_(*matches))
                .order_by(tickets.c.created_at.desc(), tickets.c.id.desc())
                .limit(limit)
            ).all()
        return [_ticket(r) for r in rows]

    def position(self, ticket_id: int) -> Optional[int]:
        """1 for the next ticket an agent will take; None when the ticket is not waiting. A ticket waiting
        behind another of its order has that one's place."""
        ticket = self.get(ticket_id)
        if ticket is None or ticket.status != WAITING:
            return None
        for place, queued in enumerate(self.queue(), start=1):
            if queued.id == ticket.id or (ticket.verified_order and queued.verified_order == ticket.verified_order):
                return place
        return None

    def claim(self, ticket_id: int, agent: str) -> Ticket:
        """Gives a waiting ticket, and the others waiting for the same verified order, to an agent; raises
        ValueError when someone else has it or it is closed."""
        with self.db.writing() as conn:
            verified_order = conn.execute(select(tickets.c.verified_order).where(tickets.c.id == ticket_id)).scalar()
            if verified_order:  # so that no ticket joins the order's queue place while it is being claimed
                self.db.lock(conn, f"tickets of order {verified_order}")
            now = _now()
            taken = (
                conn.execute(
                    update(tickets)
                    .where(tickets.c.id == ticket_id, tickets.c.status == WAITING)
                    .values(status=CLAIMED, agent=agent, claimed_at=now)
                ).rowcount
                == 1
            )
            if not taken:
                row = conn.execute(select(tickets.c.status, tickets.c.agent).where(tickets.c.id == ticket_id)).first()
                if row is None:
                    raise KeyError(ticket_id)
                raise ValueError(f"ticket {ticket_id} is {row.status}" + (f" by {row.agent}" if row.agent else ""))
            if verified_order:
                conn.execute(
                    update(tickets)
                    .where(tickets.c.status == WAITING, tickets.c.verified_order == verified_order)
                    .values(status=CLAIMED, agent=agent, claimed_at=now)
                )
        return self.get(ticket_id)

    def pass_on(self, ticket_id: int, holder: str, to: Optional[str]) -> Ticket:
        """Gives a claimed ticket to agent ``to``, or back to the queue when ``to`` is None (its place is the one it
        had: the queue orders by priority and age). The order's other tickets ``holder`` has go with it, as they
        came with it. Raises ValueError when ``holder`` does not have it."""
        with self.db.writing() as conn:
            row = conn.execute(
                select(tickets.c.status, tickets.c.agent, tickets.c.verified_order).where(tickets.c.id == ticket_id)
            ).first()
            if row is None:
                raise KeyError(ticket_id)
            if row.status != CLAIMED or row.agent != holder:
                raise ValueError(f"ticket {ticket_id} is {row.status}" + (f" by {row.agent}" if row.agent else ""))
            if row.verified_order:
                self.db.lock(conn, f"tickets of order {row.verified_order}")
            same = tickets.c.id == ticket_id
            if row.verified_order:
                same = or_(same, tickets.c.verified_order == row.verified_order)
            conn.execute(
                update(tickets)
                .where(same, tickets.c.status == CLAIMED, tickets.c.agent == holder)
                .values(
                    status=CLAIMED if to else WAITING,
                    agent=to,
                    claimed_at=_now() if to else None,
                )
            )
        return self.get(ticket_id)

    def seen(self, ticket_id: int, agent: str, message_id: Optional[str]) -> None:
        """Records that ``agent``, who has the ticket, has read the conversation up to ``message_id``."""
        with self.db.writing() as conn:
            conn.execute(
                update(tickets)
                .where(tickets.c.id == ticket_id, tickets.c.agent == agent)
                .values(seen_message=message_id)
            )

    def close(self, ticket_id: int, status: str) -> Ticket:
        """Hands the conversation back to Porter or resolves it; only an open ticket can be closed."""
        if status not in (HANDED_BACK, RESOLVED):
            raise ValueError(f"a ticket closes as {HANDED_BACK} or {RESOLVED}, not {status!r}")
        with self.db.writing() as conn:
            closed = (
                conn.execute(
                    update(tickets)
                    .where(tickets.c.id == ticket_id, tickets.c.status.in_(OPEN_STATUSES))
                    .values(status=status, closed_at=_now())
                ).rowcount
                == 1
            )
            if not closed:
                if conn.execute(select(tickets.c.id).where(tickets.c.id == ticket_id)).first() is None:
                    raise KeyError(ticket_id)
                raise ValueError(f"ticket {ticket_id} is already closed")
        return self.get(ticket_id)

    def add_message(self, ticket_id: int, kind: str, author: str, text: str) -> TicketMessage:
        """A note, or a reply in state SENDING: kept before it is sent, so no outcome can lose it."""
        if kind not in MESSAGE_KINDS:
            raise ValueError(f"message kind must be one of {MESSAGE_KINDS}, not {kind!r}")
        if not text.strip():
            raise ValueError("an empty message is not sent")
        with self.db.writing() as conn:
            if conn.execute(select(tickets.c.id).where(tickets.c.id == ticket_id)).first() is None:
                raise KeyError(ticket_id)
            now, delivery = _now(), SENDING if kind == "reply" else None
            message_id = conn.execute(
                insert(ticket_messages).values(
                    ticket_id=ticket_id,
                    kind=kind,
                    author=author,
                    text=text,
                    created_at=now,
                    delivery=delivery,
                    delivery_at=now if delivery else None,
                )
            ).inserted_primary_key[0]
            row = conn.execute(select(ticket_messages).where(ticket_messages.c.id == message_id)).one()
        return _message(row)

    def messages(self, ticket_id: int, after_id: int = 0) -> List[TicketMessage]:
        with self.db.reading() as conn:
            rows = conn.execute(
                select(ticket_messages)
                .where(ticket_messages.c.ticket_id == ticket_id, ticket_messages.c.id > after_id)
                .order_by(ticket_messages.c.id)
            ).all()
        return [_message(r) for r in rows]

    def message(self, message_id: int) -> Optional[TicketMessage]:
        with self.db.reading() as conn:
            row = conn.execute(select(ticket_messages).where(ticket_messages.c.id == message_id)).first()
        return _message(row) if row else None

    def set_delivery(self, message_id: int, delivery: str) -> TicketMessage:
        """SENT once Rasa has the reply; NOT_CONFIRMED when that could not be established."""
        with self.db.writing() as conn:
            conn.execute(
                update(ticket_messages)
                .where(ticket_messages.c.id == message_id, ticket_messages.c.kind == "reply")
                .values(delivery=delivery)
            )
        return self.message(message_id)

    def start_retry(self, message_id: int) -> Optional[TicketMessage]:
        """Moves a reply that is not confirmed (or stale in SENDING: the server stopped mid-send) back to
        SENDING, for one caller only; None when it is sent or being sent."""
        with self.db.writing() as conn:
            taken = (
                conn.execute(
                    update(ticket_messages)
                    .where(
                        ticket_messages.c.id == message_id,
                        ticket_messages.c.kind == "reply",
                        or_(
                            ticket_messages.c.delivery == NOT_CONFIRMED,
                            (ticket_messages.c.delivery == SENDING)
                            & (ticket_messages.c.delivery_at < _ago(STALE_SENDING_SECONDS)),
                        ),
                    )
                    .values(delivery=SENDING, delivery_at=_now())
                ).rowcount
                == 1
            )
        return self.message(message_id) if taken else None
