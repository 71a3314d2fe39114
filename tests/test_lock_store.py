"""The SQLite lock store: tickets are unique across processes."""
import asyncio
import multiprocessing
import time
from pathlib import Path
from typing import Any, Callable, List, Text

from rasa.core.lock import TicketLock

from bot.lock_store import SQLiteLockStore


class NonAtomicLockStore(SQLiteLockStore):
    """Reads the lock and writes it back in two steps, as Rasa's base class does:
    the contention test must catch this. The pause only widens the window
    between read and write so that the race shows on every run."""

    def _modify(self, conversation_id: Text, change: Callable[[TicketLock], object]) -> object:
        lock = self.get_or_create_lock(conversation_id)
        result = change(lock)
        time.sleep(0.001)
        self.save_lock(lock)
        return result


def _issue_many(store_class: type, path: str, count: int, start: Any, queue: Any) -> None:
    try:
        store = store_class(path=path)
        store.get_lock("citizen-1")  # connection and schema ready before the start
        start.wait(timeout=30)
        queue.put([store.issue_ticket("citizen-1") for _ in range(count)])
    except Exception as error:  # shown by the test instead of a silent timeout
        queue.put([repr(error)])


def _tickets_of_two_processes(store_class: type, path: str, count: int) -> List[Any]:
    """Two processes released together by a barrier, each taking `count` tickets."""
    start = multiprocessing.Barrier(2)
    queue: "multiprocessing.Queue[list]" = multiprocessing.Queue()
    workers = [
        multiprocessing.Process(target=_issue_many, args=(store_class, path, count, start, queue))
        for _ in range(2)
    ]
    for worker in workers:
        worker.start()
    tickets = queue.get(timeout=60) + queue.get(timeout=60)
    for worker in workers:
        worker.join(timeout=30)
    return tickets


def test_two_processes_starting_together_never_get_the_same_ticket(tmp_path: Path):
    tickets = _tickets_of_two_processes(SQLiteLockStore, str(tmp_path / "locks.db"), 50)
    assert sorted(tickets) == list(range(100))


def test_the_contention_test_catches_a_store_that_reads_and_writes_separately(tmp_path: Path):
    tickets = _tickets_of_two_processes(NonAtomicLockStore, str(tmp_path / "locks.db"), 50)
    assert all(isinstance(t, int) for t in tickets), tickets
    assert len(set(tickets)) < len(tickets)  # the same ticket handed out twice


def test_messages_of_one_conversation_are_served_in_order(tmp_path: Path):
    store = SQLiteLockStore(path=str(tmp_path / "locks.db"))
    served = []

    async def handle(name: str, delay: float) -> None:
        async with store.lock("citizen-2", wait_time_in_seconds=0.01):
            await asyncio.sleep(delay)
            served.append(name)

    async def main() -> None:
        first = asyncio.create_task(handle("first", 0.05))
        await asyncio.sleep(0)
        await asyncio.gather(first, handle("second", 0))

    asyncio.run(main())
    assert served == ["first", "second"]
    assert store.get_lock("citizen-2") is None  # nothing left behind


def test_a_fresh_conversation_has_no_lock(tmp_path: Path):
    assert SQLiteLockStore(path=str(tmp_path / "locks.db")).get_lock("nobody") is None
