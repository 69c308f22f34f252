"""The REST channel (``POST /webhooks/rest/webhook``) for tests, scripts and simple integrations, guarded.

Rasa's own takes any sender id (a WhatsApp shopper's phone digits included), any `input_channel` the caller
names, metadata of any type and text of any size, from anyone. Here:

- conversations are ``rest:<sender>``: a REST caller can only ever reach REST conversations;
- with ``PORTER_REST_TOKEN`` set, every call needs ``Authorization: Bearer <token>``; without it the channel is
  open (development, tests) unless ``PORTER_ENV=production``, where it is off (403 saying how to turn it on);
- the body is checked (a JSON object; `sender` and `message` strings; `metadata` a small object) and a bad one
  gets 400 naming the field; text is cleaned and capped (bot/channels/inbound.py);
- clients and conversations are rate limited (bot/channels/rate_limit.py): 429 with Retry-After.
"""

from __future__ import annotations

import hmac
import logging
import os
from typing import Any, Awaitable, Callable, Dict, Optional, Text

from rasa.core.channels.channel import CollectingOutputChannel, InputChannel, UserMessage
from rasa.core.channels.rest import RestInput as RasaRestInput
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot import run_mode
from bot.channels import inbound
from bot.channels.conversation_ids import BadConversationId, conversation_id
from bot.channels.rate_limit import RateLimits
from bot.client_address import of_request

logger = logging.getLogger(__name__)

CHANNEL = "rest"


class BadRequest(ValueError):
    """A body the channel refuses with 400; the message names the field."""


def read_body(request: Request) -> Dict[str, Any]:
    try:
        body = request.json
    except Exception:  # noqa: BLE001 - sanic raises its own error for a body that is not JSON
        raise BadRequest('the body must be JSON: {"sender": "...", "message": "..."}') from None
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object with sender and message")
    for field in ("sender", "message"):
        if not isinstance(body.get(field), str):
            raise BadRequest(f"{field} must be a string")
    try:
        body["metadata"] = inbound.checked_metadata(body.get("metadata"))
    except inbound.BadMetadata as exc:
        raise BadRequest(str(exc)) from None
    return body


class RestInput(RasaRestInput):
    """``bot.channels.rest.RestInput`` in credentials.yml; keeps Rasa's name and webhook path."""

    @classmethod
    def name(cls) -> Text:
        return CHANNEL

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> InputChannel:
        return cls()

    def __init__(self) -> None:
        self.token = (os.environ.get("PORTER_REST_TOKEN") or "").strip() or None
        self.limits = RateLimits.from_env()

    def closed(self) -> bool:
        return self.token is None and run_mode.production()

    def _refused(self, request: Request) -> Optional[HTTPResponse]:
        if self.closed():
            return response.json(
                {"error": "the REST channel is off in production; set PORTER_REST_TOKEN to use it with a bearer token"},
                status=403,
            )
        if self.token:
            given = request.headers.get("authorization") or ""
            if not given.startswith("Bearer ") or not hmac.compare_digest(
                given[7:].strip().encode("utf-8", "surrogatepass"), self.token.encode()
            ):
                return response.json({"error": "missing or wrong Authorization: Bearer token"}, status=401)
        return None

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        webhook = Blueprint("porter_rest_webhook", __name__)

        @webhook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "off" if self.closed() else "ok"})

        @webhook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            refused = self._refused(request)
            if refused:
                return refused
            try:
                body = read_body(request)
                conversation = conversation_id(CHANNEL, body["sender"])
            except (BadRequest, BadConversationId) as exc:
                return response.json({"error": str(exc)}, status=400)
            client = of_request(request)
            limited = self.limits.message(client, conversation)
            if limited:
                logger.info(
                    "rest: %s limit reached for a client; asked to retry in %.0f s", limited.reason, limited.retry_after
                )
                return response.json(
                    {"error": f"too many messages ({limited.reason}); retry later"},
                    status=429,
                    headers={"Retry-After": str(max(1, round(limited.retry_after)))},
                )
            collector = CollectingOutputChannel()
            text = await inbound.admit(request.app, conversation, body["message"], body["metadata"], collector)
            if text is not None:
                await inbound.hand_to_rasa(
                    on_new_message,
                    UserMessage(text, collector, conversation, input_channel=CHANNEL, metadata=body["metadata"]),
                    body["metadata"],
                )
            return response.json(collector.messages)

        return webhook
