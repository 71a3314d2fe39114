"""`Event.resolve_by_type` remembers the class of each event type name.

What: Rasa walks every `Event` subclass to find the one for a type name, for
every event read from the tracker store; here each found class is kept.
Unknown names are not cached (a later import may define them) and get
Rasa's own answer (its default, or its ValueError).
Why: 4% of a bot worker (docs/benchmarks.md change 13).
Gain: part of change 13: 158.8 -> 183.0 msg/s, p95 543 -> 466 ms at 32 citizens.
"""

from __future__ import annotations

from typing import Any, Dict

from bot.patches.guard import Target

TARGETS = (Target("rasa.shared.core.events:Event.resolve_by_type", ("type_name", "default")),)


def apply() -> None:
    from rasa.shared.core.events import Event

    original = Event.resolve_by_type
    found: Dict[str, Any] = {}

    def resolve_by_type(type_name: str, default: Any = None) -> Any:
        if type_name not in found:
            try:
                found[type_name] = original(type_name)
            except ValueError:  # unknown now: Rasa's answer
                return original(type_name, default)
        return found[type_name]

    Event.resolve_by_type = staticmethod(resolve_by_type)
