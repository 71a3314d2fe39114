"""A tracker as if a slot had not been extracted this turn, for forms that
re-run validation without a wrongly taken candidate (social, hotline)."""
from __future__ import annotations

from rasa_sdk import Tracker


def without_candidate(tracker: Tracker, slot: str) -> Tracker:
    """The tracker as if `slot` had not been extracted from the latest message
    (this turn's candidates are the trailing slot events)."""
    probe = tracker.copy()
    keep = len(probe.events)
    while keep and probe.events[keep - 1].get("event") == "slot":
        keep -= 1
    probe.events = probe.events[:keep] + [e for e in probe.events[keep:] if e.get("name") != slot]
    probe.slots[slot] = None
    return probe
