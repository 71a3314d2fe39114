"""The per-worker tracker cache (bot/patches/tracker_cache.py, bot/tracker_store.py):
what it serves is what a fresh read of the table gives, on SQLite and PostgreSQL."""
from __future__ import annotations

import time
from typing import Iterator, List, Tuple

import pytest
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, SessionStarted, SlotSet
from rasa.shared.core.trackers import DialogueStateTracker

from bot.tracker_store import ERASE_SLOT, SQLTrackerStore
from common import privacy
from tests.test_tracker_store import DOMAIN, rows, run, stores, turn  # noqa: F401  (fixture)

PLATE = "粤A288E0"
Stores = Tuple[SQLTrackerStore, SQLTrackerStore, SQLTrackerStore]


@pytest.fixture
def workers(stores, monkeypatch: pytest.MonkeyPatch) -> Iterator[Stores]:  # noqa: F811
    """Two bot workers with a cache each, and a store without one (a fresh read), on one database."""
    monkeypatch.setenv("CITYLINK_DATA_KEY", "test-data-key-not-a-secret")
    privacy.reset_key_cache()
    ours, _ = stores
    url = ours.engine.url.render_as_string(hide_password=False)
    first, second, fresh = (SQLTrackerStore(DOMAIN, dialect=ours.engine.dialect.name, host=url)
                            for _ in range(3))
    for worker in (first, second):
        worker.cache_size = 8
    yield first, second, fresh
    for store in (first, second, fresh):
        store.engine.dispose()
    privacy.reset_key_cache()


def talk(store: SQLTrackerStore, sender: str, text: str = "在吗") -> DialogueStateTracker:
    """One message as the bot handles it: read (or create), add a turn, save."""
    tracker = run(store.get_or_create_tracker(sender))
    turn(tracker, text, "在的")
    run(store.save(tracker))
    return tracker


def as_dicts(tracker: DialogueStateTracker) -> List[dict]:
    return [event.as_dict() for event in tracker.events]


def test_a_cached_tracker_is_the_fresh_read_and_the_same_object(workers: Stores) -> None:
    worker, _, fresh = workers
    for n in range(4):
        saved = talk(worker, "citizen", f"第{n}句")
    cached = run(worker.retrieve("citizen"))
    assert cached is saved  # served from the cache, not read again
    read = run(fresh.retrieve("citizen"))
    assert as_dicts(cached) == as_dicts(read)
    assert cached.current_slot_values() == read.current_slot_values()
    assert run(worker.retrieve("citizen")) is not cached  # handed out once until saved again


def test_a_tracker_changed_after_its_save_is_not_served(workers: Stores) -> None:
    worker, _, fresh = workers
    talk(worker, "citizen")
    saved = talk(worker, "citizen")
    saved.update(SlotSet("city", "深圳"))  # someone kept a reference and changed it, unsaved
    served = run(worker.retrieve("citizen"))
    assert served is not saved and served.get_slot("city") == "广州"
    assert as_dicts(served) == as_dicts(run(fresh.retrieve("citizen")))


def test_another_workers_rows_are_picked_up(workers: Stores) -> None:
    first, second, fresh = workers
    talk(first, "citizen", "一")
    mine = talk(first, "citizen", "二")  # read by `first`: cached there
    talk(second, "citizen", "三")  # the next turn lands on the other worker
    talk(second, "citizen", "四")
    back = run(first.retrieve("citizen"))
    assert back is mine  # brought up to date, not read whole
    assert as_dicts(back) == as_dicts(run(fresh.retrieve("citizen")))
    assert [e.text for e in back.events if e.type_name == "user"] == ["一", "二", "三", "四"]
    turn(back, "五", "好")
    run(first.save(back))
    assert len(rows(fresh, "citizen")) == len(back.events)  # each event stored once


def test_a_new_session_written_by_another_worker_is_read_alone(workers: Stores) -> None:
    first, second, fresh = workers
    talk(first, "citizen")
    talk(first, "citizen")
    other = run(second.retrieve("citizen"))
    for event in (ActionExecuted("action_session_start"), SessionStarted(),
                  ActionExecuted("action_listen")):
        other.update(event)
    run(second.save(other))
    back = run(first.retrieve("citizen"))
    assert [e.type_name for e in back.events][:1] == ["session_started"]
    assert as_dicts(back) == as_dicts(run(fresh.retrieve("citizen")))


def test_an_erased_conversation_is_not_served(workers: Stores) -> None:
    worker, _, fresh = workers
    talk(worker, "citizen")
    tracker = talk(worker, "citizen")
    tracker = run(worker.retrieve("citizen"))
    tracker.update(SlotSet(ERASE_SLOT, True))  # action_delete_my_data
    run(worker.save(tracker))
    assert rows(fresh, "citizen") == []
    assert run(worker.retrieve("citizen")) is None


def test_erased_elsewhere_then_written_again_is_not_served(workers: Stores) -> None:
    """The retention job (another process) erases; the citizen comes back on the other
    worker with as many rows as before: on SQLite they reuse the erased rows' ids."""
    first, second, fresh = workers
    talk(first, "citizen", "旧的一句")
    old = talk(first, "citizen", "旧的两句")
    count = len(rows(fresh, "citizen"))
    assert fresh.erase("citizen") == count
    tracker = DialogueStateTracker.from_events("citizen", [], DOMAIN.slots)
    while len(tracker.events) < count:
        tracker.update(ActionExecuted("action_listen"))
    run(second.save(tracker))
    assert len(rows(fresh, "citizen")) == count
    served = run(first.retrieve("citizen"))
    assert served is not old
    assert "旧的一句" not in str(as_dicts(served))
    assert as_dicts(served) == as_dicts(run(fresh.retrieve("citizen")))


def test_personal_values_stay_sealed_in_the_table_and_plain_in_the_cache(workers: Stores) -> None:
    worker, _, fresh = workers
    talk(worker, "citizen")
    tracker = run(worker.retrieve("citizen"))
    tracker.update(SlotSet("plate_number", PLATE))
    run(worker.save(tracker))
    assert not any(PLATE in data for *_, data in rows(fresh, "citizen"))
    cached = run(worker.retrieve("citizen"))
    assert cached is tracker and cached.get_slot("plate_number") == PLATE
    assert run(fresh.retrieve("citizen")).get_slot("plate_number") == PLATE


def test_a_new_model_drops_the_cached_trackers(workers: Stores) -> None:
    worker, _, _ = workers
    talk(worker, "citizen")
    saved = talk(worker, "citizen")
    worker.domain = Domain.from_dict(DOMAIN.as_dict())  # Agent.load_model sets the store's domain
    assert run(worker.retrieve("citizen")) is not saved


def test_the_cache_keeps_the_most_recent_conversations(workers: Stores) -> None:
    worker, _, _ = workers
    for n in range(worker.cache_size + 3):
        talk(worker, f"c{n}")
        talk(worker, f"c{n}")
    assert len(worker.cache) == worker.cache_size
    assert worker.cache.take("c0") is None and worker.cache.take(f"c{worker.cache_size + 2}")


def start_session(tracker: DialogueStateTracker) -> None:
    """What action_session_start adds (Rasa stamps its events after the action's)."""
    at = tracker.events[-1].timestamp
    for step, event in enumerate((ActionExecuted("action_session_start"), SessionStarted(),
                                  ActionExecuted("action_listen")), start=1):
        event.timestamp = at + step * 1e-6
        tracker.update(event)
    time.sleep(0.002)  # the next turn's events come later


def no_full_read(store: SQLTrackerStore, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args, **kwargs):
        raise AssertionError("read whole: not served from the cache")
    monkeypatch.setattr(store, "_event_query", refuse)


def test_a_new_conversations_first_turn_is_cached_as_a_read_gives_it(
        workers: Stores, monkeypatch: pytest.MonkeyPatch) -> None:
    worker, _, fresh = workers
    created = run(worker.get_or_create_tracker("citizen"))
    start_session(created)
    turn(created, "在吗", "在的")
    run(worker.save(created))
    no_full_read(worker, monkeypatch)  # neither the first save's COUNT nor a read since
    served = run(worker.retrieve("citizen"))
    assert served is not None and served is not created  # the new session alone
    assert as_dicts(served) == as_dicts(run(fresh.retrieve("citizen")))
    assert served.events[0].type_name == "session_started"
    turn(served, "查违章", "请告诉我车牌")
    run(worker.save(served))
    assert run(worker.retrieve("citizen")) is served
    assert len(rows(fresh, "citizen")) == 2 + len(served.events)  # listen + session start before
    assert as_dicts(served) == as_dicts(run(fresh.retrieve("citizen")))


def test_an_expired_session_is_cached_without_the_old_one(workers: Stores) -> None:
    worker, _, fresh = workers
    talk(worker, "citizen", "一")
    old = talk(worker, "citizen", "二")
    start_session(old)
    turn(old, "三", "好")
    run(worker.save(old))
    served = run(worker.retrieve("citizen"))
    assert [e.text for e in served.events if e.type_name == "user"] == ["三"]
    assert as_dicts(served) == as_dicts(run(fresh.retrieve("citizen")))
    # The original, saved again, still counts its own events right and is cached trimmed.
    turn(old, "四", "好")
    run(worker.save(old))
    again = run(worker.retrieve("citizen"))
    assert as_dicts(again) == as_dicts(run(fresh.retrieve("citizen")))
    assert [e.text for e in again.events if e.type_name == "user"] == ["三", "四"]
