"""Training and models pages: start a job and watch it, compare a candidate, activate, roll back."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from console import auth
from console.training import activation, compare, jobs, paths
from console.web import engine_of, form_of, guarded, in_thread, render

starter = jobs.Starter()  # one console process starts the jobs it queues


def _back(path: str, **query: Any) -> RedirectResponse:
    return RedirectResponse(f"{path}?{urlencode(query)}" if query else path, status_code=303)


def _overview(engine: Any) -> Dict[str, Any]:
    starter.tick(engine)
    found = activation.history(engine)
    scores = {m.id: json.loads(m.report)["metrics"] for m in found["models"] if m.report}
    return {"jobs": jobs.recent(engine), "serving": activation.serving(), "scores": scores,
            "config": paths.train_config(), "record": activation.record(), **found}


@guarded("trainer")
async def training_page(request: Request, user: auth.User) -> Response:
    found = await in_thread(_overview, engine_of(request))
    return render(request, "training.html", user, error=request.query_params.get("error", ""),
                  done=request.query_params.get("done", ""), Path=Path, **found)


def _start(engine: Any, user: str) -> int:
    job_id = jobs.queue(engine, user)
    starter.tick(engine)
    return job_id


@guarded("trainer")
async def training_start(request: Request, user: auth.User) -> Response:
    job_id = await in_thread(_start, engine_of(request), user.name)
    return _back("/training", job=job_id)


def _job_state(engine: Any, job_id: int) -> Dict[str, Any]:
    starter.tick(engine)  # the next queued job starts when the running one ends
    row = jobs.job(engine, job_id)
    if row is None:
        return {}
    return {"id": row.id, "state": row.state, "progress": row.progress, "log": row.log,
            "model_id": row.model_id}


@guarded("trainer")
async def api_job(request: Request, user: auth.User) -> Response:
    raw = request.query_params.get("id", "")
    found = await in_thread(_job_state, engine_of(request), int(raw)) if raw.isdigit() else {}
    return JSONResponse(found or {"error": "没有这个任务"}, status_code=200 if found else 404)


@guarded("trainer")
async def model_page(request: Request, user: auth.User) -> Response:
    raw = request.query_params.get("id", "")
    row = await in_thread(activation.model_row, engine_of(request), int(raw)) if raw.isdigit() else None
    if row is None or not row.report:
        return render(request, "message.html", user, 404, title="没有这个模型", message="没有找到这个候选模型。")
    report = json.loads(row.report)
    return render(request, "model.html", user, m=row, r=report, metrics=compare.metric_bars(report),
                  intents=compare.intent_bars(report), serving=activation.serving(), Path=Path,
                  blocked=activation.blocked(row), error=request.query_params.get("error", ""))


def _activate(engine: Any, user: auth.User, form: Dict[str, str]) -> str:
    model_id = form.get("id", "")
    if not model_id.isdigit():
        raise activation.ActivationError("模型编号不对")
    return activation.activate(engine, user.name, user.can("admin"), int(model_id), form.get("reason", "")).name


@guarded("trainer")
async def activate(request: Request, user: auth.User) -> Response:
    try:
        name = await in_thread(_activate, engine_of(request), user, form_of(request))
    except activation.ActivationError as refused:
        return _back("/model", id=form_of(request).get("id", ""), error=str(refused))
    return _back("/training", done=f"已启用 {name}：各机器人进程几秒内切换")


@guarded("trainer")
async def rollback(request: Request, user: auth.User) -> Response:
    try:
        path = await in_thread(activation.rollback, engine_of(request), user.name)
    except activation.ActivationError as refused:
        return _back("/training", error=str(refused))
    return _back("/training", done=f"已回退到 {path.name}")


routes = [
    Route("/training", training_page),
    Route("/training/start", training_start, methods=["POST"]),
    Route("/api/training/job", api_job),
    Route("/model", model_page),
    Route("/models/activate", activate, methods=["POST"]),
    Route("/models/rollback", rollback, methods=["POST"]),
]
