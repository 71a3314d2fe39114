"""Runtime patches of Rasa internals, one module per patch, each switchable.

Profiling `rasa run` under load (docs/benchmarks.md) found costs that give
citizens nothing; each module here removes one and says what it changes, why,
and what it gained. They touch private Rasa names, so `guard` checks the Rasa
and Sanic versions and every patched name before any patch is installed, and
the bot refuses to start on a mismatch rather than run half-patched.

`CITYLINK_PATCHES_OFF=name,name` (or `all`) leaves patches out; the end-to-end
conversations run in CI once with `all` (Makefile `test-stock-rasa`).
"""

from __future__ import annotations

import os
from types import ModuleType
from typing import Dict, List, Mapping

from bot.patches import (
    action_events,
    action_session,
    applied_events,
    domain_empty,
    event_class_cache,
    fair_queue,
    graph_runner,
    incremental_states,
    log_copies,
    reply_validation,
    rule_index,
    slot_copy,
    slot_validation_skip,
    sqlite_tracker,
    tracker_cache,
    tracker_copy,
)
from bot.patches.guard import PatchError, check

# Installation order: the order of the table in docs/benchmarks.md.
PATCHES: Dict[str, ModuleType] = {
    module.__name__.rsplit(".", 1)[1]: module
    for module in (
        reply_validation,
        tracker_copy,  # before slot_validation_skip, which wraps its validation
        slot_validation_skip,
        sqlite_tracker,
        action_session,
        action_events,
        fair_queue,
        graph_runner,
        event_class_cache,
        slot_copy,
        tracker_cache,
        applied_events,
        incremental_states,
        rule_index,
        log_copies,
        domain_empty,
    )
}
OFF_VARIABLE = "CITYLINK_PATCHES_OFF"


def enabled(environ: Mapping[str, str] = os.environ) -> List[str]:
    """Names of the patches to install: all but those switched off."""
    off = {name.strip() for name in environ.get(OFF_VARIABLE, "").split(",") if name.strip()}
    if "all" in off:
        return []
    unknown = off - set(PATCHES)
    if unknown:
        raise PatchError(
            f"{OFF_VARIABLE} 里有不认识的补丁名：{', '.join(sorted(unknown))}；"
            f"可用：{', '.join(PATCHES)} 或 all"
        )
    return [name for name in PATCHES if name not in off]


_installed: List[str] = []


def apply(names: "List[str] | None" = None) -> List[str]:
    """Check, then install the patches (`enabled()` by default); idempotent.

    Raises PatchError, installing nothing, when Rasa or Sanic is not the
    version the patches were written for or a patched name changed.
    """
    wanted = [name for name in (enabled() if names is None else names) if name not in _installed]
    check([PATCHES[name] for name in wanted])  # before installing: patched names look different
    for name in wanted:
        PATCHES[name].apply()
        _installed.append(name)
    return list(_installed)


def installed() -> List[str]:
    """The patches installed in this process."""
    return list(_installed)
