"""Namespaces, message ids, length caps and rate limits of the citizen channels
and the operator REST channel (bot/channels/guard.py, webchat.py, rest.py).

The web chat and REST channels run in the web chat tests' fake bot (the real
channels in a Sanic app shaped like `rasa run`'s); WeChat's are in
tests/channels/test_wechat.py's harness.
"""
from __future__ import annotations

import json
import multiprocessing
import os
import urllib.error
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Iterator

import pytest

from bot.channels.guard import (
    MAX_MESSAGE_CHARS,
    RATE_LIMITED_REPLY,
    TOO_LONG_REPLY,
    RateLimit,
    SQLiteChannelState,
)
from common.secrets import rasa_api_jwt

from .fake_bot import LoopbackServer
from .test_channel import http, message, new_chat_id


@pytest.fixture()
def operator_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    """Known API secrets for this test (the fake bot runs in this process)."""
    monkeypatch.setenv("CITYLINK_API_TOKEN", "test-api-token-" + uuid.uuid4().hex)
    monkeypatch.setenv("CITYLINK_JWT_SECRET", "test-jwt-secret-" + uuid.uuid4().hex)


@pytest.fixture()
def limited_bot() -> Iterator[LoopbackServer]:
    """A fake bot whose channels allow 3 messages per conversation (in a day-long
    window: windows are aligned to the clock, and a test never crosses one)."""
    server = LoopbackServer(rate=RateLimit(3, 86400))
    server.start()
    yield server
    server.shutdown()


def rest(bot: LoopbackServer, body: Any, token: str = "") -> Any:
    """POST to the REST channel with an ``Authorization: Bearer`` header (if any)."""
    url = bot.base_url.replace("/webchat/", "/rest/webhook")
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, json.dumps(body).encode(), headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


# ------------------------------------------------------------ message ids


def test_a_resent_web_message_is_run_once(fake_bot: LoopbackServer) -> None:
    chat_id, body = new_chat_id(), message("你好")
    first = http(fake_bot.base_url + "webhook", body, chat_id=chat_id)
    again = http(fake_bot.base_url + "webhook", body, chat_id=chat_id)
    assert first[0] == again[0] == 200
    assert again[2] == first[2] and first[2]
    assert fake_bot.user_texts(chat_id) == ["你好"]
    # A new message id is a new message, even with the same text.
    http(fake_bot.base_url + "webhook", message("你好"), chat_id=chat_id)
    assert fake_bot.user_texts(chat_id) == ["你好", "你好"]


def test_concurrent_deliveries_of_one_message_run_it_once(fake_bot: LoopbackServer) -> None:
    chat_id, body = new_chat_id(), message("查违章")
    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(
            lambda _: http(fake_bot.base_url + "webhook", body, chat_id=chat_id), range(4)))
    assert {status for status, _, _ in answers} == {200}
    assert all(body == answers[0][2] for _, _, body in answers)
    assert fake_bot.user_texts(chat_id) == ["查违章"]


def test_message_ids_belong_to_their_conversation(fake_bot: LoopbackServer) -> None:
    body = message("你好")
    one, other = new_chat_id(), new_chat_id()
    http(fake_bot.base_url + "webhook", body, chat_id=one)
    answer = http(fake_bot.base_url + "webhook", body, chat_id=other)[2]
    assert fake_bot.user_texts(other) == ["你好"]
    assert answer[0]["recipient_id"] == "web:" + other


def _claim(path: str, key: str, results: Any) -> None:
    results.put(SQLiteChannelState(Path(path)).claim_turn(key, 60))


def test_claims_are_shared_between_processes(tmp_path: Path) -> None:
    """Several bot workers: exactly one process wins a message."""
    path = str(tmp_path / "channels.db")
    SQLiteChannelState(Path(path))
    results: Any = multiprocessing.get_context("fork").Queue()
    workers = [multiprocessing.get_context("fork").Process(target=_claim,
                                                           args=(path, "web:x:1", results))
               for _ in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(30)
    assert sorted(results.get(timeout=5) for _ in workers) == [False, False, False, True]
    assert (tmp_path / "channels.db").stat().st_mode & 0o077 == 0


# ------------------------------------------------------ length and rate


def test_a_too_long_web_message_gets_a_polite_answer(fake_bot: LoopbackServer) -> None:
    chat_id = new_chat_id()
    status, _, body = http(fake_bot.base_url + "webhook",
                           message("长" * (MAX_MESSAGE_CHARS + 1)), chat_id=chat_id)
    assert (status, body["error"]) == (400, TOO_LONG_REPLY)
    assert fake_bot.user_texts(chat_id) == []
    status, _, _ = http(fake_bot.base_url + "webhook", message("长" * MAX_MESSAGE_CHARS),
                        chat_id=chat_id)
    assert status == 200


def test_web_chat_is_rate_limited_per_conversation(limited_bot: LoopbackServer) -> None:
    chat_id, url = new_chat_id(), limited_bot.base_url + "webhook"
    for n in range(3):
        assert http(url, message(f"第{n}条"), chat_id=chat_id)[0] == 200
    status, _, body = http(url, message("第4条"), chat_id=chat_id)
    assert (status, body["error"]) == (429, RATE_LIMITED_REPLY)
    assert "请稍后再试" in body["error"]
    assert limited_bot.user_texts(chat_id) == ["第0条", "第1条", "第2条"]
    # Another conversation is not held back.
    assert http(url, message("你好"), chat_id=new_chat_id())[0] == 200


def test_only_display_text_metadata_is_stored(fake_bot: LoopbackServer) -> None:
    chat_id = new_chat_id()
    body = message("/query_violation", metadata={"display_text": "查违章", "blob": "x" * 5000})
    assert http(fake_bot.base_url + "webhook", body, chat_id=chat_id)[0] == 200
    tracker = fake_bot._run(fake_bot.app.ctx.agent.tracker_store.retrieve("web:" + chat_id))
    [metadata] = [e.metadata for e in tracker.events if e.type_name == "user"]
    assert metadata == {"display_text": "查违章"}


# -------------------------------------------------------------- REST


@pytest.mark.usefixtures("operator_secrets")
def test_rest_requires_the_operator_credentials(fake_bot: LoopbackServer) -> None:
    body = {"sender": "anon-1", "message": "你好"}
    assert rest(fake_bot, body)[0] == 401
    assert rest(fake_bot, body, token="guessed")[0] == 401
    forged = rasa_api_jwt("mallory")
    os.environ["CITYLINK_JWT_SECRET"] += "-rotated"  # the token was signed with the old one
    assert rest(fake_bot, body, token=forged)[0] == 401
    assert rest(fake_bot, body, token=rasa_api_jwt("citizen", role="user"))[0] == 401
    assert fake_bot.user_texts("anon-1", namespace="rest:") == []

    status, answer = rest(fake_bot, body, token=rasa_api_jwt("tests"))
    assert status == 200 and answer[0]["recipient_id"] == "rest:anon-1"
    status, _ = rest(fake_bot, body, token=os.environ["CITYLINK_API_TOKEN"])
    assert status == 200
    assert fake_bot.user_texts("anon-1", namespace="rest:") == ["你好", "你好"]


@pytest.mark.usefixtures("operator_secrets")
def test_rest_cannot_reach_a_web_conversation(fake_bot: LoopbackServer) -> None:
    chat_id = new_chat_id()
    http(fake_bot.base_url + "webhook", message("网页里说的"), chat_id=chat_id)
    rest(fake_bot, {"sender": "web:" + chat_id, "message": "冒充"}, token=rasa_api_jwt("t"))
    rest(fake_bot, {"sender": chat_id, "message": "冒充"}, token=rasa_api_jwt("t"))
    assert fake_bot.user_texts(chat_id) == ["网页里说的"]
    # And the web chat's history shows only web: conversations.
    history = http(fake_bot.base_url + "history", chat_id=chat_id)[2]["messages"]
    assert [m["text"] for m in history if m["from"] == "user"] == ["网页里说的"]


@pytest.mark.usefixtures("operator_secrets")
def test_rest_length_and_rate_answers(limited_bot: LoopbackServer) -> None:
    token = rasa_api_jwt("tests")
    status, answer = rest(limited_bot, {"sender": "long", "message": "长" * 2001}, token)
    assert (status, answer[0]["text"]) == (400, TOO_LONG_REPLY)
    for n in range(3):
        assert rest(limited_bot, {"sender": "busy", "message": str(n)}, token)[0] == 200
    status, answer = rest(limited_bot, {"sender": "busy", "message": "再来"}, token)
    assert (status, answer[0]["text"]) == (429, RATE_LIMITED_REPLY)


def _hit(path: str, times: int, results: Any) -> None:
    state = SQLiteChannelState(Path(path))
    results.put([state.hit("conversation:web:x", 86400) for _ in range(times)])


def test_rate_counts_are_shared_between_processes(tmp_path: Path) -> None:
    """Four bot workers counting one conversation's messages: every count is
    given out once, so the limit holds whichever worker a message reaches."""
    path = str(tmp_path / "channels.db")
    SQLiteChannelState(Path(path))
    fork = multiprocessing.get_context("fork")
    results: Any = fork.Queue()
    workers = [fork.Process(target=_hit, args=(path, 5, results)) for _ in range(4)]
    for worker in workers:
        worker.start()
    counts = sorted(n for _ in workers for n in results.get(timeout=30))
    for worker in workers:
        worker.join(30)
    assert counts == list(range(1, 21))
