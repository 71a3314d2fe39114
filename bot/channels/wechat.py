"""A Rasa input channel for a WeChat official account (微信公众号).

Registered in credentials.yml as ``bot.channels.wechat.WeChatInput:``; WeChat
calls ``/webhooks/wechat/webhook`` (GET once to verify the URL, POST for every
message and event). See docs/wechat.md for connecting an account.

WeChat waits 5 seconds for an answer and retries a POST up to three times, so
each message becomes one *turn*, remembered by message id:

* the bot runs once per turn, however often WeChat delivers the message and
  whichever of the bot's worker processes receives it (the turn is claimed in
  state they share, bot/channels/wechat_state.py);
* if the bot answers within ``reply_timeout`` the answer goes back in the
  HTTP reply (被动回复), otherwise the reply is empty ("success") and the
  answer follows through the customer-service API (客服消息);
* every delivery of the message, original or retry, gets the same outcome.
"""

from __future__ import annotations

import asyncio
import logging
import os
import struct
import time
from pathlib import Path
from dataclasses import dataclass, field, fields
from typing import Any, Awaitable, Callable, Dict, List, Mapping, Optional, Set

from cachetools import TTLCache
from rasa.core.channels.channel import (
    CollectingOutputChannel,
    InputChannel,
    OutputChannel,
    UserMessage,
)
from rasa.shared.exceptions import RasaException
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse
from wechatpy.crypto import WeChatCrypto
from wechatpy.exceptions import WeChatException

from bot.channels.guard import ChannelGuard, GuardedChannel
from bot.channels.wechat_api import WeChatAPI
from bot.channels.wechat_protocol import (
    RejectedRequest,
    forbidden,
    malformed,
    parse_message,
    parse_xml,
    text_reply_xml,
    verify_signature,
    verify_timestamp,
)
from bot.channels.wechat_render import render_messages, split_text
from bot.channels.wechat_push import NAMESPACE, WeChatPush
from bot.channels.wechat_state import open_state

logger = logging.getLogger(__name__)

# Conversation ids of this channel are "wechat:<OpenID>" (never another channel's).
UNSUPPORTED_REPLY = "抱歉，目前只能处理文字消息，请直接输入文字告诉我您要办理的事项。"
ERROR_REPLY = "抱歉，系统暂时繁忙，请稍后再试。"
# WeChat's "no passive reply" answer; the user sees nothing and WeChat stops retrying.
EMPTY_REPLY = "success"
# Credentials that may come from the environment instead of credentials.yml;
# the environment wins, so secrets never need to be written into the repo.
ENVIRONMENT_OVERRIDES = {
    "token": "WECHAT_TOKEN",
    "encoding_aes_key": "WECHAT_ENCODING_AES_KEY",
    "app_id": "WECHAT_APP_ID",
    "app_secret": "WECHAT_APP_SECRET",
    "api_base_url": "WECHAT_API_BASE_URL",
    "state_path": "WECHAT_STATE_PATH",
}
# Upper bound on turns remembered in process memory, so a flood cannot exhaust it.
CACHE_SIZE = 10_000
# How often a retry reaching another worker looks whether the turn has settled.
SETTLED_POLL_SECONDS = 0.05

OnNewMessage = Callable[[UserMessage], Awaitable[Any]]


@dataclass(frozen=True)
class WeChatConfig:
    """The channel's settings; without ``token`` the channel refuses every callback."""

    token: Optional[str] = None
    encoding_aes_key: Optional[str] = None
    app_id: Optional[str] = None
    app_secret: Optional[str] = None
    api_base_url: str = "https://api.weixin.qq.com"
    # Seconds the bot may take before the answer goes via the customer-service
    # API instead; below WeChat's 5 s so the HTTP reply still arrives in time.
    reply_timeout: float = 4.0
    # Requests whose timestamp is further than this from now are replays.
    max_timestamp_age: float = 300.0
    # What the bot receives when a user follows the account.
    welcome: str = "/greet"
    # Menu CLICK EventKey → intent name; an unmapped key is used as the intent name.
    menu_intents: Mapping[str, str] = field(default_factory=dict)
    # How long a numbered button menu stays answerable by its numbers.
    button_ttl: float = 1800.0
    # Turn claims, menus and the access token, shared by the bot's worker
    # processes (bot/channels/wechat_state.py); make run puts it in var/.
    state_path: str = "var/wechat.db"
    send_attempts: int = 3
    retry_delay: float = 1.0
    api_timeout: float = 10.0

    @classmethod
    def from_credentials(
        cls, credentials: Optional[Mapping[str, Any]], environ: Mapping[str, str] = os.environ
    ) -> "WeChatConfig":
        """Settings from credentials.yml, with WECHAT_* environment variables taking precedence."""
        values = {key: value for key, value in (credentials or {}).items() if value is not None}
        values.update(
            {key: environ[name] for key, name in ENVIRONMENT_OVERRIDES.items() if environ.get(name)}
        )
        unknown = sorted(set(values) - {setting.name for setting in fields(cls)})
        if unknown:
            raise RasaException(f"Unknown WeChat channel settings: {', '.join(unknown)}.")
        if values.get("encoding_aes_key") and not values.get("app_id"):
            raise RasaException(
                "WeChat safe mode (encoding_aes_key) also needs app_id / WECHAT_APP_ID."
            )
        return cls(**values)


class WeChatOutput(CollectingOutputChannel):
    """Collects one turn's bot messages, to be sent as a passive reply or pushed later."""

    @classmethod
    def name(cls) -> str:
        """Same name as the input channel, so trackers show where a message went."""
        return "wechat"


class WeChatInput(GuardedChannel, InputChannel):
    """WeChat official-account callbacks in, bot answers out (passive reply or 客服消息)."""

    @classmethod
    def name(cls) -> str:
        """The channel's name, also its URL prefix: /webhooks/wechat/webhook."""
        return "wechat"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[str, Any]]) -> "WeChatInput":
        """Build the channel from its credentials.yml section and the environment."""
        return cls(WeChatConfig.from_credentials(credentials))

    def __init__(self, config: WeChatConfig, guard: Optional[ChannelGuard] = None) -> None:
        self.config = config
        if not config.token:
            # Not fatal: credentials.yml is shared, and a machine without WeChat
            # secrets (a developer's, CI) must still be able to run the bot.
            logger.error("WECHAT_TOKEN is not set: the WeChat channel refuses every callback.")
        self._crypto = self._make_crypto(config)
        self._state = open_state(Path(config.state_path))  # Redis if REDIS_URL is set
        self._api = (
            WeChatAPI(
                config.api_base_url,
                config.app_id,
                config.app_secret,
                attempts=config.send_attempts,
                retry_delay=config.retry_delay,
                timeout=config.api_timeout,
                state=self._state,
            )
            if config.app_id and config.app_secret
            else None
        )
        if self._api is None:
            logger.warning(
                "WeChat app_id/app_secret not set: answers slower than %.1f s or longer than "
                "one message cannot be delivered.",
                config.reply_timeout,
            )
        # A replay passes the timestamp check for at most 2 × max_timestamp_age
        # after the original arrived (the sender's clock may be ahead by the
        # full window), so turns are remembered that long: claimed in the
        # shared state, and this process's own turns as futures that a retry
        # reaching this process awaits.
        self._turn_ttl = 2 * config.max_timestamp_age
        self._turns: TTLCache = TTLCache(maxsize=CACHE_SIZE, ttl=self._turn_ttl)
        self._tasks: Set[asyncio.Task] = set()
        self._guard = guard

    def get_output_channel(self) -> OutputChannel:
        """Where the HTTP API's messages for a WeChat conversation go (WeChatPush)."""
        return WeChatPush(self._api)

    @staticmethod
    def _make_crypto(config: WeChatConfig) -> Optional[WeChatCrypto]:
        """wechatpy's AES codec for safe mode, or None for plain mode."""
        if not config.encoding_aes_key:
            return None
        try:
            return WeChatCrypto(config.token, config.encoding_aes_key, config.app_id)
        except (AssertionError, ValueError) as error:
            raise RasaException(
                "WeChat encoding_aes_key must be the 43-character EncodingAESKey."
            ) from error

    def blueprint(self, on_new_message: OnNewMessage) -> Blueprint:
        """Routes for WeChat's server: URL verification (GET) and callbacks (POST)."""
        webhook = Blueprint("wechat_webhook")

        @webhook.route("/webhook", methods=["GET"])
        async def verify(request: Request) -> HTTPResponse:
            try:
                self._authenticate(request)
            except RejectedRequest as rejection:
                return _rejected(rejection)
            return response.text(request.args.get("echostr", ""))

        @webhook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            try:
                self._authenticate(request)
                message = self._open(request)
            except RejectedRequest as rejection:
                return _rejected(rejection)
            content = await self._answer(message, on_new_message)
            return self._reply(request, message, content)

        @webhook.listener("before_server_stop")
        async def deliver_pending(*_: Any) -> None:
            await self.drain()

        return webhook

    async def drain(self) -> None:
        """Wait until every running turn has answered, so a shutdown loses no answer."""
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    def _authenticate(self, request: Request) -> None:
        """Refuse requests not signed with our token or outside the replay window."""
        if not self.config.token:
            raise forbidden("no token configured")
        timestamp = request.args.get("timestamp", "")
        verify_signature(
            request.args.get("signature"),
            self.config.token,
            timestamp,
            request.args.get("nonce", ""),
        )
        verify_timestamp(timestamp, self.config.max_timestamp_age)

    def _encrypted(self, request: Request) -> bool:
        """Whether WeChat sent this body in safe (or compatible) mode."""
        return request.args.get("encrypt_type") == "aes"

    def _open(self, request: Request) -> Dict[str, str]:
        """The message from the body, decrypted in safe mode.

        With an EncodingAESKey configured only encrypted bodies are accepted:
        in plain mode the signature covers the URL but not the body, so
        accepting plain bodies would undo what safe mode protects.
        """
        if self._crypto is None:
            if self._encrypted(request):
                raise malformed("encrypted message but no encoding_aes_key configured")
            return parse_message(request.body)
        if not self._encrypted(request):
            raise forbidden("plain message while safe mode is configured")
        envelope = parse_xml(request.body)
        if not envelope.get("Encrypt"):
            raise malformed("no Encrypt element")
        timestamp, nonce = request.args.get("timestamp", ""), request.args.get("nonce", "")
        msg_signature = request.args.get("msg_signature")
        verify_signature(msg_signature, self.config.token, timestamp, nonce, envelope["Encrypt"])
        try:
            plain = self._crypto.decrypt_message(envelope, msg_signature, timestamp, nonce)
        except (WeChatException, ValueError, IndexError, struct.error) as error:
            logger.error(
                "Cannot decrypt a WeChat message (check EncodingAESKey and app_id): %r", error
            )
            raise forbidden("cannot decrypt") from None
        return parse_message(plain)

    def _reply(self, request: Request, message: Dict[str, str], content: str) -> HTTPResponse:
        """The HTTP answer: ``success`` for no reply, else a text reply, encrypted in safe mode."""
        if not content:
            return response.text(EMPTY_REPLY)
        xml = text_reply_xml(message, content)
        if self._crypto is not None:
            xml = self._crypto.encrypt_message(xml, request.args.get("nonce", ""))
        return response.text(xml, content_type="application/xml; charset=utf-8")

    async def _answer(self, message: Dict[str, str], on_new_message: OnNewMessage) -> str:
        """The passive reply's text for a message ("" for none), running the bot at most once."""
        # Events have no MsgId; WeChat's own advice is sender + CreateTime.
        key = (
            message.get("MsgId")
            or f"{message['FromUserName']}:{message['CreateTime']}:{message.get('Event', '')}"
        )
        turn: Optional[asyncio.Future] = self._turns.get(key)
        if turn is None:
            msg_type = message["MsgType"].lower()
            if msg_type == "event":
                text = self._event_text(message)
            elif msg_type == "text":
                text = self._chosen_payload(message["FromUserName"], message.get("Content", ""))
            elif msg_type == "voice" and message.get("Recognition", "").strip():
                text = message["Recognition"]
            else:
                return UNSUPPORTED_REPLY
            if text is None:
                return ""
            if not self._state.claim_turn(key, self._turn_ttl):
                return await self._settled_elsewhere(key)
            refusal = self.guard.refusal(NAMESPACE + message["FromUserName"], text)
            if refusal:
                self._state.settle_turn(key, refusal.text)
                return refusal.text
            turn = asyncio.get_running_loop().create_future()
            turn.add_done_callback(
                lambda done: done.cancelled() or self._state.settle_turn(key, done.result()))
            self._turns[key] = turn
            self._start(self._run_turn(turn, message["FromUserName"], text, on_new_message))
        return await asyncio.shield(turn)

    async def _settled_elsewhere(self, key: str) -> str:
        """The reply of a turn another worker process runs, once it has settled on one.

        It settles within ``reply_timeout`` (later answers go through the API);
        if it has not by then, the worker is gone and WeChat gets no reply.
        """
        deadline = time.monotonic() + self.config.reply_timeout + 0.5
        while (reply := self._state.turn_reply(key)) is None and time.monotonic() < deadline:
            await asyncio.sleep(SETTLED_POLL_SECONDS)
        return reply or ""

    def _event_text(self, message: Dict[str, str]) -> Optional[str]:
        """What the bot is told for an event, or None for events it does not care about."""
        event = message.get("Event", "").lower()
        if event == "subscribe":
            return self.config.welcome
        if event == "click" and message.get("EventKey"):
            intent = self.config.menu_intents.get(message["EventKey"], message["EventKey"])
            return "/" + intent.lstrip("/")
        return None

    def _chosen_payload(self, openid: str, text: str) -> str:
        """The payload of the button whose number the user typed, else the text itself."""
        # int() also reads full-width digits (２), which Chinese keyboards often type.
        number = text.strip()
        payloads = self._state.menu(openid)
        if number.isdecimal() and 1 <= int(number) <= len(payloads):
            return payloads[int(number) - 1]
        return text

    def _start(self, coroutine: Awaitable[None]) -> None:
        """Run a turn in the background, keeping a reference so it is not collected early."""
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run_turn(
        self, turn: asyncio.Future, openid: str, text: str, on_new_message: OnNewMessage
    ) -> None:
        """Settle the passive reply within ``reply_timeout``; push a later answer via the API.

        An answer of several messages is pushed even when it is quick, because a
        passive reply holds one message and pushed ones could overtake it.
        """
        bot = asyncio.ensure_future(self._run_bot(openid, text, on_new_message))
        try:
            done, _ = await asyncio.wait({bot}, timeout=self.config.reply_timeout)
            texts = bot.result() if bot in done else None
            if texts is not None and (len(texts) <= 1 or self._api is None):
                turn.set_result(texts[0] if texts else "")
                if len(texts) > 1:
                    logger.warning(
                        "No app_secret for the customer-service API: sent only the first part."
                    )
                return
            turn.set_result("")
            await self._push(openid, await bot)
        finally:
            if not turn.done():
                turn.set_result("")

    async def _run_bot(self, openid: str, text: str, on_new_message: OnNewMessage) -> List[str]:
        """Run the bot once and return its answer as WeChat-sized texts."""
        output = WeChatOutput()
        try:
            await on_new_message(
                UserMessage(text, output, NAMESPACE + openid, input_channel=self.name()))
        except Exception:
            logger.exception("The bot failed on a WeChat message.")
            return [ERROR_REPLY]
        rendered = render_messages(output.messages)
        self._state.set_menu(openid, rendered.button_payloads, self.config.button_ttl)
        return split_text(rendered.text)

    async def _push(self, openid: str, texts: List[str]) -> None:
        """Deliver a late or multi-part answer through the customer-service API."""
        if not texts:
            return
        if self._api is None:
            logger.error(
                "A WeChat answer missed the passive reply and no app_secret is set; dropped."
            )
            return
        await self._api.send_texts(openid, texts)


def _rejected(rejection: RejectedRequest) -> HTTPResponse:
    """Answer a refused request, logging why (the caller only sees the status)."""
    logger.warning("Refused a WeChat callback: %s", rejection.reason)
    return response.text(
        "forbidden" if rejection.status == 403 else "bad request", status=rejection.status
    )
