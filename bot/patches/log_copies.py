"""No deep copies for Rasa's debug lines unless debug lines are written.

What: Rasa 3.6 writes many debug lines as `structlogger.debug("…",
x=copy.deepcopy(y))`; the copy is made before structlog drops the line at
INFO. In the modules below every `copy.deepcopy` call is such an argument
(tests/test_patches.py checks their source), so each module's `copy` name
becomes a stand-in whose `deepcopy` hands the object back as it is unless the
`rasa` logger writes debug lines (then it copies, as Rasa does).
Why: events, states and slot values copied for nothing after every action
and prediction: 2.2% of a bot worker at 32 citizens (py-spy, change 24).
Gain: docs/benchmarks.md change 24.
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
TARGETS = tuple(Target(f"{module}:copy") for module in MODULES)


class LogCopy(ModuleType):
    """`copy` for modules that deep-copy only into debug lines."""

    def __init__(self) -> None:
        super().__init__("copy")

    @staticmethod
    def deepcopy(value: Any, memo: Optional[Any] = None) -> Any:
        if logging.getLogger("rasa").isEnabledFor(logging.DEBUG):
            return copy.deepcopy(value, memo)
        return value


def apply() -> None:
    import importlib

    for name in MODULES:
        importlib.import_module(name).copy = LogCopy()  # type: ignore[attr-defined]
