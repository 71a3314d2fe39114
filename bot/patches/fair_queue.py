"""Fair queueing: each worker works on at most CITYLINK_MAX_INFLIGHT messages.

What: `MessageProcessor.handle_message` is wrapped so that each event loop
runs at most `CITYLINK_MAX_INFLIGHT` messages at once (default 2: one
computes while another waits for the action server); the rest wait first come,
first served. It runs inside the conversation lock, so a citizen's second
message waiting for their first holds no place. `rasa.core.run.configure_app`
is wrapped so that bot/worker_balance.py keeps the workers' queues equally
long. `CITYLINK_MAX_INFLIGHT=0` switches it off like CITYLINK_PATCHES_OFF.
Why: a worker interleaved every accepted message, so a backend turn (four
awaits) queued behind all the others at each step: p95 was 3.4x p50.
Gain (docs/benchmarks.md changes 14 and 15): at 32 citizens p95 466 -> 225 ms
at the same throughput (183 -> 185 msg/s).
"""

from __future__ import annotations

import asyncio
import functools
import os
from typing import Any, Awaitable, Callable, Dict, Optional

from bot.patches.guard import Target
from bot.worker_balance import WorkerLoads, shed_when_overloaded

TARGETS = (
    Target("rasa.core.processor:MessageProcessor.handle_message", ("self", "message")),
    Target("rasa.core.run:configure_app"),
)


def fair_queue(
    handle: Callable[..., Awaitable[Any]], limit: int, loads: Optional[WorkerLoads] = None
) -> Callable[..., Awaitable[Any]]:
    """`handle`, running at most `limit` calls at once per event loop; the rest
    wait their turn in arrival order. `loads` counts the calls held."""
    gates: Dict[int, asyncio.Semaphore] = {}

    @functools.wraps(handle)
    async def queued(self: Any, message: Any) -> Any:
        gate = gates.setdefault(id(asyncio.get_running_loop()), asyncio.Semaphore(limit))
        if loads is not None:
            loads.change(+1)
        try:
            async with gate:
                return await handle(self, message)
        finally:
            if loads is not None:
                loads.change(-1)

    return queued


def apply() -> None:
    import rasa.core.run
    from rasa.core.processor import MessageProcessor

    limit = int(os.environ.get("CITYLINK_MAX_INFLIGHT", "2"))
    if limit <= 0:
        return
    loads = WorkerLoads()  # before Sanic forks the workers, so they share it
    MessageProcessor.handle_message = fair_queue(MessageProcessor.handle_message, limit, loads)
    configure_app = rasa.core.run.configure_app

    def configure_balanced_app(*args: Any, **kwargs: Any) -> Any:
        app = configure_app(*args, **kwargs)
        shed_when_overloaded(app, loads)
        return app

    rasa.core.run.configure_app = configure_balanced_app
