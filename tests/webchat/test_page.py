"""The chat page in a real browser, at phone and desktop width.

Tests taking ``base_url`` hold for any bot (set CITYLINK_WEBCHAT_URL to run
them against the real one); tests taking a fake bot check its fixed answers.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, List

import pytest
from playwright.sync_api import Page, Request, expect

from .fake_bot import CARDS, LoopbackServer

XSS = "<img src=x onerror=alert(1)>"
REPLIES = "#log .msg--bot, #log .msg--note"
# Quick replies of bot messages (the welcome's starters are never retired).
QUICK_REPLIES = ".quick-replies:not(.quick-replies--starters) button"


def open_chat(page: Page, url: str) -> None:
    """Load the page and wait until the history request has been answered."""
    page.goto(url)
    expect(page.locator(".welcome")).to_be_visible()
    page.wait_for_load_state("networkidle")


def say(page: Page, text: str) -> None:
    """Type ``text`` like a person and press Enter; wait for the bot's answer."""
    before = page.locator(REPLIES).count()
    page.locator("#input").press_sequentially(text)
    page.keyboard.press("Enter")
    wait_for_reply(page, before)


def wait_for_reply(page: Page, before: int) -> None:
    """Wait until something was added after ``before`` bot messages/notes."""
    page.wait_for_function(
        "([selector, n]) => document.querySelectorAll(selector).length > n",
        arg=[REPLIES, before],
    )
    expect(page.locator("#typing")).to_be_hidden()


def user_texts(page: Page) -> List[str]:
    """The user's bubbles as the page shows them."""
    return page.locator("#log .msg--user .bubble").all_text_contents()


def chat_id(page: Page) -> str:
    """The page's chat id (its conversation is ``web:<chat id>``)."""
    return page.evaluate("localStorage.getItem('citylink.chat')")


def test_conversation_survives_reload(
    page: Page, fake_bot: LoopbackServer, screenshot: Callable[[str], None]
) -> None:
    open_chat(page, fake_bot.base_url)
    say(page, "你好")
    expect(page.locator("#log .msg--bot .bubble").last).to_have_text("收到：你好")
    expect(page.locator("#input")).to_be_focused()
    expect(page.locator("#input")).to_have_value("")

    before = page.locator(REPLIES).count()
    page.get_by_role("button", name="查违章", exact=True).last.click()
    wait_for_reply(page, before)
    assert user_texts(page) == ["你好", "查违章"]
    # The button sent its payload; the page showed its title.
    assert fake_bot.user_texts(chat_id(page)) == ["你好", "/query_violation"]
    expect_violation_card(page)
    # The question was answered, so its quick replies are retired.
    expect(page.locator(QUICK_REPLIES).first).to_be_disabled()
    screenshot("conversation")

    page.reload()
    expect(page.locator(".card-list")).to_be_visible()
    assert user_texts(page) == ["你好", "查违章"]
    expect(
        page.locator("#log .msg--bot .bubble", has_text="收到：你好")
    ).to_be_visible()
    expect_violation_card(page)
    expect(page.locator("#log > .msg").first.locator(".welcome")).to_be_visible()
    expect(page.locator(QUICK_REPLIES).first).to_be_disabled()
    screenshot("reloaded")


def expect_violation_card(page: Page) -> None:
    """The first documented card: a violation with its fine and points."""
    item = CARDS[0]["items"][0]
    card = page.locator(".card").filter(has_text=item["title"])
    expect(card).to_have_count(1)
    expect(card.locator(".card__subtitle")).to_have_text(item["subtitle"])
    fields = dict(item["fields"])
    for label in ("罚款", "扣分"):
        value = card.locator(".card__field").filter(
            has=page.locator("dt", has_text=label)
        )
        expect(value.locator("dd")).to_have_text(fields[label])
    expect(card.get_by_role("button", name="缴纳罚款")).to_be_visible()


@pytest.mark.parametrize("viewport", ["phone"], indirect=True)
def test_keyboard_only(
    page: Page, fake_bot: LoopbackServer, screenshot: Callable[[str], None]
) -> None:
    open_chat(page, fake_bot.base_url)
    page.locator("#city-button").focus()
    page.keyboard.press("Enter")
    expect(page.locator("#city-menu")).to_be_visible()
    expect(page.get_by_role("button", name="广州", exact=True)).to_be_focused()
    screenshot("city-menu")
    page.keyboard.press("Escape")
    expect(page.locator("#city-menu")).to_be_hidden()
    expect(page.locator("#city-button")).to_be_focused()

    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    before = page.locator(REPLIES).count()
    page.keyboard.press("Enter")
    wait_for_reply(page, before)
    expect(page.locator("#log .msg--bot .bubble").last).to_have_text(
        "好的，已切换到深圳。"
    )
    expect(page.locator("#city-label")).to_have_text("深圳")

    page.locator("#handoff").focus()
    before = page.locator(REPLIES).count()
    page.keyboard.press("Enter")
    wait_for_reply(page, before)

    page.locator("#input").focus()
    say(page, "你好")
    page.get_by_role("button", name="查违章", exact=True).last.focus()
    before = page.locator(REPLIES).count()
    page.keyboard.press("Enter")
    wait_for_reply(page, before)
    # The used quick reply is disabled; focus went back to the input.
    expect(page.locator("#input")).to_be_focused()

    assert user_texts(page) == ["切换到深圳", "转人工", "你好", "查违章"]
    assert fake_bot.user_texts(chat_id(page)) == [
        '/set_city{"city": "深圳"}',
        "/human_handoff",
        "你好",
        "/query_violation",
    ]


def test_documented_cards_render(
    page: Page, fake_bot: LoopbackServer, screenshot: Callable[[str], None]
) -> None:
    open_chat(page, fake_bot.base_url)
    say(page, "/card_examples")
    lists = page.locator("#log .card-list")
    expect(lists).to_have_count(len(CARDS))
    for shown, card in zip(lists.all(), CARDS, strict=True):
        expect(shown.locator(".card-list__title")).to_have_text(card["title"])
        expect(shown.locator(".card")).to_have_count(len(card["items"]))
        for item, article in zip(
            card["items"], shown.locator(".card").all(), strict=True
        ):
            expect(article.locator(".card__title")).to_have_text(item["title"])
            labels = [label for label, _ in item["fields"]]
            expect(article.locator("dt")).to_have_text(labels)
            buttons = [button["title"] for button in item.get("buttons", [])]
            expect(article.locator(".card__button")).to_have_text(buttons)
    lists.nth(2).scroll_into_view_if_needed()
    screenshot("cards")


def test_markup_is_shown_as_text(page: Page, base_url: str) -> None:
    dialogs: List[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    open_chat(page, base_url)
    say(page, XSS)
    expect(page.locator("#log .msg--user .bubble").last).to_have_text(XSS)
    # Shown as escaped text: no element was made of the markup, so no handler
    # can fire later (no waiting window needed).
    assert "&lt;img" in page.locator("#log .msg--user .bubble").last.inner_html()
    assert page.locator("#log img").count() == 0
    assert dialogs == []


@pytest.mark.parametrize("viewport", ["phone"], indirect=True)
def test_offline_banner_and_recovery(
    page: Page, own_fake_bot: LoopbackServer, screenshot: Callable[[str], None]
) -> None:
    open_chat(page, own_fake_bot.base_url)
    own_fake_bot.stop()
    page.locator("#input").press_sequentially("断网时发的消息")
    page.keyboard.press("Enter")
    expect(page.locator("#offline")).to_be_visible()
    expect(page.locator("#log .msg--user .bubble").last).to_have_class(
        "bubble bubble--waiting"
    )
    screenshot("offline")

    own_fake_bot.start()
    expect(page.locator("#offline")).to_be_hidden(timeout=15000)
    expect(page.locator("#log .msg--bot .bubble").last).to_have_text(
        "收到：断网时发的消息"
    )
    expect(page.locator("#log .msg--user .bubble").last).to_have_class("bubble")
    # Retried until it went through, and only once.
    assert own_fake_bot.user_texts(chat_id(page)) == ["断网时发的消息"]


def test_history_survives_reload(page: Page, base_url: str) -> None:
    open_chat(page, base_url)
    say(page, "你好")
    replies = page.locator(REPLIES).count()
    page.reload()
    expect(page.locator("#log .msg--user .bubble")).to_have_text(["你好"])
    expect(page.locator(REPLIES)).to_have_count(replies)


def test_page_basics(page: Page, base_url: str) -> None:
    requests: List[str] = []
    page.on("request", lambda request: requests.append(request.url))
    open_chat(page, base_url)
    # Everything from the bot's own server: no CDN.
    origin = base_url.split("/webhooks/")[0]
    assert requests and all(url.startswith(origin + "/") for url in requests), requests

    assert page.locator("html").get_attribute("lang") == "zh-CN"
    expect(page.locator("#log")).to_have_attribute("aria-live", "polite")
    unnamed = page.evaluate(
        """[...document.querySelectorAll('button, input')]
             .filter(e => !(e.labels?.length || e.getAttribute('aria-label')
                            || e.textContent.trim()))
             .map(e => e.outerHTML)"""
    )
    assert unnamed == []

    # Text follows the browser's font-size setting (rem units throughout).
    size = "parseFloat(getComputedStyle(document.querySelector('.welcome')).fontSize)"
    normal = page.evaluate(size)
    page.evaluate("document.documentElement.style.fontSize = '200%'")
    assert page.evaluate(size) == pytest.approx(2 * normal)


@pytest.mark.parametrize("viewport", ["phone"], indirect=True)
def test_end_and_clear_erases_and_forgets_the_conversation(
    page: Page, fake_bot: LoopbackServer, screenshot: Callable[[str], None]
) -> None:
    sent: List[Dict[str, Any]] = []
    page.on(
        "request",
        lambda r: sent.append(r.post_data_json) if r.url.endswith("/webhook") else None,
    )
    open_chat(page, fake_bot.base_url)
    page.locator("#city-button").click()
    page.get_by_role("button", name="深圳", exact=True).click()
    say(page, "我的身份证号是 440101199001011234")
    first = chat_id(page)
    assert len(fake_bot.user_texts(first)) == 2

    page.get_by_role("button", name="结束对话并清除记录").click()
    expect(page.locator("#log .note")).to_have_text(
        ["对话已结束，记录已清除。下一位可以开始新的对话。"]
    )
    # The erase request went to the old conversation; the bot erased it.
    assert sent[-1]["message"] == "/delete_my_data"
    assert fake_bot.user_texts(first) == []
    # The browser forgot the id and the city; the page shows a fresh start.
    second = chat_id(page)
    assert second and second != first
    assert page.evaluate("localStorage.getItem('citylink.city')") is None
    expect(page.locator("#city-label")).to_have_text("选择城市")
    expect(page.locator("#log .msg--user")).to_have_count(0)
    expect(page.locator(".welcome")).to_be_visible()
    screenshot("cleared")

    page.reload()
    expect(page.locator(".welcome")).to_be_visible()
    page.wait_for_load_state("networkidle")
    expect(page.locator("#log .msg--user")).to_have_count(0)
    say(page, "你好")
    assert fake_bot.user_texts(second) == ["你好"]


def test_chat_id_travels_only_in_a_header(page: Page, base_url: str) -> None:
    calls: List[Request] = []
    page.on("request", lambda r: calls.append(r) if "/webhooks/webchat/" in r.url else None)
    open_chat(page, base_url)
    say(page, "你好")
    say(page, "你好")
    page.reload()
    expect(page.locator("#log .msg--user .bubble")).to_have_count(2)
    page.wait_for_load_state("networkidle")

    secret = chat_id(page)
    assert len(secret) >= 32  # 24 random bytes, base64url
    api = [r for r in calls if r.url.endswith(("/webhook", "/history"))]
    assert [r.url.rsplit("/", 1)[1] for r in api] == ["history", "webhook", "webhook", "history"]
    for call in calls:
        assert secret not in call.url
    for call in api:
        assert call.headers["x-citylink-chat-id"] == secret
    bodies = [r.post_data_json for r in api if r.method == "POST"]
    assert all(set(body) == {"message", "message_id"} for body in bodies)
    # Each message has its own id (a resend reuses it: test_offline_banner_and_recovery).
    assert bodies[0]["message_id"] != bodies[1]["message_id"]
