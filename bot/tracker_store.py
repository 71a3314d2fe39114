"""Rasa's SQL tracker store, same table and rows, less work per message.

Per message Rasa reads the conversation and writes what is new. py-spy under
load (docs/benchmarks.md) put 28% of a bot worker's CPU in the store, most of
it not in the database:

* reading built a full SQLAlchemy ORM object per event only to take its
  `data` column: we select that column alone;
* writing first re-ran the read query as a COUNT to find out how many events
  are already stored, then inserted through the ORM's unit of work. A tracker
  this store read knows that number already (the conversation lock is held
  from read to write, so nobody else adds events in between): we keep it on
  the tracker and insert the new rows in one statement. A conversation
  with no rows yet (a new one) needs no count either (one primary-key lookup);
  other trackers we did not read (the HTTP API replacing events) still count.

The schema and the rows are Rasa's. What differs is inside `data`: personal
values (ID and phone numbers, plates, account numbers, names, identity tokens
...) are sealed on save and revealed on read (common/privacy.py), so the bot
and the actions see plain values in memory and the table holds only masks and
ciphertext under `secret("data_key")`. `rasa export` or a switch back to
`type: SQL` still read the rows; they see the sealed tokens.

The last tracker of each conversation stays in the worker that saved it
(`TrackerCache`, switched on by the `tracker_cache` patch): the next message
takes it back instead of reading and replaying the whole session, once a
primary-key lookup shows the conversation's last row at its save is still
there, unchanged (rows are deleted only a whole conversation at a time). Rows another worker or node added since are read alone and
applied to it; anything else (fewer rows, a new session among them, a tracker
changed after its save) falls back to the full read. A save that starts a new
session caches the tracker of that session alone, as a read would give it. A tracker is handed out
to one caller at a time (taken out of the cache, put back by `save`), and the
conversation lock is held from read to save.

Erasing: a citizen's "删除我的记录" ends in `action_delete_my_data`, which
returns `SlotSet(ERASE_SLOT, True)`. Saving a tracker with that event among its
new ones deletes every row of the conversation (all sessions) and writes
nothing: the next message starts a new conversation. The retention job
(tools/retention.py) deletes through `erase` too.

Connection pool (PostgreSQL): Rasa keeps up to 50 + 100 connections per
process (SQL_POOL_SIZE, SQL_MAX_OVERFLOW), so two nodes of two worker processes
could ask for 600, six times PostgreSQL's default max_connections of 100.
A worker uses one connection at a time (the store's queries run synchronously
on its event loop), so the defaults here are 2 + 2 per process: N nodes of W
workers need N x W x 4 connections, plus the console's and the retention
job's; 100 connections (3 reserved) hold 12 nodes of 2 workers. Larger
deployments raise max_connections or put PgBouncer in front (docs/cluster.md).
"""
from __future__ import annotations

import itertools
import json
import os
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Text, Tuple

from rasa.core.tracker_store import SQLTrackerStore as RasaSQLTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import Event, SessionStarted, SlotSet
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.constants import INTENT_NAME_KEY
from sqlalchemy import bindparam, func, select

from common.privacy import reveal_event, seal_event

STORED = "_citylink_stored_events"  # tracker attribute: events of its session already in the table
# Tracker attribute: the latest session start it saved, when its events hold an older session too.
SESSION_FROM = "_citylink_session_from"
# Rasa's own pool variables, with defaults sized for many nodes (see above).
POOL_DEFAULTS = {"SQL_POOL_SIZE": "2", "SQL_MAX_OVERFLOW": "2"}
ERASE_SLOT = "erase_conversation"  # set by action_delete_my_data (actions/privacy.py)
# A sealed token's opening as `json.dumps` writes it (ASCII escapes) and as other writers may.
_SEALED_MARKS = (json.dumps("⟦sealed:")[1:-1], "⟦sealed:")


def _load(data: str) -> Dict[str, Any]:
    """A stored event, its sealed values revealed (rows without any skip the walk)."""
    event = json.loads(data)
    return reveal_event(event) if any(mark in data for mark in _SEALED_MARKS) else event


# The conversation's last row when its tracker was saved: id and timestamp.
Mark = Tuple[int, float]


@dataclass
class Cached:
    """A saved tracker and what the table held for its conversation when it was saved."""

    tracker: DialogueStateTracker
    mark: Mark  # the conversation's last row right after the save
    events: int  # len(tracker.events) at the save
    domain: Domain  # the domain its slots come from (a new model drops it)


class TrackerCache:
    """The last saved tracker of up to `size` conversations, least recently used out first."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._entries: "OrderedDict[Text, Cached]" = OrderedDict()

    def take(self, sender_id: Text) -> Optional[Cached]:
        """The entry, removed: its tracker belongs to the caller until saved again."""
        return self._entries.pop(sender_id, None)

    def put(self, sender_id: Text, entry: Cached) -> None:
        self._entries[sender_id] = entry
        self._entries.move_to_end(sender_id)
        while len(self._entries) > self.size:
            self._entries.popitem(last=False)

    def drop(self, sender_id: Text) -> None:
        self._entries.pop(sender_id, None)

    def __len__(self) -> int:
        return len(self._entries)


class Queries:
    """The per-message queries, built once: SQLAlchemy Core statements with bound
    parameters cost a third of the same ORM query built per call (~90 vs ~290 µs on
    SQLite; docs/benchmarks.md change 23). Plain SQL for SQLite and PostgreSQL alike."""

    def __init__(self, table: Any) -> None:
        by_sender = table.c.sender_id == bindparam("sender_id")
        self.last_row = (select(table.c.id, table.c.timestamp).where(by_sender)
                         .order_by(table.c.id.desc()).limit(1))
        self.row_timestamp = select(table.c.timestamp).where(by_sender,
                                                             table.c.id == bindparam("id"))
        self.rows_after = (select(table.c.type_name, table.c.data)
                           .where(by_sender, table.c.id > bindparam("after"))
                           .order_by(table.c.id))


class SQLTrackerStore(RasaSQLTrackerStore):
    """Drop-in for `type: SQL` (`type: bot.tracker_store.SQLTrackerStore`)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        for name, value in POOL_DEFAULTS.items():  # read by Rasa when it builds the engine
            os.environ.setdefault(name, value)
        super().__init__(*args, **kwargs)
        self.queries = Queries(self.SQLEvent.__table__)

    cache_size = 0  # set by bot/patches/tracker_cache.py; 0: every read goes to the table

    @property
    def cache(self) -> Optional[TrackerCache]:
        if not self.cache_size:
            return None
        if getattr(self, "_cache", None) is None:
            self._cache = TrackerCache(self.cache_size)
        return self._cache

    def _mark(self, session: Any, sender_id: Text) -> Optional[Mark]:
        """The conversation's last row: its id and timestamp (None: no rows)."""
        row = session.execute(self.queries.last_row, {"sender_id": sender_id}).first()
        return (int(row[0]), float(row[1] or 0.0)) if row else None

    def _still_there(self, session: Any, sender_id: Text, mark: Mark) -> bool:
        """Whether the row of `mark` is still the conversation's, unchanged (a primary
        key lookup). Rows of a conversation are only ever deleted all together
        (`erase`, the retention job): if that row is there, all rows up to it are; its
        timestamp tells it from a row that reuses its id (SQLite gives new rows the
        largest id + 1, so an erased conversation written again can reuse ids)."""
        timestamp = session.execute(
            self.queries.row_timestamp, {"id": mark[0], "sender_id": sender_id}).scalar()
        return timestamp is not None and float(timestamp) == mark[1]

    def _from_cache(self, sender_id: Text) -> Optional[DialogueStateTracker]:
        """The cached tracker brought up to the table's rows, or None (read it whole).

        Served only if the last row it was saved with is still there, unchanged;
        rows written after it (another worker or node took a turn) are applied to
        it unless they start a new session. An erased conversation lost that row
        (or has a new one in its place): not served.
        """
        entry = self.cache.take(sender_id) if self.cache is not None else None
        if (entry is None or entry.domain is not self.domain
                or len(entry.tracker.events) != entry.events):
            return None  # not cached, a new model, or changed after its save
        with self.session_scope() as session:
            if not self._still_there(session, sender_id, entry.mark):
                return None
            added = session.execute(
                self.queries.rows_after, {"sender_id": sender_id, "after": entry.mark[0]}).all()
        if any(type_name == SessionStarted.type_name for type_name, _ in added):
            return None  # a new session is read without the old one: the full read
        for _, data in added:
            event = Event.from_parameters(_load(data))
            if event is not None:  # as Rasa's from_dict: unknown events are skipped
                entry.tracker.update(event)
        setattr(entry.tracker, STORED, getattr(entry.tracker, STORED) + len(added))
        return entry.tracker

    async def _retrieve(self, sender_id: Text,
                        fetch_events_from_all_sessions: bool) -> Optional[DialogueStateTracker]:
        cached = None if fetch_events_from_all_sessions else self._from_cache(sender_id)
        if cached is not None:
            return cached
        with self.session_scope() as session:
            query = self._event_query(session, sender_id, fetch_events_from_all_sessions)
            events = [_load(data) for (data,) in query.with_entities(self.SQLEvent.data)]
        if not (self.domain and events):
            return None
        tracker = DialogueStateTracker.from_dict(sender_id, events, self.domain.slots)
        if not fetch_events_from_all_sessions:
            setattr(tracker, STORED, len(events))
        return tracker

    async def save(self, tracker: DialogueStateTracker) -> None:
        """Insert the tracker's events that are not in the table yet."""
        await self.stream_events(tracker)
        with self.session_scope() as session:
            stored = getattr(tracker, STORED, None)
            if stored is None and self._mark(session, tracker.sender_id) is None:
                stored = 0  # a new conversation: every event is new, as a read would know
            read_by_us = stored is not None
            if stored is None:
                stored = self._event_query(session, tracker.sender_id,
                                           fetch_events_from_all_sessions=False).count()
            new = list(itertools.islice(tracker.events, stored, None))
            if any(isinstance(e, SlotSet) and e.key == ERASE_SLOT and e.value for e in new):
                self.erase(tracker.sender_id)
                setattr(tracker, STORED, len(tracker.events))
                return
            rows = [self._row(tracker.sender_id, event) for event in new]
            if rows:
                session.execute(self.SQLEvent.__table__.insert(), rows)
            session.commit()
            starts = [e.timestamp for e in new if isinstance(e, SessionStarted)]
            if starts:
                setattr(tracker, SESSION_FROM, max(starts))
            if self.cache is not None:
                # Only a tracker whose stored events we know (read here, or new).
                mark = self._mark(session, tracker.sender_id)
                entry = self._as_read(tracker) if read_by_us and mark else None
                if entry is not None and mark is not None:
                    self.cache.put(tracker.sender_id,
                                   Cached(entry, mark, len(entry.events), self.domain))
                else:
                    self.cache.drop(tracker.sender_id)
        setattr(tracker, STORED, len(tracker.events))

    def _as_read(self, tracker: DialogueStateTracker) -> Optional[DialogueStateTracker]:
        """The saved tracker as a read of the table would give it. Itself, unless it
        started a new session (a new conversation's first message, an expired session):
        then the events a read selects (timestamp at or after the latest session start,
        Rasa's `_event_query`) replayed alone, as `_retrieve` would, without the table
        round trip and JSON decoding; the caller keeps the original."""
        since = getattr(tracker, SESSION_FROM, None)
        if since is None:
            return tracker
        if self.domain is None:
            return None
        events = [event for event in tracker.events if event.timestamp >= since]
        read = DialogueStateTracker.from_events(tracker.sender_id, events, self.domain.slots)
        setattr(read, STORED, len(events))
        return read

    def erase(self, sender_id: Text) -> int:
        """Delete every stored event of the conversation; the number of rows deleted."""
        if self.cache is not None:
            self.cache.drop(sender_id)
        with self.session_scope() as session:
            deleted = (session.query(self.SQLEvent).filter(self.SQLEvent.sender_id == sender_id)
                       .delete(synchronize_session=False))
            session.commit()
        return int(deleted)

    def last_activity(self) -> Dict[Text, float]:
        """Each stored conversation and the timestamp of its latest event."""
        with self.session_scope() as session:
            return {sender: float(latest) for sender, latest in session.query(
                self.SQLEvent.sender_id, func.max(self.SQLEvent.timestamp),
            ).group_by(self.SQLEvent.sender_id)}

    def latest_slot_value(self, sender_id: Text, slot: Text) -> Any:
        """The value the conversation's latest SlotSet for `slot` stored (revealed), or None."""
        with self.session_scope() as session:
            query = (session.query(self.SQLEvent.data)
                     .filter(self.SQLEvent.sender_id == sender_id, self.SQLEvent.type_name == "slot",
                             self.SQLEvent.data.like(f'%"name": "{slot}"%'))
                     .order_by(self.SQLEvent.id.desc()))
            for (data,) in query:
                event = _load(data)
                if event.get("name") == slot:
                    return event.get("value")
        return None

    def bot_events_after(self, sender_id: Text, after_id: int,
                         limit: int = 50) -> List[Tuple[int, Dict[Text, Any]]]:
        """The conversation's bot events stored after row `after_id` (revealed), oldest first,
        with their row ids: what the web chat's push (bot/channels/webchat_push.py) reads, so any
        worker of any node sees what another one, or the console through the API, wrote."""
        with self.session_scope() as session:
            rows = (session.query(self.SQLEvent.id, self.SQLEvent.data)
                    .filter(self.SQLEvent.sender_id == sender_id, self.SQLEvent.type_name == "bot",
                            self.SQLEvent.id > after_id)
                    .order_by(self.SQLEvent.id).limit(limit))
            return [(int(row_id), _load(data)) for row_id, data in rows]

    def last_event_id(self, sender_id: Text) -> int:
        """The conversation's latest row id (0 when it has none): where its push starts."""
        with self.session_scope() as session:
            mark = self._mark(session, sender_id)
        return mark[0] if mark else 0

    @staticmethod
    def _row(sender_id: Text, event: Event) -> Dict[Text, Any]:
        data = event.as_dict()
        return {
            "sender_id": sender_id,
            "type_name": event.type_name,
            "timestamp": data.get("timestamp"),
            "intent_name": data.get("parse_data", {}).get("intent", {}).get(INTENT_NAME_KEY),
            "action_name": data.get("name"),
            "data": json.dumps(seal_event(data)),
        }
