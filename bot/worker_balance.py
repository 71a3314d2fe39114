"""Keep the bot worker processes equally busy when clients keep connections open.

All workers accept from one listening socket, and a worker that wakes up takes
every connection waiting. When many clients connect at once (a burst, or the
benchmark's 32 citizens), one worker can end up with 28 of 32 keep-alive
connections and its citizens wait three times longer than the other's; the
idle worker cannot help because a connection stays with the worker that
accepted it (docs/benchmarks.md).

Each worker publishes how many messages it holds in a counter shared by all
workers (they are forked from the process that creates it). After answering,
a worker holding three or more messages more than the least busy worker asks
the client to reconnect (`Connection: close`). The answer is delivered normally;
the client's next message opens a new connection, which the less busy worker,
having a free event loop, is the likelier to accept. Clients that reconnect
anyway (WeChat, a web chat idle for more than a few seconds) are unaffected.
"""
from __future__ import annotations

import multiprocessing
import os
from typing import Any, Optional

CAPACITY = 64  # worker slots; more workers than this are not balanced


class WorkerLoads:
    """Messages held per worker process, in memory shared across the fork."""

    def __init__(self, capacity: int = CAPACITY) -> None:
        context = multiprocessing.get_context("fork")
        self._loads = context.Array("i", capacity, lock=False)
        self._pids = context.Array("i", capacity, lock=False)
        self._claim = context.Lock()
        self._slot: Optional[int] = None
        self._slot_pid = 0

    def _mine(self) -> Optional[int]:
        """This process's slot, claimed on first use (None if all are taken)."""
        pid = os.getpid()
        if self._slot_pid != pid:
            self._slot, self._slot_pid = None, pid
            with self._claim:
                for index, owner in enumerate(self._pids):
                    if owner == 0 or not _alive(owner):
                        self._pids[index], self._loads[index] = pid, 0
                        self._slot = index
                        break
        return self._slot

    def change(self, delta: int) -> None:
        """A message arrived (+1) or was answered (-1) in this process."""
        slot = self._mine()
        if slot is not None:
            self._loads[slot] += delta

    def overloaded(self) -> bool:
        """True if this worker holds three or more messages more than another worker."""
        slot = self._mine()
        if slot is None:
            return False
        others = [self._loads[i] for i, pid in enumerate(self._pids) if pid and i != slot]
        return bool(others) and self._loads[slot] > min(others) + 2


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def shed_when_overloaded(app: Any, loads: WorkerLoads) -> None:
    """Ask clients of an overloaded worker to reconnect after their answer."""

    @app.middleware("response")
    async def reconnect_elsewhere(request: Any, response: Any) -> None:
        if loads.overloaded():
            request.stream.keep_alive = False
