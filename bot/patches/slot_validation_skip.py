"""No call to `action_validate_slot_mappings` when there is nothing to validate.

What: `ActionExtractSlots._execute_validation_action` sends the tracker to the
action server after every user message; here the call is skipped when the
message's extraction set no slot and the action server has no `extract_<slot>`
method to run. Rasa's result would then be empty.
Why: one HTTP round trip and one tracker serialisation per message, on most
turns for nothing (docs/benchmarks.md change 2).
Gain: one action-server call less on most turns (measured within change 1-3's
profile, not separately).

`ValidationAction` (rasa_sdk) runs `extract_<slot>` methods inside this very
call, so skipping it would silently switch them off: the slots those methods
fill are listed in `EXTRACTED_SLOTS`, and while any of them is in the domain
the call is never skipped. tests/test_patches.py fails when an
`action_validate_slot_mappings` class in actions/ gains an `extract_` method
whose slot is not listed.
"""

from __future__ import annotations

from typing import Any, FrozenSet, List

from bot.patches.guard import Target

TARGETS = (
    Target(
        "rasa.core.actions.action:ActionExtractSlots._execute_validation_action",
        ("self", "extraction_events", "output_channel", "nlg", "tracker", "domain"),
    ),
)

# Slots filled by `extract_<slot>` methods of actions/ (none today).
EXTRACTED_SLOTS: FrozenSet[str] = frozenset()


def must_call(extraction_events: List[Any], domain: Any) -> bool:
    """Whether Rasa's validation call can change anything for this message."""
    from rasa.shared.core.events import SlotSet

    if any(isinstance(event, SlotSet) for event in extraction_events):
        return True
    return any(slot.name in EXTRACTED_SLOTS for slot in domain.slots)


def apply() -> None:
    from rasa.core.actions.action import ActionExtractSlots
    from rasa.shared.core.events import Event

    original = ActionExtractSlots._execute_validation_action

    async def execute(
        self: ActionExtractSlots,
        extraction_events: List[Event],
        output_channel: Any,
        nlg: Any,
        tracker: Any,
        domain: Any,
    ) -> List[Event]:
        if not must_call(extraction_events, domain):
            return []
        return await original(self, extraction_events, output_channel, nlg, tracker, domain)

    ActionExtractSlots._execute_validation_action = execute
