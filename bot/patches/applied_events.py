"""A tracker's applied events folded once, then continued with its new events.

What: `DialogueStateTracker.applied_events` (the events minus those undone by
reverts and loop re-runs) walks every event of the tracker on each call, and
for each run of a form again the applied events before it. Here the tracker
keeps the fold (how many events, the last one, the loop names, the result)
and the next call folds only the events added since, with Rasa's loop body.
It starts over, as Rasa computes it, when the events are not the ones folded
(another deque, fewer events, a different last event), when a new loop name
appears (Rasa decides with the loop names of all events, later ones too), and
for trackers with a `max_event_history`. Callers get a new list each time.
Why: it is called several times per prediction (`generate_all_prior_trackers`,
`replay_events` after each revert, the session check), and ABC isinstance
checks over all events made it the largest cost that grew with a
conversation's length once the tracker copies were gone
(tools/bench/turncost.py profile at turn 200: 2.7 of 5.1 s of 20 turns).
Gain: docs/benchmarks.md, "Long conversations".
"""

from __future__ import annotations

import itertools
from typing import Any, List, Set

from bot.patches.guard import Target

TARGETS = (
    Target("rasa.shared.core.trackers:DialogueStateTracker.applied_events", ("self",)),
    Target(
        "rasa.shared.core.trackers:DialogueStateTracker._undo_till_previous",
        ("event_type", "done_events"),
    ),
    Target(
        "rasa.shared.core.trackers:DialogueStateTracker._first_loop_execution_or_unhappy_path",
        ("self", "loop_action_name", "applied_events"),
    ),
    Target(
        "rasa.shared.core.trackers:DialogueStateTracker._undo_till_previous_loop_execution",
        ("loop_action_name", "done_events"),
    ),
)

FOLD = "_citylink_applied_fold"  # tracker attribute


class Fold:
    """Rasa's loop over a tracker's events, as far as it has gone."""

    def __init__(self, tracker: Any) -> None:
        from rasa.shared.core.events import ActiveLoop

        self.events = tracker.events
        self.count = 0
        self.last: Any = None
        self.loops: Set[str] = {e.name for e in self.events if isinstance(e, ActiveLoop) and e.name}
        self.applied: List[Any] = []

    def matches(self, tracker: Any) -> bool:
        events = tracker.events
        return (
            events is self.events
            and len(events) >= self.count
            and (self.count == 0 or events[self.count - 1] is self.last)
        )

    def advance(self, tracker: Any, new: List[Any]) -> None:
        from rasa.shared.core.events import (
            ActionExecuted,
            ActionReverted,
            Restarted,
            SessionStarted,
            UserUtteranceReverted,
            UserUttered,
        )

        applied = self.applied
        for event in new:  # Rasa's loop body, step for step
            if isinstance(event, (Restarted, SessionStarted)):
                applied = []
            elif isinstance(event, ActionReverted):
                tracker._undo_till_previous(ActionExecuted, applied)
            elif isinstance(event, UserUtteranceReverted):
                tracker._undo_till_previous(UserUttered, applied)
                tracker._undo_till_previous(ActionExecuted, applied)
            elif (
                isinstance(event, ActionExecuted)
                and event.action_name in self.loops
                and not tracker._first_loop_execution_or_unhappy_path(event.action_name, applied)
            ):
                tracker._undo_till_previous_loop_execution(event.action_name, applied)
            else:
                applied.append(event)
        self.applied = applied
        self.count += len(new)
        if new:
            self.last = new[-1]


def applied_events(self: Any) -> List[Any]:
    """Rasa's `DialogueStateTracker.applied_events`, continuing the kept fold."""
    from rasa.shared.core.events import ActiveLoop

    fold = self.__dict__.get(FOLD)
    if self._max_event_history is not None or fold is None or not fold.matches(self):
        fold = Fold(self)
    new = list(itertools.islice(reversed(self.events), len(self.events) - fold.count))[::-1]
    if any(isinstance(e, ActiveLoop) and e.name and e.name not in fold.loops for e in new):
        fold = Fold(self)  # a loop name Rasa would have known from the start
        new = list(self.events)
    fold.advance(self, new)
    if self._max_event_history is None:
        self.__dict__[FOLD] = fold
    return list(fold.applied)


def apply() -> None:
    from rasa.shared.core.trackers import DialogueStateTracker

    DialogueStateTracker.applied_events = applied_events
