"""A new session keeps the city and drops ID, phone, identity token (bot/session.py)."""
from __future__ import annotations

import asyncio
from pathlib import Path

from rasa.core.actions.action import ActionSessionStart
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import SessionStarted, SlotSet
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
