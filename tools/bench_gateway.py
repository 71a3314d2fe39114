"""What the public gateway adds to a web chat request's latency.

A stand-in upstream answers POST /webhooks/webchat/webhook at once with a
~1 KB JSON answer (a bot turn takes tens of milliseconds, so only the
gateway's own cost is left to see). The same requests are sent to it directly
and through the gateway (`python -m gateway`, its own process as in `make
run`), one at a time and 16 at once; the script prints the median and 95th
percentile of both and of the difference, as docs/benchmarks.md quotes them.

    .venv/bin/python -m tools.bench_gateway --requests 2000
"""
from __future__ import annotations

import argparse
import asyncio
import json
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from typing import Dict, List

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestServer

from tools.stack import ROOT, stack_environment

ANSWER = [{"recipient_id": "web:x", "text": "您好，我是城市服务助手。" * 20}]


async def webhook(request: web.Request) -> web.Response:
    await request.read()
    return web.json_response(ANSWER)


async def timed(session: aiohttp.ClientSession, url: str, count: int,
                concurrency: int) -> List[float]:
    """Milliseconds per request, `concurrency` requests in flight."""
    body = json.dumps({"message": "你好", "message_id": "bench-0000"})
    headers = {"Content-Type": "application/json", "X-CityLink-Chat-Id": "b" * 32}
    samples: List[float] = []

    async def one_client(n: int) -> None:
        for _ in range(n):
            start = time.perf_counter()
            async with session.post(url, data=body, headers=headers) as answer:
                await answer.read()
                assert answer.status == 200
            samples.append((time.perf_counter() - start) * 1000)

    await asyncio.gather(*(one_client(count // concurrency) for _ in range(concurrency)))
    return samples


def summary(samples: List[float]) -> Dict[str, float]:
    ordered = sorted(samples)
    return {"median_ms": round(statistics.median(ordered), 2),
            "p95_ms": round(ordered[int(0.95 * (len(ordered) - 1))], 2)}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_gateway(upstream: str) -> "tuple[subprocess.Popen, str]":
    """`python -m gateway` in front of `upstream`, without rate limits; its URL once up."""
    port = free_port()
    env = {**stack_environment(), "CITYLINK_RATE_ADDRESS": "0"}
    process = subprocess.Popen([sys.executable, "-m", "gateway", "--port", str(port),
                                "--upstream", upstream], cwd=ROOT, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            urllib.request.urlopen(url + "/health", timeout=1).close()
            return process, url
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("the gateway did not start")


async def main(count: int) -> None:
    upstream_app = web.Application()
    upstream_app.router.add_post("/webhooks/webchat/webhook", webhook)
    upstream = TestServer(upstream_app, host="127.0.0.1")
    await upstream.start_server()
    base = str(upstream.make_url("")).rstrip("/")
    process, gateway = start_gateway(base)
    path = "/webhooks/webchat/webhook"
    try:
        async with aiohttp.ClientSession() as session:
            for concurrency in (1, 16):
                await timed(session, base + path, 100, concurrency)  # warm-up
                await timed(session, gateway + path, 100, concurrency)
                direct = summary(await timed(session, base + path, count, concurrency))
                via = summary(await timed(session, gateway + path, count, concurrency))
                added = {k: round(via[k] - direct[k], 2) for k in direct}
                print(json.dumps({"concurrency": concurrency, "requests": count,
                                  "direct": direct, "via_gateway": via, "added": added}))
    finally:
        process.terminate()
        process.wait(10)
        await upstream.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    asyncio.run(main(parser.parse_args().requests))
