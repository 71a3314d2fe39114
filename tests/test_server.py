"""The bot server's fixes keep Rasa's behaviour (bot/server.py says why each exists)."""
import asyncio
import copy
import json
from pathlib import Path
from typing import Any, Dict, List

import pytest
from jsonschema import Draft202012Validator
from rasa.core.actions.action import RemoteAction
from rasa.core.processor import MessageProcessor
from rasa.shared.core.events import ActionExecuted, Event, SlotSet, UserUttered

from bot import server

server.apply()
ROOT = Path(__file__).resolve().parents[1]

REPLIES: List[Dict[str, Any]] = [
    {"events": [{"event": "slot", "name": "city", "value": "广州", "timestamp": None},
                {"event": "active_loop", "name": None}],
     "responses": [{"text": "您好", "buttons": [{"title": "查违章", "payload": "/query_violation"}]}]},
    {"events": [{"event": "followup", "name": "action_listen"}], "responses": []},
    {"events": [{"event": "bot", "text": "好的", "data": {}}]},
    {"events": [], "responses": [{"text": "只有回复"}]},
    # invalid: unknown event, missing `event`, wrong types, not a list
    {"events": [{"event": "nope"}]},
    {"events": [{"name": "city"}]},
    {"events": [{"event": "slot", "name": 1}]},
    {"events": [{"event": "slot", "name": "a", "value": None, "timestamp": "now"}]},
    {"events": [{"event": "user", "text": "hi",
                 "parse_data": {"intent": {"name": "x", "confidence": "high"}}}]},
    {"events": "slot"},
]


@pytest.mark.parametrize("reply", REPLIES, ids=[json.dumps(r)[:40] for r in REPLIES])
def test_action_reply_validation_accepts_exactly_what_rasas_schema_does(reply):
    rasa = Draft202012Validator(RemoteAction.action_response_format_spec()).is_valid(reply)
    action = RemoteAction("action_x", None)
    if rasa:
        assert action._validate_action_result(reply) is True
    else:
        with pytest.raises(Exception):  # Rasa's own error for an invalid reply
            action._validate_action_result(reply)


def test_event_types_resolve_to_the_same_classes_and_unknown_ones_still_fail():
    assert Event.resolve_by_type("slot") is SlotSet
    assert Event.resolve_by_type("user") is UserUttered
    assert Event.resolve_by_type("action") is ActionExecuted
    assert Event.resolve_by_type("no_such_event", default=SlotSet) is SlotSet
    with pytest.raises(ValueError):
        Event.resolve_by_type("no_such_event")


def test_a_copied_slot_is_what_copy_copy_made_before():
    from rasa.shared.core.domain import Domain

    for slot in Domain.load(str(ROOT / "domain.yml")).slots:
        slot.value = ["shared"]
        copied = copy.copy(slot)
        assert type(copied) is type(slot) and copied is not slot
        assert copied.__dict__ == slot.__dict__
        assert copied.value is slot.value  # shallow, as before
        copied.value = "changed"
        assert slot.value == ["shared"]


def test_action_server_json_encoder_falls_back_for_what_ujson_cannot_encode():
    assert json.loads(server._json_dumps({"城市": "广州", "n": 1.5})) == {"城市": "广州", "n": 1.5}
    assert json.loads(server._json_dumps({"big": 2 ** 70})) == {"big": 2 ** 70}  # ujson overflows


def test_each_worker_works_on_at_most_two_messages_and_queues_the_rest_in_order():
    assert MessageProcessor.handle_message.__wrapped__, "fair queueing is not installed"
    started: List[int] = []
    running = {"now": 0, "max": 0}

    async def work(self: Any, message: int) -> int:
        started.append(message)
        running["now"] += 1
        running["max"] = max(running["max"], running["now"])
        await asyncio.sleep(0.01)
        await asyncio.sleep(0.01)  # a message awaits more than once (action server, store)
        running["now"] -= 1
        return message

    handle = server.fair_queue(work, 2)

    async def burst() -> List[int]:
        return await asyncio.gather(*(handle(None, i) for i in range(10)))

    assert asyncio.run(burst()) == list(range(10))
    assert running["max"] == 2
    assert started == list(range(10))
