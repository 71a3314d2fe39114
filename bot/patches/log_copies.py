"""No deep copies for Rasa's debug lines unless debug lines are written.

What: Rasa 3.6 writes many debug lines as `structlogger.debug("…",
x=copy.deepcopy(y))`; the copy is made before structlog drops the line at
INFO. In the modules below every `copy.deepcopy` call is such an argument
(tests/test_patches.py checks their source), so each module's `copy` name
becomes a stand-in whose `deepcopy` hands the object back as it is unless the
`rasa` logger writes debug lines (then it copies, as Rasa does).
The same for the text RulePolicy makes of every dialogue state of the session
(`format_tracker_states`, whose one caller in Rasa is such a debug line): an
empty text unless debug lines are written.
Why: events, states and slot values copied for nothing after every action
and prediction: 2.2% of a bot worker at 32 citizens (py-spy, change 24); the
states' text grew with the conversation: a third of what a turn's cost grew
by over 200 turns (cProfile, change 31).
Gain: docs/benchmarks.md changes 24 and 31.
"""

from __future__ import annotations

import copy
import logging
from types import ModuleType
from typing import Any, Optional

from bot.patches.guard import Target

MODULES = (
    "rasa.core.processor",
    "rasa.core.policies.memoization",
    "rasa.core.policies.rule_policy",
    "rasa.core.actions.forms",
)
TARGETS = (
    *(Target(f"{module}:copy") for module in MODULES),
    Target("rasa.core.policies.policy:Policy.format_tracker_states", ("states",)),
)


def debug_lines() -> bool:
    return logging.getLogger("rasa").isEnabledFor(logging.DEBUG)


class LogCopy(ModuleType):
    """`copy` for modules that deep-copy only into debug lines."""

    def __init__(self) -> None:
        super().__init__("copy")

    @staticmethod
    def deepcopy(value: Any, memo: Optional[Any] = None) -> Any:
        if debug_lines():
            return copy.deepcopy(value, memo)
        return value


def apply() -> None:
    import importlib

    from rasa.core.policies.policy import Policy
    from rasa.core.policies.rule_policy import RulePolicy

    for name in MODULES:
        importlib.import_module(name).copy = LogCopy()  # type: ignore[attr-defined]
    states_text = Policy.format_tracker_states

    def format_tracker_states(states: Any) -> str:
        return states_text(states) if debug_lines() else ""

    RulePolicy.format_tracker_states = staticmethod(format_tracker_states)
