"""The service dashboard: per city and service, conversations and rates per day, as SVG charts.

Charts are drawn server-side as SVG bars (no chart library, no script), and
every bar and every table figure is a link to the conversation list filtered to
exactly the conversations behind it: from a failure rate to a failed
conversation is dashboard -> list -> transcript.
"""
from __future__ import annotations

from typing import Any, Dict, List

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from console import auth, queries
from console.web import engine_of, guarded, in_thread, render

METRICS = [  # (key, title, filter that lists the conversations behind the figure)
    ("total", "会话数", {}),
    ("completed", "办成率", {"completed": "1"}),
    ("fallback", "兜底率", {"fallback": "1"}),
    ("handoff", "转人工率", {"handoff": "1"}),
    ("backend_error", "后端错误率", {"backend_error": "1"}),
]
WIDTH, HEIGHT = 560, 140


def link(base: Dict[str, str], **more: str) -> str:
    return "/conversations?" + queries.Filters.from_params({**base, **more}).query()


def chart(series: List[Dict[str, Any]], key: str, extra: Dict[str, str], base: Dict[str, str]) -> Dict[str, Any]:
    """Bar geometry for one metric: counts for `total`, percentages for the rates."""
    values = [(d["total"] if key == "total" else (d[key] / d["total"] if d["total"] else 0.0))
              for d in series]
    top = max(values) if key == "total" else 1.0
    step = WIDTH / max(1, len(series))
    bars = []
    for n, (day, value) in enumerate(zip(series, values)):
        height = 0 if not top else (HEIGHT - 32) * value / top
        bars.append({"x": n * step + 2, "y": HEIGHT - 16 - height, "w": max(2.0, step - 4), "h": height,
                     "label": str(value) if key == "total" else f"{100 * value:.0f}%",
                     "date": day["date"], "count": day[key],
                     "href": link(base, date_from=day["date"], date_to=day["date"], **extra)})
    return {"bars": bars, "width": WIDTH, "height": HEIGHT, "top": top}


def board_data(engine: Any, city: str, intent: str, days: int) -> Dict[str, Any]:
    with engine.connect() as conn:
        return {"board": queries.dashboard(conn, city, intent, days), "choices": queries.known_values(conn)}


@guarded("staff")
async def dashboard_page(request: Request, user: auth.User) -> Response:
    params = request.query_params
    city, intent = params.get("city", "")[:32], params.get("intent", "")[:64]
    days_text = params.get("days", "14")
    days = max(1, min(int(days_text), 90)) if days_text.isdigit() else 14
    found = await in_thread(board_data, engine_of(request), city, intent, days)
    board = found["board"]
    base = {k: v for k, v in (("city", city), ("intent", intent)) if v}
    charts = [{"key": key, "title": title, **chart(board["series"], key, extra, base)}
              for key, title, extra in METRICS]
    period = {"date_from": board["first"], "date_to": board["last"]}
    for row in board["table"]:
        cell = {"city": row["city"] or "", "intent": row["intent"], **period}
        row["links"] = {key: link(cell, **extra) for key, _, extra in METRICS}
    return render(request, "dashboard.html", user, charts=charts, board=board, city=city, intent=intent,
                  days=days, metrics=METRICS, choices=found["choices"])


routes = [Route("/dashboard", dashboard_page)]
