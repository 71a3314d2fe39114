"""The CityLink web chat: a Rasa input channel that also serves its own page.

Registered in credentials.yml as ``bot.channels.webchat.WebChatInput:``, it
adds to the Rasa server (port 5005):

* ``GET  /webhooks/webchat/``         the chat page and its assets from ``web/``;
* ``POST /webhooks/webchat/webhook``  one user message in, the bot's replies out
  (the same list of message dicts as Rasa's REST channel);
* ``GET  /webhooks/webchat/history``  the conversation so far, read back from the
  agent's tracker store, so a reloaded page can show it again.

Serving the page from the bot itself keeps one origin: no CORS, no second web
server, and a Content-Security-Policy of ``'self'`` that guarantees the page
never loads anything from a CDN.
"""

from __future__ import annotations

import logging
import re
from asyncio import CancelledError
from pathlib import Path
from typing import Any, Awaitable, Callable, Dict, List, Mapping, Optional, Text

from rasa.core.channels.channel import (
    CollectingOutputChannel,
    InputChannel,
    UserMessage,
)
from rasa.shared.core.events import BotUttered, UserUttered
from sanic import Blueprint, response
from sanic.exceptions import InvalidUsage
from sanic.request import Request
from sanic.response import HTTPResponse

logger = logging.getLogger(__name__)

WEB_ROOT = Path(__file__).resolve().parents[2] / "web"

# The sender id is the only thing that ties a browser to its conversation, so
# it works like a bearer token: the page makes a random UUID, and the server
# refuses anything short enough to guess or with characters that could smuggle
# markup or path pieces into logs and tracker-store keys.
SENDER_PATTERN = re.compile(r"[A-Za-z0-9_-]{16,64}")
MAX_MESSAGE_CHARS = 2000
# What the page shows instead of the raw text when the user clicked a button
# (the text is then an intent payload like /set_city{"city": "深圳"}).
DISPLAY_TEXT_KEY = "display_text"

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

OnNewMessage = Callable[[UserMessage], Awaitable[Any]]


def error_response(message: Text, status: int = 400) -> HTTPResponse:
    """A JSON error the page can show to the citizen as it is (Chinese text)."""
    return response.json({"error": message}, status=status)


def sender_error(sender: Any) -> Optional[Text]:
    """Why ``sender`` is not an acceptable sender id, or None if it is."""
    if not isinstance(sender, str) or not sender:
        return "缺少会话标识（sender），请刷新页面后重试。"
    if not SENDER_PATTERN.fullmatch(sender):
        return "会话标识（sender）无效：须为 16–64 位字母、数字、下划线或连字符。"
    return None


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
    user clicked one). Bot turns are replayed through a CollectingOutputChannel,
    the same code that produced the webhook's reply, so a restored message is
    shaped exactly like a live one, plus ``"from": "bot"``.
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
            collector = CollectingOutputChannel()
            await collector.send_response(sender, event.message())
            messages.extend({"from": "bot", **m} for m in collector.messages)
    return messages


class WebChatInput(InputChannel):
    """Input channel for the CityLink browser chat page."""

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
            try:
                payload = request.json
            except InvalidUsage:
                payload = None
            if not isinstance(payload, Mapping):
                return error_response("请求格式错误：需要 JSON 对象。")
            problem = sender_error(payload.get("sender"))
            if problem:
                return error_response(problem)
            text = payload.get("message")
            if not isinstance(text, str) or not text.strip():
                return error_response("消息不能为空。")
            if len(text) > MAX_MESSAGE_CHARS:
                return error_response(
                    f"消息太长了，请控制在 {MAX_MESSAGE_CHARS} 字以内。"
                )
            # Stored on the tracker's user event; the page puts the clicked
            # button's title there (DISPLAY_TEXT_KEY) for the history.
            metadata = payload.get("metadata")
            if metadata is not None and not isinstance(metadata, Mapping):
                return error_response("请求格式错误：metadata 须为 JSON 对象。")

            collector = CollectingOutputChannel()
            # Like Rasa's REST channel: a failing turn is logged and whatever the
            # bot said before it failed is still returned.
            try:
                await on_new_message(
                    UserMessage(
                        text,
                        collector,
                        payload["sender"],
                        input_channel=self.name(),
                        metadata=metadata,
                    )
                )
            except CancelledError:
                logger.error("webchat: handling the message timed out.")
            except Exception:
                logger.exception("webchat: handling the message failed.")
            return response.json(collector.messages)

        @webchat.route("/history", methods=["GET"])
        async def history(request: Request) -> HTTPResponse:
            sender = request.args.get("sender")
            problem = sender_error(sender)
            if problem:
                return error_response(problem)
            agent = getattr(request.app.ctx, "agent", None)
            tracker_store = getattr(agent, "tracker_store", None)
            if tracker_store is None:
                return error_response("助手还在启动，请稍后再试。", status=503)
            messages = await history_messages(tracker_store, sender)
            return response.json({"sender": sender, "messages": messages})

        return webchat
