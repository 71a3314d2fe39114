"""A stand-in for the Rasa server, built around the real WebChatInput channel.

The page is tested before the real bot exists, so this module gives the
channel what ``rasa run`` would: a Sanic app with the blueprint mounted under
``/webhooks/webchat``, ``app.ctx.agent.tracker_store`` (a real
InMemoryTrackerStore) and an ``on_new_message`` that records the turn on the
tracker and answers through the message's output channel, as Rasa's
MessageProcessor does. Only the dialogue logic is fake (and the erasing of
``/delete_my_data``, which the real bot does in actions/privacy.py).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import socket
import tempfile
import threading
from pathlib import Path
from typing import Any, Dict, List, Optional

from rasa.core.channels.channel import UserMessage, register
from rasa.core.tracker_store import InMemoryTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import BotUttered, UserUttered
from sanic import Sanic
from sanic.server.async_server import AsyncioServer

from bot.channels.guard import ChannelGuard, RateLimit, SQLiteChannelState
from bot.channels.rest import OperatorRestInput
from bot.channels.webchat import WebChatInput

DOCS = Path(__file__).resolve().parents[2] / "docs" / "webchat.md"


def documented_cards() -> List[Dict[str, Any]]:
    """The card_list examples of docs/webchat.md, so the docs stay renderable."""
    blocks = re.findall(r"```json\n(.*?)```", DOCS.read_text(encoding="utf-8"), re.S)
    payloads = [json.loads(block) for block in blocks]
    return [p for p in payloads if p.get("type") == "card_list"]


CARDS = documented_cards()

ERASED_REPLY = "您的对话记录已删除。"

GREETING_BUTTONS = [
    {"title": "查违章", "payload": "/query_violation"},
    {"title": "切换到深圳", "payload": '/set_city{"city": "深圳"}'},
]


def replies_for(text: str) -> List[Dict[str, Any]]:
    """The fake dialogue: a few fixed answers that cover every message shape."""
    if text.startswith("/set_city"):
        city = json.loads(text[len("/set_city") :] or "{}").get("city", "")
        return [{"text": f"好的，已切换到{city}。"}]
    if text == "/human_handoff":
        return [{"text": "正在为您转接人工客服，请稍候。"}]
    if text == "/query_violation" or "违章" in text:
        return [{"text": "查到 2 条违章记录："}, {"custom": CARDS[0]}]
    if text == "/card_examples":
        return [{"custom": card} for card in CARDS]
    return [{"text": f"收到：{text}", "buttons": GREETING_BUTTONS}]


class FakeAgent:
    """Stands in for ``app.ctx.agent``: the tracker store the history reads,
    and ``handle_message``, which Rasa's ``register`` routes every message to.
    """

    def __init__(self) -> None:
        self.tracker_store = InMemoryTrackerStore(Domain.empty())

    async def handle_message(self, message: UserMessage) -> None:
        """Record the turn on the tracker and answer, as MessageProcessor does."""
        if message.text == "/delete_my_data":
            self.tracker_store.store.pop(message.sender_id, None)
            await message.output_channel.send_response(message.sender_id, {"text": ERASED_REPLY})
            return
        tracker = await self.tracker_store.get_or_create_tracker(message.sender_id)
        tracker.update(
            UserUttered(
                message.text,
                input_channel=message.input_channel,
                metadata=message.metadata,
            )
        )
        for reply in replies_for(message.text or ""):
            data = {key: value for key, value in reply.items() if key != "text"}
            uttered = BotUttered(reply.get("text"), data)
            tracker.update(uttered)
            await message.output_channel.send_response(
                message.sender_id, uttered.message()
            )
        await self.tracker_store.save(tracker)


def build_app(name: str, guard: ChannelGuard) -> Sanic:
    """A Sanic app shaped like ``rasa run``'s, with the fake dialogue."""
    # Several apps start in one process here; only in test mode does Sanic's
    # start-up "touchup" of its protocol class survive a second app.
    Sanic.test_mode = True
    app = Sanic(name)
    app.ctx.agent = FakeAgent()
    # The same registration ``rasa run`` does, so the URL prefixes are the real ones.
    register([WebChatInput(guard), OperatorRestInput(guard)], app, route="/webhooks/")
    return app


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class LoopbackServer:
    """Runs a Sanic app on 127.0.0.1 in a background thread; stoppable and
    restartable on the same port, so the page's offline handling can be seen
    recovering without a reload.
    """

    _names = itertools.count()

    def __init__(self, rate: RateLimit = RateLimit(0, 60)) -> None:
        """`rate`: the channel's per-conversation limit (off unless a test sets one)."""
        self.state_dir = tempfile.TemporaryDirectory(prefix="citylink-webchat-")
        state = SQLiteChannelState(Path(self.state_dir.name) / "channels.db")
        self.app = build_app(f"fake_citylink_{next(self._names)}", ChannelGuard(state, rate))
        self.port = free_port()
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._server: Optional[AsyncioServer] = None
        self._thread.start()

    @property
    def base_url(self) -> str:
        """The chat page's address, as it is under ``rasa run``."""
        return f"http://127.0.0.1:{self.port}/webhooks/webchat/"

    def _run(self, coroutine: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(10)

    def start(self) -> None:
        """Listen (again) on the same port."""
        self._run(self._start())

    async def _start(self) -> None:
        self._server = await self.app.create_server(
            host="127.0.0.1",
            port=self.port,
            return_asyncio_server=True,
            access_log=False,
        )
        if not self.app.state.is_started:
            await self._server.startup()

    def stop(self) -> None:
        """Stop listening and drop open keep-alive connections, like a crash."""
        self._run(self._stop())

    async def _stop(self) -> None:
        if self._server is None:
            return
        for connection in list(self._server.connections):
            connection.transport.close()
        self._server.close()
        await self._server.wait_closed()
        self._server = None

    def user_texts(self, chat_id: str, namespace: str = "web:") -> List[str]:
        """What the bot received from the browser with ``chat_id``: lets a test
        check the exact payload a button sent, which the page shows as the title."""
        tracker = self._run(self.app.ctx.agent.tracker_store.retrieve(namespace + chat_id))
        if tracker is None:
            return []
        return [e.text for e in tracker.events if isinstance(e, UserUttered)]

    def shutdown(self) -> None:
        """Stop the server and its thread for good."""
        self.stop()
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)
        self.state_dir.cleanup()
