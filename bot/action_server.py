"""Porter's action server: rasa_sdk's executor behind the door rasa_sdk does not have.

rasa_sdk's own server listens on every interface, answers any origin (CORS "*"), takes any content type, runs
any action on any tracker it is sent, runs actions on its event loop (one slow backend call holds every other
shopper) and echoes the whole request body, a tracker full of personal data, in its error answers. Here:

- it listens on loopback unless ``PORTER_ACTION_HOST`` names another interface (a private network);
- every request but ``GET /health`` must carry ``Authorization: Bearer <PORTER_ACTION_TOKEN>`` (Rasa sends it:
  endpoints.yml, ``action_endpoint.headers``) and, for ``POST /webhook``, a JSON body (``application/json``, no
  content encoding); anything else gets 401 and runs nothing;
- each action runs in a worker thread with its own event loop, so blocking calls (HTTP, SQLite) never hold
  the server's loop, and within ``PORTER_ACTION_DEADLINE`` seconds (default 20, far below Rasa's 300 s action
  timeout): backend calls inside are cut to what is left (bot.http_client.time_budget), and past it the
  shopper hears that the order system is not answering and a person takes over;
- an action that fails answers the shopper the same way instead of leaving them in silence, and the error
  logged names the action, never the tracker;
- what the worker threads freed goes back to the system every few seconds (bot.malloc_trim), so its memory
  follows what it holds, not the busiest moment it ever had.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import os
import sys
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Dict, Optional

from sanic import Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot import malloc_trim
from bot.client_address import of_request
from bot.handoff import reasons

logger = logging.getLogger(__name__)

DEFAULT_HOST = "127.0.0.1"
DEFAULT_DEADLINE = 20.0  # seconds per action; Rasa waits up to 300 s (rasa.core.constants)
FALLBACK_DEADLINE = 5.0  # seconds for the apology and the handoff once an action ran out of time
DEFAULT_WORKERS = 16
MAX_BODY = 16 * 1024 * 1024  # a tracker with a long history and the domain; far more than any real one


class Settings:
    def __init__(
        self, token: str, host: str, port: int, deadline: float, workers: int, trim_seconds: float = 0.0
    ) -> None:
        self.token, self.host, self.port, self.deadline, self.workers = token, host, port, deadline, workers
        self.trim_seconds = trim_seconds

    @classmethod
    def from_env(cls) -> "Settings":
        token = (os.environ.get("PORTER_ACTION_TOKEN") or "").strip()
        if len(token) < 16:
            raise SystemExit(
                "error: PORTER_ACTION_TOKEN must be set to a random string of 16 characters or "
                "more (`python -m bot serve` makes one); the action server refuses to run without it"
            )
        return cls(
            token,
            (os.environ.get("PORTER_ACTION_HOST") or DEFAULT_HOST).strip(),
            int(os.environ.get("ACTION_PORT") or 5055),
            float(os.environ.get("PORTER_ACTION_DEADLINE") or DEFAULT_DEADLINE),
            int(os.environ.get("PORTER_ACTION_WORKERS") or DEFAULT_WORKERS),
            malloc_trim.interval_from_env(),
        )


def _refuse(request: Request, why: str) -> HTTPResponse:
    logger.warning("action server: refused %s %s from %s: %s", request.method, request.path, of_request(request), why)
    return response.json({"error": why}, status=401)


def _authorized(request: Request, token: str) -> Optional[str]:
    """Why this request may not run anything, or None when it may."""
    given = request.headers.get("authorization") or ""
    if not given.startswith("Bearer ") or not hmac.compare_digest(
        given[len("Bearer ") :].strip().encode("utf-8", "surrogatepass"), token.encode()
    ):
        return "missing or wrong Authorization: Bearer token"
    if request.method == "POST":
        if (request.headers.get("content-type") or "").split(";")[0].strip().lower() != "application/json":
            return "the body must be application/json"
        if (request.headers.get("content-encoding") or "identity").strip().lower() != "identity":
            return "the body must not be encoded"
    return None


def _action_call(request: Request) -> Optional[Dict[str, Any]]:
    try:
        call = request.json
    except Exception:  # noqa: BLE001 - sanic raises its own InvalidUsage for bad JSON
        return None
    if (
        not isinstance(call, dict)
        or not isinstance(call.get("next_action"), str)
        or not isinstance(call.get("tracker"), dict)
        or not isinstance(call["tracker"].get("sender_id"), str)
    ):
        return None
    return call


def _run_in_thread(executor: Any, call: Dict[str, Any], budget: float) -> Dict[str, Any]:
    """Runs one action in this worker thread, on an event loop of its own, within its time budget."""
    from bot.http_client import time_budget

    with time_budget(budget):
        return asyncio.run(executor.run(call))


def _apologise(call: Dict[str, Any], reason: str, response_name: str) -> Dict[str, Any]:
    """The answer for an action that ran out of time or failed: say so, and hand over to a person."""
    from rasa_sdk import Tracker
    from rasa_sdk.events import ActiveLoop, SlotSet
    from rasa_sdk.executor import CollectingDispatcher

    from actions.handoff import hand_over

    tracker = Tracker.from_dict(call["tracker"])
    dispatcher = CollectingDispatcher()
    events = [ActiveLoop(None), SlotSet("requested_slot", None), SlotSet("next_step", "handoff")]
    events += hand_over(tracker, dispatcher, reason, response=response_name)
    return {"events": events, "responses": dispatcher.messages}


def create_app(settings: Settings, actions_package: str = "actions") -> Sanic:
    from rasa_sdk.executor import ActionExecutor
    from rasa_sdk.interfaces import ActionExecutionRejection, ActionNotFoundException

    app = Sanic("porter_actions", configure_logging=False)
    app.config.REQUEST_MAX_SIZE = MAX_BODY
    # Rasa keeps its connections here open for aiohttp's 15 s; closing them sooner (Sanic's default is 5 s)
    # races a call on a connection being closed ("Cannot write to closing transport") and loses an action.
    app.config.KEEP_ALIVE_TIMEOUT = 75
    executor = ActionExecutor()
    executor.register_package(actions_package)
    pool = ThreadPoolExecutor(max_workers=settings.workers, thread_name_prefix="action")

    @app.middleware("request")
    async def gate(request: Request):
        if request.path == "/health" and request.method in ("GET", "HEAD"):
            return None
        refused = _authorized(request, settings.token)
        return _refuse(request, refused) if refused else None

    @app.get("/health")
    async def health(_: Request) -> HTTPResponse:
        return response.json({"status": "ok"})

    @app.get("/actions")
    async def actions(_: Request) -> HTTPResponse:
        return response.json([{"name": name} for name in executor.actions])

    @app.post("/webhook")
    async def webhook(request: Request) -> HTTPResponse:
        call = _action_call(request)
        if call is None:
            return response.json(
                {"error": "expected a Rasa action call: next_action and tracker.sender_id"}, status=400
            )
        name = call["next_action"]
        loop = asyncio.get_running_loop()
        try:
            # Backend calls inside get a little less than the deadline, so a cut call hands over by itself
            # before the outer limit fires (which would hand over a second time).
            result = await asyncio.wait_for(
                loop.run_in_executor(pool, _run_in_thread, executor, call, max(1.0, settings.deadline - 2.0)),
                timeout=settings.deadline,
            )
        except asyncio.TimeoutError:
            logger.error("action %s ran out of its %.0f s; handing over to a person", name, settings.deadline)
            return await _fallback(loop, call, reasons.BACKEND_DOWN, "utter_backend_down")
        except ActionExecutionRejection as exc:  # a form rejected the message: Rasa tries other policies
            logger.debug("action %s rejected the message", name)
            return response.json({"error": exc.message, "action_name": exc.action_name}, status=400)
        except ActionNotFoundException as exc:
            logger.error("no action named %s", exc.action_name)
            return response.json({"error": exc.message, "action_name": exc.action_name}, status=404)
        except Exception as exc:  # noqa: BLE001 - a bug must not leave the shopper in silence
            logger.error("action %s failed: %s", name, type(exc).__name__, exc_info=True)
            return await _fallback(loop, call, reasons.ACTION_FAILED, "utter_something_went_wrong")
        return response.json(result)

    async def _fallback(loop, call: Dict[str, Any], reason: str, response_name: str) -> HTTPResponse:
        try:
            answer = await asyncio.wait_for(
                loop.run_in_executor(pool, _apologise, call, reason, response_name), timeout=FALLBACK_DEADLINE
            )
        except Exception:  # noqa: BLE001 - even the handoff failed: at least say something
            logger.error("could not hand over after %s", reason, exc_info=True)
            answer = {
                "events": [{"event": "active_loop", "name": None}],
                "responses": [{"response": response_name, "case_reference": "-"}],
            }
        return response.json(answer)

    @app.exception(Exception)
    async def unexpected(request: Request, exception: Exception) -> HTTPResponse:
        # Never the request body: it is a whole tracker, with emails, phones and addresses.
        status = getattr(exception, "status_code", 500) or 500
        if status >= 500:
            logger.error("action server: %s on %s %s", type(exception).__name__, request.method, request.path)
        return response.json({"error": type(exception).__name__}, status=status)

    trimmer = malloc_trim.Trimmer(settings.trim_seconds)

    @app.listener("after_server_start")
    async def start_trimming(*_: Any) -> None:
        trimmer.start()

    @app.listener("after_server_stop")
    async def stop_pool(*_: Any) -> None:
        trimmer.stop()
        pool.shutdown(wait=False, cancel_futures=True)

    return app


def run() -> int:
    from bot import logs

    logs.install()
    settings = Settings.from_env()
    app = create_app(settings)
    where = "loopback only" if settings.host in ("127.0.0.1", "::1", "localhost") else "PORTER_ACTION_HOST"
    print(
        f"action server on http://{settings.host}:{settings.port}/webhook ({where}; bearer token required, "
        f"{settings.deadline:g} s per action)",
        flush=True,
    )
    app.run(host=settings.host, port=settings.port, access_log=False, motd=False)
    return 0


if __name__ == "__main__":
    sys.exit(run())
