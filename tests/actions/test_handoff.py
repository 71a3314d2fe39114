"""action_handoff files the conversation in the shared queue and says where the citizen stands;
outside the city's handoff hours it offers a 12345 ticket and the request still waits."""
from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Iterator

import pytest

from actions.handoff import ActionHandoff, ActionHandoffBack
from common import handoff, registry
from common.dates import CHINA
from tests.actions.conftest import make_tracker, run_action, slot_events, texts


@pytest.fixture()
def queue_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    url = f"sqlite:///{tmp_path / 'tracker.db'}"
    monkeypatch.setenv("TRACKER_URL", url)
    yield url


def beijing(hour: int) -> float:
    return dt.datetime(2026, 12, 4, hour, 30, tzinfo=CHINA).timestamp()


def tracker_for(sender: str, **kwargs):  # type: ignore[no-untyped-def]
    tracker = make_tracker(**kwargs)
    tracker.sender_id = sender
    return tracker


def test_queued_with_position_and_kept_once(queue_db: str) -> None:
    first = tracker_for("web:first", intent="human_handoff", text="转人工")
    second = tracker_for("web:second", intent="human_handoff", text="/human_handoff")
    events, messages = run_action(ActionHandoff(), first)
    assert slot_events(events) == {"handoff": True}
    assert "排在第 1 位" in texts(messages)
    assert messages[0]["custom"] == {"type": "handoff", "state": "queued"}
    _, messages = run_action(ActionHandoff(), second)
    assert "排在第 2 位" in texts(messages)
    _, messages = run_action(ActionHandoff(), first)  # asking again keeps the place
    assert "排在第 1 位" in texts(messages)
    queue = handoff.open_requests(handoff.engine(queue_db))
    assert [(r["sender_id"], r["reason"], r["channel"]) for r in queue] == [
        ("web:first", "words", "web"), ("web:second", "button", "web")]


def test_city_and_service_recorded_and_bot_offer_reason(queue_db: str) -> None:
    events = [
        {"event": "user", "text": "查违章", "parse_data": {"intent": {"name": "query_violation"}}},
        {"event": "bot", "text": "好像一直没能对上", "data": {"buttons": [
            {"title": "转人工", "payload": "/human_handoff"}]}},
        {"event": "user", "text": "/human_handoff", "parse_data": {"intent": {"name": "human_handoff"}}},
    ]
    tracker = tracker_for("wechat:oABC", slots={"city": "深圳"}, intent="human_handoff",
                          text="/human_handoff", events=events)
    run_action(ActionHandoff(), tracker)
    (row,) = handoff.open_requests(handoff.engine(queue_db))
    assert (row["city"], row["service"], row["reason"], row["channel"]) == (
        "深圳", "query_violation", "bot_offer", "wechat")


def test_after_hours_offers_a_ticket_and_stays_queued(queue_db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("time.time", lambda: beijing(23))
    tracker = tracker_for("web:late", slots={"city": "广州"}, intent="human_handoff", text="转人工")
    _, messages = run_action(ActionHandoff(), tracker)
    assert "已为您登记转人工。现在不在广州人工客服的服务时间（每天 08:00-22:00）" in texts(messages)
    assert messages[0]["buttons"] == [{"title": "提交12345工单", "payload": "/report_issue"}]
    (row,) = handoff.open_requests(handoff.engine(queue_db))
    assert row["after_hours"] and row["sender_id"] == "web:late"


def test_claimed_conversation_is_told_a_person_has_it(queue_db: str) -> None:
    tracker = tracker_for("web:taken", intent="human_handoff", text="转人工")
    run_action(ActionHandoff(), tracker)
    eng = handoff.engine(queue_db)
    assert handoff.claim(eng, "web:taken", "staff1")
    assert not handoff.claim(eng, "web:taken", "staff2")  # one at a time
    _, messages = run_action(ActionHandoff(), tracker)
    assert "人工客服正在为您服务" in texts(messages)


def test_back_clears_the_slot_and_marks_the_end() -> None:
    events, messages = run_action(ActionHandoffBack(), make_tracker())
    assert slot_events(events) == {"handoff": False}
    assert events[-1] == {"event": "action", "name": "action_listen", "policy": None,
                          "confidence": None, "timestamp": None}
    assert messages[0]["custom"]["state"] == "ended" and "助手回来了" in texts(messages)


def test_hours_in_the_registry() -> None:
    city = registry.load().city("深圳")
    assert city is not None and city.handoff_hours == "08:00-22:00"
    assert city.staffed(beijing(9)) and not city.staffed(beijing(22)) and not city.staffed(beijing(7))
    with pytest.raises(ValueError):
        registry.CityConfig(city="测试", handoff_hours="22:00-08:00")
    with pytest.raises(ValueError):
        registry.CityConfig(city="测试", handoff_hours="9点到18点")
