"""The console's pages in a real browser: filters, transcript, reveal and audit, tags, flags, export, dashboard."""
from __future__ import annotations

import csv
import io
import json
import random
import time
from typing import Dict

import pytest
from playwright.sync_api import Page

from console import db, queries, seed

from .conftest import SEEDED, Console, listed, shot, sign_in

KIND_INTENTS = {"violation": {"query_violation", "inform"}, "fallback": {"set_city", "nlu_fallback"},
                "handoff": {"query_bill", "inform", "human_handoff"}, "backend_error": {"query_bill", "inform"},
                "abandoned": {"book_appointment", "inform"}, "appointment": {"book_appointment", "inform"}}
YESTERDAY = SEEDED[0].day

# Each filter as typed in the form, and which seeded conversations it must list.
FILTERS: Dict[str, tuple] = {
    "city": ({"city": "深圳"}, lambda s: s.city == "深圳"),
    "channel": ({"channel": "wechat"}, lambda s: s.channel == "wechat"),
    "intent": ({"intent": "human_handoff"}, lambda s: "human_handoff" in KIND_INTENTS[s.kind]),
    "date_range": ({"date_from": SEEDED[6].day, "date_to": YESTERDAY}, lambda s: s.days_ago in (1, 2)),
    "below": ({"below": "0.5"}, lambda s: s.kind in ("fallback", "abandoned")),
    "fallback": ({"fallback": "1"}, lambda s: s.kind == "fallback"),
    "handoff": ({"handoff": "1"}, lambda s: s.kind == "handoff"),
    "backend_error": ({"backend_error": "1"}, lambda s: s.kind == "backend_error"),
    "form_abandoned": ({"form_abandoned": "1"}, lambda s: s.kind == "abandoned"),
    "completed": ({"completed": "0"}, lambda s: s.kind not in ("violation", "appointment")),
    "search": ({"q": "咋整"}, lambda s: s.kind == "fallback"),
    "combined": ({"city": "深圳", "fallback": "1", "date_from": YESTERDAY, "date_to": YESTERDAY},
                 lambda s: s.city == "深圳" and s.kind == "fallback" and s.days_ago == 1),
}


def fill_filters(page: Page, values: Dict[str, str]) -> None:
    form = page.locator("#filters")
    for name, value in values.items():
        field = form.locator(f"[name={name}]")
        if field.evaluate("e => e.tagName") == "SELECT":
            field.select_option(value)
        else:
            field.fill(value)
    with page.expect_navigation():  # read the list only once the filtered page has loaded
        form.locator("button[type=submit]").click()


def all_listed(page: Page) -> list:
    found = listed(page)
    while page.locator("#next").count():
        with page.expect_navigation():
            page.click("#next")
        found += listed(page)
    return found


@pytest.mark.parametrize("name", sorted(FILTERS))
def test_each_filter_lists_exactly_its_conversations(staff: Page, console: Console, name: str) -> None:
    values, wanted = FILTERS[name]
    staff.goto(f"{console.url}/conversations")
    fill_filters(staff, values)
    assert sorted(all_listed(staff)) == sorted(s.sender_id for s in SEEDED if wanted(s))


def test_list_is_newest_first_and_paged(staff: Page) -> None:
    first = listed(staff)
    assert len(first) == queries.PAGE_SIZE
    newest = sorted(SEEDED, key=lambda s: (s.days_ago, -SEEDED.index(s)))
    assert first[:3] == [s.sender_id for s in newest[:3]]
    staff.click("#next")
    assert set(listed(staff)).isdisjoint(first)
    assert len(first) + len(all_listed(staff)) == len(SEEDED)


def test_bad_filter_values_get_a_clear_answer(staff: Page, console: Console) -> None:
    staff.goto(f"{console.url}/conversations?below=abc&date_from=yesterday")
    errors = staff.locator(".error").all_inner_texts()
    assert any("置信度" in e for e in errors) and any("日期" in e for e in errors)


def test_done_when_shenzhen_fallbacks_yesterday_masked_tagged_flagged(staff: Page, console: Console) -> None:
    """The issue's acceptance path: find, read masked, tag, flag for trainers."""
    fill_filters(staff, {"city": "深圳", "fallback": "1", "date_from": YESTERDAY, "date_to": YESTERDAY})
    shot(staff, "list")
    assert sorted(listed(staff)) == ["web:sz-fallback-2", "wechat:oSZfallback1"]
    staff.click("text=wechat:oSZfallback1")
    assert staff.locator("#sender").inner_text() == "wechat:oSZfallback1"
    staff.select_option("#add-tag select", "bot_misunderstood")
    staff.click("#add-tag button")
    assert staff.locator("#tags span.tag").all_inner_texts() == ["bot_misunderstood"]
    turn = staff.locator(".turn", has=staff.locator(".bubble.user", has_text="咋整"))
    turn.locator("form.flag input[name=reason]").fill("应识别为 help")
    turn.locator("form.flag button").click()
    assert "已标记给训练师（staff1）" in staff.locator(".turn", has_text="咋整").inner_text()
    staff.goto(f"{console.url}/flags")
    assert "那个东西咋整啊" in staff.locator("#flags").inner_text()
    staff.goto(f"{console.url}/conversations?tag=bot_misunderstood")
    assert listed(staff) == ["wechat:oSZfallback1"]
    with db.engine(console.database_url).connect() as conn:
        row = conn.execute(db.flags.select()).first()
    assert (row.sender_id, row.intent, row.confidence, row.flagged_by) == \
        ("wechat:oSZfallback1", "nlu_fallback", 0.3, "staff1")


def test_transcript_shows_bubbles_and_the_bots_reasoning_with_data_masked(staff: Page, console: Console) -> None:
    staff.goto(f"{console.url}/conversation?id=web:sz-appointment")
    page_text = staff.locator("main").inner_text()
    for raw in ("440301199001011234", "13812345678", "张伟"):
        assert raw not in page_text
    assert "4403**********1234" in page_text  # the ID number, masked
    assert "book_appointment" in staff.locator(".intent").first.inner_text()
    assert "0.95" in page_text and "action_book_appointment" in page_text
    assert "id_number=4403**********1234" in page_text and "我叫张*" in page_text
    staff.goto(f"{console.url}/conversation?id=rest:sz-violation")
    assert staff.locator(".mini-card", has_text="闯红灯").count() == 1
    assert staff.locator(".mini-card .btn", has_text="缴纳罚款").count() == 1
    shot(staff, "transcript")
    staff.goto(f"{console.url}/conversation?id=web:wh-backend")
    assert staff.locator(".bubble.failed").count() == 1
    assert staff.locator(".why .mark.bad", has_text="后端错误").count() == 1
    staff.goto(f"{console.url}/conversation?id=web:sh-handoff")
    assert staff.locator(".bubble.bot .btn", has_text="深圳").count() == 1


def test_reveal_needs_a_reason_and_is_audited(page: Page, console: Console) -> None:
    sign_in(page, console, "staff1")
    page.goto(f"{console.url}/conversation?id=web:sz-appointment")
    page.fill("#reveal input[name=reason]", "查")
    page.click("#reveal button")
    assert "需要填写理由" in page.locator(".error").inner_text()
    assert "440301199001011234" not in page.content()
    page.fill("#reveal input[name=reason]", "市民来电要求核对预约信息")
    page.click("#reveal button")
    assert "440301199001011234" in page.locator("#turns").inner_text()
    assert page.locator("#revealed").count() == 1
    page.click("#hide button")
    assert "440301199001011234" not in page.content()
    page.click("#logout")
    sign_in(page, console, "admin1")
    page.goto(f"{console.url}/audit?action=reveal")
    row = page.locator("#audit tr", has_text="市民来电要求核对预约信息")
    assert "staff1" in row.inner_text() and "web:sz-appointment" in row.inner_text()
    shot(page, "audit")


def test_tags_added_by_admin_note_and_review(admin: Page, console: Console) -> None:
    admin.goto(f"{console.url}/tags")
    admin.fill("input[name=name]", "slow_answer")
    admin.click("form.inline button")
    assert "slow_answer" in admin.locator("#tags").inner_text()
    admin.goto(f"{console.url}/conversation?id=web:gz-fallback")
    admin.select_option("#add-tag select", "slow_answer")
    admin.click("#add-tag button")
    admin.fill("#add-note input[name=text]", "市民留了电话13900001111，稍后回访")
    admin.click("#add-note button")
    notes = admin.locator("#notes").inner_text()
    assert "稍后回访" in notes and "13900001111" not in notes
    admin.click("#review button")
    assert "已由 admin1 复核" in admin.locator("#reviewed").inner_text()
    admin.goto(f"{console.url}/conversations?reviewed=yes")
    assert listed(admin) == ["web:gz-fallback"]
    admin.goto(f"{console.url}/conversations?tag=slow_answer&reviewed=no")
    assert listed(admin) == []
    admin.goto(f"{console.url}/conversation?id=web:gz-fallback")
    admin.locator("#tags form", has_text="slow_answer").locator("button").click()
    assert "slow_answer" not in admin.locator("#tags span.tag").all_inner_texts()


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_export_is_the_filtered_set_masked(staff: Page, console: Console, fmt: str) -> None:
    fill_filters(staff, {"city": "深圳"})
    with staff.expect_download() as download:
        staff.click(f"#export-{fmt}")
    text = open(download.value.path(), encoding="utf-8-sig").read()
    if fmt == "csv":
        rows = list(csv.DictReader(io.StringIO(text)))
    else:
        rows = [json.loads(line) for line in text.splitlines()]
    assert sorted(r["sender_id"] for r in rows) == sorted(s.sender_id for s in SEEDED if s.city == "深圳")
    assert "440301199001011234" not in text and "13812345678" not in text
    assert "身份证4403**********1234" in text


def test_dashboard_figures_link_to_the_conversations_behind_them(staff: Page, console: Console) -> None:
    staff.goto(f"{console.url}/dashboard?city=深圳")
    shot(staff, "dashboard")
    row = staff.locator("#board-table tr", has_text="book_appointment")
    assert row.locator("[data-metric=total]").inner_text().strip() == "1"
    staff.locator("#chart-fallback a.bar-link").nth(-2).click()  # yesterday's fallback bar
    assert sorted(listed(staff)) == ["web:sz-fallback-2", "wechat:oSZfallback1"]
    staff.click("text=web:sz-fallback-2")  # third click: the failed conversation itself
    assert staff.locator(".bubble.user", has_text="咋整").count() == 1


def test_json_api_answers_the_same_filters_masked(staff: Page, console: Console) -> None:
    found = staff.request.get(f"{console.url}/api/conversations?city=深圳&fallback=1"
                              f"&date_from={YESTERDAY}&date_to={YESTERDAY}").json()
    assert sorted(i["sender_id"] for i in found["items"]) == ["web:sz-fallback-2", "wechat:oSZfallback1"]
    one = staff.request.get(f"{console.url}/api/conversation?id=web:sz-appointment")
    assert one.ok and "4403**********1234" in one.text() and "440301199001011234" not in one.text()
    assert staff.request.get(f"{console.url}/api/conversations?below=x").status == 400


# Last in the file: it adds a conversation the filter tests above do not expect.
def test_new_events_reach_the_list_without_a_restart(staff: Page, console: Console) -> None:
    engine = db.engine(console.database_url)
    seed.write(engine, "web:late-arrival",
               seed.conversation("handoff", "佛山", time.time(), random.Random(3)))
    for _ in range(60):
        staff.goto(f"{console.url}/conversations?city=佛山&handoff=1")
        if "web:late-arrival" in listed(staff):
            break
        staff.wait_for_timeout(500)
    assert listed(staff) == ["web:late-arrival"]
