"""What the WeChat channel remembers, shared by every bot worker process.

The bot runs one worker process per core. WeChat's retry of a message, the
number a user types to pick a button, and the next customer-service send can
each reach a different worker than the one before, so three things live in one
SQLite file (the lock store's directory by default) instead of in process
memory:

* turns: which worker runs the bot for a message id, and the passive reply it
  settled on. The first worker to claim a message runs it; a retry reaching
  another worker answers with the same reply once it is settled;
* menus: the payloads of a user's last numbered button menu;
* the access token: WeChat invalidates the previous token on each fetch, so
  workers share one instead of each fetching (and revoking) their own, and the
  worker that claims the refresh (`claim_refresh`) is the one that fetches.

Each entry expires; expired rows are deleted as new ones are written. The
file is opened per process (bot/sqlite_shared.py): the channel is built before
the workers fork.

Bot nodes on several machines cannot share a file: with REDIS_URL set,
`open_state` gives RedisWeChatState, the same interface on Redis, where every
claim is one atomic command (SET NX), so a WeChat retry landing on another
node never runs a turn twice and one node refreshes the token.
"""
from __future__ import annotations

import json
import os
import sqlite3
import time
from pathlib import Path
from typing import List, Mapping, Optional, Tuple, Union

from bot.sqlite_shared import ProcessConnection, TurnClaims

SCHEMA = """
CREATE TABLE IF NOT EXISTS wechat_turns (key TEXT PRIMARY KEY, expires REAL NOT NULL,
                                         reply TEXT);
CREATE TABLE IF NOT EXISTS wechat_menus (openid TEXT PRIMARY KEY, payloads TEXT NOT NULL,
                                         expires REAL NOT NULL);
CREATE TABLE IF NOT EXISTS wechat_tokens (app_id TEXT PRIMARY KEY, token TEXT NOT NULL,
                                          refresh_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS wechat_refresh (app_id TEXT PRIMARY KEY, expires REAL NOT NULL);
"""


class WeChatState:
    """Turn claims, button menus and the access token in one SQLite file."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._connection = ProcessConnection(self.path, SCHEMA)
        self._turns = TurnClaims(self._connection, "wechat_turns", "reply")

    def _db(self) -> sqlite3.Connection:
        return self._connection.get()

    def claim_turn(self, key: str, ttl: float) -> bool:
        """True for the first caller with this message key (in any process) within `ttl`."""
        return self._turns.claim(key, ttl)

    def settle_turn(self, key: str, reply: str) -> None:
        """The passive reply the claiming worker gave ("" for none)."""
        self._turns.settle(key, reply)

    def turn_reply(self, key: str) -> Optional[str]:
        """The settled passive reply of a claimed turn; None while it is still running."""
        return self._turns.answer(key)

    def menu(self, openid: str) -> List[str]:
        """The payloads of the user's last numbered menu, if it has not expired."""
        row = self._db().execute(
            "SELECT payloads FROM wechat_menus WHERE openid = ? AND expires >= ?",
            (openid, time.time()),
        ).fetchone()
        return json.loads(row[0]) if row else []

    def set_menu(self, openid: str, payloads: List[str], ttl: float) -> None:
        """Remember the user's menu; an empty one forgets it."""
        now = time.time()
        db = self._db()
        db.execute("DELETE FROM wechat_menus WHERE openid = ? OR expires < ?", (openid, now))
        if payloads:
            db.execute("INSERT INTO wechat_menus VALUES (?, ?, ?)",
                       (openid, json.dumps(payloads, ensure_ascii=False), now + ttl))

    def token(self, app_id: str) -> Optional[Tuple[str, float]]:
        """The shared access token and when to refresh it (Unix time), if one is stored."""
        row = self._db().execute(
            "SELECT token, refresh_at FROM wechat_tokens WHERE app_id = ?", (app_id,)
        ).fetchone()
        return (row[0], row[1]) if row else None

    def claim_refresh(self, app_id: str, ttl: float) -> bool:
        """True for the one caller (in any process) that should fetch a new token now."""
        now = time.time()
        db = self._db()
        db.execute("DELETE FROM wechat_refresh WHERE expires < ?", (now,))
        return db.execute("INSERT OR IGNORE INTO wechat_refresh VALUES (?, ?)",
                          (app_id, now + ttl)).rowcount == 1

    def save_token(self, app_id: str, token: str, refresh_at: float) -> None:
        self._db().execute("DELETE FROM wechat_refresh WHERE app_id = ?", (app_id,))
        self._db().execute("INSERT OR REPLACE INTO wechat_tokens VALUES (?, ?, ?)",
                           (app_id, token, refresh_at))

    def forget_token(self, app_id: str, token: str) -> None:
        """Drop `token` after WeChat rejected it, unless it was already replaced."""
        self._db().execute("DELETE FROM wechat_tokens WHERE app_id = ? AND token = ?",
                           (app_id, token))


RUNNING = "\x00running"  # a claimed turn's value until its reply is settled
# Deletes the token only if it is still the rejected one (compare and delete, atomically).
FORGET_TOKEN = """
if redis.call('HGET', KEYS[1], 'token') == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class RedisWeChatState:
    """WeChatState's interface on Redis, for bot nodes on several machines."""

    def __init__(self, url: str, prefix: str = "citylink:wechat:") -> None:
        import redis

        self._red = redis.StrictRedis.from_url(url, decode_responses=True, socket_timeout=10)
        self._prefix = prefix
        self._forget = self._red.register_script(FORGET_TOKEN)

    def _key(self, kind: str, name: str) -> str:
        return f"{self._prefix}{kind}:{name}"

    def claim_turn(self, key: str, ttl: float) -> bool:
        return bool(self._red.set(self._key("turn", key), RUNNING, nx=True, px=_ms(ttl)))

    def settle_turn(self, key: str, reply: str) -> None:
        self._red.set(self._key("turn", key), reply, xx=True, keepttl=True)

    def turn_reply(self, key: str) -> Optional[str]:
        reply = self._red.get(self._key("turn", key))
        return None if reply == RUNNING else reply

    def menu(self, openid: str) -> List[str]:
        payloads = self._red.get(self._key("menu", openid))
        return json.loads(payloads) if payloads else []

    def set_menu(self, openid: str, payloads: List[str], ttl: float) -> None:
        if payloads:
            self._red.set(self._key("menu", openid), json.dumps(payloads, ensure_ascii=False),
                          px=_ms(ttl))
        else:
            self._red.delete(self._key("menu", openid))

    def token(self, app_id: str) -> Optional[Tuple[str, float]]:
        stored = self._red.hgetall(self._key("token", app_id))
        return (stored["token"], float(stored["refresh_at"])) if stored else None

    def claim_refresh(self, app_id: str, ttl: float) -> bool:
        return bool(self._red.set(self._key("refresh", app_id), "1", nx=True, px=_ms(ttl)))

    def save_token(self, app_id: str, token: str, refresh_at: float) -> None:
        with self._red.pipeline() as pipe:  # MULTI: the token and the end of the claim together
            pipe.hset(self._key("token", app_id), mapping={"token": token, "refresh_at": refresh_at})
            pipe.delete(self._key("refresh", app_id))
            pipe.execute()

    def forget_token(self, app_id: str, token: str) -> None:
        self._forget(keys=[self._key("token", app_id)], args=[token])


def _ms(seconds: float) -> int:
    return max(1, int(seconds * 1000))


State = Union[WeChatState, RedisWeChatState]


def open_state(path: Path, environ: Mapping[str, str] = os.environ) -> State:
    """Redis when REDIS_URL is set (several nodes), else the SQLite file at `path`."""
    url = environ.get("REDIS_URL")
    return RedisWeChatState(url) if url else WeChatState(path)
