"""Social insurance (社保) and housing fund (公积金) behind identity verification.

A citizen proves who they are with the ID number and the phone number on
file: the city's one-time code (citysim/identity.py) goes to that phone only
if it is the one on file, and the token it yields opens the records.
"""
from __future__ import annotations

import sqlite3
from datetime import date
from typing import Any, Dict, List, Optional, Tuple

from aiohttp import web

from citysim import identity
from citysim.core import DB, ApiError, City, city_of, json_body, now, reply, stable_rng, yuan
from common.codes import mask_id_number
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
"""

CITIZENS_PER_CITY = 3
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
    """The code goes only to the phone on file with the bureau for this ID number."""
    city = city_of(request)
    id_number, phone = identity.claimed_identity(await json_body(request))
    citizen = request.app[DB].execute("SELECT phone FROM citizen WHERE id_number = ? AND city = ?",
                                      (id_number, city.code)).fetchone()
    if citizen is None or citizen["phone"] != phone:
        raise ApiError(403, "identity_mismatch", f"身份证号与{city.name}社保登记的手机号不一致，无法验证")
    return identity.send_code(request, city, id_number, phone)


@routes.post("/verify/confirm")
async def confirm_verification(request: web.Request) -> web.Response:
    return await identity.confirm(request, city_of(request), await json_body(request))


def _citizen(request: web.Request, city: City) -> sqlite3.Row:
    """The citizen the bearer token was issued to, in this city, if still valid."""
    proven = identity.verified(request, city, "查询个人社保公积金信息")
    row = request.app[DB].execute("SELECT * FROM citizen WHERE id_number = ? AND city = ? AND phone = ?",
                                  (proven["id_number"], city.code, proven["phone"])).fetchone()
    if row is None:
        raise ApiError(403, "identity_mismatch", f"身份证号与{city.name}社保登记的手机号不一致，无法查询")
    return row


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
