"""`python -m bot watch`, `alerts list` and `ratings list`: the operator's view of Porter speaking first."""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from dataclasses import asdict
from typing import Any, Dict, List

from bot.decisions.cases import CaseBook
from bot.outreach.alert_book import Alert, AlertBook
from bot.outreach.ratings import RatingBook
from bot.outreach.stops import StopList

logger = logging.getLogger(__name__)


def _watcher():
    from bot.backends import open_store
    from bot.decisions.policy import load_policy
    from bot.outreach.mailer import SmtpSettings
    from bot.outreach.settings import OutreachSettings
    from bot.outreach.watcher import Watcher
    from bot.web.desk_rasa import DeskConfig, RasaConversations

    settings = OutreachSettings.from_env()
    conversations = RasaConversations(DeskConfig.from_env())
    watcher = Watcher(open_store(), load_policy(), settings, conversations, smtp=SmtpSettings.from_env())
    return watcher, conversations, settings


async def _watch(once: bool, orders: List[str]) -> int:
    watcher, conversations, settings = _watcher()
    try:
        while True:
            try:
                for line in await watcher.run_once(orders or None):
                    print(line, flush=True)
            except Exception:  # noqa: BLE001 - one bad pass (a backend down) must not stop the watcher
                if once:
                    raise
                logger.exception("watcher: the pass failed; the next one runs in %s s", settings.watch_seconds)
            if once:
                return 0
            await asyncio.sleep(settings.watch_seconds)
    finally:
        await conversations.close()


def watch(args) -> int:
    from bot.http_client import BackendConfigError
    from bot.outreach.mailer import MailConfigError

    try:
        return asyncio.run(_watch(args.once, args.order or []))
    except (BackendConfigError, MailConfigError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 0


def outcome(alert: Alert, cases: CaseBook, stops: StopList) -> str:
    """What came of an alert: the cases opened on its order since, and whether the shopper said stop."""
    opened = [
        f"{c.type} {c.reference}"
        for c in cases.list(order_number=alert.order_number)
        if alert.sent_at and c.created_at >= alert.sent_at and c.type != "handoff_request"
    ]
    if alert.conversation_id and stops.stopped(alert.conversation_id):
        opened.append("stopped")
    follow_up = cases.get(alert.case_reference) if alert.case_reference else None
    answer = follow_up.details.get("follow_up") if follow_up else None
    if answer:
        opened.append(f"answered: {answer.replace('_', ' ')}")
    return ", ".join(opened) or "-"


def alerts_list(args) -> int:
    alerts = AlertBook().list()
    cases, stops = CaseBook(), StopList()
    rows: List[Dict[str, Any]] = [dict(asdict(a), outcome=outcome(a, cases, stops)) for a in alerts]
    if args.format == "json":
        print(json.dumps(rows, ensure_ascii=False, indent=2))
        return 0
    if not rows:
        print("no alerts yet")
    for r in rows:
        what = r["situation"] or r["case_reference"] or ""
        where = r["conversation_id"] or r["channel"]
        print(
            f"{r['created_at']}  {r['order_number']:<10} {r['kind']:<17} {what:<15} {r['status']:<7} "
            f"{r['language'] or '-':<3} {where}\n    {r['detail'] or ''}  outcome: {r['outcome']}"
        )
    return 0


def ratings_list(args) -> int:
    ratings = RatingBook().list()
    if args.format == "json":
        print(json.dumps([asdict(r) for r in ratings], ensure_ascii=False, indent=2))
        return 0
    if not ratings:
        print("no ratings yet")
    for r in ratings:
        about = r.case_reference or (f"ticket {r.ticket_id}" if r.ticket_id else "-")
        comment = f'\n    "{r.comment}"' if r.comment else ""
        print(
            f"{r.created_at}  {r.score}/5  {r.language or '-':<3} {r.channel or '-':<9} {r.order_number or '-':<10} "
            f"{about:<12} {r.agent or 'Porter'}{comment}"
        )
    return 0
