"""The bot server: Rasa's own CLI, plus fixes for costs py-spy found under load.

Profiling `rasa run` with 32 concurrent conversations (docs/benchmarks.md)
showed the bot spending its time on work that gives citizens nothing. Each
fix keeps Rasa's behaviour; the tests in tests/test_server.py hold them to it.

1. Action-server replies are validated against a JSON schema with a 23-way
   `oneOf` over event types, rebuilt per call (48% of CPU at first). The
   validators are built once, and each event is checked against its own
   type's branch only: the same replies pass and fail.
2. `action_validate_slot_mappings` was called on the action server for every
   message, even when the message set no slot. With nothing to validate the
   call is skipped (Rasa's own result would be empty).
3. The SQLite tracker store opened a new connection per message (SQLAlchemy's
   default pool for SQLite files) and fsynced every commit. One connection per
   thread is kept instead, and WAL journaling with synchronous=NORMAL keeps
   every committed event across a process crash or restart (it can only lose
   the last transactions on power loss). PostgreSQL is untouched. (The store
   itself: bot/tracker_store.py.)
4. Rasa opened a new HTTP connection to the action server per action call. One
   session per endpoint and event loop is kept open, and it encodes the
   tracker with ujson (a Rasa dependency already) instead of json.
5. Every parse and prediction went through dask's scheduler:
   bot/graph_runner.py runs the same graph nodes in a precomputed order.
6. `Event.resolve_by_type` walked all Event subclasses for every event read
   from the tracker store; the class for each type name is remembered. And
   every tracker (one per read, several per prediction to replay the
   conversation) copies all 29 slots with `copy.copy`, whose generic
   reduce protocol was half of a tracker's construction: slots get a direct
   shallow copy that builds the same object.
7. Fair queueing: a worker interleaved every message it had accepted, so a
   message that calls a backend (four steps, each awaiting) waited behind
   every other message at each step: at 32 concurrent conversations the
   slowest 5% took over three times the median. Each worker now works on at
   most CITYLINK_MAX_INFLIGHT messages (default 2: one computes while another
   waits for the action server) and queues the rest first come, first served;
   bot/worker_balance.py keeps the workers' queues equally long. Throughput
   is unchanged and p95 at 32 conversations halves (docs/benchmarks.md).
   CITYLINK_MAX_INFLIGHT=0 turns both off.

Run as `python -m bot.server run ...` with the same arguments as `rasa`.
"""
from __future__ import annotations

import asyncio
import copy
import functools
import json
import os
import sys
from typing import Any, Awaitable, Callable, Dict, List, Optional, Tuple

# skops (it loads the logistic regression models) imports in ~1 s on its own
# but ~6 s after TensorFlow has been imported: import it first (py-spy, cold start).
import skops.io  # noqa: F401
import ujson
from jsonschema import Draft202012Validator
from sqlalchemy import event
from sqlalchemy.engine import Engine

from bot import session, templates
from bot.worker_balance import WorkerLoads, shed_when_overloaded
from common import logsafe


def _event_validators(spec: Dict[str, Any]) -> Tuple[Draft202012Validator, Dict[str, Any]]:
    """The response schema without its 23-way `oneOf` over event types, and one
    validator per event type (the `oneOf` branch whose `event` const it is).

    Branches differ in their `event` const and `event` is required, so an event
    satisfies the `oneOf` exactly when it satisfies its own type's branch: the
    same replies pass, at a fraction of the cost of trying every branch.
    """
    spec = copy.deepcopy(spec)
    items = spec["properties"]["events"]["items"]
    branches = items.pop("oneOf")
    by_type = {
        branch["properties"]["event"]["const"]: Draft202012Validator({**items, **branch})
        for branch in branches
    }
    return Draft202012Validator(spec), by_type


def _compiled_action_result_validation() -> None:
    from rasa.core.actions.action import RemoteAction

    envelope, by_type = _event_validators(RemoteAction.action_response_format_spec())
    original = RemoteAction._validate_action_result

    def valid(result: Dict[str, Any]) -> bool:
        if not envelope.is_valid(result):
            return False
        for item in result.get("events") or []:
            validator = by_type.get(item.get("event"))
            if validator is None or not validator.is_valid(item):
                return False
        return True

    def validate(self: RemoteAction, result: Dict[str, Any]) -> bool:
        return valid(result) or original(self, result)  # Rasa's own error message

    RemoteAction._validate_action_result = validate


def _skip_empty_slot_validation() -> None:
    from rasa.core.actions.action import ActionExtractSlots
    from rasa.shared.core.events import Event, SlotSet

    original = ActionExtractSlots._execute_validation_action

    async def execute(self: ActionExtractSlots, extraction_events: List[Event], *args: Any,
                      **kwargs: Any) -> List[Event]:
        if not any(isinstance(e, SlotSet) for e in extraction_events):
            return []
        return await original(self, extraction_events, *args, **kwargs)

    ActionExtractSlots._execute_validation_action = execute


def _sqlite_connection_reuse() -> None:
    import rasa.core.tracker_store as tracker_store
    from sqlalchemy.pool import SingletonThreadPool

    original = tracker_store.create_engine_kwargs

    def kwargs(url: Any) -> Dict[str, Any]:
        if str(url).startswith("sqlite"):
            return {"poolclass": SingletonThreadPool}
        return original(url)

    tracker_store.create_engine_kwargs = kwargs


class _KeptSession:
    """`async with` hands out the shared session and leaves it open."""

    def __init__(self, session: Any) -> None:
        self.session = session

    async def __aenter__(self) -> Any:
        return self.session

    async def __aexit__(self, *exc: Any) -> None:
        return None


def _json_dumps(value: Any) -> str:
    """ujson (already a Rasa dependency; Sanic uses it) with json's as fallback."""
    try:
        return ujson.dumps(value)
    except (TypeError, OverflowError, ValueError):
        return json.dumps(value)


def _action_server_connection_reuse() -> None:
    import aiohttp
    from rasa.utils.endpoints import DEFAULT_REQUEST_TIMEOUT, EndpointConfig

    sessions: Dict[tuple, Any] = {}

    def new_session(config: EndpointConfig) -> aiohttp.ClientSession:
        # Rasa's EndpointConfig.session, plus a faster JSON encoder for the tracker.
        auth = aiohttp.BasicAuth(config.basic_auth["username"], config.basic_auth["password"]) \
            if config.basic_auth else None
        return aiohttp.ClientSession(
            headers=config.headers, auth=auth, json_serialize=_json_dumps,
            timeout=aiohttp.ClientTimeout(total=DEFAULT_REQUEST_TIMEOUT))

    def session(self: EndpointConfig) -> _KeptSession:
        key = (id(self), id(asyncio.get_running_loop()))
        if key not in sessions or sessions[key].closed:
            sessions[key] = new_session(self)
        return _KeptSession(sessions[key])

    EndpointConfig.session = session


def _event_class_lookup_cache() -> None:
    from rasa.shared.core.events import Event

    original = Event.resolve_by_type
    found: Dict[str, Any] = {}

    def resolve_by_type(type_name: str, default: Any = None) -> Any:
        if type_name not in found:
            try:
                found[type_name] = original(type_name)
            except ValueError:  # unknown now (a later import may define it): Rasa's answer
                return original(type_name, default)
        return found[type_name]

    Event.resolve_by_type = staticmethod(resolve_by_type)


def _slot_copy(slot: Any) -> Any:
    """What `copy.copy` makes of a slot (a new object sharing the attributes), directly."""
    new = object.__new__(type(slot))
    new.__dict__.update(slot.__dict__)
    return new


def _fast_slot_copy() -> None:
    from rasa.shared.core.slots import Slot

    Slot.__copy__ = _slot_copy


def fair_queue(handle: Callable[..., Awaitable[Any]], limit: int,
               loads: Optional[WorkerLoads] = None) -> Callable[..., Awaitable[Any]]:
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


def _fair_queueing() -> None:
    import rasa.core.run
    from rasa.core.processor import MessageProcessor

    limit = int(os.environ.get("CITYLINK_MAX_INFLIGHT", "2"))
    if limit <= 0:
        return
    loads = WorkerLoads()  # before Sanic forks the workers, so they share it
    # Inside the conversation lock (Agent.handle_message takes it first), so a
    # citizen's second message waiting for their first holds no place here.
    MessageProcessor.handle_message = fair_queue(MessageProcessor.handle_message, limit, loads)
    configure_app = rasa.core.run.configure_app

    def configure_balanced_app(*args: Any, **kwargs: Any) -> Any:
        app = configure_app(*args, **kwargs)
        shed_when_overloaded(app, loads)
        return app

    rasa.core.run.configure_app = configure_balanced_app


def _sequential_graph_runner() -> None:
    import rasa.core.processor

    from bot.graph_runner import SequentialGraphRunner

    rasa.core.processor.DaskGraphRunner = SequentialGraphRunner


def _sqlite_wal(dbapi_connection: Any, connection_record: Any) -> None:
    if type(dbapi_connection).__module__.startswith("sqlite3"):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()


def apply() -> None:
    """Install the fixes; idempotent."""
    if getattr(apply, "done", False):
        return
    _compiled_action_result_validation()
    _skip_empty_slot_validation()
    _sqlite_connection_reuse()
    _action_server_connection_reuse()
    _fair_queueing()
    _sequential_graph_runner()
    _event_class_lookup_cache()
    _fast_slot_copy()
    templates.apply()
    session.apply()
    event.listen(Engine, "connect", _sqlite_wal)
    apply.done = True  # type: ignore[attr-defined]


def main() -> None:
    logsafe.configure("bot")
    apply()
    from rasa.__main__ import main as rasa_main

    sys.argv[0] = "rasa"
    rasa_main()


if __name__ == "__main__":
    main()

