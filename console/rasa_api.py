"""The console's calls to the bot: the authenticated Rasa HTTP API on 127.0.0.1.

Handoff acts through the API rather than the database, so every step is an event the bot
itself stored under its conversation lock (never a row written beside a running turn): the pause
and resume, the staff's messages (bot events with the custom payload `{"type": "handoff",
"state": "joined" | "agent", "agent": <staff name>}`), the bot's return (`action_handoff_back`).
For a WeChat conversation the messages are also delivered there: `output_channel=latest` makes the
bot send them through the WeChat channel's customer-service API (bot/channels/wechat.py), and an
event WeChat did not take is not stored.

Each call carries a short-lived JWT (`common.secrets.rasa_api_jwt`) naming the staff member.
"""
from __future__ import annotations

import asyncio
import os
from typing import Any, Dict, List
from urllib.parse import quote

import aiohttp

from common.secrets import rasa_api_jwt

TIMEOUT = aiohttp.ClientTimeout(total=30)


class BotError(Exception):
    """The bot could not be reached or refused the call (the message says so in Chinese)."""


def bot_url() -> str:
    """`CITYLINK_BOT_URL`, default the bot of `make run`."""
    return os.environ.get("CITYLINK_BOT_URL", "http://127.0.0.1:5005").rstrip("/")


async def _post(sender_id: str, what: str, body: Any, staff: str, deliver: bool) -> Any:
    # Ids travel in the path (Rasa's routes); `:` and REST ids' `/` are legal there.
    url = f"{bot_url()}/conversations/{quote(sender_id, safe=':/')}/{what}"
    params = {"include_events": "NONE"}
    if deliver:
        params.update(output_channel="latest", execute_side_effects="true")
    headers = {"Authorization": f"Bearer {rasa_api_jwt('console:' + staff)}"}
    try:
        async with aiohttp.ClientSession(timeout=TIMEOUT) as session:
            async with session.post(url, json=body, params=params, headers=headers) as answer:
                if answer.status >= 400:
                    raise BotError(f"机器人服务拒绝了请求（HTTP {answer.status}），消息未送达。")
                return await answer.json(content_type=None)
    except (aiohttp.ClientError, asyncio.TimeoutError) as error:
        raise BotError("连不上机器人服务，请稍后再试。") from error


def staff_message(text: str, staff: str, state: str = "agent") -> Dict[str, Any]:
    """A bot event the citizen sees as from a person."""
    return {"event": "bot", "text": text,
            "data": {"custom": {"type": "handoff", "state": state, "agent": staff}}}


async def take_over(sender_id: str, staff: str, greeting: str, deliver: bool) -> None:
    """Pause the bot (Rasa's ConversationPaused) and tell the citizen who joined."""
    await _post(sender_id, "tracker/events", [{"event": "pause"}], staff, False)
    try:
        await _post(sender_id, "tracker/events", [staff_message(greeting, staff, "joined")], staff,
                    deliver)
    except BotError:
        # Nobody has the conversation after all: the bot must answer again.
        await _post(sender_id, "tracker/events", [{"event": "resume"}], staff, False)
        raise


async def say(sender_id: str, staff: str, text: str, deliver: bool) -> None:
    await _post(sender_id, "tracker/events", [staff_message(text, staff)], staff, deliver)


async def hand_back(sender_id: str, staff: str, deliver: bool) -> List[Dict[str, Any]]:
    """Resume the bot (ConversationResumed) and let it say it is back; its messages."""
    await _post(sender_id, "tracker/events", [{"event": "resume"}], staff, False)
    answer = await _post(sender_id, "execute", {"name": "action_handoff_back"}, staff, deliver)
    return list((answer or {}).get("messages") or [])
