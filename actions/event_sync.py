"""The action server's half of sending only new events (bot/patches/action_events.py).

Rasa sends every action call the whole tracker: every event of the session,
so the request grows with the conversation (900 KB a call after 200 turns).
The bot sends instead the events this server has not seen: a call carries
`citylink_events` = {"id": this call, "base": an earlier call of the same
conversation, "keep": how many of that call's events come first} and only the
events after those (under `citylink_tracker`, so that a server without this
module fails the call instead of running an action on a partial tracker).
Here the full call is rebuilt from the remembered base before rasa_sdk sees
it; a base not remembered (restart, another worker, evicted, expired) is
answered 409 and the bot sends the call again whole. The actions see exactly
the tracker Rasa would have sent.

Memory: the events of the last call of up to `SIZE` conversations, for `TTL`
seconds (in memory only, never written; the bot sends them on every call
anyway). A full call (`base` absent) replaces a conversation's entry; a call of
an erasing action (删除我的记录) drops it.
"""
from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Dict, List, Optional

SYNC = "citylink_events"
PARTIAL = "citylink_tracker"
PROBE_PATH = "/webhook/citylink-events"  # GET: 200 when this server rebuilds calls
SIZE = 256
TTL = 900.0
# Actions that erase the conversation (actions/privacy.py): its events are not kept here either.
ERASING = frozenset({"action_delete_my_data"})


@dataclass
class Held:
    call_id: str
    events: List[Dict[str, Any]]
    domain: Optional[Dict[str, Any]]
    at: float


class EventMemory:
    """The last call's events per conversation, least recently used out first."""

    def __init__(self, size: int = SIZE, ttl: float = TTL) -> None:
        self.size, self.ttl = size, ttl
        self._held: "OrderedDict[str, Held]" = OrderedDict()

    def rebuild(self, call: Dict[str, Any], now: Optional[float] = None) -> bool:
        """Make `call` the full call in place and remember it; False: its base is unknown."""
        sync = call.pop(SYNC, None)
        if not isinstance(sync, dict):
            return True  # an ordinary call: nothing to do
        now = time.monotonic() if now is None else now
        sender = str(call.get("sender_id"))
        if "base" in sync:
            held = self._held.get(sender)
            keep = int(sync.get("keep", -1))
            if (held is None or held.call_id != sync["base"] or not 0 <= keep <= len(held.events)
                    or now - held.at > self.ttl):
                return False
            tracker = call.pop(PARTIAL)
            tracker["events"] = held.events[:keep] + list(tracker.get("events") or [])
            call["tracker"] = tracker
            if sync.get("domain") == "base":
                call["domain"] = held.domain
        if call.get("next_action") in ERASING:
            self._held.pop(sender, None)  # the citizen asked to be forgotten: nothing stays in memory
            return True
        tracker = call.get("tracker") or {}
        self._held[sender] = Held(str(sync.get("id")), list(tracker.get("events") or []),
                                  call.get("domain"), now)
        self._held.move_to_end(sender)
        while len(self._held) > self.size:
            self._held.popitem(last=False)
        return True

    def __len__(self) -> int:
        return len(self._held)


def install(app: Any, memory: Optional[EventMemory] = None) -> EventMemory:
    """Rebuild calls on `app` (rasa_sdk's Sanic app) before its webhook reads them."""
    from sanic import response

    memory = memory or EventMemory()

    @app.get(PROBE_PATH)
    async def probe(_: Any) -> Any:
        return response.json({"events": "since the base call"})

    @app.middleware("request")
    async def rebuild(request: Any) -> Any:
        if request.method != "POST" or request.path != "/webhook":
            return None
        if request.headers.get("Content-Encoding") or not isinstance(request.json, dict):
            return None  # rasa_sdk's own handling (compressed calls are always whole)
        if not memory.rebuild(request.json):
            return response.json({"error": "events_unknown"}, status=409)
        return None

    return memory
