"""The console's ASGI application: sign-in, admin pages, and the background summary task.

Starlette serves server-rendered Jinja2 pages; sessions are Starlette's signed
cookies (itsdangerous, key `secret('console_session')`), HttpOnly and
SameSite=strict, valid for one working day. Only `/login`, `/health` and the
stylesheet answer an anonymous request.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from typing import Any, AsyncIterator, Optional

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from common.secrets import secret
from console import acts, auth, dashboard, db, handoff, pages, training
from console.summary import Indexer
from console.web import HERE, check_csrf, engine_of, form_of, guarded, in_thread, render

log = logging.getLogger(__name__)
SESSION_HOURS = 8
HEADERS = [
    (b"content-security-policy", b"default-src 'self'; img-src 'self' data:; frame-ancestors 'none'"),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"cache-control", b"no-store"),
]


class SecurityHeaders:
    """No framing, no outside resources, nothing cached (pages carry conversations)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {name for name, _ in message.get("headers", [])}
                message["headers"] = list(message.get("headers", [])) + [
                    h for h in HEADERS if h[0] not in names]
            await send(message)

        await self.app(scope, receive, with_headers)


async def login_page(request: Request) -> Response:
    if request.session.get("user_id"):
        return RedirectResponse("/conversations", status_code=303)
    return render(request, "login.html", None)


async def login(request: Request) -> Response:
    form = await check_csrf(request)
    if form is None:
        return render(request, "login.html", None, 403, error="页面已过期，请刷新后重新登录。")
    name, password = form.get("name", "").strip(), form.get("password", "")
    address = request.client.host if request.client else "?"
    throttle: auth.Throttle = request.app.state.throttle
    if throttle.blocked(name, address):
        return render(request, "login.html", None, 429, error="登录失败次数过多，请 15 分钟后再试。")
    user = await in_thread(auth.authenticate, engine_of(request), name, password)
    if user is None:
        throttle.failed(name, address)
        return render(request, "login.html", None, 401, error="用户名或密码不对。")
    throttle.succeeded(name)
    request.session.clear()  # a fresh session (and CSRF token) at every sign-in
    request.session["user_id"] = user.id
    return RedirectResponse("/conversations", status_code=303)


@guarded("staff")
async def logout(request: Request, user: auth.User) -> Response:
    request.session.clear()
    return RedirectResponse("/login", status_code=303)


@guarded("staff")
async def home(request: Request, user: auth.User) -> Response:
    return RedirectResponse("/conversations", status_code=303)


async def health(request: Request) -> Response:
    return PlainTextResponse("ok")


@guarded("admin")
async def users_page(request: Request, user: auth.User) -> Response:
    return render(request, "users.html", user, users=await in_thread(auth.list_users, engine_of(request)),
                  roles=auth.ROLES, error=request.query_params.get("error", ""))


@guarded("admin")
async def users_create(request: Request, user: auth.User) -> Response:
    form = form_of(request)
    try:
        created = await in_thread(auth.create_user, engine_of(request), form.get("name", ""),
                                  form.get("role", ""), form.get("password", ""))
    except auth.AccountError as refused:
        return RedirectResponse(f"/users?error={refused}", status_code=303)
    await in_thread(acts.write_audit, engine_of(request), user.name, "user_create", None,
                    f"{created.name}（{created.role}）")
    return RedirectResponse("/users", status_code=303)


@guarded("admin")
async def users_disable(request: Request, user: auth.User) -> Response:
    form = form_of(request)
    target, disabled = form.get("user_id", ""), form.get("disabled") == "1"
    if not target.isdigit() or int(target) == user.id:
        return RedirectResponse("/users?error=不能停用自己", status_code=303)
    await in_thread(auth.set_disabled, engine_of(request), int(target), disabled)
    await in_thread(acts.write_audit, engine_of(request), user.name,
                    "user_disable" if disabled else "user_enable", None, f"用户编号 {target}")
    return RedirectResponse("/users", status_code=303)


def _tags(engine: Any) -> Any:
    with engine.connect() as conn:
        return conn.execute(db.tags.select().order_by(db.tags.c.name)).fetchall()


@guarded("staff")
async def tags_page(request: Request, user: auth.User) -> Response:
    return render(request, "tags.html", user, tags=await in_thread(_tags, engine_of(request)),
                  error=request.query_params.get("error", ""))


@guarded("admin")
async def tags_create(request: Request, user: auth.User) -> Response:
    name = form_of(request).get("name", "").strip()
    try:
        await in_thread(acts.create_tag, engine_of(request), user.name, name)
    except acts.ActError as refused:
        return RedirectResponse(f"/tags?error={refused}", status_code=303)
    await in_thread(acts.write_audit, engine_of(request), user.name, "tag_create", None, name)
    return RedirectResponse("/tags", status_code=303)


@guarded("admin")
async def audit_page(request: Request, user: auth.User) -> Response:
    who, action = request.query_params.get("user", "")[:64], request.query_params.get("action", "")[:32]
    entries = await in_thread(acts.audit_entries, engine_of(request), who, action)
    return render(request, "audit.html", user, entries=entries, who=who, action=action)


async def keep_summary(engine: Any, interval_s: float, prune_every_s: float = 60) -> None:
    """Fold new events into the summary, and drop erased conversations, while the console runs."""
    indexer, pruned_at = Indexer(engine), 0.0
    while True:
        try:
            await in_thread(indexer.run_until_current)
            if time.monotonic() - pruned_at >= prune_every_s:
                await in_thread(indexer.prune)
                pruned_at = time.monotonic()
        except Exception:  # a database hiccup must not stop the summary for good
            log.exception("汇总表更新失败，稍后重试")
        await asyncio.sleep(interval_s)


def create_app(database_url: Optional[str] = None, index_interval_s: float = 1.0) -> Starlette:
    url = database_url or db.tracker_url()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        app.state.engine = await in_thread(db.init, url)
        app.state.throttle = auth.Throttle()
        task = asyncio.create_task(keep_summary(app.state.engine, index_interval_s))
        yield
        task.cancel()

    routes = [
        Route("/login", login_page), Route("/login", login, methods=["POST"]),
        Route("/logout", logout, methods=["POST"]), Route("/", home), Route("/health", health),
        Route("/users", users_page), Route("/users", users_create, methods=["POST"]),
        Route("/users/disable", users_disable, methods=["POST"]),
        Route("/tags", tags_page), Route("/tags", tags_create, methods=["POST"]),
        Route("/audit", audit_page),
        *pages.routes, *dashboard.routes, *handoff.routes, *training.routes(),
        Mount("/static", StaticFiles(directory=str(HERE / "static")), name="static"),
    ]
    middleware = [
        Middleware(SecurityHeaders),
        Middleware(SessionMiddleware, secret_key=secret("console_session"), session_cookie="citylink_console",
                   max_age=SESSION_HOURS * 3600, same_site="strict",
                   https_only=os.environ.get("CONSOLE_SECURE_COOKIE") == "1"),
    ]
    return Starlette(routes=routes, middleware=middleware, lifespan=lifespan)
