"""Conversation pages: the filtered list, the transcript, acting on it, export and the JSON API."""
from __future__ import annotations

import csv
import io
import json
import time
from typing import Any, Dict, List, Optional
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Route

from common import handoff
from console import acts, auth, handoff_view, queries
from console.transcript import turns
from console.web import engine_of, form_of, guarded, in_thread, render

REVEAL_MINUTES = 15
EXPORT_FIELDS = ["sender_id", "channel", "city", "first_ts", "last_ts", "services", "user_messages",
                 "min_confidence", "fallback", "handoff", "backend_error", "form_abandoned", "completed",
                 "tags", "reviewed_by", "messages"]


def listing(engine: Any, filters: queries.Filters) -> Dict[str, Any]:
    with engine.connect() as conn:
        items, more = ([], False) if filters.errors else queries.list_page(conn, filters)
        return {"items": items, "more": more, "choices": queries.known_values(conn)}


@guarded("staff")
async def conversation_list(request: Request, user: auth.User) -> Response:
    filters = queries.Filters.from_params(request.query_params)
    found = await in_thread(listing, engine_of(request), filters)
    return render(request, "list.html", user, filters=filters, **found)


@guarded("staff")
async def api_conversations(request: Request, user: auth.User) -> Response:
    filters = queries.Filters.from_params(request.query_params)
    if filters.errors:
        return JSONResponse({"error": "；".join(filters.errors)}, status_code=400)
    found = await in_thread(listing, engine_of(request), filters)
    return JSONResponse({"page": filters.page, "more": found["more"], "items": found["items"]})


def _revealed(request: Request, sender_id: str) -> bool:
    until = (request.session.get("reveal") or {}).get(sender_id, 0)
    return until > time.time()


def _transcript(engine: Any, sender_id: str, reveal: bool) -> Optional[Dict[str, Any]]:
    with engine.connect() as conn:
        item = queries.conversation(conn, sender_id)
        if item is None:
            return None
        item["turns"] = turns(queries.conversation_events(conn, sender_id), reveal=reveal)
        item["all_tags"] = queries.known_values(conn)["tags"]
    # Every 转人工 of the conversation: when, how long the citizen waited, who answered.
    item["handoffs"] = [{**r, "waited_s": handoff_view.waited(r, time.time()),
                         "reason": handoff.REASONS.get(r["reason"], r["reason"])}
                        for r in handoff.history(engine, sender_id)]
    return item


@guarded("staff")
async def transcript(request: Request, user: auth.User) -> Response:
    sender_id = request.query_params.get("id", "")
    reveal = _revealed(request, sender_id)
    item = await in_thread(_transcript, engine_of(request), sender_id, reveal)
    if item is None:
        return render(request, "message.html", user, 404, title="没有这个会话",
                      message="没有找到这个会话（可能已按保留期限删除）。")
    return render(request, "transcript.html", user, c=item, revealed=reveal,
                  error=request.query_params.get("error", ""))


@guarded("staff")
async def api_transcript(request: Request, user: auth.User) -> Response:
    item = await in_thread(_transcript, engine_of(request), request.query_params.get("id", ""), False)
    if item is None:
        return JSONResponse({"error": "没有这个会话"}, status_code=404)
    item["turns"] = [t.__dict__ for t in item["turns"]]
    item["notes"] = [dict(n._mapping) for n in item["notes"]]
    item["flags"] = [dict(f._mapping) for f in item["flags"].values()]
    return JSONResponse(item)


def _back(sender_id: str, error: str = "") -> RedirectResponse:
    query = {"id": sender_id, **({"error": error} if error else {})}
    return RedirectResponse(f"/conversation?{urlencode(query)}", status_code=303)


async def _act(request: Request, fn: Any, *args: Any) -> Response:
    try:
        await in_thread(fn, engine_of(request), *args)
    except acts.ActError as refused:
        return _back(form_of(request).get("id", ""), str(refused))
    return _back(form_of(request).get("id", ""))


@guarded("staff")
async def reveal(request: Request, user: auth.User) -> Response:
    form = form_of(request)
    sender_id, reason = form.get("id", ""), form.get("reason", "").strip()
    if len(reason) < 4:
        return _back(sender_id, "查看个人信息需要填写理由（至少 4 个字）")
    await in_thread(acts.write_audit, engine_of(request), user.name, "reveal", sender_id, reason[:500])
    grants = {k: v for k, v in (request.session.get("reveal") or {}).items() if v > time.time()}
    grants[sender_id] = time.time() + REVEAL_MINUTES * 60
    request.session["reveal"] = grants
    return _back(sender_id)


@guarded("staff")
async def hide(request: Request, user: auth.User) -> Response:
    sender_id = form_of(request).get("id", "")
    request.session["reveal"] = {k: v for k, v in (request.session.get("reveal") or {}).items()
                                 if k != sender_id}
    return _back(sender_id)


@guarded("staff")
async def tag(request: Request, user: auth.User) -> Response:
    form = form_of(request)
    return await _act(request, acts.set_tag, user.name, form.get("id", ""), form.get("tag", ""),
                      form.get("op", "add") == "add")


@guarded("staff")
async def note(request: Request, user: auth.User) -> Response:
    form = form_of(request)
    return await _act(request, acts.add_note, user.name, form.get("id", ""), form.get("text", ""))


@guarded("staff")
async def review(request: Request, user: auth.User) -> Response:
    form = form_of(request)
    return await _act(request, acts.set_reviewed, user.name, form.get("id", ""), form.get("reviewed") == "1")


@guarded("staff")
async def flag(request: Request, user: auth.User) -> Response:
    form = form_of(request)
    event_id = form.get("event_id", "")
    if not event_id.isdigit():
        return _back(form.get("id", ""), "消息编号不对")
    return await _act(request, acts.flag_message, user.name, form.get("id", ""), int(event_id),
                      form.get("reason", ""))


@guarded("staff")
async def flags_page(request: Request, user: auth.User) -> Response:
    rows = await in_thread(acts.open_flags, engine_of(request))
    return render(request, "flags.html", user, flags=rows)


def _export_lines(items: List[Dict[str, Any]], fmt: str) -> List[str]:
    for item in items:
        item["tags"] = " ".join(item["tags"])
        item["messages"] = item.pop("search_text").strip()
        item["first_ts"], item["last_ts"] = (queries.iso(item["first_ts"]), queries.iso(item["last_ts"]))
    if fmt == "jsonl":
        return [json.dumps({k: item[k] for k in EXPORT_FIELDS}, ensure_ascii=False) + "\n" for item in items]
    out = io.StringIO()
    writer = csv.DictWriter(out, EXPORT_FIELDS, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(items)
    return ["\ufeff" + out.getvalue()]  # BOM: Excel opens Chinese CSV correctly


def _export(engine: Any, filters: queries.Filters) -> List[Dict[str, Any]]:
    with engine.connect() as conn:
        return queries.export_rows(conn, filters)


@guarded("staff")
async def export(request: Request, user: auth.User) -> Response:
    """The filtered set, masked (messages as stored in the summary, personal data masked)."""
    filters = queries.Filters.from_params(request.query_params)
    fmt = request.query_params.get("format", "csv")
    if fmt not in ("csv", "jsonl") or filters.errors:
        return render(request, "message.html", user, 400, title="无法导出",
                      message="导出格式只能是 csv 或 jsonl；" + "；".join(filters.errors))
    items = await in_thread(_export, engine_of(request), filters)
    await in_thread(acts.write_audit, engine_of(request), user.name, "export", None,
                    f"{fmt} {len(items)} 条；筛选：{filters.query()}")
    media = "text/csv; charset=utf-8" if fmt == "csv" else "application/x-ndjson; charset=utf-8"
    return StreamingResponse(iter(_export_lines(items, fmt)), media_type=media, headers={
        "Content-Disposition": f'attachment; filename="conversations.{fmt}"'})


routes = [
    Route("/conversations", conversation_list),
    Route("/conversation", transcript),
    Route("/conversation/reveal", reveal, methods=["POST"]),
    Route("/conversation/hide", hide, methods=["POST"]),
    Route("/conversation/tag", tag, methods=["POST"]),
    Route("/conversation/note", note, methods=["POST"]),
    Route("/conversation/review", review, methods=["POST"]),
    Route("/conversation/flag", flag, methods=["POST"]),
    Route("/flags", flags_page),
    Route("/export", export),
    Route("/api/conversations", api_conversations),
    Route("/api/conversation", api_transcript),
]
