"""What a new session keeps: the citizen's city, a staff member's takeover; not personal data.

`carry_over_slots_to_new_session: true` (domain.yml) spares citizens saying
their city again after an hour away. Rasa carries over every slot, so an ID
number, phone number or identity token typed yesterday was still there today,
on a shared phone for the next person too. Session start now carries over all
slots except `common.privacy.SENSITIVE_SLOTS`.

A conversation a staff member holds (the console paused it, docs/console.md)
stays paused in the new session: Rasa's session start resets the pause, so a
citizen writing again after the session expiry (60 minutes) while the staff
member still held the conversation got the bot's answers again, beside the
staff's. Only the hand-back (the console's resume) gives the conversation back.
"""
from __future__ import annotations

from typing import Any, List


def apply() -> None:
    """Install both on Rasa's session start; idempotent."""
    from rasa.core.actions.action import ActionSessionStart
    from rasa.shared.core.events import ConversationPaused, SessionStarted, SlotSet

    from common.privacy import SENSITIVE_SLOTS

    original = ActionSessionStart._slot_set_events_from_tracker
    if getattr(original, "citylink", False):
        return

    def carried_over(tracker: Any) -> List[SlotSet]:
        return [event for event in original(tracker) if event.key not in SENSITIVE_SLOTS]

    carried_over.citylink = True  # type: ignore[attr-defined]
    ActionSessionStart._slot_set_events_from_tracker = staticmethod(carried_over)

    run = ActionSessionStart.run

    async def run_keeping_takeover(self: Any, output_channel: Any, nlg: Any, tracker: Any,
                                   domain: Any) -> List[Any]:
        events = await run(self, output_channel, nlg, tracker, domain)
        if tracker.is_paused():
            at = next((n for n, e in enumerate(events) if isinstance(e, SessionStarted)), -1)
            events.insert(at + 1, ConversationPaused())
        return events

    ActionSessionStart.run = run_keeping_takeover
