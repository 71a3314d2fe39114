"""A tracker copied as its state, not rebuilt by replaying every event.

What: `DialogueStateTracker.copy` (a copy per action run, `MessageProcessor
._run_action`), the form's `_temporary_tracker` (a tracker per form run) and
the one `ActionExtractSlots._execute_validation_action` sends to
`action_validate_slot_mappings` build the new tracker from the old one's state: the same
events, each slot's value, the latest message and action, the active loop.
Rasa replayed every event of the session into a new tracker instead, and each
past `UserUtteranceReverted` (every fallback leaves one) replays all events
before it again: a copy cost grew with the square of the conversation's length.
A tracker's state is by Rasa's rule re-creatable from its events, so both give
the same tracker (tests/test_long_conversations.py compares them on a long
conversation). Trackers with a `max_event_history` are still replayed (their
truncated events no longer give their state), and so are temporary trackers of
a conversation that was restarted (Rasa replays only the events after it).
Why: tools/bench/turncost.py's profile: at turn 200, `copy` and
`_temporary_tracker` took 10 of the 15 s of 20 turns. Installed before
slot_validation_skip, which then wraps this validation.
Gain: docs/benchmarks.md, "Long conversations".
"""

from __future__ import annotations

import copy
import dataclasses
from typing import Any, List, Optional

from bot.patches.guard import Target

TARGETS = (
    Target("rasa.shared.core.trackers:DialogueStateTracker.copy", ("self",)),
    Target("rasa.shared.core.trackers:DialogueStateTracker.init_copy", ("self",)),
    Target("rasa.shared.core.trackers:DialogueStateTracker._create_events", ("self", "evts")),
    Target("rasa.shared.core.trackers:DialogueStateTracker.events_after_latest_restart", ("self",)),
    Target("rasa.shared.core.trackers:TrackerActiveLoop"),
    Target(
        "rasa.core.actions.forms:FormAction._temporary_tracker",
        ("self", "current_tracker", "additional_events", "domain"),
    ),
    Target("rasa.core.actions.forms:FormAction.get_slot_to_fill", ("self", "tracker")),
    Target(
        "rasa.core.actions.action:ActionExtractSlots._execute_validation_action",
        ("self", "extraction_events", "output_channel", "nlg", "tracker", "domain"),
    ),
    Target(
        "rasa.core.actions.action:ActionExtractSlots._run_custom_action",
        ("self", "custom_action", "output_channel", "nlg", "tracker", "domain"),
    ),
)

_stock_copy: Any = None


def state_copy(tracker: Any, events: Optional[List[Any]] = None) -> Any:
    """A new tracker in `tracker`'s state, holding `events` (default: all of its events)."""
    new = tracker.init_copy()  # sender, max history, rule flag; model and assistant ids unset
    new.events = new._create_events(list(tracker.events) if events is None else events)
    new.slots = {name: copy.copy(slot) for name, slot in tracker.slots.items()}
    new._paused = tracker._paused
    new.followup_action = tracker.followup_action
    new.latest_action = None if tracker.latest_action is None else dict(tracker.latest_action)
    new.latest_message = tracker.latest_message
    new.latest_bot_utterance = tracker.latest_bot_utterance
    new.active_loop = tracker.active_loop and dataclasses.replace(tracker.active_loop)
    return new


def tracker_copy(self: Any) -> Any:
    """Rasa's `DialogueStateTracker.copy`, from the state."""
    if self._max_event_history is not None:
        return _stock_copy(self)
    return state_copy(self)


def _extended(tracker: Any, added: List[Any], domain: Any) -> Any:
    """What `DialogueStateTracker.from_events(sender, tracker.events_after_latest_restart()
    + added, slots=domain.slots)` builds, from the state when that is the same tracker:
    the domain's slots, all events kept, no restart (its effects outlive the events
    after it, which Rasa replays alone)."""
    from rasa.shared.core.events import Restarted
    from rasa.shared.core.trackers import DialogueStateTracker

    if (
        tracker._max_event_history is not None
        or Restarted in map(type, tracker.events)
        or {*tracker.slots} != {slot.name for slot in domain.slots}
    ):
        return DialogueStateTracker.from_events(
            tracker.sender_id, tracker.events_after_latest_restart() + added, slots=domain.slots
        )
    new = state_copy(tracker, list(tracker.events))
    for event in added:
        new.update(event)
    return new


def temporary_tracker(
    self: Any, current_tracker: Any, additional_events: List[Any], domain: Any
) -> Any:
    """Rasa's `FormAction._temporary_tracker` (same events, same order), from the state."""
    from rasa.shared.core.constants import REQUESTED_SLOT
    from rasa.shared.core.events import ActionExecuted, SlotSet

    return _extended(
        current_tracker,
        [
            SlotSet(REQUESTED_SLOT, self.get_slot_to_fill(current_tracker)),
            ActionExecuted(self.name()),
            *additional_events,
        ],
        domain,
    )


async def execute_validation_action(
    self: Any,
    extraction_events: List[Any],
    output_channel: Any,
    nlg: Any,
    tracker: Any,
    domain: Any,
) -> List[Any]:
    """Rasa's `ActionExtractSlots._execute_validation_action`, its tracker from the state."""
    from rasa.shared.core.constants import ACTION_VALIDATE_SLOT_MAPPINGS
    from rasa.shared.core.events import SlotSet

    slot_events = [event for event in extraction_events if isinstance(event, SlotSet)]
    if ACTION_VALIDATE_SLOT_MAPPINGS not in domain.user_actions:
        return slot_events
    validate_events = await self._run_custom_action(
        ACTION_VALIDATE_SLOT_MAPPINGS,
        output_channel,
        nlg,
        _extended(tracker, slot_events, domain),
        domain,
    )
    validated = {event.key for event in validate_events if isinstance(event, SlotSet)}
    # A slot the action did not answer for is valid (Rasa's rule).
    return validate_events + [event for event in slot_events if event.key not in validated]


def apply() -> None:
    global _stock_copy
    from rasa.core.actions.action import ActionExtractSlots
    from rasa.core.actions.forms import FormAction
    from rasa.shared.core.trackers import DialogueStateTracker

    _stock_copy = DialogueStateTracker.copy
    DialogueStateTracker.copy = tracker_copy
    FormAction._temporary_tracker = temporary_tracker
    ActionExtractSlots._execute_validation_action = execute_validation_action
