"""Reaching a city's backends from an action: which URL, off the event loop, once.

The registry says where each city's service lives; the clients speak HTTP
with requests, which blocks, so calls run in worker threads and the action
server keeps serving other citizens meanwhile. Each backend has its own small
pool of threads (a bulkhead): one slow backend fills only its own pool, never
the threads the other services' citizens need. Every call has a total
deadline; when it passes the citizen is told at once that the service is
busy, and the thread is left to end on the client's own deadline.
"""
from __future__ import annotations

import asyncio
import functools
import hashlib
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Dict, Optional, Type, TypeVar

from rasa_sdk import Tracker

from actions.clients.base import DEFAULT_DEADLINE, BackendError, BaseClient
from common import registry

C = TypeVar("C", bound=BaseClient)
T = TypeVar("T")


def client_for(cls: Type[C], city: Optional[str], service: str) -> Optional[C]:
    """A client for the city's service, or None where the city does not offer it."""
    config = registry.load().city(city)
    service_config = config.service(service) if config else None
    return cls(service_config.base_url) if service_config else None


# Threads per backend: enough for the citizens one service serves at once.
WORKERS_PER_BACKEND = 8
# What one call may take before the citizen hears "busy": the client's own deadline
# and a little for the thread to get going (well under the 60 s conversation lock).
CALL_DEADLINE = DEFAULT_DEADLINE + 2.0
_pools: Dict[str, ThreadPoolExecutor] = {}


def pool_for(backend: str) -> ThreadPoolExecutor:
    """The threads of one backend, made on first use."""
    if backend not in _pools:
        _pools[backend] = ThreadPoolExecutor(WORKERS_PER_BACKEND, thread_name_prefix=f"backend-{backend}")
    return _pools[backend]


async def call(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run a blocking client method in its backend's threads, within the call deadline."""
    client = getattr(fn, "__self__", None)
    backend = type(client).__name__ if client is not None else "other"
    future = asyncio.get_running_loop().run_in_executor(pool_for(backend), functools.partial(fn, *args, **kwargs))
    try:
        return await asyncio.wait_for(future, CALL_DEADLINE)
    except asyncio.TimeoutError:
        if isinstance(client, BaseClient):
            raise client.busy() from None
        raise BackendError("服务繁忙，暂时没有响应", retryable=True) from None


def idempotency_key(tracker: Tracker, *parts: str) -> str:
    """Stable for one confirmation: a re-run of the same action never pays or books twice."""
    confirmed_at = next(
        (str(e.get("timestamp")) for e in reversed(tracker.events) if e.get("event") == "user"), ""
    )
    raw = "|".join([tracker.sender_id, confirmed_at, *parts])
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()[:32]
