"""Social insurance (社保) and housing fund (公积金) behind identity verification.

A citizen proves who they are with the ID number and the phone number on
file: a one-time code goes to that phone (here: readable only through the
test API), and confirming it yields a short-lived token for the records.
"""
from __future__ import annotations

import secrets
import sqlite3
from datetime import date, timedelta
from typing import Any, Dict, List, Optional, Tuple

from aiohttp import web

from citysim.core import DB, ApiError, City, city_of, field, json_body, now, parse_datetime, reply, \
    stable_rng, yuan
from common.codes import PHONE_PATTERN, canonical_id_number, mask_id_number, mask_phone
from common.fake_id import fake_id

SCHEMA = """
CREATE TABLE citizen (
    id_number TEXT PRIMARY KEY,
    city TEXT NOT NULL,
    name TEXT NOT NULL,
    phone TEXT NOT NULL,
    employer TEXT NOT NULL,
    insured_since TEXT NOT NULL,   -- YYYY-MM
    insured_until TEXT,            -- YYYY-MM when contributions stopped, NULL while paying
    base_fen INTEGER NOT NULL,
    medical_balance_fen INTEGER NOT NULL,
    fund_balance_fen INTEGER NOT NULL,
    fund_rate REAL NOT NULL
);
CREATE TABLE verification (
    verification_id TEXT PRIMARY KEY,
    id_number TEXT NOT NULL,
    city TEXT NOT NULL,
    phone TEXT NOT NULL,
    code TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    used INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE access_token (
    token TEXT PRIMARY KEY,
    id_number TEXT NOT NULL,
    city TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
"""

CITIZENS_PER_CITY = 3
CODE_TTL = timedelta(minutes=5)
TOKEN_TTL = timedelta(minutes=10)
MAX_ATTEMPTS = 5
# insurance -> (personal rate, employer rate)
INSURANCES: List[Tuple[str, float, float]] = [
    ("养老保险", 0.08, 0.15), ("医疗保险", 0.02, 0.06), ("失业保险", 0.005, 0.005), ("工伤保险", 0.0, 0.002),
]
RECENT_MONTHS = 6
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗梁"
GIVEN = "子涵浩然欣怡宇轩梓萱俊杰雨桐家豪"


def _month(index: int) -> str:
    return f"{index // 12}-{index % 12 + 1:02d}"


def _index(month: str) -> int:
    return int(month[:4]) * 12 + int(month[5:]) - 1


def seed(conn: sqlite3.Connection, city: City) -> None:
    """The last citizen of each city stopped paying (job change): 断缴 and a sealed fund."""
    rng = stable_rng("social", city.code)
    for n in range(CITIZENS_PER_CITY):
        since = _month(_index("2012-01") + rng.randrange(120))
        until = "2026-06" if n == CITIZENS_PER_CITY - 1 else None
        employer = f"{city.name}{rng.choice(['华创', '恒信', '联众', '新城', '科达'])}{rng.choice(['科技', '物流', '贸易', '建设'])}有限公司"
        base = rng.randrange(5000, 30000, 100)
        conn.execute("INSERT INTO citizen VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", (
            fake_id(rng), city.code, rng.choice(SURNAMES) + rng.choice(GIVEN) + rng.choice(GIVEN),
            "1" + rng.choice("3456789") + "".join(rng.choice("0123456789") for _ in range(9)),
            employer, since, until, base * 100, rng.randrange(50000, 2000000),
            rng.randrange(1000000, 20000000), rng.choice([0.05, 0.08, 0.10, 0.12])))


def samples(conn: sqlite3.Connection, city: City) -> Dict[str, Any]:
    rows = conn.execute("SELECT name, id_number, phone FROM citizen WHERE city = ? ORDER BY id_number", (city.code,))
    return {"citizens": [{"name": n, "id_number": i, "phone": p} for n, i, p in rows]}


routes = web.RouteTableDef()


@routes.post("/verify/start")
async def start_verification(request: web.Request) -> web.Response:
    city = city_of(request)
    body = await json_body(request)
    id_number = canonical_id_number(field(body, "id_number"))
    if id_number is None:
        raise ApiError(400, "invalid_id_number", "身份证号码不正确，请核对")
    phone = field(body, "phone")
    if not PHONE_PATTERN.fullmatch(phone):
        raise ApiError(400, "invalid_phone", "手机号码应为11位数字")
    conn = request.app[DB]
    citizen = conn.execute("SELECT phone FROM citizen WHERE id_number = ? AND city = ?",
                           (id_number, city.code)).fetchone()
    if citizen is None or citizen["phone"] != phone:
        raise ApiError(403, "identity_mismatch", f"身份证号与{city.name}社保登记的手机号不一致，无法验证")
    verification_id = secrets.token_hex(8)
    expires = now(request) + CODE_TTL
    with conn:
        conn.execute("INSERT INTO verification (verification_id, id_number, city, phone, code, expires_at) "
                     "VALUES (?, ?, ?, ?, ?, ?)", (verification_id, id_number, city.code, phone,
                                                   f"{secrets.randbelow(10 ** 6):06d}", expires.isoformat()))
    return reply({"verification_id": verification_id, "phone": mask_phone(phone),
                  "expires_in": int(CODE_TTL.total_seconds()),
                  "message": f"验证码已发送至{mask_phone(phone)}，{int(CODE_TTL.total_seconds() // 60)}分钟内有效"}, 201)


@routes.post("/verify/confirm")
async def confirm_verification(request: web.Request) -> web.Response:
    city = city_of(request)
    body = await json_body(request)
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
    with conn:
        token = secrets.token_urlsafe(24)
        expires = moment + TOKEN_TTL
        conn.execute("UPDATE verification SET used = 1 WHERE verification_id = ?", (verification_id,))
        conn.execute("INSERT INTO access_token VALUES (?, ?, ?, ?)",
                     (token, row["id_number"], city.code, expires.isoformat()))
    return reply({"token": token, "token_type": "Bearer", "expires_in": int(TOKEN_TTL.total_seconds()),
                  "expires_at": expires.isoformat()})


def _citizen(request: web.Request, city: City) -> sqlite3.Row:
    """The citizen the bearer token was issued to, in this city, if still valid."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise ApiError(401, "verification_required", "查询个人社保公积金信息需要先完成身份验证")
    conn = request.app[DB]
    row = conn.execute("SELECT * FROM access_token WHERE token = ? AND city = ?", (token, city.code)).fetchone()
    if row is None:
        raise ApiError(401, "invalid_token", "身份凭证无效，请重新验证")
    if now(request) >= parse_datetime(row["expires_at"]):
        raise ApiError(401, "token_expired", "身份验证已过期，请重新验证")
    return conn.execute("SELECT * FROM citizen WHERE id_number = ?", (row["id_number"],)).fetchone()


def _last_paid(citizen: sqlite3.Row, today: date) -> int:
    """Index of the last month paid: last month, unless contributions stopped earlier."""
    current = today.year * 12 + today.month - 2
    return min(current, _index(citizen["insured_until"])) if citizen["insured_until"] else current


@routes.get("/insurance")
async def insurance_record(request: web.Request) -> web.Response:
    city = city_of(request)
    citizen = _citizen(request, city)
    last = _last_paid(citizen, now(request).date())
    base = citizen["base_fen"]
    monthly_personal = sum(round(base * p) for _, p, _ in INSURANCES)
    monthly_employer = sum(round(base * e) for _, _, e in INSURANCES)
    return reply({
        "name": citizen["name"],
        "id_number": mask_id_number(citizen["id_number"]),
        "status": "正常参保" if citizen["insured_until"] is None else "暂停参保",
        "employer": citizen["employer"],
        "first_paid_month": citizen["insured_since"],
        "last_paid_month": _month(last),
        "months_paid": last - _index(citizen["insured_since"]) + 1,
        "base": yuan(base),
        "medical_insurance_balance": yuan(citizen["medical_balance_fen"]),
        "insurances": [{"type": name, "personal_rate": p, "employer_rate": e,
                        "personal_monthly": yuan(round(base * p)), "employer_monthly": yuan(round(base * e))}
                       for name, p, e in INSURANCES],
        "recent": [{"month": _month(m), "base": yuan(base), "personal": yuan(monthly_personal),
                    "employer": yuan(monthly_employer)} for m in range(last, last - RECENT_MONTHS, -1)],
    })


@routes.get("/housing-fund")
async def housing_fund(request: web.Request) -> web.Response:
    city = city_of(request)
    citizen = _citizen(request, city)
    last = _last_paid(citizen, now(request).date())
    stopped: Optional[str] = citizen["insured_until"]
    deposit = round(citizen["base_fen"] * citizen["fund_rate"]) * 2
    return reply({
        "name": citizen["name"],
        "id_number": mask_id_number(citizen["id_number"]),
        "status": "封存" if stopped else "正常缴存",
        "employer": citizen["employer"],
        "balance": yuan(citizen["fund_balance_fen"]),
        "monthly_deposit": yuan(0 if stopped else deposit),
        "deposit_rate": citizen["fund_rate"],
        "base": yuan(citizen["base_fen"]),
        "last_deposit_month": _month(last),
    })


def latest_code(conn: sqlite3.Connection, phone: str) -> Optional[Dict[str, Any]]:
    """For the test API: what the SMS to `phone` said."""
    row = conn.execute("SELECT verification_id, code, expires_at FROM verification WHERE phone = ? "
                       "ORDER BY rowid DESC LIMIT 1", (phone,)).fetchone()
    return dict(row) if row else None
