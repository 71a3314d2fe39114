"""What every console route shares: the guard (signed-in user, role, CSRF), templates, the database.

A route is declared with `@guarded(role)`: an anonymous request never reaches
it (pages redirect to the sign-in page, `/api/` answers 401), a user below the
role gets 403, and every POST must carry the session's CSRF token.
"""
from __future__ import annotations

import functools
import secrets
from pathlib import Path
from typing import Any, Awaitable, Callable, Dict, Optional, TypeVar

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.templating import Jinja2Templates

from console import auth
from console.queries import clock

HERE = Path(__file__).resolve().parent
templates = Jinja2Templates(directory=str(HERE / "templates"))
T = TypeVar("T")
Handler = Callable[[Request, auth.User], Awaitable[Response]]


templates.env.filters["clock"] = clock
templates.env.filters["pct"] = lambda x: f"{100 * x:.0f}%" if x is not None else "–"
templates.env.filters["pct1"] = lambda x: f"{100 * x:.1f}%" if x is not None else "–"
templates.env.filters["conf"] = lambda x: f"{x:.2f}" if isinstance(x, (int, float)) else "–"


async def in_thread(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Database work off the event loop."""
    return await run_in_threadpool(fn, *args, **kwargs)


def engine_of(request: Request) -> Any:
    return request.app.state.engine


def csrf_token(request: Request) -> str:
    token = request.session.get("csrf")
    if not token:
        token = request.session["csrf"] = secrets.token_urlsafe(24)
    return token


async def check_csrf(request: Request) -> Optional[Dict[str, str]]:
    """The submitted form if its CSRF token matches the session's, else None."""
    form = await request.form()
    sent, expected = str(form.get("csrf", "")), request.session.get("csrf", "")
    if not expected or not secrets.compare_digest(sent, expected):
        return None
    return {k: str(v) for k, v in form.items()}


def render(request: Request, name: str, user: Optional[auth.User], status: int = 200,
           **context: Any) -> Response:
    context.update(user=user, csrf=csrf_token(request), path=request.url.path)
    return templates.TemplateResponse(request, name, context, status_code=status)


def refuse_anonymous(request: Request) -> Response:
    if request.url.path.startswith("/api/"):
        return JSONResponse({"error": "请先登录"}, status_code=401)
    return RedirectResponse("/login", status_code=303)


def guarded(role: str = "staff") -> Callable[[Handler], Callable[[Request], Awaitable[Response]]]:
    """Signed in, at least `role`, and (for POST) a valid CSRF token; else refused."""

    def wrap(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        @functools.wraps(handler)
        async def endpoint(request: Request) -> Response:
            user_id = request.session.get("user_id")
            user = await in_thread(auth.load_user, engine_of(request), user_id) if user_id else None
            if user is None:
                request.session.pop("user_id", None)
                return refuse_anonymous(request)
            if not user.can(role):
                return render(request, "message.html", user, 403, title="没有权限",
                              message=f"这个页面需要 {role} 或更高的角色。")
            if request.method == "POST":
                form = await check_csrf(request)
                if form is None:
                    return render(request, "message.html", user, 403, title="请求已过期",
                                  message="表单已过期（CSRF 校验失败），请返回并刷新页面后重试。")
                request.state.form = form
            return await handler(request, user)

        return endpoint

    return wrap


def form_of(request: Request) -> Dict[str, str]:
    """The CSRF-checked form of a guarded POST."""
    return request.state.form
