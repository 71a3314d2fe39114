"""Dialogue states derived once per event, not once per event per prediction.

What: `Domain.states_for_tracker_history` (RulePolicy twice and
MemoizationPolicy once per prediction, several predictions per message, via
`tracker.past_states`) replays the whole session into a fresh tracker and
derives a state at every action. Here the replay is kept on the tracker (one
per domain and set of arguments) and the next call continues it with the
events applied since. Where the applied events differ from the ones it replayed
(ids compared: a revert or a form's re-run drops recent events), it goes back
to its latest checkpoint before the difference (the replay's state before each
of its last `CHECKPOINTS` actions) and replays from there; with none that old,
or a new session, it starts over, as Rasa would. The loop body is Rasa's, step
for step; the last state handed out is always a new one (the featurizers change
it in place), the earlier ones are shared (what the featurizers do to them,
dropping a text beside its intent, they do again to each fresh list:
tests/test_long_conversations.py compares with Rasa through the featurizers).
Why: this replay was the part of a turn that grew fastest with the length of
the conversation (tools/bench/turncost.py profile, docs/benchmarks.md
"Long conversations"). With bot/patches/tracker_cache.py the same tracker
object, and so its replay, lives from one message to the next.
Gain: docs/benchmarks.md, "Long conversations".
"""

from __future__ import annotations

import dataclasses
import json
from collections import deque
from typing import Any, Deque, Dict, List, Optional, Tuple

from bot.patches.guard import Target

TARGETS = (
    Target(
        "rasa.shared.core.domain:Domain.states_for_tracker_history",
        ("self", "tracker", "omit_unset_slots", "ignore_rule_only_turns", "rule_only_data"),
    ),
    Target("rasa.shared.core.domain:Domain._get_prev_action_sub_state", ("tracker",)),
    Target(
        "rasa.shared.core.domain:Domain.get_active_state", ("self", "tracker", "omit_unset_slots")
    ),
    Target(
        "rasa.shared.core.domain:Domain._remove_rule_only_features", ("state", "rule_only_data")
    ),
    Target(
        "rasa.shared.core.domain:Domain._substitute_rule_only_user_input",
        ("state", "last_ml_state"),
    ),
    Target("rasa.shared.core.domain:Domain._clean_state", ("state",)),
    Target("rasa.shared.core.trackers:DialogueStateTracker.init_copy", ("self",)),
    Target("rasa.shared.core.trackers:DialogueStateTracker.applied_events", ("self",)),
)

REPLAYS = "_citylink_state_replays"  # tracker attribute: {arguments: Replay}
CHECKPOINTS = 8  # kept per replay: a revert or a form's undo reaches back a few actions


class Replay:
    """Rasa's loop over `generate_all_prior_trackers`, stopped after the last event
    it has seen and resumable; `states` holds the states at each action."""

    def __init__(self, tracker: Any) -> None:
        self.tracker = tracker.init_copy()
        self.events: List[Any] = []  # replayed (kept alive, so their ids stay theirs)
        self.ids: List[int] = []
        self.states: List[Dict[str, Any]] = []
        self.last_ml_action_sub_state: Optional[Dict[str, Any]] = None
        self.turn_was_hidden = False
        self.checkpoints: Deque[Tuple[int, Dict[str, Any]]] = deque(maxlen=CHECKPOINTS)

    def agreed(self, applied: List[Any]) -> int:
        """How many of the replayed events are still the first applied ones."""
        ids = list(map(id, applied[: len(self.ids)]))
        if ids == self.ids:
            return len(ids)
        return next((n for n, (a, b) in enumerate(zip(ids, self.ids)) if a != b), len(ids))

    def rewind(self, agreed: int) -> bool:
        """Back to the latest checkpoint within the first `agreed` events (False: none)."""
        while self.checkpoints and self.checkpoints[-1][0] > agreed:
            self.checkpoints.pop()
        if not self.checkpoints:
            return False
        at, saved = self.checkpoints[-1]
        del self.events[at:], self.ids[at:], self.states[saved["states"] :]
        self.last_ml_action_sub_state = saved["last_ml"]
        self.turn_was_hidden = saved["hidden"]
        tr = self.tracker
        for name, (value, was_set) in saved["slots"].items():
            tr.slots[name]._value, tr.slots[name]._has_been_set = value, was_set
        for name in ("latest_message", "latest_bot_utterance", "followup_action", "_paused"):
            setattr(tr, name, saved[name])
        tr.latest_action = saved["latest_action"] and dict(saved["latest_action"])
        tr.active_loop = saved["active_loop"] and dataclasses.replace(saved["active_loop"])
        return True

    def checkpoint(self) -> None:
        """Remember the replay's state before the event it applies next."""
        tr = self.tracker
        self.checkpoints.append(
            (
                len(self.events),
                {
                    "states": len(self.states),
                    "last_ml": self.last_ml_action_sub_state,
                    "hidden": self.turn_was_hidden,
                    "slots": {
                        name: (slot._value, slot._has_been_set) for name, slot in tr.slots.items()
                    },
                    "latest_message": tr.latest_message,
                    "latest_bot_utterance": tr.latest_bot_utterance,
                    "followup_action": tr.followup_action,
                    "_paused": tr._paused,
                    "latest_action": tr.latest_action and dict(tr.latest_action),
                    "active_loop": tr.active_loop and dataclasses.replace(tr.active_loop),
                },
            )
        )

    def step(
        self, domain: Any, hide_rule_turn: bool, arguments: Tuple[bool, bool, Any], keep: bool
    ) -> Optional[Dict[str, Any]]:
        """The body of Rasa's loop for the tracker as replayed so far; with `keep`
        the loop's variables and the state are kept, else left as they were."""
        omit_unset_slots, ignore_rule_only_turns, rule_only_data = arguments
        tr = self.tracker
        last_ml, hidden = self.last_ml_action_sub_state, self.turn_was_hidden
        if ignore_rule_only_turns:
            if not hidden:
                last_ml = domain._get_prev_action_sub_state(tr)
            if not tr.followup_action and not tr.latest_action_name == tr.active_loop_name:
                hidden = hide_rule_turn
        if keep:
            self.last_ml_action_sub_state, self.turn_was_hidden = last_ml, hidden
        if ignore_rule_only_turns and hidden:
            return None
        state = domain.get_active_state(tr, omit_unset_slots=omit_unset_slots)
        if ignore_rule_only_turns:
            domain._remove_rule_only_features(state, rule_only_data)
            if self.states:
                domain._substitute_rule_only_user_input(state, self.states[-1])
            if last_ml:
                state["prev_action"] = last_ml
        state = domain._clean_state(state)
        if keep:
            self.states.append(state)
        return state

    def advance(self, domain: Any, applied: List[Any], arguments: Tuple[bool, bool, Any]) -> None:
        from rasa.shared.core.events import ActionExecuted

        for event in applied[len(self.ids) :]:
            if isinstance(event, ActionExecuted):
                self.checkpoint()
                self.step(domain, event.hide_rule_turn, arguments, keep=True)
            self.tracker.update(event)
            self.events.append(event)
            self.ids.append(id(event))


def states_for_tracker_history(
    domain: Any,
    tracker: Any,
    omit_unset_slots: bool = False,
    ignore_rule_only_turns: bool = False,
    rule_only_data: Optional[Dict[str, Any]] = None,
) -> List[Dict[str, Any]]:
    """Rasa's `Domain.states_for_tracker_history`, continuing the kept replay."""
    arguments = (omit_unset_slots, ignore_rule_only_turns, rule_only_data)
    key = (
        id(domain),
        omit_unset_slots,
        ignore_rule_only_turns,
        json.dumps(rule_only_data, sort_keys=True, default=str),
    )
    replays: Dict[Any, Replay] = tracker.__dict__.setdefault(REPLAYS, {})
    applied = tracker.applied_events()
    replay = replays.get(key)
    if replay is not None and set(replay.tracker.slots) != set(tracker.slots):
        replay = None  # other slots (Rasa replays into a copy with the tracker's slots)
    if replay is not None:
        agreed = replay.agreed(applied)
        if agreed < len(replay.ids) and not replay.rewind(agreed):
            replay = None
    if replay is None:
        replay = replays[key] = Replay(tracker)
    replay.advance(domain, applied, arguments)
    last = replay.step(domain, False, arguments, keep=False)  # Rasa's final `yield tracker, False`
    if last is not None:
        return replay.states + [last]
    # The featurizers change the last state in place: never hand out a kept one last.
    return replay.states[:-1] + [_copy_state(state) for state in replay.states[-1:]]


def _copy_state(state: Dict[str, Any]) -> Dict[str, Any]:
    """A state's sub-states copied (what the featurizers change in place)."""
    return {name: dict(sub) if isinstance(sub, dict) else sub for name, sub in state.items()}


def apply() -> None:
    from rasa.shared.core.domain import Domain

    Domain.states_for_tracker_history = states_for_tracker_history
