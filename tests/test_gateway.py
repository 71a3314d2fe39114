"""The public gateway (gateway/app.py): only the citizen channels pass, with caps.

The upstream is either the web chat tests' fake bot (the real channels in a
Sanic app shaped like `rasa run`'s) or a small echo server that shows what the
gateway sent. Each test runs its scenario on an event loop of its own thread
(`in_thread`): the browser tests' Playwright keeps a loop running in the main one.
"""
from __future__ import annotations

import asyncio
import secrets
import socket
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from typing import Any, AsyncIterator, Awaitable, Callable, Iterator

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from gateway.app import (
    RATE_LIMITED_ERROR,
    TOO_LARGE_ERROR,
    UNREACHABLE_ERROR,
    GatewaySettings,
    create_app,
)
from tests.webchat.fake_bot import LoopbackServer

# Rate windows are fixed (aligned to the clock): a day-long one is never crossed mid-test.
DAY = 86400


@pytest.fixture(scope="module")
def bot() -> Iterator[LoopbackServer]:
    server = LoopbackServer()
    server.start()
    yield server
    server.shutdown()


def in_thread(scenario: Callable[[], Awaitable[Any]]) -> Any:
    """Run an async scenario to the end on a fresh event loop in another thread."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, scenario()).result()


@asynccontextmanager
async def gateway(upstream: str, **settings: Any) -> AsyncIterator[str]:
    """A gateway in front of `upstream`; yields its base URL."""
    server = TestServer(create_app(GatewaySettings(upstream, **settings)), host="127.0.0.1")
    await server.start_server()
    try:
        yield str(server.make_url("")).rstrip("/")
    finally:
        await server.close()


def chat_request(chat_id: str, text: str = "你好") -> dict:
    return {"json": {"message": text, "message_id": secrets.token_hex(8)},
            "headers": {"X-CityLink-Chat-Id": chat_id}}


def upstream_of(bot: LoopbackServer) -> str:
    return bot.base_url.split("/webhooks/")[0]


def test_the_web_chat_passes_through(bot: LoopbackServer) -> None:
    chat_id = secrets.token_urlsafe(24)

    async def scenario() -> None:
        async with gateway(upstream_of(bot)) as url, aiohttp.ClientSession() as http:
            async with http.get(f"{url}/webhooks/webchat/") as page:
                assert page.status == 200
                assert "script-src 'self'" in page.headers["Content-Security-Policy"]
                assert "城市服务助手" in await page.text()
            async with http.get(f"{url}/webhooks/webchat", allow_redirects=False) as bare:
                assert bare.status in (301, 302, 307, 308)
                assert bare.headers["Location"] == "/webhooks/webchat/"
            async with http.post(f"{url}/webhooks/webchat/webhook",
                                 **chat_request(chat_id)) as sent:
                assert sent.status == 200
                assert (await sent.json())[0]["recipient_id"] == "web:" + chat_id
            headers = {"X-CityLink-Chat-Id": chat_id}
            async with http.get(f"{url}/webhooks/webchat/history", headers=headers) as history:
                assert [m["text"] for m in (await history.json())["messages"]][0] == "你好"

    in_thread(scenario)
    assert bot.user_texts(chat_id) == ["你好"]


@pytest.mark.parametrize("method, path", [
    ("GET", "/conversations/web:x/tracker"),
    ("POST", "/conversations/web:x/tracker/events"),
    ("PUT", "/model"),
    ("DELETE", "/model"),
    ("POST", "/model/train"),
    ("POST", "/model/parse"),
    ("POST", "/webhooks/rest/webhook"),
    ("GET", "/status"),
    ("GET", "/webhooks/webchatX/"),
    ("GET", "/"),
])
def test_operator_routes_are_not_reachable(bot: LoopbackServer, method: str, path: str) -> None:
    async def scenario() -> int:
        async with gateway(upstream_of(bot)) as url, aiohttp.ClientSession() as http:
            async with http.request(method, url + path, json={}) as answer:
                return answer.status

    assert in_thread(scenario) == 404


def test_a_large_body_never_reaches_the_bot(bot: LoopbackServer) -> None:
    chat_id = secrets.token_urlsafe(24)

    async def scenario() -> None:
        async with gateway(upstream_of(bot), max_body=16 * 1024) as url, \
                aiohttp.ClientSession() as http:
            async with http.post(f"{url}/webhooks/webchat/webhook",
                                 **chat_request(chat_id, "长" * 20_000)) as answer:
                assert answer.status == 413
                assert (await answer.json())["error"] == TOO_LARGE_ERROR

    in_thread(scenario)
    assert bot.user_texts(chat_id) == []


def test_web_chat_is_limited_per_address(bot: LoopbackServer) -> None:
    async def scenario() -> None:
        async with gateway(upstream_of(bot), rate_count=3, rate_window=DAY) as url, \
                aiohttp.ClientSession() as http:
            statuses = []
            for _ in range(4):  # different conversations, one address
                request = chat_request(secrets.token_urlsafe(24))
                async with http.post(f"{url}/webhooks/webchat/webhook", **request) as answer:
                    statuses.append(answer.status)
                    body = await answer.json()
            assert statuses == [200, 200, 200, 429]
            assert body["error"] == RATE_LIMITED_ERROR and "请稍后再试" in body["error"]
            assert 1 <= int(answer.headers["Retry-After"]) <= DAY

    in_thread(scenario)


def test_only_the_channels_headers_go_upstream() -> None:
    async def echo(request: web.Request) -> web.Response:
        return web.json_response(dict(request.headers),
                                 headers={"Access-Control-Allow-Credentials": "true"})

    async def scenario() -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", echo)
        upstream = TestServer(app, host="127.0.0.1")
        await upstream.start_server()
        sent = {"Authorization": "Bearer stolen", "Cookie": "session=1",
                "X-CityLink-Chat-Id": "a" * 32, "Content-Type": "application/json"}
        try:
            async with gateway(str(upstream.make_url("")).rstrip("/")) as url, \
                    aiohttp.ClientSession() as http:
                async with http.post(f"{url}/webhooks/webchat/webhook", data=b"{}",
                                     headers=sent) as answer:
                    seen = await answer.json()
                    assert "Access-Control-Allow-Credentials" not in answer.headers
        finally:
            await upstream.close()
        assert seen["X-CityLink-Chat-Id"] == "a" * 32
        assert seen["X-Forwarded-For"] == "127.0.0.1"
        assert "Authorization" not in seen and "Cookie" not in seen

    in_thread(scenario)


def test_a_stopped_bot_is_a_retryable_chinese_error() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]

    async def scenario() -> None:
        async with gateway(f"http://127.0.0.1:{closed}") as url, \
                aiohttp.ClientSession() as http:
            async with http.get(f"{url}/webhooks/webchat/history") as answer:
                assert answer.status == 502  # the page retries 502 with backoff
                assert (await answer.json())["error"] == UNREACHABLE_ERROR

    in_thread(scenario)


@pytest.mark.parametrize("raw_path", [
    "/webhooks/webchat/../../conversations/x/tracker",
    "/webhooks/webchat/%2e%2e/%2E%2E/conversations/x/tracker",
    "/webhooks/wechat/./../../model/parse",
])
def test_no_way_out_of_the_channels_by_dot_segments(bot: LoopbackServer, raw_path: str) -> None:
    async def scenario() -> str:
        async with gateway(upstream_of(bot)) as url:
            host, port = url.removeprefix("http://").split(":")
            reader, writer = await asyncio.open_connection(host, int(port))
            writer.write(f"GET {raw_path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
                         .encode())
            status_line = (await reader.readline()).decode()
            writer.close()
            return status_line

    assert in_thread(scenario).split()[1] == "404"
