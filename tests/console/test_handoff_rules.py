"""What the handoff pages compute without a browser: WeChat's 48-hour window and per-message
quota (the console refuses what WeChat would refuse), the bot's last understanding (masked), the
staff's messages told apart from the bot's, canned replies per service, the queue's order and
the one-holder rule."""
from __future__ import annotations

import random
from pathlib import Path
from typing import Any, Dict, List, Tuple

from common import handoff
from console import db, handoff_view, seed
from console.summary import Indexer

HOUR = 3600.0


def user(ts: float, text: str = "你好", intent: str = "greet") -> Dict[str, Any]:
    return {"event": "user", "timestamp": ts, "text": text,
            "parse_data": {"intent": {"name": intent, "confidence": 0.9}}}


def agent(ts: float, text: str = "您好") -> Dict[str, Any]:
    return {"event": "bot", "timestamp": ts, "text": text,
            "data": {"custom": {"type": "handoff", "state": "agent", "agent": "staff1"}}}


def numbered(events: List[Dict[str, Any]]) -> List[Tuple[int, Dict[str, Any]]]:
    return list(enumerate(events, start=1))


def test_wechat_window_is_48_hours_from_the_citizens_last_message() -> None:
    events = numbered([user(1000.0), agent(1010.0)])
    inside = handoff_view.wechat_allowance(events, 1000.0 + 47 * HOUR)
    assert inside["open"] and inside["hours_left"] == 1 and inside["sent"] == 1
    assert handoff_view.wechat_refusal(inside) is None
    outside = handoff_view.wechat_allowance(events, 1000.0 + 48 * HOUR + 1)
    assert not outside["open"]
    assert "超过 48 小时" in (handoff_view.wechat_refusal(outside) or "")


def test_wechat_quota_counts_staff_messages_since_the_citizen_last_wrote() -> None:
    full = [user(0.0)] + [agent(float(n)) for n in range(1, handoff_view.WECHAT_QUOTA + 1)]
    allowance = handoff_view.wechat_allowance(numbered(full), 100.0)
    assert allowance["left"] == 0
    assert "达到微信上限" in (handoff_view.wechat_refusal(allowance) or "")
    # The citizen writes again: the count starts over.
    again = handoff_view.wechat_allowance(numbered(full + [user(50.0)]), 100.0)
    assert again["sent"] == 0 and handoff_view.wechat_refusal(again) is None


def test_understanding_skips_the_handoff_request_and_keeps_slots() -> None:
    events = numbered([
        user(1.0, "查违章", "query_violation"),
        {"event": "active_loop", "name": "violation_form"},
        {"event": "slot", "name": "plate_number", "value": "粤B***45"},
        {"event": "slot", "name": "requested_slot", "value": "engine_number"},
        user(2.0, "转人工", "human_handoff"),
    ])
    seen = handoff_view.understanding(events)
    assert (seen["intent"], seen["form"]) == ("query_violation", "violation_form")
    assert seen["slots"] == [("plate_number", "粤B***45")]


def test_staff_messages_are_told_apart() -> None:
    shown = handoff_view.bubbles(numbered([user(1.0, "转人工"), agent(2.0, "我来帮您"),
                                           {"event": "bot", "timestamp": 3.0, "text": "好的"}]))
    assert [(b["who"], b["name"]) for b in shown] == [
        ("citizen", "市民"), ("agent", "人工客服 · staff1"), ("bot", "机器人")]


def test_canned_replies_per_service() -> None:
    violation = handoff_view.canned_replies("query_violation")
    assert any("12123" in t for t in violation)
    assert violation[-3:] == handoff_view.canned_replies(None)  # `all` comes last, always


def test_queue_order_positions_and_one_holder(database: str) -> None:
    eng = handoff.engine(database)
    first = handoff.file_request(eng, "web:a", "words", "深圳", None, False, now=10.0)
    second = handoff.file_request(eng, "wechat:b", "button", None, None, False, now=20.0)
    assert (first.position, second.position) == (1, 2)
    assert handoff.claim(eng, "web:a", "staff1") and not handoff.claim(eng, "web:a", "staff2")
    assert handoff.file_request(eng, "wechat:b", "button", None, None, False).position == 1
    assert handoff.claim(eng, "web:a", "admin1", takeover_from="staff1")  # reassigned
    rows = handoff_view.queue_rows(eng, now=30.0)
    assert [(r["sender_id"], r["claimed_by"], r["waited_s"]) for r in rows][0] == ("wechat:b", "", 10)
    assert handoff.close(eng, "web:a", "admin1") and handoff.open_request(eng, "web:a") is None
    handoff.unclaim(eng, "wechat:b", "nobody")
    assert handoff.open_request(eng, "wechat:b") is not None


def test_an_erased_conversation_leaves_the_queue(tmp_path: Path) -> None:
    """删除我的记录 or retention removes the events; the console's prune drops the request too."""
    url = f"sqlite:///{tmp_path / 'tracker.db'}"
    engine = db.init(url)
    seed.write(engine, "wechat:oErased", seed.conversation("handoff", "深圳", 1000.0, random.Random(1)))
    seed.write(engine, "web:kept", seed.conversation("handoff", "广州", 1000.0, random.Random(2)))
    Indexer(engine).run_until_current()
    for sender in ("wechat:oErased", "web:kept"):
        handoff.file_request(engine, sender, "words", None, None, False)
    with engine.begin() as conn:
        conn.execute(db.events.delete().where(db.events.c.sender_id == "wechat:oErased"))
    Indexer(engine).prune()
    assert [r["sender_id"] for r in handoff.open_requests(engine)] == ["web:kept"]
