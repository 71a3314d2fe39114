"""What every citizen channel checks before the bot sees a message, and the
state those checks share across the bot's worker processes.

* A message longer than `MAX_MESSAGE_CHARS` is answered with a polite request
  to send less; the bot never parses it.
* A conversation may send `RateLimit.count` messages per `RateLimit.window`
  seconds (`CITYLINK_RATE_CONVERSATION`, "count/seconds", default 20/60;
  "0" turns it off, e.g. for benchmarks); past that it hears 请稍后再试.
* A message delivered twice (a resend after a lost response) is run once: the
  first delivery claims the message's key, later ones get its settled answer.

The counters and claims live in `ChannelState`: a small interface so a
deployment can put them somewhere other than the SQLite file every worker on
one machine shares (`SQLiteChannelState`, `CHANNEL_STATE_PATH`).
"""
from __future__ import annotations

import asyncio
import logging
import math
import os
import sqlite3
import time
from asyncio import CancelledError
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Awaitable, Callable, Dict, List, Mapping, Optional, Protocol

from rasa.core.channels.channel import CollectingOutputChannel, UserMessage

from bot.sqlite_shared import ProcessConnection, TurnClaims

logger = logging.getLogger(__name__)
OnNewMessage = Callable[[UserMessage], Awaitable[Any]]

MAX_MESSAGE_CHARS = 2000
TOO_LONG_REPLY = f"抱歉，消息太长了，请控制在 {MAX_MESSAGE_CHARS} 字以内，分几次告诉我。"
RATE_LIMITED_REPLY = "您发送消息太频繁了，请稍后再试。"
# How long a message's claim and settled answer are kept for resends.
TURN_TTL_SECONDS = 600.0
# How often a resend looks whether the first delivery has settled.
SETTLED_POLL_SECONDS = 0.1


class ChannelState(Protocol):
    """Claims of message keys and rate counters, shared by all bot workers."""

    def claim_turn(self, key: str, ttl: float) -> bool:
        """True for the first caller with this key (in any process) within `ttl`."""

    def settle_turn(self, key: str, answer: str) -> None:
        """Record the claimed turn's answer for later deliveries."""

    def turn_answer(self, key: str) -> Optional[str]:
        """The settled answer; None while the turn is still running (or unknown)."""

    def hit(self, key: str, window: float) -> int:
        """Count one event for `key` in the current `window`; the count so far."""


SCHEMA = """
CREATE TABLE IF NOT EXISTS channel_turns (key TEXT PRIMARY KEY, expires REAL NOT NULL,
                                          answer TEXT);
CREATE TABLE IF NOT EXISTS channel_rates (key TEXT PRIMARY KEY, window_start REAL NOT NULL,
                                          count INTEGER NOT NULL);
"""


class SQLiteChannelState:
    """`ChannelState` in one SQLite file (owner-only: answers may name the citizen)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        os.close(os.open(self.path, os.O_CREAT | os.O_WRONLY, 0o600))
        self._connection = ProcessConnection(self.path, SCHEMA)
        self._turns = TurnClaims(self._connection, "channel_turns")

    def _db(self) -> sqlite3.Connection:
        return self._connection.get()

    def claim_turn(self, key: str, ttl: float) -> bool:
        return self._turns.claim(key, ttl)

    def settle_turn(self, key: str, answer: str) -> None:
        self._turns.settle(key, answer)

    def turn_answer(self, key: str) -> Optional[str]:
        return self._turns.answer(key)

    def hit(self, key: str, window: float) -> int:
        now = time.time()
        start = math.floor(now / window) * window
        db = self._db()
        db.execute("DELETE FROM channel_rates WHERE window_start < ?", (start,))
        (count,) = db.execute(
            "INSERT INTO channel_rates VALUES (?, ?, 1) ON CONFLICT(key) DO UPDATE SET "
            "count = CASE WHEN window_start = excluded.window_start THEN count + 1 ELSE 1 END, "
            "window_start = excluded.window_start RETURNING count",
            (key, start),
        ).fetchone()
        return int(count)


@dataclass(frozen=True)
class Refusal:
    """An answer given instead of running the bot, with the HTTP status that fits."""

    text: str
    status: int


TOO_LONG = Refusal(TOO_LONG_REPLY, 400)
RATE_LIMITED = Refusal(RATE_LIMITED_REPLY, 429)


@dataclass(frozen=True)
class RateLimit:
    """At most `count` events per `window` seconds; `count` 0 means no limit."""

    count: int
    window: float

    @classmethod
    def parse(cls, spec: str) -> "RateLimit":
        """"20/60" -> 20 per 60 s; "0" -> off."""
        count, _, window = spec.strip().partition("/")
        return cls(int(count), float(window or 60))


class ChannelGuard:
    """The checks of the module docstring, for one channel."""

    def __init__(self, state: ChannelState, per_conversation: RateLimit) -> None:
        self.state = state
        self.per_conversation = per_conversation

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] = os.environ) -> "ChannelGuard":
        """`CHANNEL_STATE_PATH` (default var/channels.db) and `CITYLINK_RATE_CONVERSATION`."""
        return cls(SQLiteChannelState(Path(environ.get("CHANNEL_STATE_PATH", "var/channels.db"))),
                   RateLimit.parse(environ.get("CITYLINK_RATE_CONVERSATION", "20/60")))

    def refusal(self, conversation_id: str, text: str) -> Optional[Refusal]:
        """The polite answer instead of running the bot, or None to run it.

        A too-long message is refused before it counts against the rate."""
        if len(text) > MAX_MESSAGE_CHARS:
            return TOO_LONG
        limit = self.per_conversation
        if limit.count and self.state.hit(f"conversation:{conversation_id}",
                                          limit.window) > limit.count:
            return RATE_LIMITED
        return None

    async def answer_of(self, key: str, timeout: float) -> Optional[str]:
        """The answer another delivery of message `key` settled on, waiting up
        to `timeout` seconds while it still runs; None if it never settled."""
        deadline = time.monotonic() + timeout
        while (answer := self.state.turn_answer(key)) is None and time.monotonic() < deadline:
            await asyncio.sleep(SETTLED_POLL_SECONDS)
        return answer


class GuardedChannel:
    """A channel's `guard`: given, or built from the environment on first use,
    because Rasa creates the channels before Sanic forks its workers."""

    _guard: Optional[ChannelGuard] = None

    @property
    def guard(self) -> ChannelGuard:
        if self._guard is None:
            self._guard = ChannelGuard.from_environment()
        return self._guard


async def collected_answer(on_new_message: OnNewMessage, text: str, sender_id: str,
                           channel: str, metadata: Optional[Dict[str, Any]] = None
                           ) -> List[Dict[str, Any]]:
    """Run the bot on one message and return what it said, like Rasa's REST
    channel: a failing turn is logged and whatever was said before it is kept."""
    collector = CollectingOutputChannel()
    try:
        await on_new_message(UserMessage(text, collector, sender_id, input_channel=channel,
                                         metadata=metadata))
    except CancelledError:
        logger.error("%s: handling the message timed out.", channel)
    except Exception:
        logger.exception("%s: handling the message failed.", channel)
    return collector.messages
