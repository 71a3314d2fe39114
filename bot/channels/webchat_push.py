"""Live messages from support staff to the web chat page: long polling on shared storage.

While a person has (or may take) the conversation, the page keeps one
``GET /webhooks/webchat/updates?after=<row id>`` open. It is answered as soon as the tracker
store holds a bot event after that row which the page cannot have got as a webhook answer: a
staff member joining, their messages, the bot's return (custom payload ``{"type": "handoff",
"state": "joined" | "agent" | "ended"}``, written by the console through the Rasa HTTP API);
else after ``WAIT_SECONDS`` with nothing. The store is read every ``POLL_SECONDS``: the shared
tracker database, never one process's memory, so it works whichever bot worker or node the
request reaches and whichever process wrote the event.
"""
from __future__ import annotations

import asyncio
import time
from typing import Any, Dict, List, Optional, Text

from rasa.core.channels.channel import CollectingOutputChannel
from rasa.shared.core.events import BotUttered, Event

PUSHED_STATES = frozenset({"joined", "agent", "ended"})
# Below the gateway's upstream timeout (70 s) and the page's own (60 s), above a proxy's idle
# cut-off being a problem: a quiet conversation costs one request per WAIT_SECONDS.
WAIT_SECONDS = 25.0
# How often a waiting request looks at the store: one indexed query per conversation in handoff.
POLL_SECONDS = 0.3


def store_of(agent: Any) -> Optional[Any]:
    """The agent's SQL tracker store (bot/tracker_store.py) under Rasa's awaitable wrapper, or
    None when there is none yet or it cannot list events by row (push needs the SQL store)."""
    store = getattr(agent, "tracker_store", None)
    store = getattr(store, "_tracker_store", store)
    return store if hasattr(store, "bot_events_after") else None


async def bot_messages(sender: Text, event: BotUttered) -> List[Dict[Text, Any]]:
    """One bot event as the page gets it from the webhook: through a CollectingOutputChannel,
    the same code that shapes a live answer, plus ``"from": "bot"``."""
    collector = CollectingOutputChannel()
    await collector.send_response(sender, event.message())
    return [{"from": "bot", **m} for m in collector.messages]


def pushed(event: Dict[Text, Any]) -> bool:
    custom = (event.get("data") or {}).get("custom")
    return isinstance(custom, dict) and custom.get("type") == "handoff" \
        and custom.get("state") in PUSHED_STATES


async def updates(store: Any, sender: Text, after: int,
                  wait: float = WAIT_SECONDS) -> Dict[Text, Any]:
    """``{"cursor": <last row seen>, "messages": [...]}``: the staff side's new messages, as soon
    as there are any, or none once `wait` seconds passed."""
    deadline = time.monotonic() + wait
    while True:
        rows = store.bot_events_after(sender, after)
        if rows:
            after = rows[-1][0]
            messages: List[Dict[Text, Any]] = []
            for _, data in rows:
                event = Event.from_parameters(data)
                if pushed(data) and isinstance(event, BotUttered):
                    messages.extend(await bot_messages(sender, event))
            if messages:
                return {"cursor": after, "messages": messages}
        if time.monotonic() >= deadline:
            return {"cursor": after, "messages": []}
        await asyncio.sleep(POLL_SECONDS)
