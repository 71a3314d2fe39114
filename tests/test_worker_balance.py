"""Worker processes see each other's load and the busier one sheds connections."""
import asyncio
import multiprocessing
from types import SimpleNamespace

from bot.worker_balance import WorkerLoads, shed_when_overloaded

FORK = multiprocessing.get_context("fork")


def other_worker(loads: WorkerLoads, load: int, ready, done) -> None:
    loads.change(load)
    ready.set()
    done.wait(10)


def with_other_worker(loads: WorkerLoads, load: int):
    ready, done = FORK.Event(), FORK.Event()
    process = FORK.Process(target=other_worker, args=(loads, load, ready, done))
    process.start()
    assert ready.wait(10)
    return process, done


def test_a_lone_worker_is_never_overloaded():
    loads = WorkerLoads()
    loads.change(+10)
    assert not loads.overloaded()


def test_the_busier_of_two_workers_is_overloaded_from_three_messages_more():
    loads = WorkerLoads()
    process, done = with_other_worker(loads, 1)
    try:
        loads.change(+3)
        assert not loads.overloaded()  # 3 vs 1
        loads.change(+1)
        assert loads.overloaded()  # 4 vs 1
        loads.change(-2)
        assert not loads.overloaded()
    finally:
        done.set()
        process.join()


def test_a_dead_workers_slot_is_taken_over_with_its_count_reset():
    loads = WorkerLoads(capacity=2)
    process, done = with_other_worker(loads, 5)
    done.set()
    process.join()
    process, done = with_other_worker(loads, 0)  # takes the free or the dead slot
    try:
        loads.change(+2)
        assert not loads.overloaded()
        loads.change(+1)
        assert loads.overloaded()  # 3 vs the new worker's 0, not the dead one's 5
    finally:
        done.set()
        process.join()


def test_an_overloaded_worker_answers_and_asks_the_client_to_reconnect():
    middleware = []
    app = SimpleNamespace(middleware=lambda kind: (lambda f: middleware.append((kind, f)) or f))
    busy = SimpleNamespace(overloaded=lambda: True)
    idle = SimpleNamespace(overloaded=lambda: False)
    for loads, keep_alive in ((busy, False), (idle, True)):
        middleware.clear()
        shed_when_overloaded(app, loads)
        (kind, handler), = middleware
        request = SimpleNamespace(stream=SimpleNamespace(keep_alive=True))
        asyncio.run(handler(request, SimpleNamespace()))
        assert kind == "response" and request.stream.keep_alive is keep_alive
