"""The SQLite lock store: tickets are unique across processes."""
import asyncio
import multiprocessing
from pathlib import Path

from bot.lock_store import SQLiteLockStore


def _issue_many(path: str, count: int, queue: "multiprocessing.Queue[list]") -> None:
    try:
        store = SQLiteLockStore(path=path)
        queue.put([store.issue_ticket("citizen-1") for _ in range(count)])
    except Exception as error:  # shown by the test instead of a silent timeout
        queue.put([repr(error)])


def test_two_processes_starting_together_never_get_the_same_ticket(tmp_path: Path):
    path = str(tmp_path / "locks.db")
    queue: "multiprocessing.Queue[list]" = multiprocessing.Queue()
    workers = [multiprocessing.Process(target=_issue_many, args=(path, 50, queue)) for _ in range(2)]
    for worker in workers:
        worker.start()
    tickets = queue.get(timeout=30) + queue.get(timeout=30)
    for worker in workers:
        worker.join(timeout=30)
    assert sorted(tickets) == list(range(100))


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
