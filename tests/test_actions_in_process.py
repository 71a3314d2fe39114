"""Custom actions in the bot worker (bot/actions_in_process.py): what Rasa gets back is what
it gets from the action server, for answers, rejections, unknown and failing actions, and
calls with only the new events."""
from __future__ import annotations

import asyncio
from typing import Any, List

import pytest
from rasa.core.actions.action import ActionExecutionRejection, RemoteAction
from rasa.core.channels.channel import CollectingOutputChannel
from rasa.core.nlg import TemplatedNaturalLanguageGenerator
from rasa.shared.core.events import ActionExecuted, BotUttered, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.exceptions import RasaException
from rasa.utils.endpoints import EndpointConfig

from bot import actions_in_process
from bot.patches import action_events
from tests.test_patches import DOMAIN

MODULE = "tests.in_process_actions"


@pytest.fixture(autouse=True)
def in_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """The route installed, then the action_events patch over it (bot/server.py's order)."""
    monkeypatch.setattr(EndpointConfig, "request", EndpointConfig.request)
    monkeypatch.setattr(RemoteAction, "_action_call_format", RemoteAction._action_call_format)
    monkeypatch.setattr(actions_in_process, "_runners", {})
    monkeypatch.setattr(action_events, "_sent", type(action_events._sent)())
    monkeypatch.setattr(action_events, "_rebuilds", {})
    actions_in_process.apply()
    action_events.apply()


def tracker_after(*texts: str) -> DialogueStateTracker:
    tracker = DialogueStateTracker("rest:citizen", DOMAIN.slots)
    for text in texts:
        for event in (ActionExecuted("action_listen"), UserUttered(text, {"name": "greet"}),
                      ActionExecuted("utter_greet"), BotUttered("好")):
            tracker.update(event)
    return tracker


def run(name: str, tracker: DialogueStateTracker, endpoint: Any = None) -> List[Any]:
    action = RemoteAction(name, endpoint or EndpointConfig(actions_module=MODULE))
    nlg = TemplatedNaturalLanguageGenerator(DOMAIN.responses)
    return asyncio.run(action.run(CollectingOutputChannel(), nlg, tracker, DOMAIN))


def test_an_answer_is_the_action_servers_json() -> None:
    events = run("action_test_echo", tracker_after("你好", "查违章"))
    assert [type(e) for e in events] == [BotUttered, SlotSet]
    assert events[0].text == "收到2句：查违章" and (events[1].key, events[1].value) == ("city", "深圳")


def test_later_calls_carry_only_new_events_and_see_the_whole_conversation() -> None:
    tracker = tracker_after("一")
    run("action_test_echo", tracker)
    partial_sent = []
    original = actions_in_process.Runner.call

    async def spy(self, method, subpath, body):
        partial_sent.append(isinstance(body, action_events.PartialCall))
        return await original(self, method, subpath, body)

    actions_in_process.Runner.call = spy
    try:
        for text in ("二", "三"):
            for event in (ActionExecuted("action_listen"), UserUttered(text, {"name": "greet"})):
                tracker.update(event)
            assert run("action_test_echo", tracker)[0].text == f"收到{ {'二': 2, '三': 3}[text] }句：{text}"
    finally:
        actions_in_process.Runner.call = original
    assert partial_sent[-2:] == [True, True]  # the runner rebuilt them, as the server would


def test_a_forgotten_base_is_sent_again_whole() -> None:
    tracker = tracker_after("一")
    run("action_test_echo", tracker)
    for runner in actions_in_process._runners.values():
        runner.memory = type(runner.memory)()  # as after eviction: the base is unknown
    tracker.update(UserUttered("二", {"name": "greet"}))
    assert run("action_test_echo", tracker)[0].text == "收到2句：二"


def test_a_rejection_is_rasas_rejection() -> None:
    with pytest.raises(ActionExecutionRejection):
        run("action_test_rejects", tracker_after("你好"))


@pytest.mark.parametrize("name", ["action_test_fails", "action_not_there"])
def test_a_failing_or_unknown_action_fails_as_over_http(name: str) -> None:
    with pytest.raises(RasaException, match="Failed to execute custom action"):
        run(name, tracker_after("你好"))


def test_without_actions_module_the_call_goes_to_the_url() -> None:
    with pytest.raises(RasaException, match="Couldn't connect|Failed"):
        run("action_test_echo", tracker_after("你好"), EndpointConfig("http://127.0.0.1:1/webhook"))
    assert actions_in_process._runners == {}
