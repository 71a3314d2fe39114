"""The load: realistic conversations that call the simulated backends but never
pay or book, so they can be replayed forever, and the closed-loop virtual
citizens that send them. Plates and engine numbers are from the simulator's
deterministic seed (tests/test_violation.yml).
"""

from __future__ import annotations

import asyncio
import json
import random
import subprocess
import time
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Iterator, List, Tuple

from tools.bench.stats import Sample, long_summary, summarize_level
from tools.bench.varied import VARIED_MESSAGES, long_messages

REST_PATH = "/webhooks/rest/webhook"
COLD_START_MESSAGE = "你好"


@dataclass(frozen=True)
class Turn:
    text: str
    kind: str  # what the message exercises; latency is also reported per kind
    expect: Tuple[str, ...] = ()  # every one must appear in the answer


@dataclass(frozen=True)
class Conversation:
    name: str
    turns: Tuple[Turn, ...]


GREET = Turn("你好", "greet", ("您好",))
BYE = Turn("再见", "goodbye", ("再见",))
THANKS = Turn("谢谢", "thank", ("不客气",))

CONVERSATIONS: Tuple[Conversation, ...] = (
    Conversation(
        "violation_guangzhou",
        (
            GREET,
            Turn("查违章", "violation_ask", ("车牌",)),
            Turn("粤A288E0", "violation_backend", ("粤A288E0 共 3 条违章",)),
            BYE,
        ),
    ),
    Conversation(
        "violation_shenzhen_engine",
        (
            Turn("查一下粤B55S41的违章", "violation_ask", ("发动机号",)),
            Turn("发动机号后六位8ZCCYU", "violation_backend", ("粤B55S41 共 2 条违章",)),
            THANKS,
        ),
    ),
    Conversation(
        "violation_one_sentence_then_traffic",
        (
            Turn("帮我查下粤A288E0有没有违章", "violation_backend", ("粤A288E0 共 3 条违章",)),
            Turn("深圳深南大道现在堵不堵", "traffic_backend", ("深南大道",)),
            BYE,
        ),
    ),
    Conversation(
        "set_city_traffic_weather",
        (
            Turn("我在深圳", "set_city", ("深圳",)),
            Turn("深南大道现在堵不堵", "traffic_backend", ("深南大道",)),
            Turn("天气怎么样", "weather_backend", ("深圳", "℃")),
            BYE,
        ),
    ),
    Conversation(
        "weather_guangzhou",
        (
            Turn("广州今天天气怎么样", "weather_backend", ("广州", "℃")),
            THANKS,
        ),
    ),
    Conversation(
        "faq_passport",
        (
            GREET,
            Turn("护照怎么办理", "faq", ("护照",)),
            THANKS,
        ),
    ),
    Conversation(
        "bus_guangzhou",
        (
            Turn("我在广州", "set_city", ("广州",)),
            Turn("查公交10路", "bus_backend", ("10路",)),
            BYE,
        ),
    ),
)


WORKLOADS = ("scripted", "varied")
VARIED_TURNS = 5  # a varied citizen starts a new conversation every 5 messages


def conversation_schedule(
    seed: int, user: int, workload: str = "scripted"
) -> Iterator[Conversation]:
    """The endless, reproducible sequence of conversations of one citizen: the
    scripted conversations above, or (`varied`) 5 messages drawn from
    tools/bench/varied.py, whose answers are not checked (only that there is one)."""
    rng = random.Random(f"{seed}:{user}")
    while True:
        if workload == "varied":
            yield Conversation(
                "varied",
                tuple(Turn(rng.choice(VARIED_MESSAGES), "varied") for _ in range(VARIED_TURNS)),
            )
        else:
            yield rng.choice(CONVERSATIONS)


def rest_headers() -> Dict[str, str]:
    """The REST channel requires the operator credentials (bot/channels/rest.py);
    the API token, not a JWT, because a run outlasts a JWT's five minutes."""
    from common.secrets import secret

    return {"Authorization": f"Bearer {secret('api_token')}"}


def post_json(url: str, body: Dict[str, Any], timeout: float) -> Tuple[int, Any]:
    req = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Content-Type": "application/json", **rest_headers()},
    )
    with urllib.request.urlopen(req, timeout=timeout) as response:
        raw = response.read()
        return response.status, json.loads(raw) if raw else None


def wait_first_answer(
    bot_url: str, process: subprocess.Popen, started: float, timeout: float, log: Path
) -> Dict[str, float]:
    """Poll with a real message until the bot answers it; times from `started`."""
    deadline = started + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = log.read_text(encoding="utf-8", errors="replace")[-3000:]
            raise RuntimeError(f"rasa run exited ({process.returncode}):\n{tail}")
        sent = time.monotonic()
        try:
            status, answer = post_json(
                f"{bot_url}{REST_PATH}",
                {"sender": f"coldstart-{uuid.uuid4().hex[:8]}", "message": COLD_START_MESSAGE},
                timeout=120,
            )
        except (OSError, ValueError):
            time.sleep(0.1)
            continue
        if status == 200 and answer:
            now = time.monotonic()
            return {"seconds": round(now - started, 3), "first_answer_s": round(now - sent, 3)}
        time.sleep(0.1)
    raise TimeoutError(f"no answer from {bot_url} within {timeout:.0f} s")


async def send_turn(session: Any, url: str, sender: str, turn: Turn) -> Sample:
    import aiohttp

    start = time.monotonic()
    error, empty, mismatch, reply = None, False, False, ""
    try:
        async with session.post(url, json={"sender": sender, "message": turn.text}) as response:
            raw = await response.read()
            status = response.status
        if status != 200:
            error = f"http_{status}"
        else:
            messages = json.loads(raw) if raw else []
            texts = [str(m.get("text") or "") for m in messages]
            empty = not messages
            mismatch = not all(any(e in t for t in texts) for e in turn.expect)
            reply = " / ".join(t for t in texts if t)[:200] if mismatch else ""
    except asyncio.TimeoutError:
        error = "timeout"
    except aiohttp.ClientError as exc:
        error = f"connection: {type(exc).__name__}"
    except ValueError:
        error = "bad_json"
    return Sample(turn.kind, start, time.monotonic(), error, empty, mismatch, reply=reply)


async def virtual_citizen(
    session: Any,
    url: str,
    user: int,
    seed: int,
    tag: str,
    stop: asyncio.Event,
    samples: List[Sample],
    workload: str = "scripted",
) -> None:
    for n, conversation in enumerate(conversation_schedule(seed, user, workload)):
        sender = f"bench-{tag}-u{user}-{n}"
        for turn in conversation.turns:
            if stop.is_set():
                return
            sample = await send_turn(session, url, sender, turn)
            sample.user = user
            samples.append(sample)


async def run_level(
    bot_url: str,
    concurrency: int,
    warmup: float,
    duration: float,
    seed: int,
    timeout: float,
    tag: str,
    workload: str = "scripted",
) -> Dict[str, Any]:
    """Closed loop: `concurrency` citizens, warm-up, then the measured window."""
    import aiohttp

    connector = aiohttp.TCPConnector(limit=concurrency)
    samples: List[Sample] = []
    stop = asyncio.Event()
    async with aiohttp.ClientSession(
        connector=connector, timeout=aiohttp.ClientTimeout(total=timeout), headers=rest_headers()
    ) as session:
        tasks = [
            asyncio.create_task(
                virtual_citizen(
                    session, f"{bot_url}{REST_PATH}", user, seed, tag, stop, samples, workload
                )
            )
            for user in range(concurrency)
        ]
        # Warm-up: at least `warmup` seconds and until every citizen has had an
        # answer, so that at high concurrency the first burst is not measured.
        started = time.monotonic()
        await asyncio.sleep(warmup)
        while len({s.user for s in samples}) < concurrency and time.monotonic() - started < timeout:
            await asyncio.sleep(0.05)
        window_start = time.monotonic()
        warmed_up = window_start - started
        await asyncio.sleep(duration)
        window_end = time.monotonic()
        stop.set()
        # Let the citizens finish the message in flight (not counted).
        done, pending = await asyncio.wait(tasks, timeout=timeout + 5)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        for task in done:
            if task.exception() is not None:
                raise task.exception()
    summary = summarize_level(samples, concurrency, window_start, window_end)
    summary["warmup_s"] = round(warmed_up, 2)
    return summary


async def long_conversation(
    bot_url: str, turns: int, timeout: float, tag: str, window: int = 20
) -> Dict[str, Any]:
    """One citizen, one conversation id, `turns` varied messages (`long_messages`): each
    turn's latency, and the first and the last `window` turns compared."""
    import aiohttp

    samples: List[Sample] = []
    async with aiohttp.ClientSession(
        timeout=aiohttp.ClientTimeout(total=timeout), headers=rest_headers()
    ) as session:
        for text in long_messages(turns, window):
            turn = Turn(text, "long")
            samples.append(await send_turn(session, f"{bot_url}{REST_PATH}", f"long-{tag}", turn))
    return long_summary(samples, window)


async def sanity_pass(bot_url: str, tag: str, timeout: float) -> Dict[str, Any]:
    """Every conversation once, in order: do the answers contain what they should?"""
    import aiohttp

    failures = []
    turns = 0
    async with aiohttp.ClientSession(
        timeout=aiohttp.ClientTimeout(total=timeout), headers=rest_headers()
    ) as session:
        for conversation in CONVERSATIONS:
            sender = f"sanity-{tag}-{conversation.name}"
            for turn in conversation.turns:
                turns += 1
                sample = await send_turn(session, f"{bot_url}{REST_PATH}", sender, turn)
                if sample.error or sample.mismatch:
                    failures.append(
                        {
                            "conversation": conversation.name,
                            "text": turn.text,
                            "expected": list(turn.expect),
                            "problem": sample.error
                            or ("empty answer" if sample.empty else "unexpected answer"),
                            "reply": sample.reply,
                        }
                    )
    return {"turns": turns, "ok": turns - len(failures), "failures": failures}


# --------------------------------------------------------------------------
# One configuration end to end
# --------------------------------------------------------------------------
