"""Forward the citizen channels to the bot, with body caps and per-address limits.

The Rasa server serves the citizen channels and the operator API from one Sanic
app; binding it to 127.0.0.1 and putting this small process in front is what
lets the operator expose the channels alone (`CITYLINK_PUBLIC_HOST`,
`CITYLINK_PUBLIC_PORT`). Only `PUBLIC_PREFIXES` are forwarded; every other
path is 404 here.

* Bodies over `max_body` bytes (`CITYLINK_GATEWAY_MAX_BODY`, default 64 KiB: a
  2000-character message is at most ~8 KB of JSON) are answered 413 without
  reaching the bot.
* Web chat requests are limited per client address (`CITYLINK_RATE_ADDRESS`,
  "count/seconds", default 120/60; "0" for none), answered 429 请稍后再试.
  WeChat is not: all its callbacks come from a few WeChat servers, so its
  limit is per user (OpenID), in the channel (bot/channels/guard.py).
* Only the headers the channels read go upstream (no cookies, no
  `Authorization`), plus `X-Forwarded-For`; no CORS header comes back (the
  web chat page is same-origin; Rasa's CORS set-up adds
  `Access-Control-Allow-Credentials` to every answer).

One process, so the per-address counters are plain memory.
"""
from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass
from typing import Dict, Mapping, Tuple

import aiohttp
from aiohttp import web
from yarl import URL

PUBLIC_PREFIXES = ("/webhooks/webchat", "/webhooks/wechat")
RATE_LIMITED_PREFIXES = ("/webhooks/webchat",)
# Request headers the channels need; everything else stays here.
FORWARDED_REQUEST_HEADERS = ("Content-Type", "Accept", "X-CityLink-Chat-Id")
# Per connection, recomputed by aiohttp for our own answer.
DROPPED_RESPONSE_HEADERS = frozenset(
    {"connection", "keep-alive", "transfer-encoding", "content-length", "content-encoding",
     "server", "date"})
# The web chat page waits 60 s for an answer; WeChat 5 s.
UPSTREAM_TIMEOUT_SECONDS = 70
RATE_LIMITED_ERROR = "请求过于频繁，请稍后再试。"
TOO_LARGE_ERROR = "请求内容过大。"
UNREACHABLE_ERROR = "助手暂时无法连接，请稍后再试。"


@dataclass(frozen=True)
class GatewaySettings:
    upstream: str
    max_body: int = 64 * 1024
    rate_count: int = 120
    rate_window: float = 60.0

    @classmethod
    def from_environment(cls, upstream: str,
                         environ: Mapping[str, str] = os.environ) -> "GatewaySettings":
        count, _, window = environ.get("CITYLINK_RATE_ADDRESS", "120/60").partition("/")
        return cls(upstream.rstrip("/"),
                   max_body=int(environ.get("CITYLINK_GATEWAY_MAX_BODY", str(64 * 1024))),
                   rate_count=int(count), rate_window=float(window or 60))


class AddressCounter:
    """Requests per client address in fixed windows, in this process's memory."""

    def __init__(self, window: float) -> None:
        self.window = window
        self._counts: Dict[str, Tuple[float, int]] = {}

    def hit(self, address: str) -> int:
        """Count one request; the address's count in the current window."""
        start = math.floor(time.time() / self.window) * self.window
        if len(self._counts) > 10_000:  # a new window: drop the finished ones
            self._counts = {a: c for a, c in self._counts.items() if c[0] == start}
        window_start, count = self._counts.get(address, (start, 0))
        count = count + 1 if window_start == start else 1
        self._counts[address] = (start, count)
        return count


def error(status: int, message: str, **headers: str) -> web.Response:
    """A JSON error the web chat page shows as it is (Chinese text)."""
    return web.json_response({"error": message}, status=status, headers=headers)


SETTINGS = web.AppKey("settings", GatewaySettings)
COUNTER = web.AppKey("counter", AddressCounter)
SESSION = web.AppKey("session", aiohttp.ClientSession)


async def forward(request: web.Request) -> web.StreamResponse:
    """Send a citizen-channel request to the bot and its answer back."""
    settings = request.app[SETTINGS]
    path = request.path  # decoded: %2e%2e is ".." here
    if (not any(path == p or path.startswith(p + "/") for p in PUBLIC_PREFIXES)
            or any(segment in (".", "..") for segment in path.split("/"))):
        return error(404, "找不到该页面。")
    address = request.remote or "unknown"
    if (settings.rate_count and path.startswith(RATE_LIMITED_PREFIXES)
            and request.app[COUNTER].hit(address) > settings.rate_count):
        # Fixed windows: the count starts again at the next window.
        retry_after = math.ceil(settings.rate_window - time.time() % settings.rate_window)
        return error(429, RATE_LIMITED_ERROR, **{"Retry-After": str(retry_after)})
    try:
        body = await request.read()
    except web.HTTPRequestEntityTooLarge:
        return error(413, TOO_LARGE_ERROR)
    headers = {name: request.headers[name] for name in FORWARDED_REQUEST_HEADERS
               if name in request.headers}
    headers["X-Forwarded-For"] = address
    try:
        async with request.app[SESSION].request(
            request.method, URL(settings.upstream + request.raw_path, encoded=True),
            data=body or None,
            headers=headers, allow_redirects=False,
        ) as upstream:
            content = await upstream.read()
            answer_headers = {name: value for name, value in upstream.headers.items()
                              if name.lower() not in DROPPED_RESPONSE_HEADERS
                              and not name.lower().startswith("access-control-")}
            return web.Response(status=upstream.status, body=content, headers=answer_headers)
    except (aiohttp.ClientError, TimeoutError):
        return error(502, UNREACHABLE_ERROR)


async def health(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def _open_session(app: web.Application) -> None:
    app[SESSION] = aiohttp.ClientSession(
        timeout=aiohttp.ClientTimeout(total=UPSTREAM_TIMEOUT_SECONDS))


async def _close_session(app: web.Application) -> None:
    await app[SESSION].close()


def create_app(settings: GatewaySettings) -> web.Application:
    """The gateway for `settings.upstream` (the bot's loopback address)."""
    app = web.Application(client_max_size=settings.max_body)
    app[SETTINGS] = settings
    app[COUNTER] = AddressCounter(settings.rate_window)
    app.router.add_get("/health", health)
    app.router.add_route("*", "/{tail:.*}", forward)
    app.on_startup.append(_open_session)
    app.on_cleanup.append(_close_session)
    return app
