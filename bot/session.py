"""A new session carries over the citizen's city, not their personal data.

`carry_over_slots_to_new_session: true` (domain.yml) spares citizens saying
their city again after an hour away. Rasa carries over every slot, so an ID
number, phone number or identity token typed yesterday was still there today,
on a shared phone for the next person too. Session start now carries over all
slots except `common.privacy.SENSITIVE_SLOTS`.
"""
from __future__ import annotations

from typing import Any, List


def apply() -> None:
    """Install the filter on Rasa's session start; idempotent."""
    from rasa.core.actions.action import ActionSessionStart
    from rasa.shared.core.events import SlotSet

    from common.privacy import SENSITIVE_SLOTS

    original = ActionSessionStart._slot_set_events_from_tracker
    if getattr(original, "citylink", False):
        return

    def carried_over(tracker: Any) -> List[SlotSet]:
        return [event for event in original(tracker) if event.key not in SENSITIVE_SLOTS]

    carried_over.citylink = True  # type: ignore[attr-defined]
    ActionSessionStart._slot_set_events_from_tracker = staticmethod(carried_over)  # type: ignore[assignment]
