"""Handoff latency: from a staff member's reply in the console to its arrival on the citizen's page.

    python -m tools.handoff_bench [--conversations 10] [--replies 10] [--port-base 16000]

Starts the system the way `make run` does (simulator, actions, bot with two workers, gateway,
console) on a fresh tracker database and its own ports, makes a staff account with the documented
command, then for each conversation: the citizen writes 转人工 through the gateway, the staff
member signs in and claims it in the console, and each reply is timed from the moment the
console's `POST /handoff/reply` is sent until the citizen's waiting
`GET /webhooks/webchat/updates` (through the gateway, as the page does) returns it. Everything
between is included: the console's checks, the Rasa API call, the tracker write, the bot worker's
next look at the store (every 0.3 s, bot/channels/webchat_push.py), the gateway. Not included:
the browser drawing the bubble. Prints a Markdown table for docs/benchmarks.md.
"""
from __future__ import annotations

import argparse
import asyncio
import re
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List

import aiohttp

from tools.stack import ROOT, Stack, services, stack_environment

CSRF = re.compile(r'name="csrf" value="([^"]+)"')


async def _csrf(session: aiohttp.ClientSession, url: str) -> str:
    async with session.get(url) as page:
        found = CSRF.search(await page.text())
    if found is None:
        raise RuntimeError(f"没有 CSRF 令牌：{url}")
    return found.group(1)


async def _conversation(public: str, console: str, staff: aiohttp.ClientSession,
                        replies: int) -> List[float]:
    chat_id = secrets.token_urlsafe(24)
    sender, headers = f"web:{chat_id}", {"X-CityLink-Chat-Id": chat_id}
    async with aiohttp.ClientSession(headers=headers) as citizen:
        webchat = f"{public}/webhooks/webchat"
        async with citizen.post(f"{webchat}/webhook", json={
                "message": "转人工", "message_id": secrets.token_urlsafe(9)}) as answer:
            answered = await answer.json()
            assert any("登记转人工" in (m.get("text") or "") for m in answered), answered
        csrf = await _csrf(staff, f"{console}/handoff/chat?id={sender}")
        await staff.post(f"{console}/handoff/claim", data={"csrf": csrf, "id": sender},
                         allow_redirects=False)
        async with citizen.get(f"{webchat}/history") as history:
            cursor = (await history.json())["cursor"]
        timings = []
        for n in range(replies):
            text = f"第 {n + 1} 条人工回复"
            waiting = asyncio.create_task(_until(citizen, f"{webchat}/updates", cursor, text))
            await asyncio.sleep(0.5)  # the page is already waiting when staff press 发送
            started = time.perf_counter()
            async with staff.post(f"{console}/handoff/reply", allow_redirects=False,
                                  data={"csrf": csrf, "id": sender, "text": text}) as sent:
                assert sent.status == 303 and "error=" not in sent.headers["Location"], sent.headers
            cursor = await waiting
            timings.append(time.perf_counter() - started)
        await staff.post(f"{console}/handoff/release", data={"csrf": csrf, "id": sender},
                         allow_redirects=False)
    return timings


async def _until(citizen: aiohttp.ClientSession, url: str, cursor: int, text: str) -> int:
    """Long-poll like the page until `text` arrives; the new cursor."""
    while True:
        async with citizen.get(url, params={"after": str(cursor)}) as answer:
            data = await answer.json()
        cursor = data["cursor"]
        if any(m.get("text") == text for m in data["messages"]):
            return cursor


async def measure(public: str, console: str, password: str, conversations: int,
                  replies: int) -> List[float]:
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as staff:
        csrf = await _csrf(staff, f"{console}/login")
        await staff.post(f"{console}/login", data={"csrf": csrf, "name": "bench-staff",
                                                     "password": password})
        timings: List[float] = []
        for _ in range(conversations):
            timings += await _conversation(public, console, staff, replies)
    return timings


def report(timings: List[float]) -> str:
    ms = sorted(1000 * t for t in timings)
    cut = statistics.quantiles(ms, n=100)
    return ("| replies | median | p90 | p99 | max |\n|---|---|---|---|---|\n"
            f"| {len(ms)} | {statistics.median(ms):.0f} ms | {cut[89]:.0f} ms | {cut[98]:.0f} ms "
            f"| {ms[-1]:.0f} ms |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--conversations", type=int, default=10)
    parser.add_argument("--replies", type=int, default=10)
    parser.add_argument("--port-base", type=int, default=16000)
    args = parser.parse_args()
    base = args.port_base
    ports: Dict[str, int] = {"bot_port": base + 5, "actions_port": base + 55,
                             "citysim_port": base + 80}
    with tempfile.TemporaryDirectory() as tmp:
        env = stack_environment(ports["actions_port"], ports["citysim_port"],
                                tracker_db=Path(tmp) / "tracker.db")
        env.update(SANIC_WORKERS="2", CITYLINK_RATE_ADDRESS="0", CITYLINK_RATE_CONVERSATION="0")
        password = secrets.token_urlsafe(16)
        subprocess.run([sys.executable, "-m", "console.admin", "create", "bench-staff",
                        "--role", "staff"], input=password + "\n", text=True, env=env, cwd=ROOT,
                       check=True, capture_output=True)
        svc = services(citysim_db=str(Path(tmp) / "citysim.sqlite"), public=("127.0.0.1", base + 8),
                       console_port=base + 90, **ports)
        with Stack(env=env, log_dir=Path(tmp) / "log") as stack:
            for name in ("citysim", "actions", "bot", "gateway", "console"):
                stack.start(svc[name], timeout=300)
            timings = asyncio.run(measure(f"http://127.0.0.1:{base + 8}",
                                          f"http://127.0.0.1:{base + 90}", password,
                                          args.conversations, args.replies))
    print(report(timings))


if __name__ == "__main__":
    main()
