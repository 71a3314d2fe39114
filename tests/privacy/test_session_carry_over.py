"""A new session keeps the city and drops ID, phone, identity token (bot/session.py)."""
from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from rasa.core.actions.action import ActionSessionStart
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ConversationPaused, ConversationResumed, SessionStarted, SlotSet
from rasa.shared.core.trackers import DialogueStateTracker

from bot import session
from common.privacy import SENSITIVE_SLOTS

DOMAIN = Domain.load(str(Path(__file__).resolve().parents[2] / "domain.yml"))
BEFORE = {"city": "深圳", "utility_type": "water", "id_number": "44030119900101123X",
          "phone_number": "13812345678", "identity_token": "tok-1", "plate_number": "粤B12345",
          "account_number": "3012345678"}


def new_session_slots() -> dict:
    tracker = DialogueStateTracker.from_events(
        "web:carry", [SlotSet(k, v) for k, v in BEFORE.items()], DOMAIN.slots)
    events = asyncio.run(ActionSessionStart().run(None, None, tracker, DOMAIN))  # type: ignore[arg-type]
    assert isinstance(events[0], SessionStarted)
    return {e.key: e.value for e in events if isinstance(e, SlotSet)}


def test_the_domain_carries_slots_over_and_declares_every_sensitive_slot() -> None:
    assert DOMAIN.session_config.carry_over_slots
    assert set(SENSITIVE_SLOTS) <= {slot.name for slot in DOMAIN.slots}


def test_city_carried_over_personal_slots_not() -> None:
    session.apply()
    carried = new_session_slots()
    assert carried == {"city": "深圳", "utility_type": "water"}


def session_started_on(*before: Any) -> DialogueStateTracker:
    """A tracker after `before`, then a new session as Rasa's processor adds it."""
    session.apply()
    tracker = DialogueStateTracker.from_events("web:held", list(before), DOMAIN.slots)
    for event in asyncio.run(ActionSessionStart().run(None, None, tracker, DOMAIN)):  # type: ignore[arg-type]
        tracker.update(event)
    return tracker


def test_a_staff_takeover_outlives_a_new_session() -> None:
    assert session_started_on(ConversationPaused()).is_paused()
    assert not session_started_on(ConversationPaused(), ConversationResumed()).is_paused()
    assert not session_started_on(SlotSet("city", "深圳")).is_paused()


def test_a_message_after_the_session_expiry_during_a_takeover_gets_no_bot_answer(
        live_stack: Any) -> None:
    """The real processor: the last message two hours ago, the conversation held by staff."""
    sender, old = "rest:held-over-expiry", time.time() - 2 * 3600
    events = [{"event": "action", "name": "action_session_start", "timestamp": old},
              {"event": "session_started", "timestamp": old + 0.001},
              {"event": "action", "name": "action_listen", "timestamp": old + 0.002},
              {"event": "user", "text": "转人工", "timestamp": old + 1,
               "parse_data": {"intent": {"name": "human_handoff", "confidence": 1.0},
                              "entities": []}},
              {"event": "pause", "timestamp": old + 2}]
    live_stack.request(f"{live_stack.bot_url}/conversations/{sender}/tracker/events", events, "PUT")
    assert live_stack.send("held-over-expiry", "还有人在吗") == []
    stored = live_stack.events(sender)
    new = stored[max(n for n, e in enumerate(stored) if e["event"] == "session_started"):]
    assert new[0]["timestamp"] > old + 3600 and new[1]["event"] == "pause"  # the new session
    assert [e.get("text") for e in new if e["event"] == "user"] == ["还有人在吗"]
    assert not [e for e in stored if e["event"] == "bot"]
