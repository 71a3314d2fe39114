"""Rasa's REST channel for operators and tools, behind the API's credentials.

Registered in credentials.yml as ``bot.channels.rest.OperatorRestInput:``, at
the same address as Rasa's ``rest:`` (``/webhooks/rest/webhook``, same request
and answer). Unlike Rasa's it

* requires ``Authorization: Bearer <api_token or an admin JWT signed with
  jwt_secret>`` (common/secrets.py): it can speak in any ``rest:``
  conversation, so it is an operator surface, not a citizen channel;
* puts its conversations in their own namespace: sender ``abc`` is the
  conversation ``rest:abc``, so it can never speak in a web chat or WeChat one;
* answers a too-long message or a conversation over its rate with a polite
  reply instead of running the bot (bot/channels/guard.py);
* never copies ``metadata`` from the request into the tracker.
"""
from __future__ import annotations

import hmac
import re
from typing import Any, Dict, List, Optional, Text

import jwt
from rasa.core.channels.rest import RestInput
from sanic import Blueprint, response
from sanic.exceptions import InvalidUsage
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.channels.guard import ChannelGuard, GuardedChannel, OnNewMessage, collected_answer
from common.secrets import secret

NAMESPACE = "rest:"
SENDER_PATTERN = re.compile(r"[A-Za-z0-9_.@-]{1,64}")


def operator_authorised(header: Optional[str]) -> bool:
    """Whether ``Authorization`` carries the API token or a valid admin JWT."""
    scheme, _, value = (header or "").partition(" ")
    value = value.strip()
    if scheme.lower() != "bearer" or not value:
        return False
    if hmac.compare_digest(value.encode(), secret("api_token").encode()):
        return True
    try:
        claims = jwt.decode(value, secret("jwt_secret"), algorithms=["HS256"],
                            options={"require": ["exp"]})
    except jwt.InvalidTokenError:
        return False
    user = claims.get("user")
    return isinstance(user, dict) and user.get("role") == "admin"


class OperatorRestInput(GuardedChannel, RestInput):
    """``/webhooks/rest/webhook`` with credentials, its own namespace and limits."""

    def __init__(self, guard: Optional[ChannelGuard] = None) -> None:
        self._guard = guard

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> "OperatorRestInput":
        return cls()

    @classmethod
    def name(cls) -> Text:
        """Same URL and ``input_channel`` as Rasa's REST channel."""
        return "rest"

    def blueprint(self, on_new_message: OnNewMessage) -> Blueprint:
        rest = Blueprint("operator_rest", __name__)

        @rest.route("/", methods=["GET"])
        async def health(request: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @rest.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            if not operator_authorised(request.headers.get("Authorization")):
                return response.json({"error": "需要运维令牌（Authorization: Bearer …）。"},
                                     status=401)
            try:
                payload = request.json
            except InvalidUsage:
                payload = None
            if not isinstance(payload, dict):
                return response.json({"error": "请求格式错误：需要 JSON 对象。"}, status=400)
            sender, text = payload.get("sender"), payload.get("message")
            if not isinstance(sender, str) or not SENDER_PATTERN.fullmatch(sender):
                return response.json(
                    {"error": "sender 无效：须为 1–64 位字母、数字或 _.@-。"}, status=400)
            if not isinstance(text, str):
                return response.json({"error": "message 须为文本。"}, status=400)
            conversation = NAMESPACE + sender
            refusal = self.guard.refusal(conversation, text)
            if refusal:  # shaped like the bot's own answer, so REST clients show it
                return response.json([{"recipient_id": conversation, "text": refusal.text}],
                                     status=refusal.status)
            messages: List[Dict[Text, Any]] = await collected_answer(
                on_new_message, text, conversation, self.name())
            return response.json(messages)

        return rest
