"""Action calls carry only the events the action server has not seen yet.

What: `RemoteAction._action_call_format` put every event of the session (each
turned into a dict) and the domain into every call. Here, once the action
server has said it rebuilds calls (GET <url>/citylink-events answers 200:
actions/event_sync.py), a call carries the events after those of this
conversation's previous call that are still the same event objects, in the
same order (a form's temporary tracker shares them up to its own additions),
with `citylink_events` = {"id", "base": the previous call, "keep": how many of
its events come first, "domain": "base" when the domain is the same}. The
server rebuilds the full call before rasa_sdk reads it, so actions see what
Rasa would have sent; a base it does not hold is answered 409 and the call is
sent again whole (one retry). The first call of a conversation in a worker,
and every call to a server that does not rebuild, is Rasa's whole call.
Why: after the tracker copies and replays, the action call was the cost that
grew with the conversation: 180 KB per turn at its start, 910 KB after 200
turns (tools/bench/turncost.py --count), encoded here and decoded and
scanned by the action server on every call.
Gain: docs/benchmarks.md, "Long conversations".
"""

from __future__ import annotations

import uuid
from collections import OrderedDict
from dataclasses import dataclass, fields
from typing import Any, Callable, Dict, List, Optional

from bot.patches.guard import Target

TARGETS = (
    Target(
        "rasa.core.actions.action:RemoteAction._action_call_format", ("self", "tracker", "domain")
    ),
    Target("rasa.core.actions.action:RemoteAction._is_selective_domain_enabled", ("self",)),
    Target(
        "rasa.utils.endpoints:EndpointConfig.request",
        ("self", "method", "subpath", "content_type", "compress", "kwargs"),
    ),
    Target("rasa.utils.endpoints:ClientResponseError", None),
    Target(
        "rasa.shared.core.trackers:DialogueStateTracker.current_state", ("self", "event_verbosity")
    ),
    Target("rasa.core.actions.action:COMPRESS_ACTION_SERVER_REQUEST_ENV_NAME"),
    Target("rasa.core.actions.action:DEFAULT_COMPRESS_ACTION_SERVER_REQUEST"),
    Target("rasa.utils.common:get_bool_env_variable", ("variable_name", "default_variable_value")),
)

SYNC = "citylink_events"  # the names actions/event_sync.py reads
PARTIAL = "citylink_tracker"
PROBE = "citylink-events"  # below the action endpoint's URL
SIZE = 512  # conversations remembered per worker


@dataclass
class Sent:
    call_id: str
    events: List[Any]  # the event objects of the call (kept alive: their ids stay theirs)
    domain: Any  # the domain object sent with it, or None


class PartialCall(dict):
    """A call with only the new events; `whole()` is Rasa's call, for the retry."""

    whole: Callable[[], Dict[str, Any]]


_sent: "OrderedDict[str, Sent]" = OrderedDict()
_rebuilds: Dict[str, bool] = {}  # action endpoint URL: whether its server rebuilds calls


def _agreed(now: List[Any], before: List[Any]) -> int:
    """How many events come first in both lists (same objects)."""
    ids, old = list(map(id, now[: len(before)])), list(map(id, before))
    if ids == old:
        return len(ids)
    return next((n for n, (a, b) in enumerate(zip(ids, old)) if a != b), len(ids))


def call_state(tracker: Any) -> Dict[str, Any]:
    """Rasa's `current_state()` without events, the active loop not deep-copied.

    `dataclasses.asdict` copied the loop's trigger message (a whole parse result)
    on every call, 2.5% of a bot worker at 32 citizens, for a dict that is only
    encoded to JSON; keys and values are Rasa's (tests/test_action_events.py).
    """
    from rasa.shared.core.constants import ACTIVE_LOOP
    from rasa.shared.core.trackers import EventVerbosity

    loop = tracker.active_loop
    if loop is None:
        return tracker.current_state(EventVerbosity.NONE)
    tracker.active_loop = None
    try:
        state = tracker.current_state(EventVerbosity.NONE)
    finally:
        tracker.active_loop = loop
    state[ACTIVE_LOOP] = {field.name: getattr(loop, field.name) for field in fields(loop)}
    return state


def action_call_format(self: Any, tracker: Any, domain: Any) -> Dict[str, Any]:
    """Rasa's call, or the same call with only the events the server lacks."""
    import rasa
    from rasa.core.actions.action import (
        COMPRESS_ACTION_SERVER_REQUEST_ENV_NAME,
        DEFAULT_COMPRESS_ACTION_SERVER_REQUEST,
    )
    from rasa.utils.common import get_bool_env_variable

    events = list(tracker.events)
    state = call_state(tracker)  # Rasa's state but the events
    call: Dict[str, Any] = {
        "next_action": self._name,
        "sender_id": tracker.sender_id,
        "version": rasa.__version__,
    }
    sends_domain = (
        not self._is_selective_domain_enabled()
        or domain.does_custom_action_explicitly_need_domain(self.name())
    )
    call_id = uuid.uuid4().hex

    def whole() -> Dict[str, Any]:
        full = {
            **call,
            "tracker": {**state, "events": [e.as_dict() for e in events]},
            SYNC: {"id": call_id},
        }
        if sends_domain:
            full["domain"] = domain.as_dict()
        return full

    url = getattr(self.action_endpoint, "url", None)
    sent = _sent.pop(tracker.sender_id, None)
    # A compressed call reaches rasa_sdk before the server could rebuild it.
    compressed = get_bool_env_variable(
        COMPRESS_ACTION_SERVER_REQUEST_ENV_NAME, DEFAULT_COMPRESS_ACTION_SERVER_REQUEST
    )
    keep = (
        _agreed(events, sent.events) if (sent and _rebuilds.get(str(url)) and not compressed) else 0
    )
    _sent[tracker.sender_id] = Sent(call_id, events, domain if sends_domain else None)
    while len(_sent) > SIZE:
        _sent.popitem(last=False)
    if not keep or sent is None:
        return whole()
    partial = PartialCall(
        call, **{PARTIAL: {**state, "events": [e.as_dict() for e in events[keep:]]}}
    )
    partial[SYNC] = {"id": call_id, "base": sent.call_id, "keep": keep}
    if sends_domain and sent.domain is domain:
        partial[SYNC]["domain"] = "base"
    elif sends_domain:
        partial["domain"] = domain.as_dict()
    partial.whole = whole
    return partial


def apply() -> None:
    from rasa.core.actions.action import RemoteAction
    from rasa.utils.endpoints import ClientResponseError, EndpointConfig  # Rasa's own error

    request = EndpointConfig.request

    async def request_or_whole(
        self: EndpointConfig,
        method: str = "post",
        subpath: Optional[str] = None,
        content_type: Optional[str] = "application/json",
        compress: bool = False,
        **kwargs: Any,
    ) -> Any:
        call = kwargs.get("json")
        if isinstance(call, PartialCall):
            try:
                return await request(self, method, subpath, content_type, compress, **kwargs)
            except ClientResponseError as error:
                if error.status != 409:
                    _rebuilds.pop(str(self.url), None)  # ask the server again next time
                    raise
            kwargs["json"] = call.whole()
        answer = await request(self, method, subpath, content_type, compress, **kwargs)
        if (
            isinstance(kwargs.get("json"), dict)
            and SYNC in kwargs["json"]
            and str(self.url) not in _rebuilds
        ):
            try:  # once per endpoint: does its server rebuild calls?
                await request(self, "get", PROBE)
                _rebuilds[str(self.url)] = True
            except Exception:  # noqa: BLE001 - any failure means no
                _rebuilds[str(self.url)] = False
        return answer

    RemoteAction._action_call_format = action_call_format
    EndpointConfig.request = request_or_whole
