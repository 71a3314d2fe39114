"""A bot worker's model is kept out of Python's full garbage collections.

Why: once the model is loaded a worker holds about 520,000 objects (Rasa's graph
and its components, TensorFlow, jieba's dictionary), and Python's full
collection walks every one of them: 240-260 ms with the worker's event loop
stopped, for every citizen that worker holds. Under load they came every few
seconds and made most of the slow answers: the bench's time series showed the
tail in bursts, not spread (docs/benchmarks.md, change 29). `gc.freeze()` after
the model is loaded moves everything alive into a permanent generation that
collections skip; what a message creates is still collected as before.

Freezing alone left the caches (the last trackers of 512 conversations, the
events of the last action calls): a full collection every 3-6 s per worker
under load, growing from 80 to 320 ms as the caches filled, while it found
only 50-900 objects of garbage each time (gc callbacks in the workers during
the bench). A full collection now waits for 100 collections of the middle
generation instead of 10: about every 30 s under load, the reference cycles
between them are freed as before, only later.

A model swap (bot/model_watch.py) first collects once with everything unfrozen
(one such pause per activation, so that the old model's reference cycles are
freed, not kept frozen), then freezes the new one.
"""
from __future__ import annotations

import gc
from typing import Any

# Python's default is (700, 10, 10): the third number is the one changed (see above).
THRESHOLDS = (700, 10, 100)


def settle() -> None:
    """Collect everything once, then freeze what is left alive; full collections rarer."""
    gc.unfreeze()
    gc.collect()
    gc.freeze()
    gc.set_threshold(*THRESHOLDS)


def apply() -> None:
    """Freeze each worker's heap once its model is loaded at start-up; idempotent."""
    import rasa.core.run

    original = rasa.core.run.load_agent_on_start
    if getattr(original, "citylink_heap", False):
        return

    async def load_then_settle(*args: Any, **kwargs: Any) -> Any:
        agent = await original(*args, **kwargs)
        settle()
        return agent

    load_then_settle.citylink_heap = True  # type: ignore[attr-defined]
    rasa.core.run.load_agent_on_start = load_then_settle
