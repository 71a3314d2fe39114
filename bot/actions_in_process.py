"""Custom actions run inside the bot worker, with no HTTP hop (`actions_module`).

With `actions_module: <package>` in endpoints.yml's `action_endpoint` (the key
Rasa Pro gave the same feature; `make run` sets `CITYLINK_ACTIONS_MODULE=actions`),
each bot worker loads rasa_sdk's executor with that package at start-up and
runs an action call on its own event loop: the call Rasa builds (or the call
with only the new events, bot/patches/action_events.py, rebuilt here as the
action server would: actions/event_sync.py) goes to rasa_sdk as a dict, and
its answer comes back as the action server's JSON would. Rasa's own handling
of the answer is unchanged: a rejected call (rasa_sdk's
ActionExecutionRejection) is the action server's 400, an unknown action its
404, an action that fails its 500, so the bot's replies to failures are the
same in both modes. The backends are still called from the actions' thread
pools (actions/backends.py), off the event loop.

Why: per message the HTTP call to the action server was 14% of a bot worker's
CPU (encoding the call, aiohttp, loopback), and the action server spent 2 ms
more decoding it, in Sanic and writing the answer (py-spy, 32 citizens,
docs/benchmarks.md change 30). Without `actions_module` (empty), the call goes
to `url` as before: a deployment that scales or isolates the actions runs
actions/server.py (deploy/, `make cluster`).
"""
from __future__ import annotations

import json
import logging
from typing import Any, Callable, Dict, Optional

from bot.patches.action_events import PROBE  # its question: are calls rebuilt here?

log = logging.getLogger(__name__)
_runners: Dict[str, "Runner"] = {}


class Runner:
    """rasa_sdk's executor for one actions package, and the events of the last calls."""

    def __init__(self, package: str) -> None:
        from rasa_sdk.executor import ActionExecutor

        from actions.event_sync import EventMemory

        self.executor = ActionExecutor()
        self.executor.register_package(package)
        self.memory = EventMemory()

    async def call(self, method: str, subpath: Optional[str], body: Any) -> Any:
        """What the action server answers to this request (its JSON), or its error status."""
        from rasa.utils.endpoints import ClientResponseError
        from rasa_sdk.interfaces import ActionExecutionRejection, ActionNotFoundException

        if method.lower() == "get" and subpath == PROBE:
            return {"events": "since the base call"}
        body = dict(body) if isinstance(body, dict) else None  # rebuilt in place: not the caller's
        if body is None or not self.memory.rebuild(body):
            raise ClientResponseError(409, "Conflict", json.dumps({"error": "events_unknown"}))
        try:
            result = await self.executor.run(body)
        except ActionExecutionRejection as rejected:
            raise ClientResponseError(400, "Bad Request", json.dumps(
                {"error": rejected.message, "action_name": rejected.action_name})) from rejected
        except ActionNotFoundException as unknown:
            raise ClientResponseError(404, "Not Found", json.dumps(
                {"error": unknown.message, "action_name": unknown.action_name})) from unknown
        except Exception as failed:  # noqa: BLE001 - the action server's 500
            log.exception("自定义动作 %s 运行失败", body.get("next_action"))
            raise ClientResponseError(500, "Internal Server Error", "") from failed
        # As the JSON the server would send: the bot gets no object the action still holds.
        return json.loads(json.dumps(result))


def runner(endpoint: Any) -> Optional[Runner]:
    """The in-process runner of an action endpoint with `actions_module`, else None."""
    package = str((getattr(endpoint, "kwargs", None) or {}).get("actions_module") or "")
    if not package:
        return None
    if package not in _runners:
        _runners[package] = Runner(package)
    return _runners[package]


def apply() -> None:
    """Route requests of an `actions_module` endpoint to the runner; load it at each
    worker's start-up, not on a citizen's first action. Idempotent."""
    import rasa.core.run
    from rasa.utils.endpoints import EndpointConfig

    original: Callable[..., Any] = EndpointConfig.request
    if getattr(original, "citylink_in_process", False):
        return

    async def request(self: Any, method: str = "post", subpath: Optional[str] = None,
                      content_type: Optional[str] = "application/json", compress: bool = False,
                      **kwargs: Any) -> Any:
        local = runner(self)
        if local is None:
            return await original(self, method, subpath, content_type, compress, **kwargs)
        return await local.call(method, subpath, kwargs.get("json"))

    request.citylink_in_process = True  # type: ignore[attr-defined]
    EndpointConfig.request = request

    load = rasa.core.run.load_agent_on_start

    async def load_with_actions(*args: Any, **kwargs: Any) -> Any:
        agent = await load(*args, **kwargs)
        runner(getattr(agent, "action_endpoint", None))
        return agent

    rasa.core.run.load_agent_on_start = load_with_actions
