"""A conversation lock store on SQLite, shared by several bot worker processes.

Rasa processes a conversation's messages one at a time by handing out
tickets. With more than one worker process the tickets must live outside the
processes; Rasa ships a Redis store for that. This store keeps them in a
SQLite file instead, so the default deployment needs no Redis server. Every
read-modify-write of a lock runs in one `BEGIN IMMEDIATE` transaction, so two
processes can never issue the same ticket (Rasa's base class does the read
and the write separately).
"""
from __future__ import annotations

import json
import sqlite3
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator, Optional, Text

from rasa.core.lock import TicketLock
from rasa.core.lock_store import LOCK_LIFETIME, LockError, LockStore
from rasa.utils.endpoints import EndpointConfig

from bot.sqlite_shared import ProcessConnection

DEFAULT_PATH = "var/locks.db"


SCHEMA = (
    "CREATE TABLE IF NOT EXISTS conversation_lock "
    "(conversation_id TEXT PRIMARY KEY, lock TEXT NOT NULL)"
)


class SQLiteLockStore(LockStore):
    """Ticket locks in one SQLite table, safe across processes."""

    def __init__(self, endpoint_config: Optional[EndpointConfig] = None, path: Optional[str] = None):
        kwargs = endpoint_config.kwargs if endpoint_config else {}
        self.path = Path(path or kwargs.get("path") or DEFAULT_PATH)
        self._connection = ProcessConnection(self.path, SCHEMA)

    @property
    def connection(self) -> sqlite3.Connection:
        """One connection per process (worker processes are forked)."""
        return self._connection.get()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        connection = self.connection
        connection.execute("BEGIN IMMEDIATE")
        try:
            yield connection
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        connection.execute("COMMIT")

    # --------------------------------------------------- storage primitives
    def get_lock(self, conversation_id: Text) -> Optional[TicketLock]:
        row = self.connection.execute(
            "SELECT lock FROM conversation_lock WHERE conversation_id = ?", (conversation_id,)
        ).fetchone()
        return TicketLock.from_dict(json.loads(row[0])) if row else None

    def delete_lock(self, conversation_id: Text) -> None:
        self.connection.execute(
            "DELETE FROM conversation_lock WHERE conversation_id = ?", (conversation_id,)
        )

    def save_lock(self, lock: TicketLock) -> None:
        self.connection.execute(
            "INSERT OR REPLACE INTO conversation_lock VALUES (?, ?)",
            (lock.conversation_id, lock.dumps()),
        )

    # ------------------------------------- atomic read-modify-write steps
    def _modify(self, conversation_id: Text, change: Callable[[TicketLock], object]) -> object:
        with self._transaction():
            lock = self.get_or_create_lock(conversation_id)
            result = change(lock)
            self.save_lock(lock)
        return result

    def issue_ticket(self, conversation_id: Text, lock_lifetime: float = LOCK_LIFETIME) -> int:
        try:
            return int(self._modify(conversation_id, lambda lock: lock.issue_ticket(lock_lifetime)))
        except sqlite3.Error as error:
            raise LockError(f"Error while acquiring lock. Error:\n{error}") from error

    def update_lock(self, conversation_id: Text) -> None:
        self._modify(conversation_id, lambda lock: lock.remove_expired_tickets())

    def cleanup(self, conversation_id: Text, ticket_number: int) -> None:
        """Finish the ticket; drop the lock when nobody else waits (one transaction)."""
        with self._transaction():
            lock = self.get_lock(conversation_id)
            if lock is None:
                return
            lock.remove_ticket_for(ticket_number)
            if lock.is_someone_waiting():
                self.save_lock(lock)
            else:
                self.delete_lock(conversation_id)
