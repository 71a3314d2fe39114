"""Against the live stack: erasing removes the rows; stored texts and logs hold no raw phone number;
showing the city picker logs no ERROR."""
from __future__ import annotations

import sqlite3
import time
import uuid
from typing import List

from tests.conftest import LiveStack

PHONE = "13812345678"


def stored_rows(live: LiveStack, sender: str) -> List[str]:
    """The raw `data` of every stored event of the conversation (a channel may prefix the id)."""
    with sqlite3.connect(str(live.tracker_db)) as db:
        return [data for (data,) in db.execute(
            "SELECT data FROM events WHERE sender_id = ? OR sender_id LIKE ?", (sender, f"%:{sender}"))]


def said(replies: list) -> str:
    return "\n".join(r.get("text") or "" for r in replies)


def logs(live: LiveStack) -> str:
    time.sleep(1)  # let the launcher's log threads copy the last lines (no assertion on time)
    return "\n".join(p.read_text(encoding="utf-8") for p in sorted(live.log_dir.glob("*.log")))


def test_delete_my_data_removes_every_stored_event(live_stack: LiveStack) -> None:
    sender = f"privacy-{uuid.uuid4().hex[:12]}"
    live_stack.send(sender, f"我的手机号是{PHONE}")
    rows = stored_rows(live_stack, sender)
    assert rows and not any(PHONE in row for row in rows)  # sealed at rest

    asked = said(live_stack.send(sender, "删除我的记录"))
    assert "确定要清除本次对话记录" in asked
    assert len(stored_rows(live_stack, sender)) > len(rows)  # asking erases nothing

    done = said(live_stack.send(sender, "/delete_my_data"))
    assert "已清除本次对话记录" in done
    assert stored_rows(live_stack, sender) == []

    live_stack.send(sender, "你好")  # the next message starts a new, empty conversation
    assert not any("手机号" in row or "delete_my_data" in row for row in stored_rows(live_stack, sender))


def test_a_confirmation_in_words_erases(live_stack: LiveStack) -> None:
    sender = f"privacy-{uuid.uuid4().hex[:12]}"
    live_stack.send(sender, "清除我的信息")
    assert "已清除" in said(live_stack.send(sender, "确认"))
    assert stored_rows(live_stack, sender) == []


def test_the_city_picker_logs_no_error_and_no_log_holds_a_phone_number(live_stack: LiveStack) -> None:
    sender = f"privacy-{uuid.uuid4().hex[:12]}"
    replies = live_stack.send(sender, "今天限行尾号是多少")
    buttons = [b for r in replies for b in r.get("buttons") or []]
    assert {"title": "广州", "payload": '/set_city{"city": "广州"}'} in buttons
    live_stack.send(sender, f"我电话{PHONE}")
    text = logs(live_stack)
    assert "interpolator" not in text
    assert PHONE not in text
