"""Our SQL tracker store writes Rasa's rows, each event once, on SQLite and PostgreSQL,
and endpoints.yml uses it."""
import asyncio
from pathlib import Path

import pytest
from rasa.core.tracker_store import SQLTrackerStore as RasaSQLTrackerStore
from rasa.core.tracker_store import TrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, SessionStarted, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.utils.endpoints import read_endpoint_config

from bot import patches
from bot.tracker_store import SQLTrackerStore
from tests import postgres

ROOT = Path(__file__).resolve().parents[1]
DOMAIN = Domain.from_yaml("""
version: "3.1"
slots:
  city:
    type: text
    mappings: [{type: custom}]
  plate_number:
    type: text
    mappings: [{type: custom}]
""")


def run(coroutine):
    return asyncio.run(coroutine)


@pytest.fixture(params=["sqlite", "postgresql"])
def stores(request: pytest.FixtureRequest, tmp_path: Path):
    """Ours and Rasa's store on one new database: a SQLite file or a PostgreSQL database."""
    patches.apply(["sqlite_tracker"])  # WAL and connection reuse, as in the bot
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'tracker.db'}"
    else:
        url = postgres.new_database(request.getfixturevalue("postgres_server"))
    ours = SQLTrackerStore(DOMAIN, dialect=request.param, host=url)
    rasa = RasaSQLTrackerStore(DOMAIN, dialect=request.param, host=url)
    yield ours, rasa
    for store in (ours, rasa):
        store.engine.dispose()


def turn(tracker: DialogueStateTracker, text: str, reply: str) -> None:
    tracker.update(UserUttered(text, {"name": "greet", "confidence": 0.9}))
    tracker.update(SlotSet("city", "广州"))
    tracker.update(ActionExecuted("utter_greet"))
    tracker.update(BotUttered(reply))
    tracker.update(ActionExecuted("action_listen"))


def rows(store: RasaSQLTrackerStore, sender: str):
    with store.session_scope() as session:
        return [(e.type_name, e.intent_name, e.action_name, e.data)
                for e in session.query(store.SQLEvent).filter_by(sender_id=sender)
                .order_by(store.SQLEvent.id)]


def test_a_conversation_reads_back_the_same_through_rasas_store(stores):
    ours, rasa = stores
    tracker = run(ours.get_or_create_tracker("citizen"))
    turn(tracker, "你好", "您好")
    run(ours.save(tracker))
    for _ in range(2):  # read, add a turn, write: what the bot does per message
        tracker = run(ours.retrieve("citizen"))
        turn(tracker, "在吗", "在的")
        run(ours.save(tracker))

    by_rasa = run(rasa.retrieve("citizen"))
    assert list(by_rasa.events) == list(tracker.events)
    assert by_rasa.get_slot("city") == "广州"
    assert len(rows(rasa, "citizen")) == len(tracker.events)  # each event stored once


def test_rows_are_exactly_the_ones_rasas_store_writes(stores):
    ours, rasa = stores
    for store, sender in ((ours, "a"), (rasa, "b")):
        tracker = DialogueStateTracker.from_events(sender, [], DOMAIN.slots)
        tracker.update(ActionExecuted("action_listen", timestamp=1.0))
        turn(tracker, "你好", "您好")
        for event in tracker.events:
            event.timestamp = 1.0
        run(store.save(tracker))
    assert rows(rasa, "a") == rows(rasa, "b")


def test_a_tracker_it_did_not_read_is_counted_not_duplicated(stores):
    ours, rasa = stores
    tracker = run(ours.get_or_create_tracker("citizen"))
    turn(tracker, "你好", "您好")
    run(ours.save(tracker))
    copy = DialogueStateTracker.from_dict("citizen", [e.as_dict() for e in tracker.events],
                                          DOMAIN.slots)  # e.g. from the HTTP API
    turn(copy, "还有", "好的")
    run(ours.save(copy))
    assert len(rows(rasa, "citizen")) == len(copy.events)


def test_a_new_session_stores_only_its_new_events_and_is_read_alone(stores):
    ours, rasa = stores
    tracker = run(ours.get_or_create_tracker("citizen"))
    turn(tracker, "你好", "您好")
    run(ours.save(tracker))
    tracker = run(ours.retrieve("citizen"))
    before = len(tracker.events)
    tracker.update(ActionExecuted("action_session_start", timestamp=tracker.events[-1].timestamp + 1))
    tracker.update(SessionStarted(timestamp=tracker.events[-1].timestamp + 1))
    tracker.update(ActionExecuted("action_listen", timestamp=tracker.events[-1].timestamp + 1))
    run(ours.save(tracker))
    assert len(rows(rasa, "citizen")) == before + 3
    latest = run(ours.retrieve("citizen"))
    assert [e.type_name for e in latest.events][:1] == ["session_started"]
    assert len(run(ours.retrieve_full_tracker("citizen")).events) == before + 3


def test_unknown_conversation_is_none(stores):
    ours, _ = stores
    assert run(ours.retrieve("nobody")) is None


def test_endpoints_yml_loads_this_store_not_the_in_memory_fallback(tmp_path, monkeypatch):
    monkeypatch.setenv("ACTION_ENDPOINT_URL", "http://127.0.0.1:1/webhook")
    monkeypatch.setenv("TRACKER_DIALECT", "sqlite")
    monkeypatch.setenv("TRACKER_URL", f"sqlite:///{tmp_path / 't.db'}")
    monkeypatch.setenv("LOCK_STORE_PATH", str(tmp_path / "locks.db"))
    monkeypatch.setenv("CITYLINK_ACTION_SECRET", "not-used-here")  # endpoints.yml names it
    monkeypatch.setenv("CITYLINK_ACTIONS_MODULE", "actions")  # and this one (the Makefile sets it)
    config = read_endpoint_config(str(ROOT / "endpoints.yml"), "tracker_store")
    store = TrackerStore.create(config, DOMAIN)
    inner = getattr(store, "_tracker_store", store)
    inner = getattr(inner, "_tracker_store", inner)
    assert isinstance(inner, SQLTrackerStore)
