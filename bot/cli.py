"""Operator commands: import orders, list cases, retry refund payments, check the policy, upgrade the database.

Every failure prints one clear line to stderr and exits non-zero; nothing is half-written.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import datetime
from pathlib import Path
from typing import List, Optional

from bot.decisions.cases import CaseBook
from bot.decisions.policy import PolicyError, load_policy
from bot.shop.orders_format import OrderFileError
from bot.shop.importer import import_orders
from bot.shop.sqlite_store import SQLiteOrderStore
from bot.storage import StorageError


def _instant(value: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not an ISO 8601 date-time like 2026-11-01T00:00:00Z") from None
    if parsed.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{value!r} needs a time zone, like 2026-11-01T00:00:00Z")
    return parsed


def _orders_import(args) -> int:
    try:
        orders = import_orders(Path(args.file), SQLiteOrderStore(), relative_to=args.relative_to)
    except OrderFileError as exc:
        print(f"error: {args.file} was not imported, nothing was written:", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        return 2
    print(f"imported {len(orders)} orders from {args.file}")
    return 0


def _cases_list(args) -> int:
    cases = CaseBook().list(order_number=args.order, type=args.type)
    if args.format == "json":
        print(json.dumps([c.to_dict() for c in cases], ensure_ascii=False, indent=2))
        return 0
    if not cases:
        print("no cases")
    for c in cases:
        amount = f"{c.amount:.2f} {c.currency}" if c.amount is not None else "-"
        print(f"{c.reference}  {c.created_at}  {c.type:<16} {c.status:<8} {c.order_number or '-':<12} {amount}")
    return 0


def _replies(args) -> int:
    from bot import replies
    from bot.catalogs import CatalogError

    try:
        text = replies.render()
    except CatalogError as exc:
        print(f"error: domain/replies.yml was not written: {exc}", file=sys.stderr)
        return 2
    current = replies.REPLIES_FILE.read_text(encoding="utf-8") if replies.REPLIES_FILE.exists() else None
    if args.check:
        if current != text:
            print(
                "error: domain/replies.yml is out of date with languages/; run `python -m bot replies`", file=sys.stderr
            )
            return 1
        return 0
    if current != text:
        replies.write()
        print(f"wrote {replies.REPLIES_FILE.relative_to(replies.PROJECT_ROOT)}")
    return 0


def _payments_retry(args) -> int:
    from bot.decisions.cases import payment_note
    from bot.http_client import BackendConfigError
    from bot.payments.schedule import RetrySchedule, ScheduleError
    from bot.payments.worker import run
    from bot.backends import open_store

    try:
        schedule, store = RetrySchedule.from_env(), open_store()
    except (BackendConfigError, ScheduleError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    def report(case) -> None:
        amount = f"{case.amount:.2f} {case.currency}" if case.amount is not None else "-"
        print(f"{case.reference}  {case.order_number or '-':<12} {amount:>14}  {payment_note(case)}", flush=True)

    try:
        run(store, CaseBook(), schedule, once=args.once, report=report)
    except KeyboardInterrupt:
        pass
    return 0


def _policy_check(args) -> int:
    try:
        policy = load_policy(Path(args.file) if args.file else None)
    except PolicyError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(
        f"policy ok: currency {policy.currency}, stall after {policy.stall_days} days, "
        f"automatic up to {policy.automatic_value_limit:g} {policy.currency}"
    )
    return 0


def _channels_undelivered(args) -> int:
    from bot.channels.whatsapp_window import UndeliveredMessages
    from bot.identifiers import mask_phone

    messages = UndeliveredMessages().list(channel=args.channel)
    if args.format == "json":
        print(json.dumps([m.to_dict() for m in messages], ensure_ascii=False, indent=2))
        return 0
    if not messages:
        print("no undelivered messages")
    for m in messages:
        text = " ".join(m.text.split())
        text = text if len(text) <= 60 else text[:59] + "…"
        print(f"{m.created_at}  {m.channel:<9} {mask_phone(m.recipient):<6} {text}\n    reason: {m.reason}")
    return 0


def _read_password(args) -> str:
    """From stdin (first line) with --password-stdin, else typed twice at a prompt that does not echo."""
    import getpass

    if args.password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    password = getpass.getpass(f"password for {args.name}: ")
    if password and getpass.getpass("again: ") != password:
        raise ValueError("the two passwords differ")
    return password


def _agents_add(args) -> int:
    from bot.handoff.agents import AgentError, AgentStore, check_name, check_role

    try:
        check_name(args.name), check_role(args.role)  # before asking for a password
        agent = AgentStore().add(args.name, _read_password(args), role=args.role)
    except (AgentError, ValueError) as exc:
        print(f"error: {exc}; no agent was added", file=sys.stderr)
        return 2
    except (EOFError, KeyboardInterrupt):
        print("\nerror: no password given; no agent was added", file=sys.stderr)
        return 2
    print(f"added {agent.role} {agent.name}: they sign in at the desk, /desk on the web server")
    return 0


def _agents_list(args) -> int:
    from bot.handoff.agents import AgentStore

    agents = AgentStore().list()
    if args.format == "json":
        print(
            json.dumps(
                [{"name": a.name, "role": a.role, "created_at": a.created_at} for a in agents],
                ensure_ascii=False,
                indent=2,
            )
        )
        return 0
    if not agents:
        print("no agents: add one with `python -m bot agents add NAME`")
    for a in agents:
        print(f"{a.name:<24} {a.role:<6} created {a.created_at}")
    return 0


def _db_upgrade(args) -> int:
    from bot.storage.upgrade import upgrade_database

    for line in upgrade_database():
        print(line)
    return 0


def _serve(args) -> int:
    from bot.serve import serve

    return serve(Path(args.model), shell=args.shell)


def _cluster(args) -> int:
    from bot.cluster.launch import run

    return run(Path(args.model), demo=args.demo)


def _web(args) -> int:
    from bot.web.app import run

    return run(args.port, host=args.host, socket_url=args.socket_url)


def _actions(args) -> int:
    from bot.action_server import run

    return run()


def _rasa(args) -> int:
    from bot.rasa_server import run

    return run(args.rasa_args)


def _stories_export(args) -> int:
    from bot.story_export import export_story

    try:
        print(export_story(args.conversation_id, args.name, args.url))
    except Exception as exc:  # a developer tool: say what failed, in one line
        print(f"error: could not export conversation {args.conversation_id}: {exc}", file=sys.stderr)
        return 2
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bot", description="Porter operator commands.")
    sub = parser.add_subparsers(dest="command", required=True)

    orders = sub.add_parser("orders", help="the shop's orders").add_subparsers(dest="action", required=True)
    imp = orders.add_parser("import", help="load an orders/v1 JSON file (idempotent; all or nothing)")
    imp.add_argument("file")
    imp.add_argument(
        "--relative-to",
        type=_instant,
        metavar="INSTANT",
        help="move every date so that INSTANT becomes now (for demo files)",
    )
    imp.set_defaults(func=_orders_import)

    cases = sub.add_parser("cases", help="outcomes recorded by Porter").add_subparsers(dest="action", required=True)
    lst = cases.add_parser("list", help="list cases, oldest first")
    lst.add_argument("--format", choices=("table", "json"), default="table")
    lst.add_argument("--order", help="only this order number")
    lst.add_argument("--type", help="only this case type")
    lst.set_defaults(func=_cases_list)

    payments = sub.add_parser("payments", help="refunds paid through the order system").add_subparsers(
        dest="action", required=True
    )
    retry = payments.add_parser(
        "retry",
        help="reconcile and pay again every refund whose money has not gone "
        "out (failed, unknown, or left pending), with backoff; loops until stopped",
    )
    retry.add_argument("--once", action="store_true", help="one pass over the cases due now, then exit")
    retry.set_defaults(func=_payments_retry)

    policy = sub.add_parser("policy", help="the merchant's policy file").add_subparsers(dest="action", required=True)
    chk = policy.add_parser("check", help="validate policy.yml (or FILE)")
    chk.add_argument("file", nargs="?")
    chk.set_defaults(func=_policy_check)
    rep = sub.add_parser("replies", help="write domain/replies.yml from the language catalogs (languages/)")
    rep.add_argument("--check", action="store_true", help="write nothing; exit 1 when the file is out of date")
    rep.set_defaults(func=_replies)
    stories = sub.add_parser("stories", help="test stories").add_subparsers(dest="action", required=True)
    exp = stories.add_parser("export", help="print a conversation of the running server as a test story")
    exp.add_argument("conversation_id")
    exp.add_argument("--name", help="story name (default: the conversation id)")
    exp.add_argument("--url", help="Rasa server URL (default: http://localhost:$RASA_PORT)")
    exp.set_defaults(func=_stories_export)

    channels = sub.add_parser("channels", help="messaging channels (WhatsApp...)").add_subparsers(
        dest="action", required=True
    )
    und = channels.add_parser(
        "undelivered",
        help="replies that could not be sent (e.g. outside WhatsApp's "
        "24-hour window), oldest first; numbers masked in the table",
    )
    und.add_argument("--format", choices=("table", "json"), default="table")
    und.add_argument("--channel", help="only this channel (e.g. whatsapp)")
    und.set_defaults(func=_channels_undelivered)

    from bot.analytics import report

    rpt = sub.add_parser("report", help="what shoppers ask, what Porter solves and what it costs (analytics)")
    rpt.add_argument("--since", help="first day, YYYY-MM-DD (default: 30 days before --until)")
    rpt.add_argument("--until", help="last day, inclusive (default: today, UTC)")
    rpt.add_argument("--language", help="only conversations in this language (en, es...)")
    rpt.add_argument("--channel", help="only this channel (socketio, telegram, whatsapp, rest)")
    rpt.add_argument("--figure", help="only this figure (its key, as in --format json)")
    rpt.add_argument("--format", choices=("md", "csv", "json"), default="md")
    rpt.set_defaults(func=report.run)

    from bot.outreach import commands as outreach

    wat = sub.add_parser(
        "watch", help="the tracking watcher: alerts, follow-ups and rating requests (every PORTER_WATCH_INTERVAL s)"
    )
    wat.add_argument("--once", action="store_true", help="one pass, then exit (for cron and tests)")
    wat.add_argument("--order", action="append", metavar="NUMBER", help="only this order (repeatable)")
    wat.set_defaults(func=outreach.watch)
    alerts = sub.add_parser("alerts", help="messages Porter sent first").add_subparsers(dest="action", required=True)
    all_ = alerts.add_parser("list", help="alerts and follow-ups, oldest first: where they went and what came of it")
    all_.add_argument("--format", choices=("table", "json"), default="table")
    all_.set_defaults(func=outreach.alerts_list)
    ratings = sub.add_parser("ratings", help="shoppers' 1-to-5 ratings").add_subparsers(dest="action", required=True)
    rtl = ratings.add_parser("list", help="ratings, oldest first, with what they rate")
    rtl.add_argument("--format", choices=("table", "json"), default="table")
    rtl.set_defaults(func=outreach.ratings_list)

    agents = sub.add_parser("agents", help="accounts for the agent desk").add_subparsers(dest="action", required=True)
    add = agents.add_parser("add", help="create an agent account (asks for the password)")
    add.add_argument("name", help="what the agent types to sign in, e.g. maria.silva")
    add.add_argument(
        "--role",
        choices=("agent", "admin"),
        default="agent",
        help="admin may also act on tickets another agent claimed (default: agent)",
    )
    add.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from the first line of stdin instead of a prompt",
    )
    add.set_defaults(func=_agents_add)
    agl = agents.add_parser("list", help="list agent accounts")
    agl.add_argument("--format", choices=("table", "json"), default="table")
    agl.set_defaults(func=_agents_list)

    db = sub.add_parser(
        "db", help="Porter's database (PORTER_DATABASE_URL, default the SQLite file var/shop.db)"
    ).add_subparsers(dest="action", required=True)
    upg = db.add_parser(
        "upgrade", help="bring the database to the current schema (safe to run again; `serve` does it at start)"
    )
    upg.set_defaults(func=_db_upgrade)

    run = sub.add_parser("serve", help="run the action server, Rasa and the web server together (what `make run` does)")
    run.add_argument("--model", required=True, help="trained model (.tar.gz)")
    run.add_argument("--shell", action="store_true", help="chat in this terminal instead of serving HTTP")
    run.set_defaults(func=_serve)

    clu = sub.add_parser(
        "cluster",
        help="run Porter on PostgreSQL and Redis: several Rasa and action servers "
        "behind HAProxy, the web server and the refund worker (what `make run-cluster` does)",
    )
    clu.add_argument("--model", required=True, help="trained model (.tar.gz)")
    clu.add_argument("--demo", action="store_true", help="import the demo shop and turn on its sign-in, as `make run`")
    clu.set_defaults(func=_cluster)

    act = sub.add_parser(
        "actions",
        help="the action server Rasa calls: loopback only unless PORTER_ACTION_HOST "
        "says otherwise, every call authenticated with PORTER_ACTION_TOKEN (port: $ACTION_PORT)",
    )
    act.set_defaults(func=_actions)

    # Everything after `rasa` is Rasa's (prefix "+": argparse leaves its --options alone).
    ras = sub.add_parser(
        "rasa",
        prefix_chars="+",
        add_help=False,
        help="Rasa's server: `rasa run` with the rest of the line, the API token from "
        "RASA_AUTH_TOKEN so it never shows in the process list",
    )
    ras.add_argument("rasa_args", nargs=argparse.REMAINDER)
    ras.set_defaults(func=_rasa)

    web = sub.add_parser(
        "web", help="the web server: the storefront demo page with the chat widget, and the agent desk at /desk"
    )
    web.add_argument(
        "--port",
        type=int,
        default=int(os.environ.get("PORTER_WEB_PORT", "8080")),
        help="port (default: $PORTER_WEB_PORT or 8080)",
    )
    web.add_argument(
        "--host",
        default=os.environ.get("PORTER_WEB_HOST", "127.0.0.1"),
        help="interface to listen on (default: $PORTER_WEB_HOST or 127.0.0.1)",
    )
    web.add_argument(
        "--socket-url",
        help="where browsers reach Rasa's socket.io channel "
        "(default: $PORTER_SOCKET_URL or http://localhost:$RASA_PORT)",
    )
    web.set_defaults(func=_web)
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except StorageError as exc:  # a database that cannot be used: the reason, not a traceback
        print(f"error: {exc}", file=sys.stderr)
        return 2
