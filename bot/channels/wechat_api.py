"""WeChat's customer-service message API (客服消息), used when a turn misses the 5-second window.

One access token is shared by every delivery: WeChat caps how often a token
may be fetched per day and invalidates the previous token on each fetch, so it
is kept in the state shared by all bot workers (bot/channels/wechat_state.py),
refreshed shortly before it expires, and fetched by one coroutine per process
at a time behind a lock.

Retries never send a message twice: a text is retried only when WeChat
certainly did not take it (connection refused, "system busy", expired token).
Once a send could have reached WeChat and the answer is unknown (a timeout, a
broken response), the delivery stops instead of risking a duplicate.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Any, Dict, Optional, Sequence

import aiohttp

from bot.channels.wechat_state import State

logger = logging.getLogger(__name__)

TOKEN_PATH = "/cgi-bin/token"
SEND_PATH = "/cgi-bin/message/custom/send"
# Refresh this long before WeChat's expiry (at most half the lifetime).
REFRESH_MARGIN_SECONDS = 300.0
ERRCODE_OK = 0
ERRCODE_BUSY = -1
# Invalid credential, invalid token, expired token: fetch a new one and retry.
ERRCODES_STALE_TOKEN = frozenset({40001, 40014, 42001})
ERRCODE_IP_NOT_WHITELISTED = 40164


class WeChatAPIError(Exception):
    """WeChat answered an API call with an error code."""

    def __init__(self, errcode: Any, errmsg: Any) -> None:
        hint = (
            " (add this server's egress IP to the 公众号 IP 白名单)"
            if errcode == ERRCODE_IP_NOT_WHITELISTED
            else ""
        )
        super().__init__(f"errcode {errcode}: {errmsg}{hint}")
        self.errcode = errcode


class WeChatAPI:
    """Sends text messages to a user through the customer-service API."""

    def __init__(
        self,
        base_url: str,
        app_id: str,
        app_secret: str,
        *,
        attempts: int,
        retry_delay: float,
        timeout: float,
        state: State,
    ) -> None:
        self._base_url = base_url.rstrip("/")
        self._app_id = app_id
        self._state = state
        self._credentials = {
            "grant_type": "client_credential",
            "appid": app_id,
            "secret": app_secret,
        }
        self._attempts = max(1, attempts)
        self._retry_delay = retry_delay
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._lock = asyncio.Lock()

    async def send_texts(self, openid: str, texts: Sequence[str]) -> int:
        """Send ``texts`` in order and return how many WeChat accepted.

        Stops at the first text that was not accepted, so the user never sees
        the end of an answer without its beginning.
        """
        async with aiohttp.ClientSession(timeout=self._timeout) as session:
            for index, text in enumerate(texts):
                if not await self._send_text(session, openid, text):
                    logger.error(
                        "WeChat message %d of %d was not delivered.", index + 1, len(texts)
                    )
                    return index
        return len(texts)

    async def _send_text(self, session: aiohttp.ClientSession, openid: str, text: str) -> bool:
        """Send one text, retrying only while WeChat certainly has not accepted it."""
        # ensure_ascii=False: WeChat shows \uXXXX escapes literally instead of the Chinese.
        body = json.dumps(
            {"touser": openid, "msgtype": "text", "text": {"content": text}}, ensure_ascii=False
        ).encode("utf-8")
        for attempt in range(self._attempts):
            if attempt:
                await asyncio.sleep(self._retry_delay * 2 ** (attempt - 1))
            try:
                token = await self._access_token(session)
            except (WeChatAPIError, aiohttp.ClientError, asyncio.TimeoutError, ValueError) as error:
                logger.warning("Could not get a WeChat access token: %s", _describe(error))
                continue
            try:
                result = await self._call(
                    session.post(
                        self._base_url + SEND_PATH,
                        params={"access_token": token},
                        data=body,
                        headers={"Content-Type": "application/json; charset=utf-8"},
                    )
                )
            except aiohttp.ClientConnectorError as error:
                logger.warning("WeChat API unreachable, will retry: %s", _describe(error))
                continue
            except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as error:
                logger.error(
                    "WeChat may or may not have taken a message; not resending: %s",
                    _describe(error),
                )
                return False
            errcode = result.get("errcode")
            if errcode == ERRCODE_OK:
                return True
            if errcode in ERRCODES_STALE_TOKEN:
                self._forget(token)
            elif errcode != ERRCODE_BUSY:
                logger.error(
                    "WeChat refused a message: %s", WeChatAPIError(errcode, result.get("errmsg"))
                )
                return False
        return False

    async def _access_token(self, session: aiohttp.ClientSession) -> str:
        """The shared token, fetched anew when missing or near expiry; one fetch at a time."""
        async with self._lock:
            stored = self._state.token(self._app_id)
            if stored and time.time() < stored[1]:
                return stored[0]
            # One worker or node fetches (each fetch revokes the previous token);
            # the others wait for its token, and fetch themselves if it never comes.
            claim_ttl = self._timeout.total or 10.0
            if not self._state.claim_refresh(self._app_id, claim_ttl):
                token = await self._token_from_elsewhere(claim_ttl)
                if token:
                    return token
            data = await self._call(
                session.get(self._base_url + TOKEN_PATH, params=self._credentials)
            )
            if not data.get("access_token"):
                raise WeChatAPIError(data.get("errcode"), data.get("errmsg"))
            lifetime = float(data.get("expires_in", 7200))
            token = str(data["access_token"])
            self._state.save_token(
                self._app_id, token, time.time() + lifetime - min(REFRESH_MARGIN_SECONDS, lifetime / 2)
            )
            return token

    async def _token_from_elsewhere(self, wait: float) -> Optional[str]:
        """The token another worker or node is fetching, once it is saved (None if not in time)."""
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            await asyncio.sleep(0.1)
            stored = self._state.token(self._app_id)
            if stored and time.time() < stored[1]:
                return stored[0]
        return None

    def _forget(self, token: str) -> None:
        """Drop ``token`` after WeChat rejected it, unless another delivery already replaced it."""
        self._state.forget_token(self._app_id, token)

    @staticmethod
    async def _call(request: Any) -> Dict[str, Any]:
        """Run a request and return its JSON object (WeChat labels JSON as text/plain)."""
        async with request as response:
            data = await response.json(content_type=None)
        if not isinstance(data, dict):
            raise ValueError("WeChat answered with something other than a JSON object")
        return data


def _describe(error: BaseException) -> str:
    """An error for the log without the request URL, which carries the token or secret."""
    if isinstance(error, WeChatAPIError):
        return str(error)
    return type(error).__name__
