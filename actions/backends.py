"""Reaching a city's backends from an action: which URL, off the event loop, once.

The registry says where each city's service lives; the clients speak HTTP
with requests, which blocks, so calls run in a worker thread and the action
server keeps serving other citizens meanwhile.
"""
from __future__ import annotations

import asyncio
import hashlib
from typing import Any, Callable, Optional, Type, TypeVar

from rasa_sdk import Tracker

from actions.clients.base import BaseClient
from common import registry

C = TypeVar("C", bound=BaseClient)
T = TypeVar("T")


def client_for(cls: Type[C], city: Optional[str], service: str) -> Optional[C]:
    """A client for the city's service, or None where the city does not offer it."""
    config = registry.load().city(city)
    service_config = config.service(service) if config else None
    return cls(service_config.base_url) if service_config else None


async def call(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run a blocking client call in a thread."""
    return await asyncio.to_thread(fn, *args, **kwargs)


def idempotency_key(tracker: Tracker, *parts: str) -> str:
    """Stable for one confirmation: a re-run of the same action never pays or books twice."""
    confirmed_at = next(
        (str(e.get("timestamp")) for e in reversed(tracker.events) if e.get("event") == "user"), ""
    )
    raw = "|".join([tracker.sender_id, confirmed_at, *parts])
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()[:32]
