"""The CityLink web chat: a Rasa input channel that also serves its own page.

Registered in credentials.yml as ``bot.channels.webchat.WebChatInput:``, it
adds to the Rasa server (port 5005):

* ``GET  /webhooks/webchat/``         the chat page and its assets from ``web/``;
* ``POST /webhooks/webchat/webhook``  one user message in, the bot's replies out
  (the same list of message dicts as Rasa's REST channel);
* ``GET  /webhooks/webchat/history``  the conversation so far, read back from the
  agent's tracker store, so a reloaded page can show it again;
* ``GET  /webhooks/webchat/updates``  long polling for what support staff send while they
  have the conversation (human handoff, bot/channels/webchat_push.py).

The browser's chat id is the only thing that ties it to its conversation, so it
is a secret: random (the page makes it from 24 bytes of ``crypto``), sent only
in the ``X-CityLink-Chat-Id`` header (never in a URL, where proxies and access
logs keep it), and the conversation is ``web:<chat id>``: this channel reads
and writes only ``web:`` conversations, never a WeChat or REST one.

Every message carries a ``message_id`` the page makes once; a resend after a
lost response gets the first delivery's answer instead of running the bot
again (bot/channels/guard.py keeps the claims for all worker processes).

Serving the page from the bot itself keeps one origin: no CORS, no second web
server, and a Content-Security-Policy of ``'self'`` that guarantees the page
never loads anything from a CDN.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Text, Tuple, Union

from rasa.core.channels.channel import InputChannel
from rasa.shared.core.events import BotUttered, UserUttered
from sanic import Blueprint, response
from sanic.exceptions import InvalidUsage
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.channels import webchat_push as push
from bot.channels.guard import (
    TURN_TTL_SECONDS,
    ChannelGuard,
    GuardedChannel,
    OnNewMessage,
    collected_answer,
)

WEB_ROOT = Path(__file__).resolve().parents[2] / "web"

CHAT_ID_HEADER = "X-CityLink-Chat-Id"
NAMESPACE = "web:"
# Works like a bearer token: long enough that the page's 24 random bytes fit
# (32 base64url characters), and no characters that could smuggle markup or
# path pieces into logs and tracker-store keys.
CHAT_ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{32,64}")
MESSAGE_ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{8,64}")
# What the page shows instead of the raw text when the user clicked a button
# (the text is then an intent payload like /set_city{"city": "深圳"}). The only
# metadata kept: it is stored in every user event.
DISPLAY_TEXT_KEY = "display_text"
MAX_DISPLAY_TEXT_CHARS = 100
# How long a resend waits for the first delivery's answer (the page's own limit).
RESEND_WAIT_SECONDS = 60.0

CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".json": "application/json",
}
SECURITY_HEADERS = {
    # Everything comes from this server; inline script is never allowed, so an
    # injected string cannot run even if it ever reached the DOM as markup.
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; "
        "img-src 'self' https:; connect-src 'self'; object-src 'none'; "
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    # Revalidate on each load so a redeployed page never mixes old and new files.
    "Cache-Control": "no-cache",
}

def error_response(message: Text, status: int = 400) -> HTTPResponse:
    """A JSON error the page can show to the citizen as it is (Chinese text)."""
    return response.json({"error": message}, status=status)


def conversation_of(request: Request) -> Union[Text, HTTPResponse]:
    """The ``web:`` conversation named by the request's chat-id header, or the
    error answer when the header is missing or malformed."""
    chat_id = request.headers.get(CHAT_ID_HEADER)
    if not chat_id:
        return error_response("缺少会话标识，请刷新页面后重试。")
    if not CHAT_ID_PATTERN.fullmatch(chat_id):
        return error_response("会话标识无效，请刷新页面后重试。")
    return NAMESPACE + chat_id


def allowed_metadata(metadata: Any) -> Tuple[Optional[Dict[Text, Any]], Optional[Text]]:
    """The metadata to store (only ``display_text``, capped), or why it is refused."""
    if metadata is None:
        return None, None
    if not isinstance(metadata, Mapping):
        return None, "请求格式错误：metadata 须为 JSON 对象。"
    shown = metadata.get(DISPLAY_TEXT_KEY)
    if shown is None:
        return None, None
    if not isinstance(shown, str) or len(shown) > MAX_DISPLAY_TEXT_CHARS:
        return None, f"请求格式错误：display_text 须为不超过 {MAX_DISPLAY_TEXT_CHARS} 字的文本。"
    return {DISPLAY_TEXT_KEY: shown}, None


def static_assets(root: Path) -> Dict[Text, Path]:
    """Map URL paths to the servable files under ``root``.

    Built once from the directory listing, so a request can only ever name a
    file that is known to be inside ``root``: no path traversal by design.
    """
    return {
        path.relative_to(root).as_posix(): path
        for path in root.rglob("*")
        if path.is_file() and path.suffix in CONTENT_TYPES
    }


async def history_messages(tracker_store: Any, sender: Text) -> List[Dict[Text, Any]]:
    """The conversation so far, in the order the page should show it.

    User turns are ``{"from": "user", "text": ...}`` (the button title if the
    user clicked one). Bot turns are shaped exactly like a live answer, plus
    ``"from": "bot"`` (bot/channels/webchat_push.py ``bot_messages``).
    """
    tracker = await tracker_store.retrieve(sender)
    if tracker is None:
        return []
    messages: List[Dict[Text, Any]] = []
    for event in tracker.events:
        if isinstance(event, UserUttered):
            metadata = event.metadata or {}
            shown = metadata.get(DISPLAY_TEXT_KEY)
            text = shown if isinstance(shown, str) and shown else event.text
            if text:
                messages.append({"from": "user", "text": text})
        elif isinstance(event, BotUttered):
            messages.extend(await push.bot_messages(sender, event))
    return messages


class WebChatInput(GuardedChannel, InputChannel):
    """Input channel for the CityLink browser chat page."""

    def __init__(self, guard: Optional[ChannelGuard] = None) -> None:
        self._guard = guard

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> "WebChatInput":
        return cls()

    @classmethod
    def name(cls) -> Text:
        """URL prefix and ``input_channel`` of messages: ``webchat``."""
        return "webchat"

    def blueprint(self, on_new_message: OnNewMessage) -> Blueprint:
        """Routes for the page, the message webhook and the history."""
        webchat = Blueprint("webchat_" + type(self).__name__, __name__)
        assets = static_assets(WEB_ROOT)

        @webchat.route("/<name:path>", methods=["GET"])
        async def asset(request: Request, name: Text) -> HTTPResponse:
            return await send_asset(name or "index.html")

        @webchat.route("", methods=["GET"], strict_slashes=True)
        async def page_without_slash(request: Request) -> HTTPResponse:
            # The page loads its assets and calls the API by relative URL, which
            # only resolve under the prefix when the address ends with "/".
            return response.redirect(request.path + "/")

        async def send_asset(name: Text) -> HTTPResponse:
            path = assets.get(name)
            if path is None:
                return error_response("找不到该页面。", status=404)
            return await response.file(
                path,
                headers=SECURITY_HEADERS,
                mime_type=CONTENT_TYPES[path.suffix],
            )

        @webchat.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            conversation = conversation_of(request)
            if isinstance(conversation, HTTPResponse):
                return conversation
            try:
                payload = request.json
            except InvalidUsage:
                payload = None
            if not isinstance(payload, Mapping):
                return error_response("请求格式错误：需要 JSON 对象。")
            text = payload.get("message")
            if not isinstance(text, str) or not text.strip():
                return error_response("消息不能为空。")
            message_id = payload.get("message_id")
            if not isinstance(message_id, str) or not MESSAGE_ID_PATTERN.fullmatch(message_id):
                return error_response("缺少消息编号（message_id），请刷新页面后重试。")
            metadata, problem = allowed_metadata(payload.get("metadata"))
            if problem:
                return error_response(problem)
            refusal = self.guard.refusal(conversation, text)
            if refusal:
                return error_response(refusal.text, status=refusal.status)
            return response.json(
                await self._answer_once(on_new_message, conversation, message_id, text, metadata)
            )

        @webchat.route("/history", methods=["GET"])
        async def history(request: Request) -> HTTPResponse:
            conversation = conversation_of(request)
            if isinstance(conversation, HTTPResponse):
                return conversation
            agent = getattr(request.app.ctx, "agent", None)
            tracker_store = getattr(agent, "tracker_store", None)
            if tracker_store is None:
                return error_response("助手还在启动，请稍后再试。", status=503)
            # The row to push from is read first: a staff message written meanwhile is then
            # shown twice at worst, never lost.
            sql_store = push.store_of(agent)
            cursor = sql_store.last_event_id(conversation) if sql_store else None
            messages = await history_messages(tracker_store, conversation)
            return response.json({"messages": messages, "cursor": cursor})

        @webchat.route("/updates", methods=["GET"])
        async def updates(request: Request) -> HTTPResponse:
            conversation = conversation_of(request)
            if isinstance(conversation, HTTPResponse):
                return conversation
            store = push.store_of(getattr(request.app.ctx, "agent", None))
            if store is None:
                return error_response("助手还在启动，请稍后再试。", status=503)
            after = request.args.get("after", "")
            if not after.isdigit():
                return error_response("请求格式错误：after 须为事件编号。")
            return response.json(await push.updates(store, conversation, int(after)))

        return webchat

    async def _answer_once(self, on_new_message: OnNewMessage, conversation: Text,
                           message_id: Text, text: Text,
                           metadata: Optional[Dict[Text, Any]]) -> List[Dict[Text, Any]]:
        """The bot's answer to this message, running the bot only for its first delivery."""
        key = f"{conversation}:{message_id}"
        state = self.guard.state
        if not state.claim_turn(key, TURN_TTL_SECONDS):
            settled = await self.guard.answer_of(key, RESEND_WAIT_SECONDS)
            return json.loads(settled) if settled else []
        messages: List[Dict[Text, Any]] = []
        try:
            messages = await collected_answer(on_new_message, text, conversation, self.name(),
                                              metadata)
        finally:
            state.settle_turn(key, json.dumps(messages, ensure_ascii=False))
        return messages
