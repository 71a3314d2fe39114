"""Traffic police platform (交管): vehicles, their violations, paying fines."""
from __future__ import annotations

import random
import sqlite3
from datetime import date, datetime, timedelta
from typing import Any, Dict, List, Tuple

from aiohttp import web

from common import gazetteer
from citysim.core import (DB, ApiError, City, city_of, confirmed_fen, field, idempotent, json_body,
                          money_text, now, reply, stable_rng, yuan)
from common.codes import canonical_plate
from common.dates import CHINA

SCHEMA = """
CREATE TABLE vehicle (
    plate TEXT PRIMARY KEY,
    city TEXT NOT NULL,
    engine_number TEXT NOT NULL,
    vehicle_type TEXT NOT NULL
);
CREATE TABLE violation (
    decision_number TEXT PRIMARY KEY,
    plate TEXT NOT NULL REFERENCES vehicle(plate),
    occurred_at TEXT NOT NULL,
    place TEXT NOT NULL,
    behaviour TEXT NOT NULL,
    fine_fen INTEGER NOT NULL,
    points INTEGER NOT NULL
);
CREATE TABLE violation_payment (
    payment_id TEXT PRIMARY KEY,
    decision_number TEXT NOT NULL UNIQUE REFERENCES violation(decision_number),
    amount_fen INTEGER NOT NULL,
    paid_at TEXT NOT NULL
);
"""

# (behaviour as written on the decision, fine in yuan, points)
BEHAVIOURS: List[Tuple[str, int, int]] = [
    ("机动车违反禁止标线指示的", 200, 3),
    ("机动车违反规定停放、临时停车，妨碍其他车辆、行人通行的", 200, 0),
    ("驾驶人未按规定使用安全带的", 50, 1),
    ("驾驶机动车超过规定时速20%以上未达到50%的", 200, 3),
    ("驾驶机动车违反道路交通信号灯通行的", 200, 6),
    ("机动车行经人行横道时未按规定减速、停车、避让行人的", 200, 3),
    ("驾驶机动车时拨打、接听手持电话的", 200, 3),
    ("机动车不按规定车道行驶的", 100, 1),
]
PLATES_PER_CITY = 6
NEW_ENERGY = {1, 4}  # which of a city's seeded plates are 8-character new-energy plates
PLATE_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"  # I and O are never issued
SEED_PERIOD_START = datetime(2026, 3, 1, tzinfo=CHINA)
# 道路交通安全法 第109条: a fine unpaid 15 days after the decision costs 3% of it
# a day more (加处罚款, 滞纳金), at most the fine itself.
DAYS_TO_PAY = 15
LATE_FEE_RATE = 0.03


def _plate(rng: random.Random, prefix: str, new_energy: bool) -> str:
    if len(prefix) == 1:  # 沪: the issuing-office letter is not part of the city's prefix
        prefix += rng.choice("ABDEFGHJKLMN")
    if new_energy:
        return prefix + rng.choice("DF") + "".join(rng.choice("0123456789") for _ in range(5))
    tail = [rng.choice("0123456789") for _ in range(5)]
    tail[rng.randrange(4)] = rng.choice(PLATE_LETTERS)
    return prefix + "".join(tail)


def seed(conn: sqlite3.Connection, city: City) -> None:
    """Plates from the gazetteer's prefixes for the city; plate i has i % 5 violations."""
    rng = stable_rng("violation", city.code)
    prefixes = [p for p, c in gazetteer.load().plate_prefixes.items() if c == city.name]
    roads = list(city.gaz.roads)
    for i in range(PLATES_PER_CITY):
        new_energy = i in NEW_ENERGY
        plate = _plate(rng, prefixes[i % len(prefixes)], new_energy)
        engine = "".join(rng.choice("0123456789ABCDEFGHJKLMNPRSTUVWXYZ") for _ in range(8))
        kind = "小型新能源汽车" if new_energy else "小型汽车"
        conn.execute("INSERT INTO vehicle VALUES (?, ?, ?, ?)", (plate, city.code, engine, kind))
        for _ in range(i % 5):
            behaviour, fine, points = rng.choice(BEHAVIOURS)
            occurred = SEED_PERIOD_START + timedelta(minutes=rng.randrange(260 * 24 * 60))
            road, cross = rng.sample(roads, 2)
            place = f"{rng.choice(city.gaz.districts)}{road}与{cross}交叉路口"
            number = "".join(rng.choice("0123456789") for _ in range(16))
            conn.execute(
                "INSERT INTO violation VALUES (?, ?, ?, ?, ?, ?, ?)",
                (number, plate, occurred.isoformat(), place, behaviour, fine * 100, points),
            )
            if rng.random() < 0.3:
                paid_at = occurred + timedelta(days=rng.randint(3, 20))
                conn.execute(
                    "INSERT INTO violation_payment VALUES (?, ?, ?, ?)",
                    (_payment_id(city, paid_at, number), number, fine * 100, paid_at.isoformat()),
                )


def _payment_id(city: City, paid_at: datetime, decision_number: str) -> str:
    return f"{city.abbr}JF{paid_at:%Y%m%d%H%M%S}{decision_number[-4:]}"


def samples(conn: sqlite3.Connection, city: City) -> Dict[str, Any]:
    rows = conn.execute(
        "SELECT v.plate, v.engine_number, COUNT(x.decision_number) FROM vehicle v "
        "LEFT JOIN violation x ON x.plate = v.plate WHERE v.city = ? GROUP BY v.plate ORDER BY v.plate",
        (city.code,),
    ).fetchall()
    return {"vehicles": [{"plate": p, "engine_number": e, "violations": n} for p, e, n in rows]}


routes = web.RouteTableDef()


def _vehicle(conn: sqlite3.Connection, city: City, raw_plate: str) -> sqlite3.Row:
    plate = canonical_plate(raw_plate)
    if plate is None:
        raise ApiError(400, "invalid_plate", f"号牌格式不正确：{raw_plate}")
    home = gazetteer.load().city_of_plate(plate)
    if home != city.name:
        raise ApiError(404, "plate_not_local", f"{plate} 不是{city.name}号牌，请到号牌所属地查询")
    row = conn.execute("SELECT * FROM vehicle WHERE plate = ? AND city = ?", (plate, city.code)).fetchone()
    if row is None:
        raise ApiError(404, "vehicle_not_found", f"未查到号牌 {plate} 的登记信息")
    return row


def late_fee_fen(row: sqlite3.Row, today: date) -> int:
    """The late fee due today on an unpaid fine (none once paid)."""
    if row["payment_id"]:
        return 0
    late_days = (today - datetime.fromisoformat(row["occurred_at"]).date()).days - DAYS_TO_PAY
    return min(row["fine_fen"], round(row["fine_fen"] * LATE_FEE_RATE * late_days)) if late_days > 0 else 0


def _violation_json(row: sqlite3.Row, today: date) -> Dict[str, Any]:
    payment = None
    if row["payment_id"]:
        payment = {"payment_id": row["payment_id"], "amount": yuan(row["amount_fen"]), "paid_at": row["paid_at"]}
    late = late_fee_fen(row, today)
    return {
        "decision_number": row["decision_number"],
        "occurred_at": row["occurred_at"],
        "place": row["place"],
        "behaviour": row["behaviour"],
        "fine": yuan(row["fine_fen"]),
        "late_fee": yuan(late),
        "amount_due": 0.0 if payment else yuan(row["fine_fen"] + late),
        "points": row["points"],
        "paid": payment is not None,
        "payment": payment,
    }


_VIOLATIONS = (
    "SELECT x.*, p.payment_id, p.amount_fen, p.paid_at FROM violation x "
    "LEFT JOIN violation_payment p ON p.decision_number = x.decision_number "
)


@routes.post("/vehicles/violations")
async def vehicle_violations(request: web.Request) -> web.Response:
    """A vehicle's violations; the plate and engine number travel in the body, never in the URL."""
    city = city_of(request)
    conn = request.app[DB]
    body = await json_body(request)
    vehicle = _vehicle(conn, city, field(body, "plate"))
    engine = str(body.get("engine_number") or "").strip().upper()
    if engine:
        if len(engine) < 6:
            raise ApiError(400, "invalid_engine_number", "请提供发动机号后六位")
        if not vehicle["engine_number"].endswith(engine[-6:]):
            raise ApiError(403, "engine_number_mismatch", "发动机号后六位与登记信息不符")
    rows = conn.execute(_VIOLATIONS + "WHERE x.plate = ? ORDER BY x.occurred_at DESC", (vehicle["plate"],))
    violations = [_violation_json(r, now(request).date()) for r in rows]
    unpaid = [v for v in violations if not v["paid"]]
    return reply({
        "plate": vehicle["plate"],
        "vehicle_type": vehicle["vehicle_type"],
        "engine_number_verified": bool(engine),
        "violations": violations,
        "unpaid_count": len(unpaid),
        "unpaid_fine": round(sum(v["fine"] for v in unpaid), 2),
        "unpaid_due": round(sum(v["amount_due"] for v in unpaid), 2),
        "unpaid_points": sum(v["points"] for v in unpaid),
    })


@routes.post("/violations/{decision_number}/payment")
async def pay_violation(request: web.Request) -> web.Response:
    """Charges the fine and today's late fee, only if `amount` is exactly that sum."""
    city = city_of(request)
    body = await json_body(request) if request.can_read_body else {}
    number = request.match_info["decision_number"]
    paid_at = now(request)

    def charge(conn: sqlite3.Connection) -> Tuple[int, Dict[str, Any]]:
        expected = confirmed_fen(body)
        row = conn.execute(
            _VIOLATIONS + "JOIN vehicle v ON v.plate = x.plate WHERE x.decision_number = ? AND v.city = ?",
            (number, city.code),
        ).fetchone()
        if row is None:
            raise ApiError(404, "violation_not_found", f"未找到决定书编号为 {number} 的违章记录")
        if row["payment_id"]:
            raise ApiError(409, "already_paid", f"该违章已于 {row['paid_at'][:10]} 缴款，无需重复缴纳")
        late = late_fee_fen(row, paid_at.date())
        due = row["fine_fen"] + late
        if expected != due:
            extra = f"（罚款 {money_text(row['fine_fen'])} 元 + 滞纳金 {money_text(late)} 元）" if late else ""
            raise ApiError(409, "amount_mismatch", f"缴款金额与应缴金额不符，今日应缴 {money_text(due)} 元{extra}")
        payment_id = _payment_id(city, paid_at, number)
        conn.execute(
            "INSERT INTO violation_payment VALUES (?, ?, ?, ?)",
            (payment_id, number, due, paid_at.isoformat()),
        )
        return 201, {
            "payment_id": payment_id,
            "decision_number": number,
            "plate": row["plate"],
            "amount": yuan(due),
            "late_fee": yuan(late),
            "paid_at": paid_at.isoformat(),
            "status": "paid",
        }

    return idempotent(request, body, charge)
