"""Action calls with only the new events (bot/patches/action_events.py) rebuilt by the
action server (actions/event_sync.py) into exactly Rasa's call."""
from __future__ import annotations

import asyncio
import json
from typing import Any, Dict, List

import pytest
from rasa.core.actions.action import RemoteAction
from rasa.shared.core.events import ActionExecuted, BotUttered, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.utils.endpoints import ClientResponseError, EndpointConfig

from actions.event_sync import PARTIAL, SYNC, EventMemory
from bot.patches import action_events
from tests.test_patches import DOMAIN, STOCK

URL = "http://127.0.0.1:1/webhook"
STOCK_FORMAT = STOCK["rasa.core.actions.action:RemoteAction._action_call_format"]


@pytest.fixture(autouse=True)
def rebuilding_server(monkeypatch: pytest.MonkeyPatch) -> None:
    """The bot's half installed and a server that rebuilds."""
    monkeypatch.setattr(RemoteAction, "_action_call_format", action_events.action_call_format)
    monkeypatch.setattr(action_events, "_sent", type(action_events._sent)())
    monkeypatch.setattr(action_events, "_rebuilds", {URL: True})


def action(name: str = "action_query_violation") -> RemoteAction:
    return RemoteAction(name, EndpointConfig(URL))


def talk(tracker: DialogueStateTracker, n: int) -> None:
    for event in (ActionExecuted("action_listen"), UserUttered(f"第{n}句", {"name": "greet"}),
                  SlotSet("city", f"城市{n}"), ActionExecuted("utter_greet"), BotUttered("好")):
        tracker.update(event)


def plain(call: Dict[str, Any]) -> Dict[str, Any]:
    """A call as JSON carries it, without the sync note."""
    return {k: v for k, v in json.loads(json.dumps(call)).items() if k != SYNC}


def test_calls_after_the_first_carry_only_new_events_and_rebuild_to_rasas() -> None:
    server, remote = EventMemory(), action()
    tracker = DialogueStateTracker("citizen", DOMAIN.slots)
    sizes: List[int] = []
    for n in range(30):
        talk(tracker, n)
        call = remote._action_call_format(tracker, DOMAIN)
        sizes.append(len(json.dumps(call)))
        wire = json.loads(json.dumps(call))  # what reaches the server
        assert server.rebuild(wire)
        assert plain(wire) == plain(STOCK_FORMAT(remote, tracker, DOMAIN))
    assert isinstance(call, action_events.PartialCall) and PARTIAL in call
    assert "domain" not in call  # the server has it from the base call
    assert max(sizes[5:]) < sizes[0] / 4  # no longer the domain and every event each time


def test_a_forms_temporary_tracker_and_the_next_call_share_their_first_events() -> None:
    server, remote = EventMemory(), action("validate_violation_form")
    tracker = DialogueStateTracker("citizen", DOMAIN.slots)
    for n in range(5):
        talk(tracker, n)
        server.rebuild(json.loads(json.dumps(remote._action_call_format(tracker, DOMAIN))))
    temporary = tracker.copy()
    temporary.update(SlotSet("requested_slot", "plate_number"))
    for which in (temporary, tracker):  # the validation's tracker, then the real one
        wire = json.loads(json.dumps(remote._action_call_format(which, DOMAIN)))
        assert server.rebuild(wire)
        assert plain(wire) == plain(STOCK_FORMAT(remote, which, DOMAIN))


def test_a_base_the_server_does_not_hold_is_refused_and_the_call_sent_whole() -> None:
    remote = action()
    tracker = DialogueStateTracker("citizen", DOMAIN.slots)
    talk(tracker, 1)
    EventMemory().rebuild(json.loads(json.dumps(remote._action_call_format(tracker, DOMAIN))))
    talk(tracker, 2)
    partial = remote._action_call_format(tracker, DOMAIN)
    restarted = EventMemory()
    assert not restarted.rebuild(json.loads(json.dumps(partial)))
    whole = json.loads(json.dumps(partial.whole()))
    assert restarted.rebuild(whole)
    assert plain(whole) == plain(STOCK_FORMAT(remote, tracker, DOMAIN))
    talk(tracker, 3)  # and the next call builds on the whole one
    wire = json.loads(json.dumps(remote._action_call_format(tracker, DOMAIN)))
    assert SYNC in wire and "base" in wire[SYNC] and restarted.rebuild(wire)


def test_an_expired_or_other_conversations_base_is_refused() -> None:
    server = EventMemory(ttl=10)
    server.rebuild({"sender_id": "a", "tracker": {"events": [{"event": "x"}]}, SYNC: {"id": "1"}},
                   now=0)
    later = {"sender_id": "a", PARTIAL: {"events": []}, SYNC: {"id": "2", "base": "1", "keep": 1}}
    assert not server.rebuild(dict(later), now=11)
    assert not server.rebuild({**later, "sender_id": "b"}, now=1)
    assert not server.rebuild({**later, SYNC: {"id": "2", "base": "1", "keep": 5}}, now=1)
    assert server.rebuild(dict(later), now=1)


def test_without_a_rebuilding_server_every_call_is_rasas(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(action_events, "_rebuilds", {URL: False})
    remote = action()
    tracker = DialogueStateTracker("citizen", DOMAIN.slots)
    for n in range(3):
        talk(tracker, n)
        call = remote._action_call_format(tracker, DOMAIN)
        assert "tracker" in call and plain(call) == plain(STOCK_FORMAT(remote, tracker, DOMAIN))


def test_the_endpoint_retries_whole_on_409_and_asks_once_whether_the_server_rebuilds(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(action_events, "_rebuilds", {})
    seen: List[Any] = []

    async def fake_request(self: Any, method: str = "post", subpath: Any = None,
                           content_type: Any = None, compress: bool = False, **kw: Any) -> Any:
        seen.append((method, subpath, kw.get("json")))
        if isinstance(kw.get("json"), action_events.PartialCall):
            raise ClientResponseError(409, "Conflict", '{"error":"events_unknown"}')  # Rasa's
        return {"events": []}

    monkeypatch.setattr(EndpointConfig, "request", fake_request)
    monkeypatch.setattr(RemoteAction, "_action_call_format", RemoteAction._action_call_format)
    action_events.apply()
    endpoint, remote = EndpointConfig(URL), action()
    tracker = DialogueStateTracker("citizen", DOMAIN.slots)
    talk(tracker, 1)
    asyncio.run(endpoint.request(json=remote._action_call_format(tracker, DOMAIN)))
    assert [s[:2] for s in seen] == [("post", None), ("get", "citylink-events")]
    assert action_events._rebuilds == {URL: True}
    talk(tracker, 2)
    asyncio.run(endpoint.request(json=remote._action_call_format(tracker, DOMAIN)))
    assert isinstance(seen[-2][2], action_events.PartialCall) and "tracker" in seen[-1][2]


def test_an_erasing_action_leaves_nothing_of_the_conversation_in_memory() -> None:
    server, remote = EventMemory(), action()
    tracker = DialogueStateTracker("citizen", DOMAIN.slots)
    talk(tracker, 1)
    assert server.rebuild(json.loads(json.dumps(remote._action_call_format(tracker, DOMAIN))))
    assert len(server) == 1
    talk(tracker, 2)
    erase = action("action_delete_my_data")._action_call_format(tracker, DOMAIN)
    wire = json.loads(json.dumps(erase))
    assert server.rebuild(wire)  # the erasing call itself runs on the full tracker
    assert plain(wire) == plain(STOCK_FORMAT(action("action_delete_my_data"), tracker, DOMAIN))
    assert len(server) == 0


def test_a_call_during_a_form_carries_rasas_active_loop_and_leaves_the_tracker_as_it_was() -> None:
    from rasa.shared.core.events import ActiveLoop

    tracker = DialogueStateTracker("citizen", DOMAIN.slots)
    talk(tracker, 1)
    tracker.update(UserUttered("查违章", {"name": "query_violation", "confidence": 0.9},
                               parse_data={"intent_ranking": [{"name": "query_violation"}]}))
    tracker.update(ActiveLoop("violation_form"))
    loop = tracker.active_loop
    assert loop is not None and loop.trigger_message  # the part Rasa deep-copies
    call = action()._action_call_format(tracker, DOMAIN)
    assert plain(call) == plain(STOCK_FORMAT(action(), tracker, DOMAIN))
    assert call["tracker"]["active_loop"]["name"] == "violation_form"
    assert tracker.active_loop is loop
