"""The WeChat official-account channel, driven the way WeChat's servers drive it.

* ``WeChatServer`` plays WeChat's callback servers: it signs (and in safe mode
  encrypts, with wechatpy's own encryptor) each request as documented and posts
  it to the channel, which runs in a real Sanic server on 127.0.0.1.
* ``FakeWeChatAPI`` plays api.weixin.qq.com on 127.0.0.1 (aiohttp, random
  port): it issues access tokens, counts the fetches, and records every
  customer-service message, answering with scripted errcodes.
* ``FakeBot`` replaces Rasa's agent as ``on_new_message``: it records each
  UserMessage and answers through the message's output channel, optionally
  holding the answer until the test releases it (a slow turn). Slow turns use
  a 0.2 s passive-reply timeout; nothing asserts on elapsed time.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import secrets
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, AsyncIterator, Awaitable, Callable, Dict, List, Optional, Tuple

import aiohttp
import pytest
import pytest_asyncio
from aiohttp import web
from aiohttp.test_utils import TestServer
from defusedxml.ElementTree import fromstring
from rasa.core.channels.channel import UserMessage
from rasa.shared.exceptions import RasaException
from sanic import Sanic
from wechatpy.crypto import WeChatCrypto
from wechatpy.utils import WeChatSigner

from bot.channels.guard import (
    MAX_MESSAGE_CHARS,
    RATE_LIMITED_REPLY,
    TOO_LONG_REPLY,
    ChannelGuard,
    RateLimit,
    SQLiteChannelState,
)
from bot.channels.wechat import ERROR_REPLY, UNSUPPORTED_REPLY, WeChatConfig, WeChatInput
from bot.channels.wechat_render import TEXT_LIMIT_BYTES, split_text

TOKEN = "citylinkToken2024"
APP_ID = "wx0123456789abcdef"
APP_SECRET = "test-app-secret"
AES_KEY = base64.b64encode(bytes(range(32))).decode().rstrip("=")
OTHER_AES_KEY = base64.b64encode(bytes(range(32, 64))).decode().rstrip("=")
OPENID = "oUser-0000000000000000000001"
ACCOUNT = "gh_citylink000"
MENU = [
    {"title": "居住证办理", "payload": '/faq{"topic": "residence_permit"}'},
    {"title": "护照办理", "payload": '/faq{"topic": "passport"}'},
]
VIOLATIONS_CARD = {
    "type": "card_list",
    "title": "粤B12345 的违章记录",
    "items": [
        {
            "title": "违反禁令标志指示",
            "subtitle": "2024-11-02 08:41 深南大道与华富路交叉口",
            "fields": [["罚款", "200 元"], ["扣分", "3 分"]],
            "buttons": [{"title": "缴纳罚款", "payload": "/pay_fine"}],
        },
        {
            "title": "机动车违反规定停放",
            "fields": {"罚款": "150 元"},
            "url": "https://example.gov.cn/v/2",
        },
    ],
}

Reply = List[Dict[str, Any]]


# --------------------------------------------------------------------------- #
# WeChat's side of the wire
# --------------------------------------------------------------------------- #


def sign(*parts: str) -> str:
    """WeChat's signature, computed independently of the channel under test."""
    signer = WeChatSigner()
    signer.add_data(*parts)
    return signer.signature


def new_msg_id() -> str:
    """A fresh 64-bit MsgId, as WeChat assigns them."""
    return str(secrets.randbits(63))


def text_xml(content: str, msg_id: Optional[str] = None, openid: str = OPENID) -> str:
    """A text message as WeChat posts it."""
    return message_xml("text", openid=openid, Content=content, MsgId=msg_id or new_msg_id())


def message_xml(
    msg_type: str, openid: str = OPENID, create_time: Optional[int] = None, **fields: str
) -> str:
    """A message or event as WeChat posts it."""
    body = "".join(f"<{name}><![CDATA[{value}]]></{name}>" for name, value in fields.items())
    return (
        f"<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName>"
        f"<FromUserName><![CDATA[{openid}]]></FromUserName>"
        f"<CreateTime>{create_time or int(time.time())}</CreateTime>"
        f"<MsgType><![CDATA[{msg_type}]]></MsgType>{body}</xml>"
    )


def xml_fields(body: str) -> Dict[str, str]:
    """A reply's fields, read the way WeChat reads them."""
    return {child.tag: child.text or "" for child in fromstring(body)}


@dataclass
class Answer:
    """The channel's HTTP answer to one callback."""

    status: int
    text: str

    @property
    def content(self) -> str:
        """The text of a plain passive reply."""
        fields = xml_fields(self.text)
        assert (fields["ToUserName"], fields["FromUserName"], fields["MsgType"]) == (
            OPENID,
            ACCOUNT,
            "text",
        )
        return fields["Content"]


class WeChatServer:
    """WeChat's callback client: signs, optionally encrypts, and posts to the channel."""

    def __init__(
        self, session: aiohttp.ClientSession, url: str, crypto: Optional[WeChatCrypto]
    ) -> None:
        self.session = session
        self.url = url
        self.crypto = crypto
        self._nonces = itertools.count(1000)

    def signed_query(self, timestamp: Optional[int] = None) -> Dict[str, str]:
        """The query WeChat adds to every callback: timestamp, nonce, signature."""
        stamp, nonce = str(timestamp or int(time.time())), str(next(self._nonces))
        return {"timestamp": stamp, "nonce": nonce, "signature": sign(TOKEN, stamp, nonce)}

    async def get(self, query: Dict[str, str]) -> Answer:
        async with self.session.get(self.url, params=query) as response:
            return Answer(response.status, await response.text())

    async def post(self, body: str, query: Optional[Dict[str, str]] = None) -> Answer:
        """POST ``body`` as is: plain mode, or a hand-made forgery."""
        query = self.signed_query() if query is None else query
        async with self.session.post(self.url, params=query, data=body.encode("utf-8")) as response:
            return Answer(response.status, await response.text())

    async def post_encrypted(self, body: str, crypto: Optional[WeChatCrypto] = None) -> Answer:
        """POST ``body`` in safe mode: encrypted by wechatpy, with msg_signature."""
        query = self.signed_query()
        envelope = (crypto or self.crypto).encrypt_message(body, query["nonce"], query["timestamp"])
        query.update(encrypt_type="aes", msg_signature=xml_fields(envelope)["MsgSignature"])
        return await self.post(envelope, query)

    def decrypt(self, answer: Answer) -> Dict[str, str]:
        """Open an encrypted passive reply the way WeChat does, checking its signature."""
        envelope = xml_fields(answer.text)
        plain = self.crypto.decrypt_message(
            answer.text, envelope["MsgSignature"], envelope["TimeStamp"], envelope["Nonce"]
        )
        return xml_fields(plain)


class FakeWeChatAPI:
    """api.weixin.qq.com's token and customer-service endpoints, on loopback."""

    def __init__(self) -> None:
        self.token_fetches = 0
        self.token_lifetime = 7200
        self.issued: List[str] = []
        # Every send attempt: the token it used, its raw body, and the errcode answered.
        self.attempts: List[Dict[str, Any]] = []
        # errcodes for the next send attempts in order ("html" for a broken gateway page); 0 after.
        self.script: List[Any] = []
        self.port = 0

    @property
    def delivered(self) -> List[str]:
        """Texts WeChat accepted (errcode 0), in order."""
        return [
            attempt["json"]["text"]["content"]
            for attempt in self.attempts
            if attempt["errcode"] == 0
        ]

    async def token(self, request: web.Request) -> web.Response:
        credentials = (
            request.query.get("grant_type"),
            request.query.get("appid"),
            request.query.get("secret"),
        )
        if credentials != ("client_credential", APP_ID, APP_SECRET):
            return web.json_response({"errcode": 40013, "errmsg": "invalid appid"})
        self.token_fetches += 1
        await asyncio.sleep(0)  # give concurrent deliveries the chance to race for a token
        self.issued.append(f"ACCESS_TOKEN_{self.token_fetches}")
        return web.json_response(
            {"access_token": self.issued[-1], "expires_in": self.token_lifetime}
        )

    async def send(self, request: web.Request) -> web.Response:
        raw = await request.read()
        token = request.query.get("access_token")
        errcode = self.script.pop(0) if self.script else 0
        if errcode == 0 and token != self.issued[-1]:
            errcode = 40001
        self.attempts.append(
            {"token": token, "raw": raw, "json": json.loads(raw), "errcode": errcode}
        )
        if errcode == "html":
            return web.Response(
                status=502, text="<html>Bad Gateway</html>", content_type="text/html"
            )
        # WeChat labels its JSON text/plain.
        return web.Response(
            text=json.dumps({"errcode": errcode, "errmsg": "ok"}), content_type="text/plain"
        )


class FakeBot:
    """``on_new_message`` for the channel: records turns, answers via the output channel."""

    def __init__(self, answer: Callable[[str], Reply]) -> None:
        self.answer = answer
        self.messages: List[UserMessage] = []
        self.gate: Optional[asyncio.Event] = None

    def hold(self) -> asyncio.Event:
        """Make turns wait until the returned event is set."""
        self.gate = asyncio.Event()
        return self.gate

    @property
    def texts(self) -> List[str]:
        return [message.text or "" for message in self.messages]

    async def __call__(self, message: UserMessage) -> None:
        self.messages.append(message)
        if self.gate is not None:
            await self.gate.wait()
        for reply in self.answer(message.text or ""):
            await message.output_channel.send_response(message.sender_id, dict(reply))


async def until(condition: Callable[[], bool]) -> None:
    """Wait, without a clock, until ``condition`` holds (callers bound it with wait_for)."""
    while not condition():
        await asyncio.sleep(0.01)


def says(text: str) -> FakeBot:
    """A bot that always answers ``text``."""
    return FakeBot(lambda _: [{"text": text}])


StartChannel = Callable[..., Awaitable[Tuple[WeChatInput, WeChatServer]]]


@pytest_asyncio.fixture
async def wechat_api() -> AsyncIterator[FakeWeChatAPI]:
    api = FakeWeChatAPI()
    app = web.Application()
    app.router.add_get("/cgi-bin/token", api.token)
    app.router.add_post("/cgi-bin/message/custom/send", api.send)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    api.port = server.port
    yield api
    await server.close()


_app_names = itertools.count()


@pytest_asyncio.fixture
async def start_channel(
    wechat_api: FakeWeChatAPI, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> AsyncIterator[StartChannel]:
    """Starts the channel in a real Sanic server; settings are its credentials.yml section.

    The API base URL points at the fake WeChat API and retries do not wait.
    Channels started in one test share their state file, like the bot's
    worker processes: two channels are two workers.
    """
    # Sanic rewrites its protocol class on each app's startup; test mode lets
    # several apps start in one process, as Sanic's own test client does.
    monkeypatch.setattr(Sanic, "test_mode", True)
    servers = []
    session = aiohttp.ClientSession()

    async def start(bot: FakeBot, guard: Optional[ChannelGuard] = None,
                    **settings: Any) -> Tuple[WeChatInput, WeChatServer]:
        credentials = {
            "token": TOKEN,
            "app_id": APP_ID,
            "app_secret": APP_SECRET,
            "api_base_url": f"http://127.0.0.1:{wechat_api.port}",
            "retry_delay": 0,
            "state_path": str(tmp_path / "wechat.db"),
            **settings,
        }
        # No rate limit unless a test sets one (tests/channels/test_limits.py).
        guard = guard or ChannelGuard(SQLiteChannelState(tmp_path / "channels.db"),
                                      RateLimit(0, 60))
        channel = WeChatInput(WeChatConfig.from_credentials(credentials, environ={}), guard)
        app = Sanic(f"wechat_test_{next(_app_names)}")
        # The URL rasa run gives the channel: /webhooks/<url_prefix>/webhook.
        app.blueprint(channel.blueprint(bot), url_prefix=f"/webhooks/{channel.url_prefix()}")
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        server = await app.create_server(sock=sock, return_asyncio_server=True, access_log=False)
        await server.startup()
        servers.append(server)
        crypto = WeChatCrypto(TOKEN, AES_KEY, APP_ID) if settings.get("encoding_aes_key") else None
        url = f"http://127.0.0.1:{sock.getsockname()[1]}/webhooks/wechat/webhook"
        return channel, WeChatServer(session, url, crypto)

    yield start
    await session.close()
    for server in servers:
        await server.before_stop()  # the channel's listener drains running turns here
        server.close()
        await server.wait_closed()


# --------------------------------------------------------------------------- #
# Signatures, replay window, safe mode
# --------------------------------------------------------------------------- #


@pytest.mark.asyncio
async def test_url_verification_echoes_echostr(start_channel: StartChannel) -> None:
    _, wechat = await start_channel(says("unused"))
    answer = await wechat.get({**wechat.signed_query(), "echostr": "5837397749290474421"})
    assert (answer.status, answer.text) == (200, "5837397749290474421")


@pytest.mark.asyncio
async def test_url_verification_with_wrong_token_is_forbidden(start_channel: StartChannel) -> None:
    _, wechat = await start_channel(says("unused"))
    query = wechat.signed_query()
    query["signature"] = sign("someone-elses-token", query["timestamp"], query["nonce"])
    answer = await wechat.get({**query, "echostr": "123"})
    assert answer.status == 403
    assert "123" not in answer.text


@pytest.mark.asyncio
async def test_text_message_gets_passive_reply_from_the_bot(start_channel: StartChannel) -> None:
    bot = says("您好，我是城市服务助手。")
    _, wechat = await start_channel(bot)
    answer = await wechat.post(text_xml("你好"))
    assert answer.status == 200
    assert answer.content == "您好，我是城市服务助手。"
    [message] = bot.messages
    assert (message.text, message.sender_id, message.input_channel) == ("你好", "wechat:" + OPENID, "wechat")
    assert message.output_channel.name() == "wechat"


@pytest.mark.parametrize(
    "forge",
    [
        lambda query: {**query, "signature": "0" * 40},
        lambda query: {key: value for key, value in query.items() if key != "signature"},
        lambda query: {**query, "nonce": query["nonce"] + "1"},
    ],
    ids=["wrong-signature", "no-signature", "tampered-nonce"],
)
@pytest.mark.asyncio
async def test_forged_post_is_forbidden_and_never_reaches_the_bot(
    start_channel: StartChannel, forge: Any
) -> None:
    bot = says("不应出现")
    _, wechat = await start_channel(bot)
    answer = await wechat.post(text_xml("你好"), forge(wechat.signed_query()))
    assert answer.status == 403
    assert bot.messages == []


@pytest.mark.asyncio
async def test_without_a_token_every_callback_is_refused(start_channel: StartChannel) -> None:
    # credentials.yml is shared: a machine without WECHAT_TOKEN still starts the
    # bot, but its WeChat endpoint authenticates nothing and lets nothing in.
    bot = says("不应出现")
    _, wechat = await start_channel(bot, token=None)
    stamp = str(int(time.time()))
    unsigned = {"timestamp": stamp, "nonce": "1", "signature": sign("", stamp, "1")}
    assert (await wechat.get({**unsigned, "echostr": "1"})).status == 403
    assert (await wechat.post(text_xml("你好"), unsigned)).status == 403
    assert bot.messages == []


@pytest.mark.asyncio
async def test_stale_timestamp_is_refused_as_replay(start_channel: StartChannel) -> None:
    bot = says("不应出现")
    _, wechat = await start_channel(bot)
    stale = wechat.signed_query(timestamp=int(time.time()) - 1000)
    assert (await wechat.post(text_xml("你好"), stale)).status == 403
    assert (await wechat.get({**stale, "echostr": "1"})).status == 403
    assert bot.messages == []


@pytest.mark.asyncio
async def test_replay_window_is_configurable(start_channel: StartChannel) -> None:
    bot = says("收到")
    _, wechat = await start_channel(bot, max_timestamp_age=3600)
    answer = await wechat.post(
        text_xml("你好"), wechat.signed_query(timestamp=int(time.time()) - 1000)
    )
    assert answer.content == "收到"


@pytest.mark.asyncio
async def test_safe_mode_decrypts_message_and_encrypts_reply(start_channel: StartChannel) -> None:
    bot = says("已为您查询到 2 条记录。")
    _, wechat = await start_channel(bot, encoding_aes_key=AES_KEY)
    answer = await wechat.post_encrypted(text_xml("查违章"))
    assert answer.status == 200
    assert "已为您" not in answer.text  # the reply travels encrypted
    reply = wechat.decrypt(answer)
    assert (reply["ToUserName"], reply["FromUserName"], reply["Content"]) == (
        OPENID,
        ACCOUNT,
        "已为您查询到 2 条记录。",
    )
    assert bot.texts == ["查违章"]


@pytest.mark.asyncio
async def test_safe_mode_refuses_plain_bodies(start_channel: StartChannel) -> None:
    # In plain mode the signature covers only the URL, so a captured URL could
    # carry any body; with a key configured, only encrypted bodies count.
    bot = says("不应出现")
    _, wechat = await start_channel(bot, encoding_aes_key=AES_KEY)
    assert (await wechat.post(text_xml("你好"))).status == 403
    assert bot.messages == []


@pytest.mark.asyncio
async def test_safe_mode_refuses_wrong_msg_signature(start_channel: StartChannel) -> None:
    bot = says("不应出现")
    _, wechat = await start_channel(bot, encoding_aes_key=AES_KEY)
    query = wechat.signed_query()
    envelope = wechat.crypto.encrypt_message(text_xml("你好"), query["nonce"], query["timestamp"])
    answer = await wechat.post(
        envelope, {**query, "encrypt_type": "aes", "msg_signature": "f" * 40}
    )
    assert answer.status == 403
    assert bot.messages == []


@pytest.mark.asyncio
async def test_safe_mode_with_a_different_key_is_refused_without_crashing(
    start_channel: StartChannel,
) -> None:
    bot = says("您好")
    _, wechat = await start_channel(bot, encoding_aes_key=AES_KEY)
    answer = await wechat.post_encrypted(
        text_xml("你好"), crypto=WeChatCrypto(TOKEN, OTHER_AES_KEY, APP_ID)
    )
    assert answer.status == 403
    assert bot.messages == []
    assert wechat.decrypt(await wechat.post_encrypted(text_xml("你好")))["Content"] == "您好"


@pytest.mark.parametrize(
    "body",
    [
        "<xml><ToUserName><![CDATA[gh_x]]></ToUserName>",
        "not xml at all",
        '<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY a "aaaaaaaaaa">'
        '<!ENTITY b "&a;&a;&a;&a;&a;&a;">]>'
        "<xml><Content>&b;</Content></xml>",
        "<message><MsgType>text</MsgType></message>",
        "<xml><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[缺少发送者]]></Content></xml>",
    ],
    ids=["truncated", "not-xml", "entity-expansion", "wrong-root", "missing-fields"],
)
@pytest.mark.asyncio
async def test_malformed_xml_is_a_400_and_the_channel_keeps_working(
    start_channel: StartChannel, body: str
) -> None:
    bot = says("您好")
    _, wechat = await start_channel(bot)
    assert (await wechat.post(body)).status == 400
    assert bot.messages == []
    assert (await wechat.post(text_xml("你好"))).content == "您好"


@pytest.mark.asyncio
async def test_reply_text_cannot_break_out_of_the_xml(start_channel: StartChannel) -> None:
    sneaky = "编号]]></Content><MsgType>news</MsgType><Content><![CDATA[x & y"
    _, wechat = await start_channel(says(sneaky))
    assert (await wechat.post(text_xml("你好"))).content == sneaky


# --------------------------------------------------------------------------- #
# Message kinds
# --------------------------------------------------------------------------- #


@pytest.mark.parametrize(
    "body",
    [
        message_xml("image", PicUrl="http://mmbiz.qpic.cn/x.jpg", MediaId="m1", MsgId="1001"),
        message_xml("location", Location_X="23.1", Location_Y="113.3", Label="广州", MsgId="1002"),
        message_xml("voice", MediaId="m2", Format="amr", MsgId="1003"),
    ],
    ids=["image", "location", "voice-without-recognition"],
)
@pytest.mark.asyncio
async def test_non_text_messages_get_a_polite_text_reply(
    start_channel: StartChannel, body: str
) -> None:
    bot = says("不应出现")
    _, wechat = await start_channel(bot)
    answer = await wechat.post(body)
    assert answer.content == UNSUPPORTED_REPLY
    assert "目前只能处理文字消息" in UNSUPPORTED_REPLY
    assert bot.messages == []


@pytest.mark.asyncio
async def test_voice_with_recognition_is_handled_as_text(start_channel: StartChannel) -> None:
    bot = says("明天广州晴。")
    _, wechat = await start_channel(bot)
    body = message_xml(
        "voice", MediaId="m3", Format="amr", Recognition="明天广州天气怎么样", MsgId=new_msg_id()
    )
    assert (await wechat.post(body)).content == "明天广州晴。"
    assert bot.texts == ["明天广州天气怎么样"]


@pytest.mark.asyncio
async def test_subscribe_event_sends_the_welcome_trigger(start_channel: StartChannel) -> None:
    bot = says("欢迎关注城市服务助手！")
    _, wechat = await start_channel(bot)
    answer = await wechat.post(message_xml("event", Event="subscribe", EventKey=""))
    assert answer.content == "欢迎关注城市服务助手！"
    assert bot.texts == ["/greet"]


@pytest.mark.asyncio
async def test_welcome_trigger_is_configurable(start_channel: StartChannel) -> None:
    bot = says("欢迎")
    _, wechat = await start_channel(bot, welcome="/help")
    await wechat.post(message_xml("event", Event="subscribe"))
    assert bot.texts == ["/help"]


@pytest.mark.asyncio
async def test_menu_clicks_become_intents(start_channel: StartChannel) -> None:
    bot = says("好的")
    _, wechat = await start_channel(bot, menu_intents={"MENU_BUS": "query_bus"})
    now = int(time.time())
    await wechat.post(message_xml("event", create_time=now, Event="CLICK", EventKey="MENU_BUS"))
    await wechat.post(message_xml("event", create_time=now + 1, Event="CLICK", EventKey="help"))
    assert bot.texts == ["/query_bus", "/help"]


@pytest.mark.asyncio
async def test_events_the_bot_does_not_handle_get_an_empty_reply(
    start_channel: StartChannel,
) -> None:
    bot = says("不应出现")
    _, wechat = await start_channel(bot)
    for event in ("unsubscribe", "VIEW", "LOCATION"):
        answer = await wechat.post(
            message_xml("event", Event=event, EventKey="https://example.gov.cn")
        )
        assert (answer.status, answer.text) == (200, "success")
    assert bot.messages == []


@pytest.mark.asyncio
async def test_bot_failure_gets_an_apology(start_channel: StartChannel) -> None:
    def broken(_: str) -> Reply:
        raise RuntimeError("action server down")

    _, wechat = await start_channel(FakeBot(broken))
    assert (await wechat.post(text_xml("查电费"))).content == ERROR_REPLY


# --------------------------------------------------------------------------- #
# WeChat's retries: each message reaches the bot once
# --------------------------------------------------------------------------- #


@pytest.mark.asyncio
async def test_replayed_msg_id_reaches_the_bot_once_and_gets_the_same_reply(
    start_channel: StartChannel,
) -> None:
    bot = says("您的公积金余额为 12345 元。")
    _, wechat = await start_channel(bot)
    body = text_xml("公积金余额", msg_id="6054768590064713728")
    first, retry = await wechat.post(body), await wechat.post(body)
    assert first.content == retry.content == "您的公积金余额为 12345 元。"
    assert bot.texts == ["公积金余额"]
    other = await wechat.post(text_xml("公积金余额", msg_id="6054768590064713729"))
    assert other.content == first.content
    assert len(bot.messages) == 2


@pytest.mark.asyncio
async def test_repeated_event_reaches_the_bot_once(start_channel: StartChannel) -> None:
    bot = says("欢迎")
    _, wechat = await start_channel(bot)
    body = message_xml("event", create_time=int(time.time()), Event="subscribe")
    await wechat.post(body)
    await wechat.post(body)
    assert bot.texts == ["/greet"]


@pytest.mark.asyncio
async def test_retry_while_the_bot_is_still_thinking_does_not_rerun_it(
    start_channel: StartChannel, wechat_api: FakeWeChatAPI
) -> None:
    bot = says("您的挂号已确认：明天 9:00 儿科。")
    channel, wechat = await start_channel(bot, reply_timeout=0.2)
    release = bot.hold()
    body = text_xml("我挂的号是几点")
    first, retry = await asyncio.gather(wechat.post(body), wechat.post(body))
    assert (first.text, retry.text) == ("success", "success")
    release.set()
    await channel.drain()
    late_retry = await wechat.post(body)
    assert late_retry.text == "success"
    assert bot.texts == ["我挂的号是几点"]
    assert wechat_api.delivered == ["您的挂号已确认：明天 9:00 儿科。"]
    assert len(wechat_api.attempts) == 1


# --------------------------------------------------------------------------- #
# The 5-second rule: late answers go through the customer-service API
# --------------------------------------------------------------------------- #


@pytest.mark.asyncio
async def test_slow_turn_answers_once_through_the_customer_service_api(
    start_channel: StartChannel, wechat_api: FakeWeChatAPI
) -> None:
    bot = says("您的居住证已办好，请到派出所领取。")
    channel, wechat = await start_channel(bot, reply_timeout=0.2)
    release = bot.hold()
    answer = await wechat.post(text_xml("居住证办好了吗"))
    assert (answer.status, answer.text) == (200, "success")
    assert wechat_api.attempts == []
    release.set()
    await channel.drain()
    [attempt] = wechat_api.attempts
    assert attempt["json"] == {
        "touser": OPENID,
        "msgtype": "text",
        "text": {"content": "您的居住证已办好，请到派出所领取。"},
    }
    assert attempt["errcode"] == 0
    assert "居住证".encode("utf-8") in attempt["raw"]  # UTF-8 on the wire, not \u escapes
    assert wechat_api.token_fetches == 1


@pytest.mark.asyncio
async def test_long_answer_is_split_into_messages_on_line_boundaries(
    start_channel: StartChannel, wechat_api: FakeWeChatAPI
) -> None:
    guide = "\n".join(
        f"第{n}步：携带身份证原件及复印件到街道办事处窗口办理。" for n in range(1, 60)
    )
    assert len(guide.encode("utf-8")) > 2 * TEXT_LIMIT_BYTES
    channel, wechat = await start_channel(says(guide))
    answer = await wechat.post(text_xml("居住证怎么办"))
    assert answer.text == "success"  # a passive reply holds only one message
    await channel.drain()
    parts = wechat_api.delivered
    assert len(parts) >= 3
    assert all(len(part.encode("utf-8")) <= TEXT_LIMIT_BYTES for part in parts)
    assert "\n".join(parts) == guide
    assert wechat_api.token_fetches == 1


@pytest.mark.asyncio
async def test_busy_errors_are_retried_without_duplicating_accepted_parts(
    start_channel: StartChannel, wechat_api: FakeWeChatAPI
) -> None:
    guide = "\n".join(f"第{n}项：请按提示准备材料，并在工作日到窗口办理。" for n in range(1, 40))
    channel, wechat = await start_channel(says(guide))
    wechat_api.script = [0, -1, -1, 0]
    await wechat.post(text_xml("办事指南"))
    await channel.drain()
    assert wechat_api.delivered == split_text(guide)
    assert len(set(wechat_api.delivered)) == len(wechat_api.delivered) == 2
    assert [attempt["errcode"] for attempt in wechat_api.attempts] == [0, -1, -1, 0]


@pytest.mark.asyncio
async def test_expired_token_is_refreshed_and_the_message_sent_once(
    start_channel: StartChannel, wechat_api: FakeWeChatAPI
) -> None:
    wechat_api.script = [42001]
    bot = says("已受理，工单号 GZ20240001。")
    channel, wechat = await start_channel(bot, reply_timeout=0.2)
    release = bot.hold()
    await wechat.post(text_xml("路灯坏了"))
    release.set()
    await channel.drain()
    assert wechat_api.token_fetches == 2
    assert wechat_api.delivered == ["已受理，工单号 GZ20240001。"]
    assert [attempt["token"] for attempt in wechat_api.attempts] == [
        "ACCESS_TOKEN_1",
        "ACCESS_TOKEN_2",
    ]


@pytest.mark.asyncio
async def test_an_uncertain_send_is_not_resent(
    start_channel: StartChannel, wechat_api: FakeWeChatAPI
) -> None:
    # A gateway error page says nothing about whether WeChat took the message:
    # resending could show it twice, so the channel gives up instead.
    guide = "\n".join(f"第{n}项：请按提示准备材料。" for n in range(1, 200))
    channel, wechat = await start_channel(says(guide))
    wechat_api.script = ["html"]
    await wechat.post(text_xml("办事指南"))
    await channel.drain()
    assert len(wechat_api.attempts) == 1
    assert wechat_api.delivered == []


@pytest.mark.parametrize(("lifetime", "fetches"), [(7200, 1), (0, 2)])
@pytest.mark.asyncio
async def test_access_token_is_cached_until_shortly_before_expiry(
    start_channel: StartChannel, wechat_api: FakeWeChatAPI, lifetime: int, fetches: int
) -> None:
    wechat_api.token_lifetime = lifetime
    bot = says("稍等结果")
    channel, wechat = await start_channel(bot, reply_timeout=0.2)
    for question in ("问题一", "问题二"):
        release = bot.hold()
        await wechat.post(text_xml(question))
        release.set()
        await channel.drain()
    assert wechat_api.delivered == ["稍等结果", "稍等结果"]
    assert wechat_api.token_fetches == fetches


@pytest.mark.asyncio
async def test_concurrent_deliveries_fetch_the_token_once(
    start_channel: StartChannel, wechat_api: FakeWeChatAPI
) -> None:
    bot = says("结果如下")
    channel, wechat = await start_channel(bot, reply_timeout=0.2)
    release = bot.hold()
    users = [f"oUser-{n:024d}" for n in range(5)]
    await asyncio.gather(*(wechat.post(text_xml("查询", openid=user)) for user in users))
    release.set()
    await channel.drain()
    assert sorted(attempt["json"]["touser"] for attempt in wechat_api.attempts) == users
    assert wechat_api.token_fetches == 1


# --------------------------------------------------------------------------- #
# Buttons and cards as text
# --------------------------------------------------------------------------- #


@pytest.mark.asyncio
async def test_buttons_become_a_numbered_menu_answered_by_number(
    start_channel: StartChannel,
) -> None:
    def answer(text: str) -> Reply:
        if text.startswith("/faq"):
            return [{"text": f"办理指南：{text}"}]
        return [{"text": "请问您要办理哪项业务？", "buttons": MENU}]

    bot = FakeBot(answer)
    _, wechat = await start_channel(bot)
    menu = await wechat.post(text_xml("我要办证"))
    assert menu.content == "请问您要办理哪项业务？\n回复 1 居住证办理\n回复 2 护照办理"
    assert (await wechat.post(text_xml("3"))).content.startswith(
        "请问"
    )  # not on the menu: plain text
    chosen = await wechat.post(text_xml("２"))  # full-width digit, as Chinese keyboards type it
    assert chosen.content == '办理指南：/faq{"topic": "passport"}'
    await wechat.post(text_xml("1"))  # the last answer had no menu, so "1" is just text
    assert bot.texts == ["我要办证", "3", '/faq{"topic": "passport"}', "1"]


@pytest.mark.asyncio
async def test_menus_are_remembered_per_user(start_channel: StartChannel) -> None:
    bot = FakeBot(
        lambda text: [{"text": "请选择", "buttons": MENU}] if text == "菜单" else [{"text": "好"}]
    )
    _, wechat = await start_channel(bot)
    await wechat.post(text_xml("菜单"))
    await wechat.post(text_xml("1", openid="oUser-someone-else"))
    await wechat.post(text_xml("1"))
    assert bot.texts == ["菜单", "1", '/faq{"topic": "residence_permit"}']


@pytest.mark.asyncio
async def test_custom_card_becomes_readable_text(start_channel: StartChannel) -> None:
    bot = FakeBot(lambda text: [{"text": "查到 2 条违章记录："}, {"custom": VIOLATIONS_CARD}])
    _, wechat = await start_channel(bot)
    content = (await wechat.post(text_xml("查违章"))).content
    assert content.split("\n") == [
        "查到 2 条违章记录：",
        "",
        "粤B12345 的违章记录",
        "1. 违反禁令标志指示",
        "   2024-11-02 08:41 深南大道与华富路交叉口",
        "   罚款：200 元",
        "   扣分：3 分",
        "   回复 1 缴纳罚款",
        "2. 机动车违反规定停放",
        "   罚款：150 元",
        "   链接：https://example.gov.cn/v/2",
    ]
    await wechat.post(text_xml("1"))
    assert bot.texts[-1] == "/pay_fine"


# --------------------------------------------------------------------------- #
# Configuration and text splitting
# --------------------------------------------------------------------------- #


def test_environment_overrides_credentials() -> None:
    environ = {
        "WECHAT_TOKEN": "from-env",
        "WECHAT_ENCODING_AES_KEY": AES_KEY,
        "WECHAT_APP_ID": "wxenv",
        "WECHAT_APP_SECRET": "env-secret",
        "WECHAT_API_BASE_URL": "http://127.0.0.1:9",
    }
    config = WeChatConfig.from_credentials(
        {"token": "from-file", "app_id": "wxfile", "reply_timeout": 3}, environ
    )
    assert (
        config.token,
        config.encoding_aes_key,
        config.app_id,
        config.app_secret,
        config.api_base_url,
    ) == (
        "from-env",
        AES_KEY,
        "wxenv",
        "env-secret",
        "http://127.0.0.1:9",
    )
    assert config.reply_timeout == 3
    assert (
        WeChatConfig.from_credentials({"token": "t", "app_id": None}, {}).api_base_url
        == "https://api.weixin.qq.com"
    )


@pytest.mark.parametrize(
    "credentials",
    [{"token": "t", "unknown_key": 1}, {"token": "t", "encoding_aes_key": AES_KEY}],
    ids=["typo", "aes-without-app-id"],
)
def test_incomplete_or_mistyped_settings_fail_at_startup(
    credentials: Optional[Dict[str, Any]]
) -> None:
    with pytest.raises(RasaException):
        WeChatConfig.from_credentials(credentials, {})


def test_a_wrong_length_aes_key_fails_at_startup() -> None:
    with pytest.raises(RasaException):
        WeChatInput(WeChatConfig(token="t", encoding_aes_key="tooshort", app_id=APP_ID))


def test_split_text_cuts_an_overlong_line_between_characters() -> None:
    line = "长" * 1000 + "🙂" * 200
    parts = split_text(line)
    assert "".join(parts) == line
    assert all(len(part.encode("utf-8")) <= TEXT_LIMIT_BYTES for part in parts)
    assert split_text("短消息\n\n第二段") == ["短消息\n\n第二段"]
    assert split_text("  \n ") == []


# --------------------------------------------------------------------------- #
# Several bot worker processes: two channels sharing one state file
# --------------------------------------------------------------------------- #


@pytest.mark.asyncio
async def test_a_retry_reaching_another_worker_gets_the_same_reply_and_runs_nothing(
    start_channel: StartChannel,
) -> None:
    bot = says("粤B12345 共 2 条违章。")
    _, worker_a = await start_channel(bot)
    channel_b, worker_b = await start_channel(bot)
    waiting = asyncio.Event()
    settled_elsewhere = channel_b._settled_elsewhere

    async def observed(key: str) -> str:
        waiting.set()  # worker B found the turn claimed by A and waits for its reply
        return await settled_elsewhere(key)

    channel_b._settled_elsewhere = observed  # type: ignore[method-assign]
    release = bot.hold()
    body = text_xml("查违章粤B12345")
    first = asyncio.ensure_future(worker_a.post(body))
    await asyncio.wait_for(until(lambda: bot.texts == ["查违章粤B12345"]), 30)  # A runs the turn
    retry = asyncio.ensure_future(worker_b.post(body))
    await asyncio.wait_for(waiting.wait(), 30)
    assert not retry.done()  # the bot is held: nothing can have settled yet
    release.set()
    assert (await first).content == (await retry).content == "粤B12345 共 2 条违章。"
    assert (await worker_b.post(body)).content == "粤B12345 共 2 条违章。"
    assert bot.texts == ["查违章粤B12345"]


@pytest.mark.asyncio
async def test_a_slow_turn_is_answered_empty_by_every_worker_and_pushed_once(
    start_channel: StartChannel, wechat_api: FakeWeChatAPI
) -> None:
    bot = says("您的居住证已办好，请到派出所领取。")
    channel_a, worker_a = await start_channel(bot, reply_timeout=0.2)
    _, worker_b = await start_channel(bot, reply_timeout=0.2)
    release = bot.hold()
    body = text_xml("居住证办好了吗")
    assert (await worker_a.post(body)).text == "success"
    assert (await worker_b.post(body)).text == "success"
    release.set()
    await channel_a.drain()
    assert wechat_api.delivered == ["您的居住证已办好，请到派出所领取。"]
    assert bot.texts == ["居住证办好了吗"]


@pytest.mark.asyncio
async def test_a_menu_shown_by_one_worker_is_answered_by_number_on_another(
    start_channel: StartChannel,
) -> None:
    bot = FakeBot(lambda text: [{"text": "请选择", "buttons": MENU}] if text == "菜单"
                  else [{"text": "好"}])
    _, worker_a = await start_channel(bot)
    _, worker_b = await start_channel(bot)
    await worker_a.post(text_xml("菜单"))
    await worker_b.post(text_xml("2"))
    assert bot.texts == ["菜单", '/faq{"topic": "passport"}']


@pytest.mark.asyncio
async def test_workers_share_one_access_token(
    start_channel: StartChannel, wechat_api: FakeWeChatAPI
) -> None:
    bot = says("您的居住证已办好，请到派出所领取。")
    for text in ("居住证办好了吗", "护照呢"):  # one slow turn on each worker, one after the other
        channel, worker = await start_channel(bot, reply_timeout=0.2)
        release = bot.hold()
        assert (await worker.post(text_xml(text))).text == "success"
        release.set()
        await channel.drain()
    assert wechat_api.delivered == ["您的居住证已办好，请到派出所领取。"] * 2
    assert wechat_api.token_fetches == 1


# --------------------------------------------------------------------------- #
# Limits (bot/channels/guard.py): length cap and per-conversation rate
# --------------------------------------------------------------------------- #
@pytest.mark.asyncio
async def test_a_too_long_message_is_answered_politely_without_the_bot(
    start_channel: StartChannel,
) -> None:
    bot = says("好的")
    _, wechat = await start_channel(bot)
    answer = await wechat.post(text_xml("长" * (MAX_MESSAGE_CHARS + 1)))
    assert answer.content == TOO_LONG_REPLY
    assert bot.messages == []


@pytest.mark.asyncio
async def test_a_user_over_the_rate_hears_please_try_later_once_per_message(
    start_channel: StartChannel, tmp_path: Path
) -> None:
    bot = says("好的")
    # A day-long window: windows are aligned to the clock, and a test never crosses one.
    guard = ChannelGuard(SQLiteChannelState(tmp_path / "limited.db"), RateLimit(2, 86400))
    _, worker_a = await start_channel(bot, guard=guard)
    _, worker_b = await start_channel(bot, guard=guard)
    assert (await worker_a.post(text_xml("一"))).content == "好的"
    assert (await worker_b.post(text_xml("二"))).content == "好的"
    third = text_xml("三")
    assert (await worker_a.post(third)).content == RATE_LIMITED_REPLY
    # WeChat's retry of that message gets the same answer and counts no further.
    assert (await worker_b.post(third)).content == RATE_LIMITED_REPLY
    assert bot.texts == ["一", "二"]
