"""The handoff on WeChat, end to end: WeChat's callbacks (signed as WeChat signs them) reach a
real bot with two workers, a staff member works in the console in a real browser, and every
message to the citizen arrives at the simulated WeChat API (tests/channels/test_wechat.py
FakeWeChatAPI, run here in a thread) as a customer-service message. A send WeChat refuses is
reported in the console and not stored as said.

Its own small stack (actions, bot, console; no simulator or gateway), because the bot needs the
WeChat credentials pointing at the simulated API.
"""
from __future__ import annotations

import asyncio
import secrets
import threading
import time
import urllib.request
from typing import Any, Iterator, List
from urllib.parse import urlencode

import pytest
from aiohttp import web
from playwright.sync_api import Page, expect

from tests.channels.test_wechat import (
    APP_ID,
    APP_SECRET,
    OPENID,
    TOKEN,
    FakeWeChatAPI,
    sign,
    text_xml,
    xml_fields,
)
from tests.conftest import _BASE, MODEL
from tests.console.conftest import ACCOUNTS, create_account, sign_in
from tests.console.conftest import Console as ConsoleInfo
from tools.stack import Stack, services, stack_environment

PORTS = {"bot_port": _BASE + 105, "actions_port": _BASE + 155, "citysim_port": _BASE + 180}
CONSOLE_PORT = _BASE + 190
SENDER = f"wechat:{OPENID}"
DELIVERY_S = 60.0


class ThreadedWeChat:
    """FakeWeChatAPI served from its own thread and event loop (the browser test is sync)."""

    def __init__(self) -> None:
        self.api = FakeWeChatAPI()
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self) -> None:
        asyncio.set_event_loop(self.loop)
        app = web.Application()
        app.router.add_get("/cgi-bin/token", self.api.token)
        app.router.add_post("/cgi-bin/message/custom/send", self.api.send)
        runner = web.AppRunner(app)
        self.loop.run_until_complete(runner.setup())
        site = web.TCPSite(runner, "127.0.0.1", 0)
        self.loop.run_until_complete(site.start())
        self.api.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.ready.set()
        self.loop.run_forever()

    def start(self) -> "ThreadedWeChat":
        self.thread.start()
        self.ready.wait(10)
        return self

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)

    def delivered(self) -> List[str]:
        return list(self.api.delivered)


@pytest.fixture(scope="module")
def wechat() -> Iterator[ThreadedWeChat]:
    fake = ThreadedWeChat().start()
    yield fake
    fake.stop()


@pytest.fixture(scope="module")
def wechat_stack(wechat: ThreadedWeChat, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    if not MODEL.exists():
        pytest.fail("没有训练好的模型：请用 make test 运行（它会先训练）")
    tmp = tmp_path_factory.mktemp("wechat-handoff")
    env = stack_environment(PORTS["actions_port"], PORTS["citysim_port"], tracker_db=tmp / "tracker.db")
    env.update(WECHAT_TOKEN=TOKEN, WECHAT_APP_ID=APP_ID, WECHAT_APP_SECRET=APP_SECRET,
               WECHAT_API_BASE_URL=f"http://127.0.0.1:{wechat.api.port}", SANIC_WORKERS="2",
               CITYLINK_RATE_CONVERSATION="0")
    for name in ("staff1", "admin1"):
        assert create_account(env, name, ACCOUNTS[name]).returncode == 0
    svc = services(model=str(MODEL), console_port=CONSOLE_PORT, **PORTS)
    with Stack(env=env, log_dir=tmp / "log") as stack:
        stack.start(svc["actions"])
        stack.start(svc["bot"], timeout=300)
        stack.start(svc["console"])
        yield ConsoleInfo(f"http://127.0.0.1:{CONSOLE_PORT}", f"sqlite:///{tmp / 'tracker.db'}", env)


def callback(text: str) -> str:
    """The citizen writes on WeChat: a signed callback to the bot; its passive reply's text."""
    stamp, nonce = str(int(time.time())), str(secrets.randbelow(10**9))
    query = urlencode({"timestamp": stamp, "nonce": nonce, "signature": sign(TOKEN, stamp, nonce)})
    request = urllib.request.Request(
        f"http://127.0.0.1:{PORTS['bot_port']}/webhooks/wechat/webhook?{query}",
        data=text_xml(text).encode("utf-8"), method="POST")
    with urllib.request.urlopen(request, timeout=30) as answer:
        body = answer.read().decode("utf-8")
    return "" if body == "success" else xml_fields(body).get("Content", "")


def reached(wechat: ThreadedWeChat, passive: str, words: str) -> bool:
    """`words` reached the citizen: in the passive reply, or (a slow turn, a push) through the
    customer-service API within DELIVERY_S."""
    deadline = time.monotonic() + DELIVERY_S
    while words not in passive and not any(words in t for t in wechat.delivered()):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


def test_staff_answer_a_wechat_citizen_through_the_customer_service_api(
        wechat: ThreadedWeChat, wechat_stack: ConsoleInfo, page: Page) -> None:
    assert reached(wechat, callback("转人工"), "已为您登记转人工")

    sign_in(page, wechat_stack, "staff1")
    page.goto(f"{wechat_stack.url}/handoff")
    row = page.locator(f"#queue tr[data-sender='{SENDER}']")
    expect(row).to_contain_text("wechat")
    row.locator("a.open").click()
    page.locator("#claim button").click()
    expect(page.locator("#holder")).to_contain_text("staff1")
    assert reached(wechat, "", "已接入您的对话")
    expect(page.locator("#wechat-window")).to_contain_text("已发 1/20 条")

    # The bot is paused: the citizen's message gets no passive reply, staff see it.
    assert callback("我的罚单金额不对") == ""
    expect(page.locator("#log .bubble.citizen").last).to_contain_text("我的罚单金额不对")

    page.locator("#reply-text").fill("请把车牌号发给我，我来核实。")
    page.locator("#reply button[type=submit]").click()
    assert reached(wechat, "", "请把车牌号发给我，我来核实。")
    expect(page.locator("#log .bubble.agent").last).to_contain_text("请把车牌号发给我")

    # WeChat refuses (as past its window): the console says so and nothing is stored as said.
    wechat.api.script = [45015]
    page.locator("#reply-text").fill("这条微信不会收下。")
    page.locator("#reply button[type=submit]").click()
    expect(page.locator("#error")).to_contain_text("消息未送达")
    expect(page.locator("#log")).not_to_contain_text("这条微信不会收下。")

    page.locator("#release button").click()
    assert reached(wechat, "", "城市服务助手回来了")
    assert reached(wechat, callback("你能帮我做什么"), "我可以帮您")

