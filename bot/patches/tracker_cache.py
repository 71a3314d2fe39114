"""The last tracker of a conversation kept in the worker that saved it.

What: switches on `bot.tracker_store.TrackerCache` (CITYLINK_TRACKER_CACHE
conversations per worker, default 512): a message takes its conversation's
tracker from the worker's cache when the conversation's last row at the save
is still there with its timestamp (a primary-key lookup; rows are deleted a
whole conversation at a time); rows another worker or node wrote since are
read alone and applied;
anything else (an erasure, a new session, a new model) is the full read. The events table stays the record (every event is still written).
Why: every message read every event of the session, revealed its sealed
values, deserialised and replayed it: the share of a turn that grew with the
conversation's length (docs/benchmarks.md, "Long conversations").
Gain: see docs/benchmarks.md, "Long conversations" (turn 181-200 vs 1-20).
"""

from __future__ import annotations

import os

from bot.patches.guard import Target

TARGETS = (
    Target("rasa.core.tracker_store:SQLTrackerStore.retrieve", ("self", "sender_id")),
    Target(
        "rasa.core.tracker_store:SQLTrackerStore._retrieve",
        ("self", "sender_id", "fetch_events_from_all_sessions"),
    ),
    Target("rasa.core.tracker_store:SQLTrackerStore.session_scope", ("self",)),
    Target("rasa.shared.core.events:Event.from_parameters", ("parameters", "default")),
)


def apply() -> None:
    from bot.tracker_store import SQLTrackerStore

    SQLTrackerStore.cache_size = max(int(os.environ.get("CITYLINK_TRACKER_CACHE", "512")), 0)
