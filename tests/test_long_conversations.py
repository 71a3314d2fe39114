"""The patches that keep a turn's cost flat (tracker_copy, applied_events,
incremental_states) against Rasa's own functions, on long random conversations
with forms, rejections, fallbacks (reverts), follow-ups, restarts and sessions."""
from __future__ import annotations

import asyncio
import random
from typing import Any, Callable, Dict, Iterator, List

import pytest
from rasa.core.actions.action import ActionExtractSlots
from rasa.core.actions.forms import FormAction
from rasa.core.featurizers.tracker_featurizers import MaxHistoryTrackerFeaturizer
from rasa.shared.core.constants import REQUESTED_SLOT
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (
    ActionExecuted,
    ActionExecutionRejected,
    ActionReverted,
    ActiveLoop,
    BotUttered,
    DefinePrevUserUtteredFeaturization,
    Event,
    FollowupAction,
    Restarted,
    SessionStarted,
    SlotSet,
    UserUtteranceReverted,
    UserUttered,
)
from rasa.shared.core.trackers import DialogueStateTracker, EventVerbosity

from tests.test_patches import DOMAIN, STOCK

TRACKERS = "rasa.shared.core.trackers:DialogueStateTracker."
RULE_ONLY = {"slots": ["handoff", "confirmed"], "active_loops": ["weather_form"]}
TEXT_SLOTS = [s.name for s in DOMAIN.slots if s.type_name == "text" and s.name != REQUESTED_SLOT]


def turn_events(rng: random.Random) -> List[Event]:
    """One random stretch of a conversation, the way the processor logs it."""
    intent = rng.choice(DOMAIN.intents)
    user = [ActionExecuted("action_listen"),
            UserUttered(f"句子{rng.randrange(50)}", {"name": intent, "confidence": 0.9},
                        [{"entity": "city", "value": "广州"}] if rng.random() < 0.3 else [])]
    form = rng.choice(DOMAIN.form_names[:4])
    slot = rng.choice(TEXT_SLOTS)
    kind = rng.choice(["plain", "plain", "slot", "form", "form_step", "form_end", "reject",
                       "fallback", "revert", "followup", "featurization", "restart", "session"])
    if kind == "plain":
        return user + [ActionExecuted(rng.choice(["utter_greet", "utter_goodbye"])),
                       BotUttered("好的")]
    if kind == "slot":
        return user + [SlotSet(slot, f"值{rng.randrange(9)}"), ActionExecuted("utter_greet")]
    if kind == "form":
        return user + [ActionExecuted(form), ActiveLoop(form), SlotSet(REQUESTED_SLOT, slot)]
    if kind == "form_step":
        return user + [ActionExecuted(form), SlotSet(slot, "值"), SlotSet(REQUESTED_SLOT, slot)]
    if kind == "form_end":
        return user + [ActionExecuted(form), ActiveLoop(None), SlotSet(REQUESTED_SLOT, None)]
    if kind == "reject":
        return user + [ActionExecutionRejected(form), ActionExecuted("utter_greet"),
                       ActionExecuted(form)]
    if kind == "fallback":
        return user + [ActionExecuted("action_default_fallback"), UserUtteranceReverted()]
    if kind == "revert":
        return user + [ActionExecuted("utter_greet"), ActionReverted()]
    if kind == "followup":
        return user + [FollowupAction("utter_goodbye"), ActionExecuted("utter_goodbye")]
    if kind == "featurization":
        return user + [DefinePrevUserUtteredFeaturization(True), ActionExecuted("utter_greet")]
    if kind == "restart":
        return [Restarted(), ActionExecuted("action_session_start")]
    return [ActionExecuted("action_session_start"), SessionStarted(),
            SlotSet("city", "深圳"), ActionExecuted("action_listen")]


def conversation(seed: int, events: int = 500) -> Iterator[DialogueStateTracker]:
    """One tracker, yielded after each event added to it (always the same object)."""
    rng = random.Random(seed)
    tracker = DialogueStateTracker("citizen", DOMAIN.slots)
    while len(tracker.events) < events:
        for event in turn_events(rng):
            tracker.update(event)
            yield tracker


def state_of(tracker: DialogueStateTracker) -> Dict[str, Any]:
    """Everything a tracker holds (timestamps aside: both sides make some events anew)."""
    state = tracker.current_state(EventVerbosity.ALL)
    return {**state, "events": [{**event, "timestamp": None} for event in state["events"]],
            "latest_event_time": None,
            "slot_internals": {n: vars(s) for n, s in tracker.slots.items()},
            # (an empty message made by a reset differs only by its timestamp)
            "latest_message": {**tracker.latest_message.as_dict(), "timestamp": None},
            "latest_bot_utterance": {**tracker.latest_bot_utterance.as_dict(), "timestamp": None}}


@pytest.mark.parametrize("seed", range(4))
def test_applied_events_are_rasas_after_every_event(seed: int) -> None:
    stock = STOCK[TRACKERS + "applied_events"]
    for tracker in conversation(seed):
        assert list(map(id, tracker.applied_events())) == list(map(id, stock(tracker)))


def test_applied_events_start_over_for_another_deque_and_a_new_loop_name() -> None:
    stock = STOCK[TRACKERS + "applied_events"]
    tracker = DialogueStateTracker("citizen", DOMAIN.slots)
    for event in (ActionExecuted("action_listen"), UserUttered("查违章"),
                  ActionExecuted("violation_form"), ActionExecuted("action_listen"),
                  UserUttered("粤A288E0")):
        tracker.update(event)
    tracker.applied_events()
    # Rasa knows a loop from its activation on, even for the executions before it.
    tracker.update(ActionExecuted("violation_form"))
    tracker.update(ActiveLoop("violation_form"))
    assert tracker.applied_events() == stock(tracker)
    tracker.events = tracker._create_events(list(tracker.events)[:3])
    assert tracker.applied_events() == stock(tracker)


@pytest.mark.parametrize("seed", range(3))
def test_a_copy_is_rasas_copy(seed: int) -> None:
    stock = STOCK[TRACKERS + "copy"]
    for n, tracker in enumerate(conversation(seed, 300)):
        if n % 7 == 0:
            mine, theirs = tracker.copy(), stock(tracker)
            assert state_of(mine) == state_of(theirs)
            assert mine.slots is not tracker.slots and mine.events is not tracker.events
            assert (mine.active_loop is None or mine.active_loop is not tracker.active_loop)


def test_form_and_validation_trackers_are_rasas(monkeypatch: pytest.MonkeyPatch) -> None:
    form = FormAction("violation_form", None)
    sent: List[DialogueStateTracker] = []

    async def run_custom_action(self: Any, name: str, *args: Any) -> List[Event]:
        sent.append(args[2])
        return [SlotSet("city", None)]

    monkeypatch.setattr(ActionExtractSlots, "_run_custom_action", run_custom_action)
    domain = DOMAIN  # it has action_validate_slot_mappings
    assert "action_validate_slot_mappings" in domain.user_actions
    extract = ActionExtractSlots(None)
    validate: Dict[str, Callable[..., Any]] = {
        "mine": ActionExtractSlots._execute_validation_action,
        "stock": STOCK["rasa.core.actions.action:ActionExtractSlots._execute_validation_action"]}
    for n, tracker in enumerate(conversation(11, 300)):
        if n % 11:
            continue
        added = [SlotSet("road", "深南大道")]
        mine = form._temporary_tracker(tracker, added, DOMAIN)
        theirs = STOCK["rasa.core.actions.forms:FormAction._temporary_tracker"](
            form, tracker, added, DOMAIN)
        assert state_of(mine) == state_of(theirs)
        results = [asyncio.run(validate[which](extract, [SlotSet("city", "广州"), *added], None,
                                               None, tracker, domain))
                   for which in ("mine", "stock")]
        assert results[0] == results[1]
        assert state_of(sent[-2]) == state_of(sent[-1])


def featurized(tracker: DialogueStateTracker, max_history: Any, use_text: bool,
               ignore_rule_only_turns: bool) -> List[Any]:
    """What a policy's featurizer makes of the states (it changes them in place)."""
    return MaxHistoryTrackerFeaturizer(max_history=max_history).prediction_states(
        [tracker], DOMAIN, use_text_for_last_user_input=use_text,
        ignore_rule_only_turns=ignore_rule_only_turns,
        rule_only_data=RULE_ONLY if ignore_rule_only_turns else None)


@pytest.mark.parametrize("seed", range(3))
def test_states_are_rasas_for_rule_and_memoization_policies(
        seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """RulePolicy asks with the text then the intent (all states), MemoizationPolicy with
    rule-only turns hidden (3 states); the kept states must stay right for each."""
    stock = STOCK["rasa.shared.core.domain:Domain.states_for_tracker_history"]
    patched = Domain.states_for_tracker_history
    asks = [(None, True, False), (None, False, False), (3, False, True), (None, False, True)]
    for n, tracker in enumerate(conversation(seed, 400)):
        if n % 3:
            continue
        for ask in asks:
            mine = featurized(tracker, *ask)
            monkeypatch.setattr(Domain, "states_for_tracker_history", stock)
            theirs = featurized(tracker, *ask)
            monkeypatch.setattr(Domain, "states_for_tracker_history", patched)
            assert mine == theirs, (n, ask)
