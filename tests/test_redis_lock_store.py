"""The Redis lock store for several bot nodes, against a real redis-server.

The contention test runs processes (bot nodes) that start together on a
barrier and take turns on one conversation; inside the lock each counts itself
in and out in Redis. Two inside at once is an overlap: two turns of one
conversation running together; a turn refused with LockError is a lost message. Each Redis command is delayed by 1 ms, as over
a network, which is what widens the race in the stock store.
"""
from __future__ import annotations

import asyncio
import json
import multiprocessing
import time
from typing import Any, List

import pytest
import redis
from rasa.core.lock import TicketLock
from rasa.core.lock_store import LockError, RedisLockStore

from bot.lock_store import AtomicRedisLockStore, EnvironmentLockStore, SQLiteLockStore

NODES, TURNS = 4, 25
STALLED = 30.0  # seconds a node may take for its turns before the rest count as lost


def _stock(url: str) -> RedisLockStore:
    store = RedisLockStore()
    store.red = redis.StrictRedis.from_url(url)
    return store


def _node(kind: str, url: str, conversation: str, barrier: Any, queue: Any) -> None:
    """One bot node taking TURNS turns; reports how often it found someone inside,
    and how many turns it did not take: refused (LockError, the message would be
    lost) or stalled (not served within STALLED seconds)."""
    original = redis.StrictRedis.execute_command

    def over_network(self: Any, *args: Any, **kwargs: Any) -> Any:
        time.sleep(0.001)
        return original(self, *args, **kwargs)

    redis.StrictRedis.execute_command = over_network  # type: ignore[method-assign]
    store = AtomicRedisLockStore(url=url) if kind == "atomic" else _stock(url)
    counter = redis.StrictRedis.from_url(url)

    overlaps = served = 0

    async def turns() -> None:
        nonlocal overlaps, served
        for _ in range(TURNS):
            try:
                async with store.lock(conversation, lock_lifetime=30, wait_time_in_seconds=0.001):
                    if counter.incr(f"inside:{conversation}") > 1:
                        overlaps += 1
                    await asyncio.sleep(0.002)
                    counter.decr(f"inside:{conversation}")
                    served += 1
            except LockError:
                pass

    async def within_time() -> None:
        try:
            await asyncio.wait_for(turns(), timeout=STALLED)
        except asyncio.TimeoutError:
            pass

    try:
        barrier.wait(timeout=30)
        asyncio.run(within_time())
        queue.put((overlaps, TURNS - served))
    except Exception as error:  # shown by the test instead of a silent timeout
        queue.put(repr(error))


def _overlaps(kind: str, url: str, conversation: str) -> List[Any]:
    context = multiprocessing.get_context("fork")
    barrier, queue = context.Barrier(NODES), context.Queue()
    nodes = [context.Process(target=_node, args=(kind, url, conversation, barrier, queue))
             for _ in range(NODES)]
    for node in nodes:
        node.start()
    results = [queue.get(timeout=120) for _ in nodes]
    for node in nodes:
        node.join(timeout=30)
    return results


def test_nodes_never_run_one_conversation_at_once(redis_server: str):
    results = _overlaps("atomic", redis_server, "web:contended")
    assert results == [(0, 0)] * NODES
    assert redis.StrictRedis.from_url(redis_server).get("lock:web:contended") is None


def test_the_stock_redis_lock_store_fails_the_same_check(redis_server: str):
    """What the subclass fixes (Rasa 3.6's plain GET/SET): the test above can fail."""
    results = _overlaps("stock", redis_server, "web:contended-stock")
    assert all(isinstance(result, tuple) for result in results), results
    assert sum(overlaps + lost for overlaps, lost in results) > 0


def test_same_keys_and_ticket_format_as_rasa(redis_server: str):
    store = AtomicRedisLockStore(url=redis_server)
    assert store.issue_ticket("wechat:o1", lock_lifetime=30) == 0
    assert store.issue_ticket("wechat:o1", lock_lifetime=30) == 1
    raw = redis.StrictRedis.from_url(redis_server).get("lock:wechat:o1")
    lock = TicketLock.from_dict(json.loads(raw))
    assert [ticket.number for ticket in lock.tickets] == [0, 1]
    assert _stock(redis_server).get_lock("wechat:o1").now_serving == 0  # Rasa reads it
    store.cleanup("wechat:o1", 0)
    store.cleanup("wechat:o1", 1)
    assert store.get_lock("wechat:o1") is None


def test_a_dead_nodes_ticket_expires_and_the_conversation_carries_on(redis_server: str):
    """The waiter's ticket, issued right after the dead one with the same lifetime,
    is renewed by its live node: it does not expire with the dead one."""
    store = AtomicRedisLockStore(url=redis_server)
    store.issue_ticket("rest:orphan", lock_lifetime=0.3)  # taken by a node that then died

    async def next_turn() -> str:
        async with store.lock("rest:orphan", lock_lifetime=0.3, wait_time_in_seconds=0.05):
            return "served"

    assert asyncio.run(next_turn()) == "served"
    assert store.get_lock("rest:orphan") is None


def test_a_live_turn_longer_than_the_lifetime_keeps_its_conversation(redis_server: str):
    store = AtomicRedisLockStore(url=redis_server)
    served: List[str] = []

    async def turn(name: str, seconds: float) -> None:
        async with store.lock("rest:slow", lock_lifetime=0.3, wait_time_in_seconds=0.02):
            served.append(f"{name} in")
            await asyncio.sleep(seconds)
            served.append(f"{name} out")

    async def both() -> None:
        slow = asyncio.ensure_future(turn("slow", 1.0))  # over three lifetimes
        await asyncio.sleep(0.05)
        await asyncio.gather(slow, turn("next", 0))

    asyncio.run(both())
    assert served == ["slow in", "slow out", "next in", "next out"]


def test_redis_url_chooses_redis_and_its_absence_sqlite(redis_server: str, tmp_path,
                                                        monkeypatch: pytest.MonkeyPatch):
    from rasa.utils.endpoints import EndpointConfig

    config = EndpointConfig(type="bot.lock_store.EnvironmentLockStore",
                            path=str(tmp_path / "locks.db"))
    monkeypatch.delenv("REDIS_URL", raising=False)
    assert isinstance(EnvironmentLockStore(config), SQLiteLockStore)
    monkeypatch.setenv("REDIS_URL", redis_server)
    assert isinstance(EnvironmentLockStore(config), AtomicRedisLockStore)
