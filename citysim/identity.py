"""The city's identity check (统一身份认证): an SMS one-time code proves a phone.

One mechanism for every service that shows or changes personal data (社保,
hospital appointments, 12345 tickets): `/verify/start` texts a code to the
phone, `/verify/confirm` turns the right code into a short-lived bearer
token bound to the city, the phone and the ID number given with it. Tokens
are city-wide, so a citizen verified once in a conversation is not texted
again by the next service of the same city. Each service decides what the
token lets it show (its own records of that phone and ID number).
"""
from __future__ import annotations

import secrets
import sqlite3
from datetime import datetime, timedelta
from typing import Any, Dict, Optional

from aiohttp import web

from citysim.core import DB, ApiError, City, field, now, parse_datetime, reply
from common.codes import PHONE_PATTERN, canonical_id_number, mask_phone

SCHEMA = """
CREATE TABLE verification (
    verification_id TEXT PRIMARY KEY,
    id_number TEXT,
    city TEXT NOT NULL,
    phone TEXT NOT NULL,
    code TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    used INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE access_token (
    token TEXT PRIMARY KEY,
    id_number TEXT,
    phone TEXT NOT NULL,
    city TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
"""
CODE_TTL = timedelta(minutes=5)
TOKEN_TTL = timedelta(minutes=10)
MAX_ATTEMPTS = 5


def claimed_identity(body: Dict[str, Any], id_required: bool = True) -> tuple[Optional[str], str]:
    """(ID number, phone) from a request body, checked for form only."""
    id_number = None
    if id_required or body.get("id_number"):
        id_number = canonical_id_number(field(body, "id_number"))
        if id_number is None:
            raise ApiError(400, "invalid_id_number", "身份证号码不正确，请核对")
    phone = field(body, "phone")
    if not PHONE_PATTERN.fullmatch(phone):
        raise ApiError(400, "invalid_phone", "手机号码应为11位数字")
    return id_number, phone


def send_code(request: web.Request, city: City, id_number: Optional[str], phone: str) -> web.Response:
    """Texts a code to `phone` (here: readable through the test API) and says so."""
    conn = request.app[DB]
    verification_id = secrets.token_hex(8)
    expires = now(request) + CODE_TTL
    with conn:
        conn.execute("INSERT INTO verification (verification_id, id_number, city, phone, code, expires_at) "
                     "VALUES (?, ?, ?, ?, ?, ?)", (verification_id, id_number, city.code, phone,
                                                   f"{secrets.randbelow(10 ** 6):06d}", expires.isoformat()))
    return reply({"verification_id": verification_id, "phone": mask_phone(phone),
                  "expires_in": int(CODE_TTL.total_seconds()),
                  "message": f"验证码已发送至{mask_phone(phone)}，{int(CODE_TTL.total_seconds() // 60)}分钟内有效"}, 201)


async def confirm(request: web.Request, city: City, body: Dict[str, Any]) -> web.Response:
    """The right code, in time and within the attempts allowed, gives a token."""
    verification_id, code = field(body, "verification_id"), field(body, "code")
    conn = request.app[DB]
    row = conn.execute("SELECT * FROM verification WHERE verification_id = ? AND city = ?",
                       (verification_id, city.code)).fetchone()
    moment = now(request)
    if row is None:
        raise ApiError(404, "verification_not_found", "验证请求不存在，请重新获取验证码")
    if row["used"]:
        raise ApiError(409, "code_used", "验证码已使用，请重新获取")
    if moment >= parse_datetime(row["expires_at"]):
        raise ApiError(403, "code_expired", "验证码已过期，请重新获取")
    if row["attempts"] >= MAX_ATTEMPTS:
        raise ApiError(429, "too_many_attempts", "验证码错误次数过多，请重新获取")
    if not secrets.compare_digest(code, row["code"]):
        with conn:  # the failed attempt must be committed, not rolled back with the error
            conn.execute("UPDATE verification SET attempts = attempts + 1 WHERE verification_id = ?",
                         (verification_id,))
        left = MAX_ATTEMPTS - row["attempts"] - 1
        raise ApiError(403, "code_incorrect", f"验证码错误，还可尝试{left}次")
    token = secrets.token_urlsafe(24)
    expires: datetime = moment + TOKEN_TTL
    with conn:
        conn.execute("UPDATE verification SET used = 1 WHERE verification_id = ?", (verification_id,))
        conn.execute("INSERT INTO access_token VALUES (?, ?, ?, ?, ?)",
                     (token, row["id_number"], row["phone"], city.code, expires.isoformat()))
    return reply({"token": token, "token_type": "Bearer", "expires_in": int(TOKEN_TTL.total_seconds()),
                  "expires_at": expires.isoformat()})


def verified(request: web.Request, city: City, what: str) -> sqlite3.Row:
    """The (id_number, phone) the bearer token proves in this city; 401 without a valid one."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise ApiError(401, "verification_required", f"{what}需要先完成身份验证")
    row = request.app[DB].execute("SELECT * FROM access_token WHERE token = ? AND city = ?",
                                  (token, city.code)).fetchone()
    if row is None:
        raise ApiError(401, "invalid_token", "身份凭证无效，请重新验证")
    if now(request) >= parse_datetime(row["expires_at"]):
        raise ApiError(401, "token_expired", "身份验证已过期，请重新验证")
    return row


def latest_code(conn: sqlite3.Connection, phone: str) -> Optional[Dict[str, Any]]:
    """For the test API: what the SMS to `phone` said."""
    row = conn.execute("SELECT verification_id, code, expires_at FROM verification WHERE phone = ? "
                       "ORDER BY rowid DESC LIMIT 1", (phone,)).fetchone()
    return dict(row) if row else None


def add_routes(routes: web.RouteTableDef, id_required: bool) -> None:
    """The plain check (no register to match) on a service: hospital, hotline."""
    from citysim.core import city_of, json_body

    @routes.post("/verify/start")
    async def start_verification(request: web.Request) -> web.Response:
        city = city_of(request)
        id_number, phone = claimed_identity(await json_body(request), id_required)
        return send_code(request, city, id_number, phone)

    @routes.post("/verify/confirm")
    async def confirm_verification(request: web.Request) -> web.Response:
        return await confirm(request, city_of(request), await json_body(request))
