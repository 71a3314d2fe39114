"""The bot server: Rasa's own CLI, plus three fixes measured with py-spy.

Profiling `rasa run` under load (docs/benchmarks.md) showed the event loop
spending its time on work that gives citizens nothing:

1. ~48% in jsonschema: every action server reply is validated against a
   schema that Rasa rebuilds and re-checks on every call. We compile the
   validator once; replies are still validated exactly as before.
2. One action-server round trip per message to `action_validate_slot_mappings`
   even when the message set no slot. With no slot candidates there is nothing
   to validate, so the call is skipped (Rasa's own result would be empty).
3. The SQLite tracker store opened a new connection per message (SQLAlchemy's
   default pool for SQLite files) and fsynced every commit. One connection per
   thread is kept instead, and WAL journaling with synchronous=NORMAL keeps
   every committed event across a process crash or restart (it can only lose
   the last transactions on power loss). PostgreSQL is untouched.

4. A new HTTP connection to the action server for every action call (Rasa
   opens and closes an aiohttp session per request). One session per endpoint
   and event loop is kept open instead, so connections are reused.

Run as `python -m bot.server run ...` with the same arguments as `rasa`.
"""
from __future__ import annotations

import sys
from typing import Any, Dict, List

# skops (it loads the logistic regression models) imports in ~1 s on its own
# but ~6 s after TensorFlow has been imported: import it first (py-spy, cold start).
import skops.io  # noqa: F401
from jsonschema import Draft202012Validator, ValidationError
from sqlalchemy import event
from sqlalchemy.engine import Engine


def _compiled_action_result_validation() -> None:
    from rasa.core.actions.action import RemoteAction

    validator = Draft202012Validator(RemoteAction.action_response_format_spec())
    original = RemoteAction._validate_action_result

    def validate(self: RemoteAction, result: Dict[str, Any]) -> bool:
        try:
            validator.validate(result)
        except ValidationError:
            return original(self, result)  # Rasa's own error message
        return True

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


def _action_server_connection_reuse() -> None:
    import asyncio

    from rasa.utils.endpoints import EndpointConfig

    original = EndpointConfig.session
    sessions: Dict[tuple, Any] = {}

    def session(self: EndpointConfig) -> _KeptSession:
        key = (id(self), id(asyncio.get_running_loop()))
        if key not in sessions or sessions[key].closed:
            sessions[key] = original(self)
        return _KeptSession(sessions[key])

    EndpointConfig.session = session


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
    event.listen(Engine, "connect", _sqlite_wal)
    apply.done = True  # type: ignore[attr-defined]


def main() -> None:
    apply()
    from rasa.__main__ import main as rasa_main

    sys.argv[0] = "rasa"
    rasa_main()


if __name__ == "__main__":
    main()
