"""Run actions against recorded tracker states and a live simulated city.

Like Rasa's financial-demo: a test builds the tracker the action would see
(slots, the latest message, the events so far), runs the action, and checks
the events it returns and the messages it sent.
"""
from __future__ import annotations

import asyncio
from typing import Any, Dict, Iterator, List, Optional, Tuple

import pytest
from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from common import registry
from citysim.server import BackgroundServer
from citysim.testing import citysim, citysim_db  # noqa: F401  (fixtures)


def make_tracker(
    slots: Optional[Dict[str, Any]] = None,
    intent: str = "inform",
    text: str = "",
    entities: Optional[List[Dict[str, Any]]] = None,
    events: Optional[List[Dict[str, Any]]] = None,
    active_loop: Optional[str] = None,
    confidence: float = 0.99,
) -> Tracker:
    """The tracker an action server receives for one turn."""
    latest = {
        "text": text,
        "intent": {"name": intent, "confidence": confidence},
        "entities": entities or [],
        "intent_ranking": [{"name": intent, "confidence": confidence}],
    }
    return Tracker(
        sender_id="test-sender",
        slots=dict(slots or {}),
        latest_message=latest,
        events=events or [{"event": "user", "timestamp": 1.0, "text": text}],
        paused=False,
        followup_action=None,
        active_loop={"name": active_loop} if active_loop else {},
        latest_action_name="action_listen",
    )


def run_action(
    action: Action, tracker: Tracker, domain: Optional[Dict[str, Any]] = None
) -> Tuple[List[Dict[str, Any]], List[Dict[str, Any]]]:
    """(events returned, messages sent)."""
    dispatcher = CollectingDispatcher()
    events = asyncio.run(action.run(dispatcher, tracker, domain or DOMAIN))
    return events, dispatcher.messages


def slot_events(events: List[Dict[str, Any]]) -> Dict[str, Any]:
    """The value each slot is left with by the events."""
    return {e["name"]: e["value"] for e in events if e.get("event") == "slot"}


def texts(messages: List[Dict[str, Any]]) -> str:
    return "\n".join(m.get("text") or "" for m in messages)


def _load_domain() -> Dict[str, Any]:
    import yaml

    from tools.stack import ROOT

    return yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))


DOMAIN = _load_domain()


@pytest.fixture
def city_backends(citysim: BackgroundServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[BackgroundServer]:  # noqa: F811
    """The registry's backend URLs point at a fresh simulator for this test."""
    monkeypatch.setenv("CITYSIM_URL", citysim.url)
    registry.load.cache_clear()
    yield citysim
    registry.load.cache_clear()
