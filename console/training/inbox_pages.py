"""The trainers' inbox pages: label groups of real messages, new intents, write a batch."""
from __future__ import annotations

import json
from typing import Any, List
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from console import acts, auth
from console.training import inbox, labels, paths, writer
from console.web import engine_of, form_of, guarded, in_thread, render

SHOWN = 50
ENTITIES = ("plate_number", "engine_number", "city", "road", "bus_line", "bus_stop", "origin", "destination",
            "utility_type", "account_number", "hospital", "department", "date", "time_period", "symptom",
            "id_number", "phone_number", "ticket_id")


def _back(path: str, **query: Any) -> RedirectResponse:
    return RedirectResponse(f"{path}?{urlencode(query)}" if query else path, status_code=303)


def _inbox(engine: Any, user: str) -> dict:
    root = paths.training_root()
    found = inbox.groups(engine, root)
    return {"groups": found[:SHOWN], "total": len(found), "intents": labels.known_intents(root),
            "mine": labels.pending(engine, user), "checkout": writer.is_checkout(root)}


@guarded("trainer")
async def inbox_page(request: Request, user: auth.User) -> Response:
    found = await in_thread(_inbox, engine_of(request), user.name)
    return render(request, "inbox.html", user, entities=ENTITIES, error=request.query_params.get("error", ""),
                  done=request.query_params.get("done", ""), **found)


def _entities(raw: str) -> List[writer.Entity]:
    try:
        items = json.loads(raw or "[]")
        return [writer.Entity(int(e["start"]), int(e["end"]), str(e["entity"]), str(e.get("value") or ""))
                for e in items]
    except (ValueError, KeyError, TypeError) as bad:
        raise labels.LabelError("实体标注的格式不对") from bad


def _decide(engine: Any, user: str, form: dict) -> int:
    root = paths.training_root()
    group = inbox.find(engine, form.get("key", ""), root)
    if group is None:
        raise labels.LabelError("这组消息已经处理过了，或已不在收件箱里")
    entities = _entities(form.get("entities", ""))
    if any(e.entity not in ENTITIES for e in entities):
        raise labels.LabelError("未知的实体名")
    return labels.decide(engine, root, user, group, form.get("action", ""), form.get("intent", ""), entities)


@guarded("trainer")
async def decide(request: Request, user: auth.User) -> Response:
    try:
        count = await in_thread(_decide, engine_of(request), user.name, form_of(request))
    except labels.LabelError as refused:
        return _back("/inbox", error=str(refused))
    return _back("/inbox", done=f"已处理 {count} 条")


def _write(engine: Any, user: str) -> str:
    root = paths.training_root()
    files, sha, count = labels.write_batch(engine, root, user)
    if not count:
        return "没有待写入的标注"
    names = "、".join(str(f.relative_to(root)) for f in files) or "（都已在数据里）"
    acts.write_audit(engine, user, "labels_write", None, f"{count} 条 → {names}" + (f"；{sha[:10]}" if sha else ""))
    return f"已写入 {count} 条到 {names}" + (f"，提交 {sha[:10]}" if sha else "")


@guarded("trainer")
async def write(request: Request, user: auth.User) -> Response:
    return _back("/inbox", done=await in_thread(_write, engine_of(request), user.name))


@guarded("trainer")
async def intent_form(request: Request, user: auth.User) -> Response:
    name = request.query_params.get("name", "")
    needed = await in_thread(labels.still_needed, paths.training_root(), name) if name else []
    return render(request, "intent_new.html", user, intent=name, needed=needed, min_examples=labels.MIN_EXAMPLES,
                  error=request.query_params.get("error", ""), form={})


@guarded("trainer")
async def intent_create(request: Request, user: auth.User) -> Response:
    form = form_of(request)
    name = form.get("name", "").strip()
    examples = form.get("examples", "").splitlines()
    try:
        count = await in_thread(labels.new_intent, engine_of(request), paths.training_root(), user.name, name,
                                form.get("description", ""), examples)
    except labels.LabelError as refused:
        return render(request, "intent_new.html", user, 400, intent="", needed=[], error=str(refused),
                      min_examples=labels.MIN_EXAMPLES, form=form)
    await in_thread(acts.write_audit, engine_of(request), user.name, "intent_create", None,
                    f"{name}：{form.get('description', '')[:200]}（{count} 个例句）")
    return _back("/intents/new", name=name)


routes = [
    Route("/inbox", inbox_page),
    Route("/inbox/decide", decide, methods=["POST"]),
    Route("/inbox/write", write, methods=["POST"]),
    Route("/intents/new", intent_form),
    Route("/intents/new", intent_create, methods=["POST"]),
]
