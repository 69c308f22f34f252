"""The agent desk at /desk: where people take over the conversations Porter handed to them.

An agent signs in (accounts: `python -m bot agents add`), sees the queue of waiting tickets (the most urgent, then
the oldest), claims one, reads the context summary and the whole conversation (the transcript kept on the ticket,
then what the shopper wrote since, read from Rasa's tracker), writes internal notes, replies, acts on the order,
passes the ticket on, hands it back or resolves it. This module holds the routes and the gate in front of them;
desk_rasa.py talks to Rasa (a reply is a bot event appended with `output_channel=latest` and
`execute_side_effects=true`, so Rasa sends it on the shopper's latest channel), desk_views.py shapes what the
page shows, desk_orders.py the order and the agents' fixes, desk_canned.py the canned replies.

Security: every route of this blueprint except the sign-in form needs a signed-in agent (checked once, in
the blueprint's request middleware, so a new route cannot forget it): pages redirect to the sign-in form,
/desk/api answers 401. State changes are POSTs carrying the session's CSRF token, from a page of this
origin, with the session cookie HttpOnly and SameSite=Strict. Shopper text only ever reaches the page as
JSON data that desk.js puts in with textContent; templates autoescape. Logs name agents as `m***` and
tickets by number, never by conversation id (on WhatsApp that is the shopper's phone number).
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import time
from datetime import datetime, timezone
from typing import Any, Dict, Optional, Tuple
from urllib.parse import quote, urlsplit

from sanic import Blueprint, response
from sanic.request import Request

from bot import client_address
from bot.handoff.agents import AgentStore, Session, mask_name
from bot.decisions.cases import CaseBook
from bot.http_client import BackendUnavailable
from bot.outreach.watcher import ask_rating_for_ticket
from bot.photos import PhotoStore
from bot.channels import notices
from bot.handoff.tickets import (
    CLAIMED,
    HANDED_BACK,
    NOT_CONFIRMED,
    RESOLVED,
    SENT,
    WAITING,
    Ticket,
    TicketMessage,
    TicketStore,
)
from bot.storage.location import database_url
from bot.web.pages import render
from bot.web import desk_analytics, desk_orders, desk_views as views, sign_in_throttle
from bot.web.desk_canned import canned_for
from bot.web.desk_mail import email_if_window_closed
from bot.web.desk_rasa import DeskConfig, RasaConversations, RasaUnavailable
from bot.web.sign_in_throttle import ADDRESS

logger = logging.getLogger(__name__)

blueprint = Blueprint("desk", url_prefix="/desk")

COOKIE = "porter_desk"
CSRF_HEADER = "X-CSRF-Token"
SIGN_IN = "/desk/sign-in"
PUBLIC_PATHS = (SIGN_IN,)  # the only desk routes a visitor without a session may use
MAX_TEXT = 4000  # a reply or note; WhatsApp takes 4096 characters, Telegram 4096


def _desk(app) -> Tuple[DeskConfig, RasaConversations]:
    if not hasattr(app.ctx, "desk_config"):
        app.ctx.desk_config = DeskConfig.from_env()
    if not hasattr(app.ctx, "desk_rasa"):
        app.ctx.desk_rasa = RasaConversations(app.ctx.desk_config)
    return app.ctx.desk_config, app.ctx.desk_rasa


def conversations(app) -> RasaConversations:
    """The web server's client of Rasa's HTTP API (the widget's history reads through it too)."""
    return _desk(app)[1]


@blueprint.listener("after_server_stop")
async def _close_rasa(app, _loop) -> None:
    if hasattr(app.ctx, "desk_rasa"):
        await app.ctx.desk_rasa.close()


_stores: Dict[Tuple[str, str], Any] = {}


def _agents() -> AgentStore:
    """One store per database (bot/storage), made once: the desk asks on every request."""
    key = ("agents", database_url())
    if key not in _stores:
        _stores[key] = AgentStore(key[1])
    return _stores[key]


def ticket_store() -> TicketStore:
    """The tickets, in the database this process was configured with (one store per database URL)."""
    key = ("tickets", database_url())
    if key not in _stores:
        _stores[key] = TicketStore(key[1])
    return _stores[key]


# --- sessions, CSRF and the gate in front of every desk route ----------------------------------------------


def _is_api(request: Request) -> bool:
    return request.path.startswith("/desk/api/")


def _same_origin(request: Request) -> bool:
    """A POST from one of our own pages: its Origin (or Referer) names this host. Absent both, the CSRF
    token decides alone (some clients send neither)."""
    source = request.headers.get("origin") or request.headers.get("referer")
    if not source:
        return True
    if source == "null":
        return False
    return urlsplit(source).netloc == request.host


def _csrf_ok(request: Request, session: Session) -> bool:
    sent = request.headers.get(CSRF_HEADER)
    if not sent and request.content_type.startswith("application/x-www-form-urlencoded"):
        sent = request.form.get("csrf_token")
    return bool(sent) and hmac.compare_digest(sent.encode(), session.csrf_token.encode())


def _refuse(request: Request, status: int, message: str):
    if _is_api(request):
        return response.json({"error": message}, status=status)
    return response.text(message + "\n", status=status)


@blueprint.middleware("request")
async def _gate(request: Request):
    """Signed-in agents only; POSTs from our own pages with the session's CSRF token."""
    if request.method not in ("GET", "HEAD") and not _same_origin(request):
        return _refuse(request, 403, "cross-site request refused")
    if request.path in PUBLIC_PATHS:
        return None
    session = _agents().session(request.cookies.get(COOKIE))
    if session is None:
        if _is_api(request):
            return response.json({"error": "sign in first"}, status=401)
        target = request.path + (f"?{request.query_string}" if request.query_string else "")
        return response.redirect(f"{SIGN_IN}?next={quote(target, safe='/')}", status=303)
    if request.method not in ("GET", "HEAD") and not _csrf_ok(request, session):
        return _refuse(request, 403, "missing or wrong CSRF token: reload the page")
    request.ctx.session = session
    return None


@blueprint.middleware("response")
async def _page_headers(request: Request, resp) -> None:
    resp.headers["Cache-Control"] = "no-store"
    resp.headers.setdefault("X-Frame-Options", "DENY")
    resp.headers.setdefault(
        "Content-Security-Policy",
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    )


def _set_cookie(resp, token: str, config: DeskConfig, max_age: int) -> None:
    resp.cookies[COOKIE] = token
    cookie = resp.cookies[COOKIE]
    cookie["httponly"] = True
    cookie["samesite"] = "Strict"
    cookie["path"] = "/desk"
    cookie["max-age"] = max_age
    if config.secure_cookie:
        cookie["secure"] = True


def _throttle(app):
    """One per application, in memory or in Redis (bot/web/sign_in_throttle.py); a test may put its own, with
    its clock."""
    if not hasattr(app.ctx, "sign_in_throttle"):
        app.ctx.sign_in_throttle = sign_in_throttle.from_env()
    return app.ctx.sign_in_throttle


def _in_words(seconds: int) -> str:
    if seconds < 90:
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    return f"{-(-seconds // 60)} minutes"


def _safe_next(value: Optional[str]) -> str:
    value = value or ""
    if value.startswith("/desk") and not value.startswith("//") and "\\" not in value and SIGN_IN not in value:
        return value
    return "/desk"


def _page(request: Request, template: str, status: int = 200, **context):
    return response.html(render(request, template, **context), status=status)


@blueprint.get("/sign-in")
async def sign_in_form(request: Request):
    return _page(request, "desk_sign_in.html", next=_safe_next(request.args.get("next")), error=None, name="")


@blueprint.post("/sign-in")
async def sign_in(request: Request):
    config, _ = _desk(request.app)
    name = (request.form.get("name") or "").strip()
    password = request.form.get("password") or ""
    target = _safe_next(request.form.get("next"))
    address, throttle = client_address.of_request(request), _throttle(request.app)
    pause = throttle.attempt(name, address)
    if pause:
        logger.warning(
            "desk: sign-in for %s refused for %d s: too many failed attempts %s",
            mask_name(name),
            pause.seconds,
            "from its address" if pause.because == ADDRESS else "for this name",
        )
        source = "from your network" if pause.because == ADDRESS else "for this name"
        page = _page(
            request,
            "desk_sign_in.html",
            status=429,
            next=target,
            name=name,
            error=f"Too many failed sign-ins {source}. Try again in {_in_words(pause.seconds)}.",
        )
        page.headers["Retry-After"] = str(pause.seconds)
        return page
    agent = await asyncio.get_running_loop().run_in_executor(None, _agents().authenticate, name, password)
    if agent is None:
        logger.info("desk: failed sign-in for %s", mask_name(name))
        return _page(request, "desk_sign_in.html", status=401, next=target, name=name, error="Wrong name or password.")
    throttle.succeeded(name, address)
    token, session = _agents().start_session(agent)
    logger.info("desk: %s signed in", mask_name(agent.name))
    resp = response.redirect(target, status=303)
    _set_cookie(resp, token, config, int(_agents().session_hours * 3600))
    return resp


@blueprint.post("/sign-out")
async def sign_out(request: Request):
    config, _ = _desk(request.app)
    _agents().end_session(request.cookies.get(COOKIE))
    logger.info("desk: %s signed out", mask_name(request.ctx.session.agent.name))
    resp = response.redirect(SIGN_IN, status=303)
    _set_cookie(resp, "", config, 0)
    return resp


# --- pages ---------------------------------------------------------------------------------------------------


@blueprint.get("")
async def queue_page(request: Request):
    session: Session = request.ctx.session
    return _page(request, "desk_queue.html", agent=session.agent, csrf_token=session.csrf_token)


@blueprint.get("/tickets/<ticket_id:int>")
async def ticket_page(request: Request, ticket_id: int):
    session: Session = request.ctx.session
    if ticket_store().get(ticket_id) is None:
        return _page(
            request,
            "desk_missing.html",
            status=404,
            agent=session.agent,
            csrf_token=session.csrf_token,
            ticket_id=ticket_id,
        )
    return _page(request, "desk_ticket.html", agent=session.agent, csrf_token=session.csrf_token, ticket_id=ticket_id)


@blueprint.get("/analytics")
async def analytics_page(request: Request):
    """The shop's figures (bot/analytics): admins only, as they show every agent's ratings and the costs."""
    session: Session = request.ctx.session
    if not session.agent.is_admin:
        return _refuse(request, 403, "the analytics are for admins")
    context = dict(agent=session.agent, csrf_token=session.csrf_token)
    try:
        filters = desk_analytics.filters_from(request.args)
    except ValueError as exc:
        filters, context["error"] = desk_analytics.filters_from({}), str(exc)
    tables = await desk_analytics.figures(filters)
    return _page(
        request, "desk_analytics.html", **context, **desk_analytics.view(tables, filters, request.query_string)
    )


@blueprint.get("/analytics/csv/<key:str>")
async def analytics_csv(request: Request, key: str):
    session: Session = request.ctx.session
    if not session.agent.is_admin:
        return _refuse(request, 403, "the analytics are for admins")
    try:
        filters = desk_analytics.filters_from(request.args)
        text = desk_analytics.csv_of(await desk_analytics.figures(filters), key)
    except ValueError as exc:
        return _refuse(request, 400, str(exc))
    except KeyError:
        return _refuse(request, 404, f"there is no figure {key}")
    name = f"porter-{key}-{filters.since}-{filters.until}.csv"
    return response.text(
        text,
        content_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


# --- JSON ----------------------------------------------------------------------------------------------------


def _may_act(session: Session, ticket: Ticket) -> Optional[str]:
    """Why this agent may not reply, hand back or resolve; None when they may."""
    if not ticket.is_open:
        return f"ticket {ticket.id} is closed ({ticket.status.replace('_', ' ')})"
    if ticket.status == CLAIMED and ticket.agent == session.agent.name:
        return None
    if session.agent.is_admin:
        return None
    if ticket.status == WAITING:
        return f"claim ticket {ticket.id} first"
    return f"ticket {ticket.id} is claimed by {ticket.agent}"


def _ticket_or_404(ticket_id: int) -> Tuple[Optional[Ticket], Any]:
    ticket = ticket_store().get(ticket_id)
    if ticket is None:
        return None, response.json({"error": f"there is no ticket {ticket_id}"}, status=404)
    return ticket, None


def _ticket_to_act_on(session: Session, ticket_id: int) -> Tuple[Optional[Ticket], Any]:
    """The ticket when this agent may reply to or close it, else the error response to return."""
    ticket, missing = _ticket_or_404(ticket_id)
    if missing:
        return None, missing
    refused = _may_act(session, ticket)
    if refused:
        return None, response.json({"error": refused}, status=409)
    return ticket, None


def _text_field(request: Request) -> Tuple[Optional[str], Any]:
    body = request.json if request.content_type.startswith("application/json") else None
    text = body.get("text") if isinstance(body, dict) else None
    if not isinstance(text, str) or not text.strip():
        return None, response.json({"error": "write something first"}, status=400)
    if len(text) > MAX_TEXT:
        return None, response.json({"error": f"at most {MAX_TEXT} characters"}, status=400)
    return text.strip(), None


UNREAD_CHECK_SECONDS = 10.0  # how often the queue asks Rasa whether a shopper wrote since their agent last looked
_latest: Dict[str, Tuple[float, Optional[str]]] = {}


async def _unread(rasa: "RasaConversations", ticket: Ticket) -> bool:
    """Whether the shopper wrote after what the ticket's agent last saw. Asked of Rasa at most every
    UNREAD_CHECK_SECONDS per conversation, however many agents poll; unknown (Rasa down) reads as read."""
    checked_at, latest = _latest.get(ticket.conversation_id, (0.0, None))
    if time.monotonic() - checked_at >= UNREAD_CHECK_SECONDS:
        try:
            latest = await rasa.latest_message_id(ticket.conversation_id)
        except RasaUnavailable:
            latest = None
        now = time.monotonic()
        for stale in [c for c, (at, _) in _latest.items() if now - at > 30 * UNREAD_CHECK_SECONDS]:
            del _latest[stale]  # conversations no agent holds any more: the table stays as small as the queue
        _latest[ticket.conversation_id] = (now, latest)
    return latest is not None and latest != ticket.seen_message


@blueprint.get("/api/queue")
async def api_queue(request: Request):
    session: Session = request.ctx.session
    _, rasa = _desk(request.app)
    store = ticket_store()
    waiting = [views.summary(t, place) for place, t in enumerate(store.queue(), start=1)]
    claimed = [t for t in store.list((CLAIMED,))]
    mine = [t for t in claimed if t.agent == session.agent.name]
    unread = await asyncio.gather(*(_unread(rasa, t) for t in mine))
    return response.json(
        {
            "agent": {"name": session.agent.name, "role": session.agent.role},
            "waiting": waiting,
            "mine": [{**views.summary(t), "unread": new} for t, new in zip(mine, unread)],
            "others": [views.summary(t) for t in claimed if t.agent != session.agent.name],
        }
    )


MIN_SEARCH, MAX_SEARCH = 3, 200  # characters of a search: fewer would list every ticket


@blueprint.get("/api/search")
async def api_search(request: Request):
    """Tickets by order number, email or phone the shopper typed, case reference or ticket number."""
    text = (request.args.get("q") or "").strip()
    if not (MIN_SEARCH <= len(text) <= MAX_SEARCH) and not text.lstrip("#").isdigit():
        return response.json(
            {"error": f"search with {MIN_SEARCH} to {MAX_SEARCH} characters: an order number, an email or a reference"},
            status=400,
        )
    case = CaseBook().get(text.upper()) if text.upper().startswith("PC-") else None
    found = ticket_store().find(text, orders=[case.order_number] if case and case.order_number else [])
    return response.json({"query": text, "tickets": [views.summary(t) for t in found]})


@blueprint.get("/api/closed")
async def api_closed(request: Request):
    """The tickets closed most recently, newest first."""
    return response.json({"tickets": [views.summary(t) for t in ticket_store().closed()]})


@blueprint.get("/api/tickets/<ticket_id:int>")
async def api_ticket(request: Request, ticket_id: int):
    session: Session = request.ctx.session
    config, rasa = _desk(request.app)
    ticket, missing = _ticket_or_404(ticket_id)
    if missing:
        return missing
    store = ticket_store()
    problem = None
    try:
        events = await rasa.events(ticket.conversation_id)
    except RasaUnavailable as exc:
        events, problem = None, f"What the shopper wrote after the handoff cannot be shown: {exc}."
    position = store.position(ticket.id) if ticket.status == WAITING else None
    if events is not None and ticket.agent == session.agent.name:  # its agent has now read everything
        said = [e.get("message_id") for e in events if e.get("event") == "user" and e.get("message_id")]
        if said and said[-1] != ticket.seen_message:
            store.seen(ticket.id, session.agent.name, said[-1])
            _latest.pop(ticket.conversation_id, None)
    order, order_problem = await _order_beside(ticket)
    order_cases = CaseBook().list(order_number=ticket.order_number) if ticket.order_number else []
    return response.json(
        {
            "ticket": views.summary(ticket, position),
            "order": order,
            "order_problem": order_problem,
            "photos": [
                {"url": f"/desk/api/photos/{photo.token}", "at": views.epoch(photo.created_at), "size": photo.size}
                for photo in PhotoStore().in_conversation(ticket.conversation_id)
            ],
            "cases": [desk_orders.case_view(case) for case in order_cases],
            "earlier": [
                views.summary(other)
                for other in (store.of_order(ticket.verified_order) if ticket.verified_order else [])
                if other.id != ticket.id
            ],
            "timeline": views.timeline(ticket, events, store.messages(ticket.id)),
            "live": problem is None,
            "problem": problem,
            "may_act": _may_act(session, ticket) is None,
            "why_not": _may_act(session, ticket),
            "may_claim": ticket.status == WAITING,
            "canned": canned_for(config.canned_replies, ticket.language, session.agent.name),
            "agent": {"name": session.agent.name, "role": session.agent.role},
        }
    )


async def _order_beside(ticket: Ticket) -> Tuple[Optional[Dict[str, Any]], Optional[str]]:
    """(the verified order as the agent reads it, or why it cannot be shown)."""
    if not ticket.verified_order:
        return None, None
    try:
        order = await asyncio.to_thread(desk_orders.load_order, ticket)
    except BackendUnavailable as exc:
        return None, f"The order system cannot be reached: {exc}"
    if order is None:
        return None, f"Order {ticket.verified_order} is not in the order system any more."
    cases = CaseBook().list(order_number=order.order_number)
    return desk_orders.order_view(order, cases), None


@blueprint.post("/api/tickets/<ticket_id:int>/fix")
async def api_fix(request: Request, ticket_id: int):
    """Carries out a fix on the ticket's verified order in the agent's name, tells the shopper in their
    language, and notes it on the ticket. 409 with what was done before when the order has it already."""
    session: Session = request.ctx.session
    _, rasa = _desk(request.app)
    ticket, error = _ticket_to_act_on(session, ticket_id)
    if error:
        return error
    body = request.json if request.content_type.startswith("application/json") else None
    fix = body.get("fix") if isinstance(body, dict) else None
    if not isinstance(fix, str) or fix not in desk_orders.DESK_FIXES:
        return response.json({"error": f"choose a fix: {', '.join(desk_orders.DESK_FIXES)}"}, status=400)
    try:
        outcome = await asyncio.to_thread(desk_orders.carry_out, ticket, fix, session.agent.name)
    except desk_orders.CannotAct as exc:
        return response.json({"error": str(exc)}, status=409)
    except BackendUnavailable as exc:
        return response.json({"error": f"the order system cannot be reached: {exc}; nothing was done"}, status=503)
    case = desk_orders.case_view(outcome.case)
    if not outcome.created:
        return response.json({"error": desk_orders.already_done(outcome.case), "case": case}, status=409)
    logger.info(
        "desk: %s carried out %s on ticket %s: case %s",
        mask_name(session.agent.name),
        fix,
        ticket.id,
        case["reference"],
    )
    store = ticket_store()
    store.add_message(ticket.id, "note", session.agent.name, f"{views.FIXES.get(fix, fix)}: case {case['reference']}")
    message = store.add_message(ticket.id, "reply", session.agent.name, outcome.shopper_text or "")
    message, failure = await _deliver(rasa, store, ticket, message)
    return response.json({"case": case, "message": message.to_dict(), "delivery_problem": failure}, status=200)


@blueprint.post("/api/tickets/<ticket_id:int>/claim")
async def api_claim(request: Request, ticket_id: int):
    session: Session = request.ctx.session
    try:
        ticket = ticket_store().claim(ticket_id, session.agent.name)
    except KeyError:
        return response.json({"error": f"there is no ticket {ticket_id}"}, status=404)
    except ValueError as exc:
        return response.json({"error": f"cannot claim: {exc}"}, status=409)
    logger.info("desk: %s claimed ticket %s", mask_name(session.agent.name), ticket_id)
    await _announce(request, ticket, notices.AGENT_JOINED, agent=session.agent.name)
    return response.json({"ticket": views.summary(ticket)})


@blueprint.post("/api/tickets/<ticket_id:int>/pass")
async def api_pass_on(request: Request, ticket_id: int):
    """Transfers a claimed ticket to another agent ({"to": name}) or releases it to the queue ({"to": null}); an
    admin may also assign a waiting one. Its holder or an admin may; the shopper hears who joined, and a note
    records the change."""
    session: Session = request.ctx.session
    ticket, missing = _ticket_or_404(ticket_id)
    if missing:
        return missing
    assigning = ticket.status == WAITING and session.agent.is_admin  # an admin gives a waiting ticket to someone
    if ticket.status != CLAIMED and not assigning:
        state = ticket.status.replace("_", " ")
        return response.json({"error": f"ticket {ticket.id} is {state}, not claimed"}, status=409)
    if ticket.agent != session.agent.name and not session.agent.is_admin:
        return response.json({"error": f"ticket {ticket.id} is claimed by {ticket.agent}"}, status=409)
    body = request.json if request.content_type.startswith("application/json") else None
    if not isinstance(body, dict) or "to" not in body or not (body["to"] is None or isinstance(body["to"], str)):
        return response.json({"error": 'say to whom: {"to": "<agent name>"}, or {"to": null} for the queue'}, 400)
    to = None
    if body["to"] is not None:
        agent = _agents().get(body["to"].strip())
        if agent is None:
            return response.json({"error": f"there is no agent {body['to'][:40]!r}"}, status=400)
        if agent.name == ticket.agent:
            return response.json({"error": f"{agent.name} has this ticket already"}, status=409)
        to = agent.name
    store = ticket_store()
    if assigning and to is None:
        return response.json({"error": f"ticket {ticket.id} is waiting in the queue already"}, status=409)
    try:
        ticket = store.claim(ticket.id, to) if assigning else store.pass_on(ticket.id, ticket.agent, to)
    except ValueError as exc:
        return response.json({"error": f"cannot pass it on: {exc}"}, status=409)
    store.add_message(
        ticket.id,
        "note",
        session.agent.name,
        f"Transferred to {to}." if to else "Released to the queue: it keeps its place.",
    )
    logger.info("desk: %s passed ticket %s on", mask_name(session.agent.name), ticket.id)
    if to:
        await _announce(request, ticket, notices.AGENT_JOINED, agent=to)
    return response.json({"ticket": views.summary(ticket, store.position(ticket.id))})


@blueprint.get("/api/photos/<token:str>")
async def api_photo(request: Request, token: str):
    """A photo a shopper sent, for agents' eyes only: served as the image type its bytes were checked to be, never
    cached, never sniffed as anything else, and unable to run anything if opened on its own."""
    found = PhotoStore().data(token)
    if found is None:
        return response.json({"error": "there is no such photo"}, status=404)
    content_type, data = found
    return response.raw(
        data,
        content_type=content_type,
        headers={
            "Cache-Control": "private, no-store",
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "default-src 'none'; sandbox",
        },
    )


@blueprint.get("/api/agents")
async def api_agents(request: Request):
    """The agents a ticket can be transferred to."""
    return response.json({"agents": [{"name": a.name, "role": a.role} for a in _agents().list()]})


async def _announce(request: Request, ticket: Ticket, notice: str, **values: str) -> None:
    """The shopper's notice of who answers now, in their language. The ticket has changed hands already: a
    notice Rasa could not take is logged, not a reason to undo it."""
    _, rasa = _desk(request.app)
    try:
        await rasa.announce(ticket.conversation_id, notices.say(notice, ticket.language, **values), notice)
    except RasaUnavailable as exc:
        logger.warning("desk: ticket %s: the shopper was not told (%s): %s", ticket.id, notice, exc)


@blueprint.post("/api/tickets/<ticket_id:int>/reply")
async def api_reply(request: Request, ticket_id: int):
    session: Session = request.ctx.session
    _, rasa = _desk(request.app)
    ticket, error = _ticket_to_act_on(session, ticket_id)
    if error:
        return error
    text, invalid = _text_field(request)
    if invalid:
        return invalid
    store = ticket_store()
    message = store.add_message(ticket.id, "reply", session.agent.name, text)
    message, failure = await _deliver(rasa, store, ticket, message)
    if failure:
        return _not_confirmed(message, failure)
    logger.info(
        "desk: %s replied on ticket %s (%s)",
        mask_name(session.agent.name),
        ticket.id,
        ticket.channel or "unknown channel",
    )
    emailed = await email_if_window_closed(ticket, session.agent.name, text)
    if emailed:  # the agent sees where the reply went
        store.add_message(
            ticket.id, "note", "Porter", f"The shopper's chat window was closed: also emailed to {emailed}"
        )
    return response.json({"message": message.to_dict(), "emailed_to": emailed})


@blueprint.post("/api/tickets/<ticket_id:int>/replies/<message_id:int>/retry")
async def api_retry_reply(request: Request, ticket_id: int, message_id: int):
    """Sends a reply that is not confirmed again, unless the conversation shows it arrived after all."""
    session: Session = request.ctx.session
    _, rasa = _desk(request.app)
    ticket, error = _ticket_to_act_on(session, ticket_id)
    if error:
        return error
    store = ticket_store()
    message = store.message(message_id)
    if message is None or message.ticket_id != ticket.id or message.kind != "reply":
        return response.json({"error": f"ticket {ticket.id} has no reply {message_id}"}, status=404)
    if store.start_retry(message.id) is None:  # sent, or another attempt is under way
        return response.json({"error": "this reply is sent or being sent", "message": message.to_dict()}, status=409)
    try:
        arrived = await rasa.delivered(ticket.conversation_id, message.id)
    except RasaUnavailable as exc:  # without knowing, sending again could say it twice
        return _not_confirmed(store.set_delivery(message.id, NOT_CONFIRMED), f"{exc}; it was not sent again")
    if arrived:
        logger.info("desk: reply %s on ticket %s had arrived; not sent again", message.id, ticket.id)
        return response.json({"message": store.set_delivery(message.id, SENT).to_dict()})
    message, failure = await _deliver(rasa, store, ticket, message)
    if failure:
        return _not_confirmed(message, failure)
    logger.info("desk: %s sent reply %s on ticket %s again", mask_name(session.agent.name), message.id, ticket.id)
    return response.json({"message": message.to_dict()})


async def _deliver(
    rasa: RasaConversations, store: TicketStore, ticket: Ticket, message: TicketMessage
) -> Tuple[TicketMessage, Optional[str]]:
    """Sends a kept reply and settles its state: SENT when Rasa took it, even if Rasa failed to say so (its
    conversation holds the reply); else NOT_CONFIRMED with the reason, for the agent to retry."""
    try:
        await rasa.send(ticket.conversation_id, message.text, message.id)
        return store.set_delivery(message.id, SENT), None
    except RasaUnavailable as exc:
        failure = str(exc)
    try:
        if await rasa.delivered(ticket.conversation_id, message.id):
            logger.warning(
                "desk: Rasa did not answer in time (%s), yet reply %s on ticket %s arrived",
                failure,
                message.id,
                ticket.id,
            )
            return store.set_delivery(message.id, SENT), None
    except RasaUnavailable as exc:
        failure = f"{failure}, and whether it arrived cannot be read ({exc})"
    logger.error("desk: reply %s on ticket %s is not confirmed: %s", message.id, ticket.id, failure)
    return store.set_delivery(message.id, NOT_CONFIRMED), failure


def _not_confirmed(message: TicketMessage, failure: str):
    return response.json(
        {
            "error": f"not sent: {failure}. The reply is kept on the ticket as not sent; Retry "
            f"checks whether it arrived before sending it again.",
            "message": message.to_dict(),
        },
        status=502,
    )


@blueprint.post("/api/tickets/<ticket_id:int>/notes")
async def api_note(request: Request, ticket_id: int):
    session: Session = request.ctx.session
    ticket, error = _ticket_to_act_on(session, ticket_id)
    if error:
        return error
    text, invalid = _text_field(request)
    if invalid:
        return invalid
    message = ticket_store().add_message(ticket.id, "note", session.agent.name, text)
    logger.info("desk: %s added a note to ticket %s", mask_name(session.agent.name), ticket.id)
    return response.json({"message": message.to_dict()})


async def _close(request: Request, ticket_id: int, status: str):
    session: Session = request.ctx.session
    _, rasa = _desk(request.app)
    ticket, error = _ticket_to_act_on(session, ticket_id)
    if error:
        return error
    await _announce(request, ticket, notices.BACK_WITH_PORTER)
    try:
        await rasa.resume(ticket.conversation_id)
    except RasaUnavailable as exc:
        logger.error("desk: ticket %s could not be handed back: %s", ticket.id, exc)
        return response.json({"error": f"Porter could not be resumed: {exc}. The ticket stays open."}, status=502)
    try:
        closed = ticket_store().close(ticket.id, status)
    except ValueError as exc:
        return response.json({"error": str(exc)}, status=409)
    logger.info("desk: %s closed ticket %s as %s", mask_name(session.agent.name), ticket.id, status)
    if status == RESOLVED:  # the shopper rates how it went (bot/outreach/watcher.py), once per ticket
        await ask_rating_for_ticket(closed, rasa, datetime.now(timezone.utc))
    return response.json({"ticket": views.summary(closed)})


@blueprint.post("/api/tickets/<ticket_id:int>/hand-back")
async def api_hand_back(request: Request, ticket_id: int):
    return await _close(request, ticket_id, HANDED_BACK)


@blueprint.post("/api/tickets/<ticket_id:int>/resolve")
async def api_resolve(request: Request, ticket_id: int):
    return await _close(request, ticket_id, RESOLVED)
