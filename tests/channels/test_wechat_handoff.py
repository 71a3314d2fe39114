"""Handoff on WeChat: what the Rasa HTTP API sends a WeChat conversation (staff replies, the
bot's return) goes out through the customer-service API of the simulated WeChat
(tests/channels/test_wechat.py FakeWeChatAPI); what WeChat refuses fails loudly, so the console
reports it and the event is not stored as delivered. The console's own checks (48-hour window,
quota) are in tests/console/test_handoff_rules.py."""
from __future__ import annotations

import pytest
from rasa.shared.exceptions import RasaException

from bot.channels.wechat_push import WeChatPush
from tests.channels.test_wechat import (  # noqa: F401  (fixtures)
    OPENID,
    FakeWeChatAPI,
    StartChannel,
    says,
    start_channel,
    wechat_api,
)

STAFF_REPLY = {"text": "您好，我是人工客服，请问您的车牌号是？",
               "custom": {"type": "handoff", "state": "agent", "agent": "staff1"}}


@pytest.mark.asyncio
async def test_staff_reply_goes_out_as_a_customer_service_message(
    start_channel: StartChannel, wechat_api: FakeWeChatAPI  # noqa: F811
) -> None:
    channel, _ = await start_channel(says("不会用到"))
    output = channel.get_output_channel()
    assert isinstance(output, WeChatPush) and output.name() == "wechat"
    await output.send_response(f"wechat:{OPENID}", dict(STAFF_REPLY))
    [attempt] = wechat_api.attempts
    # Only the text: the handoff marker is for the web page, never shown to a WeChat user.
    assert attempt["json"] == {"touser": OPENID, "msgtype": "text",
                               "text": {"content": STAFF_REPLY["text"]}}


@pytest.mark.asyncio
@pytest.mark.parametrize("errcode", [45015, 45047])  # past the 48 h window; over the quota
async def test_a_reply_wechat_refuses_raises(
    start_channel: StartChannel, wechat_api: FakeWeChatAPI, errcode: int  # noqa: F811
) -> None:
    channel, _ = await start_channel(says("不会用到"))
    wechat_api.script = [errcode]
    with pytest.raises(RasaException, match="did not take"):
        await channel.get_output_channel().send_response(f"wechat:{OPENID}", dict(STAFF_REPLY))
    assert wechat_api.delivered == []


@pytest.mark.asyncio
async def test_without_app_credentials_nothing_can_be_pushed(
    start_channel: StartChannel, wechat_api: FakeWeChatAPI  # noqa: F811
) -> None:
    channel, _ = await start_channel(says("不会用到"), app_secret="")
    with pytest.raises(RasaException, match="app_secret"):
        await channel.get_output_channel().send_response(f"wechat:{OPENID}", dict(STAFF_REPLY))
    assert wechat_api.attempts == []
