"""Pushing to a WeChat conversation outside a callback: what the Rasa HTTP API sends it.

The console's handoff (console/rasa_api.py) appends staff replies and runs the bot's return with
``output_channel=latest``; Rasa then asks the WeChat channel for its output channel, this one,
which delivers through the customer-service message API (bot/channels/wechat_api.py).
"""
from __future__ import annotations

from typing import Any, Dict, Optional

from rasa.core.channels.channel import OutputChannel
from rasa.shared.exceptions import RasaException

from bot.channels.wechat_api import WeChatAPI
from bot.channels.wechat_render import render_messages, split_text

NAMESPACE = "wechat:"  # conversation ids are wechat:<OpenID>


class WeChatPush(OutputChannel):
    """Messages the Rasa HTTP API sends a WeChat conversation (``output_channel=wechat`` or
    ``latest``): support staff's replies during a handoff and the bot's return after it
    (console/rasa_api.py), pushed through the customer-service API. A message WeChat did not
    take raises, so the API call fails and the event is not stored as if it had arrived."""

    @classmethod
    def name(cls) -> str:
        return "wechat"

    def __init__(self, api: Optional[WeChatAPI]) -> None:
        self._api = api

    async def send_response(self, recipient_id: str, message: Dict[str, Any]) -> None:
        texts = split_text(render_messages([message]).text)
        if not texts:
            return
        if self._api is None:
            raise RasaException("WeChat app_id/app_secret not set: cannot push to WeChat.")
        if await self._api.send_texts(recipient_id.removeprefix(NAMESPACE), texts) < len(texts):
            raise RasaException("WeChat did not take the message (see the log for its errcode).")
