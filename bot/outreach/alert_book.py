"""Every message Porter sent without being asked, and what it was about: the record behind "at most one alert
per order in N days", the alerts held for quiet hours, and `python -m bot alerts list`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import List, Optional

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from bot.storage import Where, database
from bot.storage.schema import alerts

SITUATION = "situation"  # a new situation on the order's shipment (bot/decisions/situations.py ALERTABLE)
FOLLOW_UP_REFUND = "follow_up_refund"  # did the money arrive?
FOLLOW_UP_RESHIP = "follow_up_reship"  # did the new parcel arrive?
RATING_REQUEST = "rating_request"  # "how did we do?" once a case or a ticket is resolved
FOLLOW_UPS = (FOLLOW_UP_REFUND, FOLLOW_UP_RESHIP)
KINDS = (SITUATION, FOLLOW_UP_REFUND, FOLLOW_UP_RESHIP, RATING_REQUEST)

# held: waits (for quiet hours to end, or for its turn); sending: handed to Rasa, whose action checks it is
# this status (a shopper typing the trigger's intent by hand finds nothing to run); then sent or failed.
HELD, SENDING, SENT, FAILED = "held", "sending", "sent", "failed"


@dataclass(frozen=True)
class Alert:
    id: int
    kind: str
    order_number: str
    situation: Optional[str]
    case_reference: Optional[str]
    conversation_id: Optional[str]
    channel: str
    language: Optional[str]
    status: str
    detail: Optional[str]
    created_at: str
    due_at: Optional[str]
    sent_at: Optional[str]


def _stamp(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


class AlertBook:
    def __init__(self, where: Where = None) -> None:
        self.db = database(where)

    def open(
        self,
        kind: str,
        order_number: str,
        channel: str,
        at: datetime,
        *,
        situation: Optional[str] = None,
        case_reference: Optional[str] = None,
        conversation_id: Optional[str] = None,
        language: Optional[str] = None,
        due_at: Optional[datetime] = None,
    ) -> Optional[Alert]:
        """Writes the alert as held until it goes out; None when a follow-up of this case already exists."""
        if kind not in KINDS:
            raise ValueError(f"unknown alert kind {kind!r}")
        try:
            with self.db.writing() as conn:
                new_id = conn.execute(
                    alerts.insert().values(
                        kind=kind,
                        order_number=order_number,
                        situation=situation,
                        case_reference=case_reference,
                        conversation_id=conversation_id,
                        channel=channel,
                        language=language,
                        status=HELD,
                        created_at=_stamp(at),
                        due_at=_stamp(due_at or at),
                    )
                ).inserted_primary_key[0]
        except IntegrityError:
            return None
        return self.get(new_id)

    def get(self, alert_id: int) -> Optional[Alert]:
        with self.db.reading() as conn:
            row = conn.execute(select(alerts).where(alerts.c.id == alert_id)).first()
        return Alert(**row._mapping) if row else None

    def claim(self, alert_id: int) -> bool:
        """Takes a held alert for sending; False when another worker took it first."""
        with self.db.writing() as conn:
            taken = conn.execute(
                update(alerts).where(alerts.c.id == alert_id, alerts.c.status == HELD).values(status=SENDING)
            ).rowcount
        return taken == 1

    def finish(self, alert_id: int, status: str, at: datetime, detail: Optional[str] = None, **changes: str) -> None:
        """Marks what came of sending it (sent or failed, and how), with any route it finally took."""
        values = dict(status=status, detail=detail, **changes)
        if status == SENT:
            values["sent_at"] = _stamp(at)
        with self.db.writing() as conn:
            conn.execute(update(alerts).where(alerts.c.id == alert_id).values(**values))

    def retry_later(self, alert_id: int, due_at: datetime, detail: str) -> None:
        """Back to held: the channel could not be reached, and surely did not get it; a later pass tries again."""
        with self.db.writing() as conn:
            conn.execute(
                update(alerts).where(alerts.c.id == alert_id).values(status=HELD, due_at=_stamp(due_at), detail=detail)
            )

    def due(self, now: datetime) -> List[Alert]:
        """Held alerts whose quiet hours are over."""
        with self.db.reading() as conn:
            rows = conn.execute(
                select(alerts).where(alerts.c.status == HELD, alerts.c.due_at <= _stamp(now)).order_by(alerts.c.id)
            ).all()
        return [Alert(**row._mapping) for row in rows]

    def latest_situation_alert(self, order_number: str) -> Optional[Alert]:
        """The order's last situation alert that went out or waits to: the one "every N days" counts from."""
        with self.db.reading() as conn:
            row = conn.execute(
                select(alerts)
                .where(alerts.c.order_number == order_number, alerts.c.kind == SITUATION, alerts.c.status != FAILED)
                .order_by(alerts.c.created_at.desc(), alerts.c.id.desc())
                .limit(1)
            ).first()
        return Alert(**row._mapping) if row else None

    def has_follow_up(self, case_reference: str, kind: str) -> bool:
        with self.db.reading() as conn:
            return (
                conn.execute(
                    select(alerts.c.id).where(alerts.c.case_reference == case_reference, alerts.c.kind == kind)
                ).first()
                is not None
            )

    def latest_for_conversation(self, conversation_id: str, kinds: tuple = KINDS) -> Optional[Alert]:
        """The last alert of these kinds that reached this conversation."""
        with self.db.reading() as conn:
            row = conn.execute(
                select(alerts)
                .where(alerts.c.conversation_id == conversation_id, alerts.c.status == SENT, alerts.c.kind.in_(kinds))
                .order_by(alerts.c.id.desc())
                .limit(1)
            ).first()
        return Alert(**row._mapping) if row else None

    def list(self, since: Optional[datetime] = None, limit: int = 500) -> List[Alert]:
        query = select(alerts).order_by(alerts.c.id.desc()).limit(limit)
        if since is not None:
            query = query.where(alerts.c.created_at >= _stamp(since))
        with self.db.reading() as conn:
            rows = conn.execute(query).all()
        return [Alert(**row._mapping) for row in reversed(rows)]
