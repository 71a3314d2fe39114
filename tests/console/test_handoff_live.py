"""The whole handoff loop in a real browser: a citizen's web chat page and a staff member's
console page, two browser contexts, against the live stack (tests/conftest.py; its bot runs a
worker per core, two on the test machine, so the page's requests and the console's API calls
reach either) plus the staff console on its tracker database, started as `make run` starts it.

Citizen writes 转人工 -> the request appears in the open queue page without a reload ->
staff take it over (the bot is paused) -> the citizen's message reaches the staff page, the
staff reply reaches the citizen's page marked as from a person, and survives a reload -> staff
hand back -> the bot says it is back and answers again.

Screenshots: screenshots/handoff-*.png; with CITYLINK_README_SCREENSHOT=1 also
docs/images/handoff-citizen.png and docs/images/handoff-console.png (README).
"""
from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from common import handoff
from tests.conftest import _BASE, TEST_PORTS
from tests.console.conftest import ACCOUNTS, Console, create_account, sign_in
from tools.stack import Stack, services, stack_environment

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "screenshots"
FIRST_REPLY_MS = 180_000
REPLY_MS = 60_000
PUSH_MS = 15_000  # a staff message reaches the page within one poll of the store (0.3 s) normally
AGENT_ROWS = "#log > .msg--agent"
CONSOLE_PORT = _BASE + 90


@pytest.fixture(scope="module")
def live_console(live_stack: Any) -> Iterator[Console]:
    """The console of the live stack: it reads the bot's tracker database and calls its API."""
    env = stack_environment(TEST_PORTS["actions_port"], TEST_PORTS["citysim_port"],
                            tracker_db=live_stack.tracker_db)
    for name in ("staff1", "admin1"):
        made = create_account(env, name, ACCOUNTS[name])
        assert made.returncode == 0, made.stderr
    with Stack(env=env, log_dir=live_stack.log_dir) as stack:
        stack.start(services(console_port=CONSOLE_PORT, **TEST_PORTS)["console"])
        yield Console(f"http://127.0.0.1:{CONSOLE_PORT}", f"sqlite:///{live_stack.tracker_db}", env)


@pytest.fixture()
def contexts(browser: Browser) -> Iterator[Any]:
    """A browser context per person, made on demand, closed after the test."""
    made = []

    def new(**options: Any) -> BrowserContext:
        context = browser.new_context(locale="zh-CN", **options)
        made.append(context)
        return context

    yield new
    for context in made:
        context.close()


def shot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(exist_ok=True)
    path = SCREENSHOTS / f"handoff-{name}.png"
    page.screenshot(path=str(path))
    if os.environ.get("CITYLINK_README_SCREENSHOT") == "1":
        shutil.copy(path, ROOT / "docs" / "images" / f"handoff-{name}.png")


def say(page: Page, text: str) -> None:
    page.locator("#input").fill(text)
    page.keyboard.press("Enter")


def events_of(live_stack: Any, sender: str) -> list:
    return live_stack.events(sender)


def test_citizen_is_answered_by_staff_and_the_bot_takes_over_again(
        live_stack: Any, live_console: Console,
        contexts: Callable[..., BrowserContext]) -> None:
    staff = contexts(viewport={"width": 1280, "height": 860}).new_page()
    citizen = contexts(viewport={"width": 390, "height": 844}, is_mobile=True,
                       has_touch=True).new_page()
    errors: list = []
    for page in (staff, citizen):
        page.on("pageerror", lambda error: errors.append(str(error)))

    # Staff watch the queue before the citizen asks: the request must arrive by itself.
    sign_in(staff, live_console, "staff1")
    staff.goto(f"{live_console.url}/handoff")
    citizen.goto(f"{live_stack.public_url}/webhooks/webchat/")
    expect(citizen.locator(".welcome")).to_be_visible()
    sender = "web:" + citizen.evaluate("localStorage.getItem('citylink.chat')")

    say(citizen, "转人工")
    expect(citizen.locator("#log > .msg--bot").last).to_contain_text(
        re.compile(r"已为您登记转人工，您现在排在第 \d+ 位"), timeout=FIRST_REPLY_MS)
    row = staff.locator(f"#queue tr[data-sender='{sender}']")
    expect(row).to_contain_text("待接入", timeout=10_000)
    expect(row).to_contain_text("文字要求")

    # Take it over: the bot is paused, the citizen is told who joined.
    row.locator("a.open").click()
    expect(staff.locator("#sender")).to_have_text(sender)
    staff.locator("#claim button").click()
    expect(staff.locator("#holder")).to_contain_text("staff1")
    joined = citizen.locator(AGENT_ROWS).first
    expect(joined).to_contain_text("人工客服 · staff1", timeout=PUSH_MS)
    expect(joined).to_contain_text("已接入您的对话")

    # Citizen to staff: stored, shown live on the staff page, and the bot stays silent.
    bot_rows = citizen.locator("#log > .msg--bot").count()
    say(citizen, "我的违章罚单金额好像不对")
    expect(staff.locator("#log .bubble.citizen").last).to_contain_text("我的违章罚单金额好像不对",
                                                                       timeout=PUSH_MS)
    expect(citizen.locator("#typing")).to_be_hidden(timeout=REPLY_MS)
    assert citizen.locator("#log > .msg--bot").count() == bot_rows
    assert citizen.locator("#log > .msg--note").count() == 0

    # Staff to citizen, with a canned reply edited before sending.
    staff.locator(".canned-reply", has_text="请稍等，我帮您查一下。").click()
    expect(staff.locator("#reply-text")).to_have_value("请稍等，我帮您查一下。")
    staff.locator("#reply-text").fill("请稍等，我帮您查一下这张罚单。")
    staff.locator("#reply button[type=submit]").click()
    answer = citizen.locator(AGENT_ROWS).last
    expect(answer).to_contain_text("请稍等，我帮您查一下这张罚单。", timeout=PUSH_MS)
    expect(answer).to_contain_text("人工客服 · staff1")
    expect(staff.locator("#log .bubble.agent").last).to_contain_text("请稍等，我帮您查一下这张罚单。")
    shot(citizen, "citizen")
    shot(staff, "console")

    # The paused bot could not erase the conversation: the page says so instead of pretending.
    citizen.locator("#end-chat").click()
    expect(citizen.locator("#log > .msg--note").last).to_contain_text("暂时不能清除记录")
    assert "web:" + citizen.evaluate("localStorage.getItem('citylink.chat')") == sender

    # A reload keeps the person's messages, still marked as from a person.
    citizen.reload()
    expect(citizen.locator(AGENT_ROWS)).to_have_count(2, timeout=REPLY_MS)
    expect(citizen.locator(AGENT_ROWS).last).to_contain_text("请稍等，我帮您查一下这张罚单。")

    # Hand back: the bot resumes, says so, and answers again.
    staff.locator("#release button").click()
    expect(staff).to_have_url(re.compile(r"/handoff$"))
    expect(citizen.locator("#log > .msg--bot").last).to_contain_text("城市服务助手回来了",
                                                                     timeout=PUSH_MS)
    say(citizen, "你能帮我做什么")
    expect(citizen.locator("#log > .msg--bot").last).to_contain_text("我可以帮您", timeout=REPLY_MS)

    # The console's transcript shows the takeover and who answered.
    staff.goto(f"{live_console.url}/conversation?id={sender}")
    expect(staff.locator(".bubble.agent").last).to_contain_text("人工客服 · staff1")
    expect(staff.locator("#turns")).to_contain_text("人工接入：机器人暂停")
    expect(staff.locator("#turns")).to_contain_text("人工结束：机器人恢复")
    expect(staff.locator(".handoff-line")).to_contain_text(re.compile(
        r"转人工 .*（文字要求）.*等待 \d+ 秒.*由 staff1 接待.*由 staff1 交还机器人", re.S))

    kinds = [e["event"] for e in events_of(live_stack, sender)]
    assert kinds.index("pause") < kinds.index("resume")
    agent_texts = [e["text"] for e in events_of(live_stack, sender) if e["event"] == "bot"
                   and ((e.get("data") or {}).get("custom") or {}).get("state") == "agent"]
    assert agent_texts == ["请稍等，我帮您查一下这张罚单。"]
    assert handoff.open_request(handoff.engine(live_console.database_url), sender) is None
    assert not errors, errors


def test_one_holder_at_a_time_and_an_admin_reassigns(
        live_stack: Any, live_console: Console,
        contexts: Callable[..., BrowserContext]) -> None:
    citizen, staff, admin = (contexts().new_page() for _ in range(3))
    citizen.goto(f"{live_stack.public_url}/webhooks/webchat/")
    expect(citizen.locator(".welcome")).to_be_visible()
    sender = "web:" + citizen.evaluate("localStorage.getItem('citylink.chat')")
    citizen.locator("#handoff").click()  # the 转人工 button
    expect(citizen.locator("#log > .msg--bot").last).to_contain_text("已为您登记转人工",
                                                                     timeout=FIRST_REPLY_MS)

    sign_in(staff, live_console, "staff1")
    staff.goto(f"{live_console.url}/handoff/chat?id={sender}")
    expect(staff.locator("#handoff")).to_contain_text("点击转人工")
    staff.locator("#claim button").click()
    expect(staff.locator("#reply")).to_be_visible()

    # Someone else sees who has it and cannot claim or reply; an admin may reassign.
    sign_in(admin, live_console, "admin1")
    admin.goto(f"{live_console.url}/handoff/chat?id={sender}")
    expect(admin.locator("#holder")).to_contain_text("由 staff1 接待中")
    expect(admin.locator("#claim")).to_have_count(0)
    expect(admin.locator("#reply")).to_have_count(0)
    admin.locator("#reassign select").select_option("admin1")
    admin.locator("#reassign button").click()
    expect(admin.locator("#holder")).to_contain_text("由 admin1 接待中")
    expect(admin.locator("#reply")).to_be_visible()
    # The former holder's page notices by itself and loses its reply box.
    expect(staff.locator("#holder")).to_contain_text("由 admin1 接待中", timeout=10_000)
    expect(staff.locator("#reply")).to_have_count(0)

    admin.locator("#reply-text").fill("您好，我是值班主管，由我来为您处理。")
    admin.locator("#reply button[type=submit]").click()
    expect(citizen.locator(AGENT_ROWS).last).to_contain_text("人工客服 · admin1", timeout=PUSH_MS)
    admin.locator("#release button").click()
    expect(citizen.locator("#log > .msg--bot").last).to_contain_text("城市服务助手回来了",
                                                                     timeout=PUSH_MS)
