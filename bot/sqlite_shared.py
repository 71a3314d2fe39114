"""One SQLite file shared by the bot's worker processes: a connection per process.

The lock store and the WeChat channel's state both keep what every worker must
see in a SQLite file. Each process opens its own connection (the workers are
forked, and a connection must not cross a fork), in WAL mode so readers never
wait for the writer, with autocommit unless a caller opens a transaction.
"""
from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path
from typing import Optional


class ProcessConnection:
    """A connection to `path` for the calling process, the `schema` created on first use."""

    def __init__(self, path: Path, schema: str) -> None:
        self.path = Path(path)
        self.schema = schema
        self._connection: Optional[sqlite3.Connection] = None
        self._pid = 0

    def get(self) -> sqlite3.Connection:
        if self._connection is None or self._pid != os.getpid():
            self.path.parent.mkdir(parents=True, exist_ok=True)
            connection = sqlite3.connect(self.path, timeout=10, isolation_level=None)
            _set_up(connection, self.schema)
            self._connection, self._pid = connection, os.getpid()
        return self._connection


def _set_up(connection: sqlite3.Connection, schema: str, attempts: int = 100) -> None:
    """WAL mode and the tables. Workers start together, and switching the journal
    mode ignores the busy timeout, so a locked database is retried here."""
    for attempt in range(attempts):
        try:
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=NORMAL")
            connection.executescript(schema)
            return
        except sqlite3.OperationalError:
            if attempt == attempts - 1:
                raise
            time.sleep(0.05)


class TurnClaims:
    """Run-once claims of message keys in a `(key, expires, <answer>)` table of a shared
    file: the first worker to claim a key runs the turn and settles its answer, a
    resend reaching any worker gets that answer (bot/channels/guard.py, the WeChat
    channel's state). `table` and `column` are the callers' own constant names."""

    def __init__(self, connection: ProcessConnection, table: str, column: str = "answer") -> None:
        self._connection = connection
        self._table = table
        self._column = column

    def claim(self, key: str, ttl: float) -> bool:
        """True for the first caller with this key (in any process) within `ttl`."""
        now = time.time()
        db = self._connection.get()
        db.execute(f"DELETE FROM {self._table} WHERE expires < ?", (now,))
        cursor = db.execute(f"INSERT OR IGNORE INTO {self._table} VALUES (?, ?, NULL)",
                            (key, now + ttl))
        return cursor.rowcount == 1

    def settle(self, key: str, answer: str) -> None:
        self._connection.get().execute(f"UPDATE {self._table} SET {self._column} = ? WHERE key = ?",
                                       (answer, key))

    def answer(self, key: str) -> Optional[str]:
        """The settled answer; None while the turn is still running (or unknown)."""
        row = self._connection.get().execute(f"SELECT {self._column} FROM {self._table} WHERE key = ?",
                                             (key,)).fetchone()
        return row[0] if row else None
