"""12345 citizen hotline: report an issue, follow its ticket.

A ticket's progress is a function of its age (accepted, then dispatched to
the responsible bureau after two hours, closed after two days), so pinning
the clock shows every stage.
"""
from __future__ import annotations

import secrets
import sqlite3
from datetime import datetime, timedelta
from typing import Any, Dict, List, Tuple

from aiohttp import web

from citysim import identity
from citysim.core import DB, ApiError, city_of, field, idempotent, json_body, now, parse_datetime, reply
from common.codes import PHONE_PATTERN, mask_phone

SCHEMA = """
CREATE TABLE ticket (
    ticket_id TEXT PRIMARY KEY,
    city TEXT NOT NULL,
    category TEXT NOT NULL,
    description TEXT NOT NULL,
    location TEXT NOT NULL,
    phone TEXT NOT NULL,
    created_at TEXT NOT NULL
);
"""

# category -> the bureau the hotline dispatches it to
CATEGORIES: Dict[str, str] = {
    "市政设施": "城市管理和综合执法局",
    "环境卫生": "城市管理和综合执法局",
    "交通出行": "交通运输局",
    "噪音扰民": "生态环境局",
    "消费维权": "市场监督管理局",
    "住房物业": "住房和城乡建设局",
    "社会保障": "人力资源和社会保障局",
    "治安消防": "公安局",
    "其他": "12345热线服务中心",
}
DISPATCH_AFTER = timedelta(hours=2)
CLOSE_AFTER = timedelta(hours=48)
MAX_DESCRIPTION = 500
TICKET_DIGITS = 8


def _progress(created: datetime, department: str, moment: datetime) -> List[Dict[str, str]]:
    stages = [
        ("已受理", created, "您的诉求已受理"),
        ("处理中", created + DISPATCH_AFTER, f"已派单至{department}办理"),
        ("已办结", created + CLOSE_AFTER, f"{department}已办结并回复"),
    ]
    reached = stages[:1] + [stage for stage in stages[1:] if stage[1] <= moment]
    return [{"status": s, "at": at.isoformat(), "note": note} for s, at, note in reached]


def _ticket_json(row: sqlite3.Row, moment: datetime) -> Dict[str, Any]:
    created = parse_datetime(row["created_at"])
    department = CATEGORIES[row["category"]]
    history = _progress(created, department, moment)
    return {
        "ticket_id": row["ticket_id"],
        "category": row["category"],
        "description": row["description"],
        "location": row["location"],
        "phone": mask_phone(row["phone"]),
        "department": department,
        "status": history[-1]["status"],
        "created_at": row["created_at"],
        "expected_close_at": (created + CLOSE_AFTER).isoformat(),
        "history": history,
    }


routes = web.RouteTableDef()
identity.add_routes(routes, id_required=False)


def new_ticket_id(conn: sqlite3.Connection, abbr: str, moment: datetime) -> str:
    """City, day and 8 random digits: the number alone shows a ticket, so it must not be guessable."""
    while True:
        ticket_id = f"{abbr}{moment:%Y%m%d}{secrets.randbelow(10 ** TICKET_DIGITS):0{TICKET_DIGITS}d}"
        if conn.execute("SELECT 1 FROM ticket WHERE ticket_id = ?", (ticket_id,)).fetchone() is None:
            return ticket_id


@routes.post("/tickets")
async def create_ticket(request: web.Request) -> web.Response:
    city = city_of(request)
    body = await json_body(request)
    category = body.get("category") or "其他"
    if category not in CATEGORIES:
        raise ApiError(400, "invalid_category", f"诉求类别应为：{'、'.join(CATEGORIES)}")
    description, location, phone = field(body, "description"), field(body, "location"), field(body, "phone")
    if len(description) > MAX_DESCRIPTION:
        raise ApiError(400, "description_too_long", f"诉求描述不能超过{MAX_DESCRIPTION}字")
    if not PHONE_PATTERN.fullmatch(phone):
        raise ApiError(400, "invalid_phone", "手机号码应为11位数字")
    moment = now(request)

    def register(conn: sqlite3.Connection) -> Tuple[int, Dict[str, Any]]:
        ticket_id = new_ticket_id(conn, city.abbr, moment)
        conn.execute("INSERT INTO ticket VALUES (?, ?, ?, ?, ?, ?, ?)",
                     (ticket_id, city.code, category, description, location, phone, moment.isoformat()))
        row = conn.execute("SELECT * FROM ticket WHERE ticket_id = ?", (ticket_id,)).fetchone()
        return 201, _ticket_json(row, moment)

    return idempotent(request, body, register, required=False)


@routes.get("/tickets/{ticket_id}")
async def get_ticket(request: web.Request) -> web.Response:
    city = city_of(request)
    ticket_id = request.match_info["ticket_id"].strip().upper()
    row = request.app[DB].execute("SELECT * FROM ticket WHERE ticket_id = ? AND city = ?",
                                  (ticket_id, city.code)).fetchone()
    if row is None:
        raise ApiError(404, "ticket_not_found", f"未查到工单 {ticket_id}，请核对工单号")
    return reply(_ticket_json(row, now(request)))


@routes.get("/tickets")
async def list_tickets(request: web.Request) -> web.Response:
    """The tickets left with the phone the citizen proved (SMS code), never by a number alone."""
    city = city_of(request)
    proven = identity.verified(request, city, "按手机号查询工单")
    rows = request.app[DB].execute("SELECT * FROM ticket WHERE city = ? AND phone = ? ORDER BY created_at DESC",
                                   (city.code, proven["phone"])).fetchall()
    moment = now(request)
    return reply({"tickets": [_ticket_json(r, moment) for r in rows]})
