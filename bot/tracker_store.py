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
  the tracker and insert the new rows in one statement. Trackers we did not
  read (a new conversation, the HTTP API replacing events) still count.

The schema and the rows are Rasa's. What differs is inside `data`: personal
values (ID and phone numbers, plates, account numbers, names, identity tokens
...) are sealed on save and revealed on read (common/privacy.py), so the bot
and the actions see plain values in memory and the table holds only masks and
ciphertext under `secret("data_key")`. `rasa export` or a switch back to
`type: SQL` still read the rows; they see the sealed tokens.

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
from typing import Any, Dict, List, Optional, Text, Tuple

from rasa.core.tracker_store import SQLTrackerStore as RasaSQLTrackerStore
from rasa.shared.core.events import Event, SlotSet
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.constants import INTENT_NAME_KEY
from sqlalchemy import func

from common.privacy import reveal_event, seal_event

STORED = "_citylink_stored_events"  # tracker attribute: events of its session already in the table
# Rasa's own pool variables, with defaults sized for many nodes (see above).
POOL_DEFAULTS = {"SQL_POOL_SIZE": "2", "SQL_MAX_OVERFLOW": "2"}
ERASE_SLOT = "erase_conversation"  # set by action_delete_my_data (actions/privacy.py)
# A sealed token's opening as `json.dumps` writes it (ASCII escapes) and as other writers may.
_SEALED_MARKS = (json.dumps("⟦sealed:")[1:-1], "⟦sealed:")


def _load(data: str) -> Dict[str, Any]:
    """A stored event, its sealed values revealed (rows without any skip the walk)."""
    event = json.loads(data)
    return reveal_event(event) if any(mark in data for mark in _SEALED_MARKS) else event


class SQLTrackerStore(RasaSQLTrackerStore):
    """Drop-in for `type: SQL` (`type: bot.tracker_store.SQLTrackerStore`)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        for name, value in POOL_DEFAULTS.items():  # read by Rasa when it builds the engine
            os.environ.setdefault(name, value)
        super().__init__(*args, **kwargs)

    async def _retrieve(self, sender_id: Text,
                        fetch_events_from_all_sessions: bool) -> Optional[DialogueStateTracker]:
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
        setattr(tracker, STORED, len(tracker.events))

    def erase(self, sender_id: Text) -> int:
        """Delete every stored event of the conversation; the number of rows deleted."""
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
            latest = (session.query(func.max(self.SQLEvent.id))
                      .filter(self.SQLEvent.sender_id == sender_id).scalar())
        return int(latest or 0)

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
