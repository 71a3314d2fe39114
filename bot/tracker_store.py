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

The schema, the JSON in `data` and the rows are exactly Rasa's: support tools,
`rasa export` and a later switch back to `type: SQL` read them unchanged.

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
from typing import Any, Dict, Optional, Text

from rasa.core.tracker_store import SQLTrackerStore as RasaSQLTrackerStore
from rasa.shared.core.events import Event
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.constants import INTENT_NAME_KEY

STORED = "_citylink_stored_events"
# Rasa's own pool variables, with defaults sized for many nodes (see above).
POOL_DEFAULTS = {"SQL_POOL_SIZE": "2", "SQL_MAX_OVERFLOW": "2"}  # tracker attribute: events of its session already in the table


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
            events = [json.loads(data) for (data,) in query.with_entities(self.SQLEvent.data)]
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
            rows = [self._row(tracker.sender_id, event)
                    for event in itertools.islice(tracker.events, stored, None)]
            if rows:
                session.execute(self.SQLEvent.__table__.insert(), rows)
            session.commit()
        setattr(tracker, STORED, len(tracker.events))

    @staticmethod
    def _row(sender_id: Text, event: Event) -> Dict[Text, Any]:
        data = event.as_dict()
        return {
            "sender_id": sender_id,
            "type_name": event.type_name,
            "timestamp": data.get("timestamp"),
            "intent_name": data.get("parse_data", {}).get("intent", {}).get(INTENT_NAME_KEY),
            "action_name": data.get("name"),
            "data": json.dumps(data),
        }
