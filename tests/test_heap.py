"""bot/heap.py: the loaded model is frozen out of full collections; a swap frees the old one."""
from __future__ import annotations

import asyncio
import gc
import weakref

import rasa.core.run

from bot import heap


class Node:
    """Something in a reference cycle: only the cycle collector frees it."""

    def __init__(self) -> None:
        self.me = self


def test_settle_frees_cycles_then_freezes_what_is_alive() -> None:
    before = gc.get_threshold()
    try:
        garbage = Node()
        gone = weakref.ref(garbage)
        del garbage
        alive = Node()
        heap.settle()
        assert gone() is None  # collected before the freeze, not kept frozen
        assert gc.get_freeze_count() > 0
        assert not any(obj is alive for obj in gc.get_objects())  # frozen: not scanned
        assert gc.get_threshold() == (700, 10, 100)
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)


def test_the_workers_start_up_loader_settles_after_loading(monkeypatch) -> None:
    calls = []

    async def load(*args, **kwargs):
        calls.append("load")
        return "agent"

    monkeypatch.setattr(rasa.core.run, "load_agent_on_start", load)
    monkeypatch.setattr(heap, "settle", lambda: calls.append("settle"))
    heap.apply()
    heap.apply()  # idempotent: wrapped once
    assert asyncio.run(rasa.core.run.load_agent_on_start("m", None, None, None, None)) == "agent"
    assert calls == ["load", "settle"]
