"""Whether the domain is empty, worked out once per domain object.

What: `MessageProcessor._check_for_unseen_features` asks `domain.is_empty()`
for every message, and Rasa answers by building the whole domain's dict and
an empty domain's and comparing them. A loaded domain does not change (Rasa
merges domains into new objects), so the answer is kept on the object.
Why: two domain dicts built per message for one constant: ~1% of a bot
worker at 32 citizens (py-spy, change 25).
Gain: docs/benchmarks.md change 25.
"""

from __future__ import annotations

from typing import Any

from bot.patches.guard import Target

TARGETS = (Target("rasa.shared.core.domain:Domain.is_empty", ("self",)),)
ANSWER = "_citylink_is_empty"


def apply() -> None:
    from rasa.shared.core.domain import Domain

    is_empty = Domain.is_empty

    def remembered(self: Any) -> bool:
        answer = self.__dict__.get(ANSWER)
        if answer is None:
            answer = self.__dict__[ANSWER] = is_empty(self)
        return bool(answer)

    Domain.is_empty = remembered
