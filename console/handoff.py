"""Human handoff, the staff's side: the live queue, taking a conversation over, replying, handing
back. Routes plug into the console like the other pages (`routes`, each `@guarded`).

| route | role | what |
|---|---|---|
| `GET /handoff` | staff | the queue (console/static/handoff.js refreshes it every 2 s) |
| `GET /api/handoff/queue` | staff | the same as JSON |
| `GET /handoff/chat?id=` | staff | one conversation: who has it, city, service, the bot's last understanding, the messages (live), canned replies, reply box |
| `GET /api/handoff/chat?id=&after=` | staff | its messages after a row id, and its state, as JSON |
| `POST /handoff/claim` | staff | take it: one staff member at a time; the bot is paused |
| `POST /handoff/reassign` | admin | give it to another staff member |
| `POST /handoff/reply` | staff (its holder) | a message to the citizen, in their channel |
| `POST /handoff/release` | staff (its holder) or admin | hand back: the bot resumes and says so |

The queue is `handoff_requests` (common/handoff.py); the conversation's own steps go through the
bot's API (console/rasa_api.py), so they are events in the tracker like everything else.
"""
from __future__ import annotations

import time
from typing import Any, Dict
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from common import handoff
from console import acts, auth, handoff_view, rasa_api
from console.web import engine_of, form_of, guarded, in_thread, render

MAX_REPLY_CHARS = 600  # WeChat shows up to 2048 bytes per text; Chinese is 3 bytes a character
GREETING = "您好，我是人工客服{name}，已接入您的对话，请问有什么可以帮您？"


def _back(sender_id: str, error: str = "") -> RedirectResponse:
    query = {"id": sender_id, **({"error": error} if error else {})}
    return RedirectResponse(f"/handoff/chat?{urlencode(query)}", status_code=303)


@guarded("staff")
async def queue_page(request: Request, user: auth.User) -> Response:
    rows = await in_thread(handoff_view.queue_rows, engine_of(request))
    return render(request, "handoff.html", user, rows=rows)


@guarded("staff")
async def api_queue(request: Request, user: auth.User) -> Response:
    return JSONResponse({"requests": await in_thread(handoff_view.queue_rows, engine_of(request))})


@guarded("staff")
async def chat_page(request: Request, user: auth.User) -> Response:
    sender_id = request.query_params.get("id", "")
    item = await in_thread(handoff_view.chat, engine_of(request), sender_id)
    if item is None:
        return render(request, "message.html", user, 404, title="没有这个会话",
                      message="没有找到这个会话（可能已按保留期限删除）。")
    staff = [u.name for u in await in_thread(auth.list_users, engine_of(request))
             if not u.disabled] if user.can("admin") else []
    return render(request, "handoff_chat.html", user, c=item, staff=staff,
                  error=request.query_params.get("error", ""), max_chars=MAX_REPLY_CHARS)


@guarded("staff")
async def api_chat(request: Request, user: auth.User) -> Response:
    after = request.query_params.get("after", "0")
    item = await in_thread(handoff_view.chat, engine_of(request), request.query_params.get("id", ""))
    if item is None or not after.isdigit():
        return JSONResponse({"error": "没有这个会话"}, status_code=404)
    request_row: Dict[str, Any] = item["request"] or {}
    return JSONResponse({
        "bubbles": [b for b in item["bubbles"] if b["id"] > int(after)],
        "claimed_by": request_row.get("claimed_by") or "", "open": bool(request_row),
        "waited_s": item["waited_s"], "understanding": item["understanding"],
        "wechat": item.get("wechat"),
    })


async def _deliver(request: Request, sender_id: str) -> bool:
    """Whether the bot should push this conversation's messages to WeChat now: a WeChat
    conversation whose window and quota allow it (otherwise they are only stored)."""
    if handoff.channel_of(sender_id) != "wechat":
        return False
    item = await in_thread(handoff_view.chat, engine_of(request), sender_id)
    return not (item or {}).get("wechat_refusal")


async def _holder(request: Request, user: auth.User, sender_id: str, admin_too: bool) -> str:
    """Why `user` may not act on the conversation now ("" if they may)."""
    row = await in_thread(handoff.open_request, engine_of(request), sender_id)
    if row is None:
        return "这个会话不在转人工队列中（可能已交还机器人）。"
    if row["claimed_by"] != user.name and not (admin_too and user.can("admin")):
        return f"这个会话由 {row['claimed_by'] or '（尚无人）'} 接待，请先接入。"
    return ""


@guarded("staff")
async def claim(request: Request, user: auth.User) -> Response:
    sender_id = form_of(request).get("id", "")
    engine = engine_of(request)
    if not await in_thread(handoff.claim, engine, sender_id, user.name):
        row = await in_thread(handoff.open_request, engine, sender_id)
        who = (row or {}).get("claimed_by")
        return _back(sender_id, f"{who} 已接入这个会话。" if who else "这个会话不在转人工队列中。")
    try:
        await rasa_api.take_over(sender_id, user.name, GREETING.format(name=user.name),
                                 deliver=await _deliver(request, sender_id))
    except rasa_api.BotError as failed:
        await in_thread(handoff.unclaim, engine, sender_id, user.name)
        return _back(sender_id, str(failed))
    await in_thread(acts.write_audit, engine, user.name, "handoff_claim", sender_id, "")
    return _back(sender_id)


@guarded("admin")
async def reassign(request: Request, user: auth.User) -> Response:
    form = form_of(request)
    sender_id, to = form.get("id", ""), form.get("to", "").strip()
    engine = engine_of(request)
    row = await in_thread(handoff.open_request, engine, sender_id)
    names = {u.name for u in await in_thread(auth.list_users, engine) if not u.disabled}
    if row is None or to not in names:
        return _back(sender_id, "请选择一个有效的在岗账号。")
    if not await in_thread(handoff.claim, engine, sender_id, to, row["claimed_by"]):
        return _back(sender_id, "会话的接待人刚刚变了，请刷新后再试。")
    await in_thread(acts.write_audit, engine, user.name, "handoff_reassign", sender_id,
                    f"{row['claimed_by'] or '无'} → {to}")
    return _back(sender_id)


@guarded("staff")
async def reply(request: Request, user: auth.User) -> Response:
    form = form_of(request)
    sender_id, text = form.get("id", ""), form.get("text", "").strip()
    refusal = await _holder(request, user, sender_id, admin_too=False)
    if not refusal and not text:
        refusal = "回复不能为空。"
    if not refusal and len(text) > MAX_REPLY_CHARS:
        refusal = f"回复过长（最多 {MAX_REPLY_CHARS} 字），请分几条发送。"
    wechat = handoff.channel_of(sender_id) == "wechat"
    if not refusal and wechat:
        item = await in_thread(handoff_view.chat, engine_of(request), sender_id, time.time())
        refusal = (item or {}).get("wechat_refusal") or ""
    if refusal:
        return _back(sender_id, refusal)
    try:
        await rasa_api.say(sender_id, user.name, text, deliver=wechat)
    except rasa_api.BotError as failed:
        return _back(sender_id, str(failed))
    return _back(sender_id)


@guarded("staff")
async def release(request: Request, user: auth.User) -> Response:
    sender_id = form_of(request).get("id", "")
    refusal = await _holder(request, user, sender_id, admin_too=True)
    if refusal:
        return _back(sender_id, refusal)
    engine = engine_of(request)
    row = await in_thread(handoff.open_request, engine, sender_id) or {}
    try:
        if row.get("claimed_by"):  # an unclaimed request was never paused
            await rasa_api.hand_back(sender_id, user.name, deliver=await _deliver(request, sender_id))
    except rasa_api.BotError as failed:
        return _back(sender_id, str(failed))
    await in_thread(handoff.close, engine, sender_id, user.name)
    await in_thread(acts.write_audit, engine, user.name, "handoff_release", sender_id, "")
    return RedirectResponse("/handoff", status_code=303)


routes = [
    Route("/handoff", queue_page), Route("/api/handoff/queue", api_queue),
    Route("/handoff/chat", chat_page), Route("/api/handoff/chat", api_chat),
    Route("/handoff/claim", claim, methods=["POST"]),
    Route("/handoff/reassign", reassign, methods=["POST"]),
    Route("/handoff/reply", reply, methods=["POST"]),
    Route("/handoff/release", release, methods=["POST"]),
]
