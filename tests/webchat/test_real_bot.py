"""The chat page against the real bot: simulator + action server + Rasa.

Uses the session's ``live_stack`` (tests/conftest.py) and drives the page in
Chromium at phone and desktop width the way a citizen would: picks the city,
looks up violations by typing, books a hospital appointment by typing and
tapping the bot's buttons, reloads, and tries to inject markup.

Replies are awaited by watching for new bot bubbles, never by sleeping. The
first turn gets a generous timeout: the bot may still be warming up.

Screenshots go to ``screenshots/webchat-real_bot_conversation-<step>-<viewport>.png``;
at phone width the test also composes the README's picture (violation lookup
and the start of a booking) as ``screenshots/webchat-readme-phone.png``. With
CITYLINK_README_SCREENSHOT=1 it is written to docs/images/webchat-phone.png too::

    CITYLINK_README_SCREENSHOT=1 .venv/bin/python -m pytest -q \\
        tests/webchat/test_real_bot.py -k phone
"""

from __future__ import annotations

import os
import random
import re
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

import pytest
from playwright.sync_api import Locator, Page, expect

from common.fake_id import fake_id

from .conftest import SCREENSHOTS
from .test_page import QUICK_REPLIES, XSS

ROOT = Path(__file__).resolve().parents[2]
README_IMAGE = ROOT / "docs" / "images" / "webchat-phone.png"
README_IMAGE_MAX_BYTES = 300_000

# The first turn may load parts of the model and open the action server's and
# the simulator's connections; later turns are quick, but actions call backends.
FIRST_REPLY_MS = 180_000
REPLY_MS = 60_000

BOT_ROWS = "#log > .msg--bot"
NOTES = "#log > .msg--note"
PLATE = "粤A288E0"  # seeded in Guangzhou: 3 violations, 2 unpaid (tests/test_violation.yml)
HOSPITAL = "中山大学附属第一医院"


@pytest.fixture(scope="module")
def chat_url(live_stack: Any) -> str:
    """The page as citizens reach it: through the gateway, served by the real bot."""
    return f"{live_stack.public_url}/webhooks/webchat/"


@pytest.fixture()
def dialogs(page: Page) -> List[str]:
    """Messages of any alert/confirm/prompt the page opens (there must be none)."""
    opened: List[str] = []
    page.on("dialog", lambda dialog: (opened.append(dialog.message), dialog.dismiss()))
    return opened


@pytest.fixture()
def page_errors(page: Page) -> List[str]:
    """Uncaught script errors and console errors (CSP violations among them)."""
    errors: List[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on(
        "console",
        lambda message: errors.append(message.text) if message.type == "error" else None,
    )
    return errors


# ------------------------------------------------------------------ helpers


class Chat:
    """The page under test, with the waits a real bot needs."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.turns = 0

    def open(self, url: str) -> None:
        self.page.goto(url)
        expect(self.page.locator(".welcome")).to_be_visible()

    def bot_rows(self) -> Locator:
        return self.page.locator(BOT_ROWS)

    def last_bot(self) -> Locator:
        return self.bot_rows().last

    def _answered(self, act: Callable[[], None]) -> List[Locator]:
        """Runs ``act`` (something that sends a message) and waits for the
        bot's answer: new bot rows after the current ones, the typing
        indicator gone. Returns the new rows; fails on an error note."""
        rows, notes = self.bot_rows().count(), self.page.locator(NOTES).count()
        act()
        timeout = FIRST_REPLY_MS if self.turns == 0 else REPLY_MS
        self.turns += 1
        self.page.wait_for_function(
            """([rows, notes, n, m]) =>
                 document.querySelectorAll(rows).length > n
                 || document.querySelectorAll(notes).length > m""",
            arg=[BOT_ROWS, NOTES, rows, notes],
            timeout=timeout,
        )
        expect(self.page.locator("#typing")).to_be_hidden(timeout=timeout)
        problems = self.page.locator(NOTES).all_text_contents()[notes:]
        assert not problems, f"the page reported a problem: {problems}"
        # A turn's replies are added all at once, so the count is final here.
        return [self.bot_rows().nth(i) for i in range(rows, self.bot_rows().count())]

    def say(self, text: str) -> List[Locator]:
        """Type ``text`` like a person, press Enter, wait for the answer."""

        def act() -> None:
            self.page.locator("#input").press_sequentially(text)
            self.page.keyboard.press("Enter")

        return self._answered(act)

    def tap(self, title: str) -> List[Locator]:
        """Click the latest question's quick reply ``title``; wait for the answer."""
        button = self.last_bot().locator(".quick-replies button").filter(
            has_text=re.compile(f"^{re.escape(title)}$")
        )
        expect(button).to_be_enabled()
        return self._answered(button.click)

    def pick_city(self, city: str) -> List[Locator]:
        self.page.locator("#city-button").click()
        expect(self.page.locator("#city-menu")).to_be_visible()
        option = self.page.locator("#city-menu").get_by_role("button", name=city, exact=True)
        return self._answered(option.click)

    def user_texts(self) -> List[str]:
        return self.page.locator("#log .msg--user .bubble").all_text_contents()

    def transcript(self) -> List[Dict[str, Any]]:
        """Every row of the log as shown: kind, visible text, its buttons
        (title and whether usable) and its cards."""
        return self.page.evaluate(
            """() => [...document.querySelectorAll('#log > .msg')].map(row => ({
                 kind: row.className,
                 text: row.innerText,
                 buttons: [...row.querySelectorAll('button')]
                   .map(b => [b.textContent, b.disabled]),
                 cards: [...row.querySelectorAll('.card')].map(c => c.innerText),
               }))"""
        )


def field(card: Locator, label: str) -> Locator:
    """The value (``dd``) of a card's field ``label``."""
    return card.locator(".card__field").filter(
        has=card.page.locator("dt", has_text=re.compile(f"^{re.escape(label)}$"))
    ).locator("dd")


def unique_id_number(viewport: str) -> str:
    """A valid resident ID number of our own: the simulator refuses a second
    booking of the same department and day by one person."""
    stories = (ROOT / "tests" / "test_appointment.yml").read_text(encoding="utf-8")
    taken = set(re.findall(r"\b\d{17}[\dX]\b", stories))
    rng = random.Random(f"citylink-webchat-{viewport}")
    while True:
        number = fake_id(rng)
        if number not in taken:
            return number


def readme_frame(page: Page, top: Optional[Locator], name: str) -> Path:
    """One phone screen for the README picture: the log scrolled so that
    ``top`` is at the top of the screen (or as it is: at the end). The input
    is blurred so no focus ring shows."""
    page.locator("#input").blur()
    if top is not None:
        top.evaluate(
            """row => {
                 const log = document.getElementById('log');
                 log.scrollTop += row.getBoundingClientRect().top
                   - log.getBoundingClientRect().top - 12;
               }"""
        )
    path = SCREENSHOTS / f"webchat-readme-{name}-phone.png"
    page.screenshot(path=path)
    page.evaluate("() => { const log = document.querySelector('#log'); log.scrollTop = 1e9; }")
    return path


def compose_readme(frames: List[Path]) -> Path:
    """Puts the phone screens side by side on one small palette PNG, saved as
    screenshots/webchat-readme-phone.png (and as the README's picture when
    CITYLINK_README_SCREENSHOT=1)."""
    from PIL import Image

    shots = [Image.open(frame).convert("RGB") for frame in frames]
    margin, gap = 48, 48
    width = 2 * margin + sum(shot.width for shot in shots) + gap * (len(shots) - 1)
    height = 2 * margin + max(shot.height for shot in shots)
    canvas = Image.new("RGB", (width, height), (223, 228, 234))
    x = margin
    for shot in shots:
        # A thin frame, like the page's desktop card.
        border = (x - 2, margin - 2, x + shot.width + 2, margin + shot.height + 2)
        canvas.paste((197, 204, 214), border)
        canvas.paste(shot, (x, margin))
        x += shot.width + gap
    # UI colours and anti-aliased text survive a 128-colour palette well.
    small = canvas.quantize(
        colors=128, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE
    )
    out = SCREENSHOTS / "webchat-readme-phone.png"
    small.save(out, optimize=True)
    size = out.stat().st_size
    assert size < README_IMAGE_MAX_BYTES, f"{out} is {size} bytes"
    if os.environ.get("CITYLINK_README_SCREENSHOT") == "1":
        README_IMAGE.parent.mkdir(parents=True, exist_ok=True)
        README_IMAGE.write_bytes(out.read_bytes())
    return out


# -------------------------------------------------------------------- test


def test_real_bot_conversation(
    page: Page,
    viewport: str,
    chat_url: str,
    dialogs: List[str],
    page_errors: List[str],
    screenshot: Callable[[str], None],
) -> None:
    chat = Chat(page)
    frames: List[Path] = []  # phone screens for the README picture
    chat.open(chat_url)

    # The city picker: its message goes through the bot, which sets the slot.
    reply = chat.pick_city("广州")
    expect(page.locator("#city-label")).to_have_text("广州")
    expect(reply[-1]).to_contain_text("广州")
    assert chat.user_texts() == ["切换到广州"]

    # Violation lookup, typed.
    reply = chat.say("查违章")
    expect(reply[-1]).to_contain_text("车牌号")
    reply = chat.say(PLATE)
    cards = page.locator(".card-list").filter(has_text=PLATE).locator(".card")
    expect(cards).to_have_count(3)
    for card in cards.all():
        expect(field(card, "罚款")).to_have_text(re.compile(r"^\d+(\.\d+)? 元$"))
        expect(field(card, "扣分")).to_have_text(re.compile(r"^\d+ 分$"))
    pay = page.locator(QUICK_REPLIES).filter(has_text=re.compile("^缴纳罚款$"))
    expect(pay).to_have_count(1)
    expect(pay).to_be_enabled()
    if viewport == "phone":
        frames.append(readme_frame(page, page.locator("#log .msg--user").last, "violation"))
    screenshot("violation")

    # Hospital booking: typed, with the bot's buttons for period and confirmation.
    reply = chat.say("我想挂中山一院的骨科")
    expect(reply[-1]).to_contain_text("哪一天")
    reply = chat.say("下周三")
    expect(reply[-1].locator(".quick-replies button")).to_have_text(["上午", "下午", "晚上"])
    # The violation's 缴纳罚款 has been answered by moving on: retired.
    expect(pay).to_be_disabled()
    if viewport == "phone":
        frames.append(readme_frame(page, None, "booking"))
        compose_readme(frames)
    screenshot("booking")
    reply = chat.tap("上午")
    expect(reply[-1]).to_contain_text("身份证")
    id_number = unique_id_number(viewport)
    reply = chat.say(id_number)
    expect(reply[-1]).to_contain_text("手机")
    phone = "13800138" + ("390" if viewport == "phone" else "128")
    reply = chat.say(phone)
    confirm = reply[-1]
    expect(confirm).to_contain_text("请确认挂号信息")
    expect(confirm).to_contain_text(f"身份证：{id_number[:4]}**********{id_number[-4:]}")
    expect(confirm.locator(".quick-replies button")).to_have_text(["确认", "取消"])
    reply = chat.tap("确认")
    expect(reply[0]).to_contain_text("挂号成功")
    receipt = page.locator(".card-list").filter(has_text="挂号凭证").locator(".card")
    expect(receipt).to_have_count(1)
    expect(receipt.locator(".card__title")).to_have_text(f"{HOSPITAL} 骨科")
    expect(receipt.locator(".card__subtitle")).to_contain_text("上午")
    expect(field(receipt, "预约号")).to_have_text(re.compile(r"^GZGH\d+$"))
    expect(field(receipt, "状态")).to_have_text("待就诊")
    # Buttons show their titles, not the payloads they sent.
    assert chat.user_texts() == [
        "切换到广州", "查违章", PLATE, "我想挂中山一院的骨科", "下周三",
        "上午", id_number, phone, "确认",
    ]
    receipt.scroll_into_view_if_needed()
    screenshot("receipt")

    # A reload restores the same conversation from the tracker store.
    before = chat.transcript()
    page.reload()
    expect(page.locator("#log > .msg")).to_have_count(len(before))
    assert chat.transcript() == before
    expect(page.locator("#city-label")).to_have_text("广州")
    screenshot("reloaded")

    # Markup is shown as text: no element made of it, no script run.
    chat.say(XSS)
    expect(page.locator("#log .msg--user .bubble").last).to_have_text(XSS)
    # Shown as escaped text: no element was made of the markup, so no handler
    # can fire later (no waiting window needed).
    assert "&lt;img" in page.locator("#log .msg--user .bubble").last.inner_html()
    assert page.locator("img").count() == 0
    assert dialogs == []
    assert page_errors == []
    screenshot("markup")
