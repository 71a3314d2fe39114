"""Conversation lock stores: SQLite for one machine's worker processes, Redis for several nodes.

Rasa processes a conversation's messages one at a time by handing out
tickets. With more than one worker process the tickets must live outside the
processes; Rasa ships a Redis store for that. This store keeps them in a
SQLite file instead, so the default deployment needs no Redis server. Every
read-modify-write of a lock runs in one `BEGIN IMMEDIATE` transaction, so two
processes can never issue the same ticket (Rasa's base class does the read
and the write separately). Bot nodes on several machines share Redis instead
(AtomicRedisLockStore, chosen by REDIS_URL through EnvironmentLockStore).

Ticket lifetime (TICKET_LOCK_LIFETIME, Rasa's variable; Rasa's default 60 s, the
cluster and deploy/ set 15 s). In Rasa a ticket expires that long after it was
issued, so the lifetime had to exceed the slowest turn plus the queue before it
(a backend call alone may take ~22 s: actions/clients/base.py, 5 s read timeout,
two retries) or two turns could overlap. AtomicRedisLockStore renews the
tickets of a live node, so the lifetime only says how long a node may go
silent before its tickets count as dead: it bounds how long a conversation
waits when its node dies mid-turn (the failover time, docs/benchmarks.md),
and 15 s leaves room for an event loop stalled by a loaded machine (renewals
every 5 s).
"""
from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import time
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import AsyncIterator, Callable, Iterator, Optional, Text

from rasa.core.lock import TicketLock
from rasa.core.lock_store import (
    DEFAULT_SOCKET_TIMEOUT_IN_SECONDS,
    LOCK_LIFETIME,
    LockError,
    LockStore,
    RedisLockStore,
)
from rasa.utils.endpoints import EndpointConfig

from bot.sqlite_shared import ProcessConnection

DEFAULT_PATH = "var/locks.db"
RENEWALS_PER_LIFETIME = 3  # a live node renews its tickets this often per lifetime


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


class AtomicRedisLockStore(RedisLockStore):
    """Rasa's Redis lock store (same keys, same ticket JSON), each read-modify-write
    in one WATCH/MULTI transaction, and tickets kept alive while their node is.

    Rasa 3.6's RedisLockStore reads a lock with GET and writes it with SET, so two
    bot nodes taking a ticket at the same moment can both get the same number and
    run the same conversation at once (its atomic variant is Rasa Pro only). Here
    a write fails if the key changed since it was read, and the step is redone.
    Each write also sets the key to expire a minute after the longest a ticket can
    live, so a lock left by a dead node disappears by itself.

    A Rasa ticket expires a fixed lifetime after it was issued, whether its
    holder is alive or not. Measured in the failure test (tests/test_cluster.py):
    a message waiting behind a dead node's ticket had been issued its own ticket
    moments later, so both expired together, the lock vanished and Rasa dropped
    the message (LockError, an empty answer). So every ticket is renewed three
    times per lifetime by the node holding it, waiting or serving: only a dead
    node's tickets expire, and a turn longer than the lifetime stays exclusive.
    """

    def __init__(self, endpoint_config: Optional[EndpointConfig] = None,
                 url: Optional[str] = None) -> None:
        import redis

        kwargs = dict(endpoint_config.kwargs) if endpoint_config else {}
        url = url or kwargs.pop("url", None) or (endpoint_config.url if endpoint_config else None)
        super().__init__(key_prefix=kwargs.get("key_prefix"))
        self.red = redis.StrictRedis.from_url(
            url or "redis://127.0.0.1:6379/1", socket_timeout=DEFAULT_SOCKET_TIMEOUT_IN_SECONDS)

    def _modify(self, conversation_id: Text, change: Callable[[TicketLock], object],
                create: bool = True) -> object:
        """Apply `change` to the stored lock and save it, or delete the lock when
        `change` leaves nobody waiting (and `create` is off), atomically."""
        import redis

        key = self.key_prefix + conversation_id
        with self.red.pipeline() as pipe:
            while True:
                try:
                    pipe.watch(key)
                    raw = pipe.get(key)
                    if raw is None and not create:
                        pipe.unwatch()
                        return None
                    lock = (TicketLock.from_dict(json.loads(raw)) if raw
                            else self.create_lock(conversation_id))
                    result = change(lock)
                    pipe.multi()
                    if create or lock.is_someone_waiting():
                        pipe.set(key, lock.dumps(), ex=int(LOCK_LIFETIME) + 60)
                    else:
                        pipe.delete(key)
                    pipe.execute()
                    return result
                except redis.WatchError:
                    continue

    def issue_ticket(self, conversation_id: Text, lock_lifetime: float = LOCK_LIFETIME) -> int:
        try:
            return int(self._modify(conversation_id, lambda lock: lock.issue_ticket(lock_lifetime)))
        except Exception as error:
            raise LockError(f"Error while acquiring lock. Error:\n{error}") from error

    @asynccontextmanager
    async def lock(self, conversation_id: Text, lock_lifetime: float = LOCK_LIFETIME,
                   wait_time_in_seconds: float = 1) -> AsyncIterator[TicketLock]:
        """Rasa's lock, with the ticket renewed until it is given back."""
        ticket = self.issue_ticket(conversation_id, lock_lifetime)
        renewing = asyncio.ensure_future(self._renew(conversation_id, ticket, lock_lifetime))
        try:
            yield await self._acquire_lock(conversation_id, ticket, wait_time_in_seconds)
        finally:
            renewing.cancel()
            self.cleanup(conversation_id, ticket)

    async def _renew(self, conversation_id: Text, number: int, lifetime: float) -> None:
        def extend(lock: TicketLock) -> None:
            for ticket in lock.tickets:
                if ticket.number == number:
                    ticket.expires = time.time() + lifetime

        while True:
            await asyncio.sleep(lifetime / RENEWALS_PER_LIFETIME)
            self._modify(conversation_id, extend, create=False)

    def update_lock(self, conversation_id: Text) -> None:
        """Drop expired tickets (a dead node's) from an existing lock."""
        self._modify(conversation_id, lambda lock: lock.remove_expired_tickets(), create=False)

    def cleanup(self, conversation_id: Text, ticket_number: int) -> None:
        """Finish the ticket; drop the lock when nobody else waits (one transaction)."""
        self._modify(conversation_id, lambda lock: lock.remove_ticket_for(ticket_number),
                     create=False)


class EnvironmentLockStore(LockStore):
    """`type:` for endpoints.yml: AtomicRedisLockStore when REDIS_URL is set (several
    nodes), else SQLiteLockStore at `path` (one machine, its worker processes).

    Rasa builds a custom lock store from its class name, hence a class whose
    construction returns the chosen store.
    """

    def __new__(cls, endpoint_config: Optional[EndpointConfig] = None) -> LockStore:
        url = os.environ.get("REDIS_URL")
        if url:
            return AtomicRedisLockStore(url=url)
        return SQLiteLockStore(endpoint_config)
