"""The WeChat channel's state on Redis: bot nodes on several machines.

The several-worker tests of test_wechat.py run again here with REDIS_URL set,
so each channel is a node sharing Redis instead of a worker sharing a file;
then what only several nodes can race on: one claim per turn, one token fetch.
"""
from __future__ import annotations

import asyncio
from typing import Iterator

import pytest
import redis

from bot.channels.wechat_state import RedisWeChatState, WeChatState, open_state
from tests.channels.test_wechat import (  # noqa: F401  (fixtures and helpers of the channel tests)
    FakeWeChatAPI,
    StartChannel,
    says,
    start_channel,
    test_a_menu_shown_by_one_worker_is_answered_by_number_on_another,
    test_a_retry_reaching_another_worker_gets_the_same_reply_and_runs_nothing,
    test_a_slow_turn_is_answered_empty_by_every_worker_and_pushed_once,
    test_workers_share_one_access_token,
    text_xml,
    wechat_api,
)


@pytest.fixture(autouse=True)
def on_redis(redis_server: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Every channel built in the test keeps its state in a clean Redis database."""
    redis.StrictRedis.from_url(redis_server).flushdb()
    monkeypatch.setenv("REDIS_URL", redis_server)
    yield redis_server


def test_redis_url_chooses_redis_and_its_absence_the_file(on_redis: str, tmp_path) -> None:
    assert isinstance(open_state(tmp_path / "w.db"), RedisWeChatState)
    assert isinstance(open_state(tmp_path / "w.db", environ={}), WeChatState)


def test_only_one_node_claims_a_turn_and_all_see_its_reply(on_redis: str) -> None:
    nodes = [RedisWeChatState(on_redis) for _ in range(3)]
    assert [node.claim_turn("o1:msg9", ttl=60) for node in nodes] == [True, False, False]
    assert nodes[2].turn_reply("o1:msg9") is None  # still running
    nodes[0].settle_turn("o1:msg9", "")
    assert nodes[1].turn_reply("o1:msg9") == ""  # settled on "no passive reply"
    nodes[0].settle_turn("never-claimed", "x")
    assert nodes[1].turn_reply("never-claimed") is None


def test_a_rejected_token_is_dropped_only_if_not_replaced(on_redis: str) -> None:
    a, b = RedisWeChatState(on_redis), RedisWeChatState(on_redis)
    a.save_token("app", "T1", refresh_at=1e12)
    b.save_token("app", "T2", refresh_at=1e12)
    a.forget_token("app", "T1")  # a's rejection arrives after b replaced it
    assert b.token("app") == ("T2", 1e12)
    b.forget_token("app", "T2")
    assert a.token("app") is None


def test_one_node_refreshes_the_token_and_the_claim_ends_with_it(on_redis: str) -> None:
    a, b = RedisWeChatState(on_redis), RedisWeChatState(on_redis)
    assert a.claim_refresh("app", ttl=10) and not b.claim_refresh("app", ttl=10)
    a.save_token("app", "T1", refresh_at=1e12)
    assert b.claim_refresh("app", ttl=10)


@pytest.mark.asyncio
async def test_nodes_delivering_at_once_fetch_the_token_once(
    start_channel: StartChannel, wechat_api: FakeWeChatAPI  # noqa: F811
) -> None:
    bot = says("您的居住证已办好，请到派出所领取。")
    nodes = [await start_channel(bot, reply_timeout=0.2) for _ in range(3)]
    release = bot.hold()
    for index, (_, node) in enumerate(nodes):  # a slow turn on each node: each pushes
        assert (await node.post(text_xml(f"居住证办好了吗{index}"))).text == "success"
    release.set()
    await asyncio.gather(*(channel.drain() for channel, _ in nodes))
    assert len(wechat_api.delivered) == 3
    assert wechat_api.token_fetches == 1
