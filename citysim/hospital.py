"""Hospital appointments (预约挂号): doctors' weekly schedules, slots, booking, cancelling.

Hospitals and departments come from the gazetteer; doctors and their
weekly sessions are seeded. A slot is one doctor's session on one date and
exists only as an id: what is left of it is capacity minus bookings.
"""
from __future__ import annotations

import re
import sqlite3
from datetime import date, datetime, time, timedelta
from typing import Any, Dict, List, Optional, Tuple

from aiohttp import web

from common import gazetteer
from citysim import identity
from common.dates import CHINA
from citysim.core import (DB, WEEKDAYS, ApiError, City, city_of, confirmed_fen, field, idempotent, json_body,
                          money_text, now, query, reply, stable_rng, yuan)
from common.gazetteer import Hospital
from common.codes import mask_id_number, mask_phone

SCHEMA = """
CREATE TABLE doctor (
    doctor_id TEXT PRIMARY KEY,
    city TEXT NOT NULL,
    hospital TEXT NOT NULL,
    department TEXT NOT NULL,
    name TEXT NOT NULL,
    title TEXT NOT NULL,
    fee_fen INTEGER NOT NULL,
    sessions TEXT NOT NULL,  -- "0:morning 2:afternoon": weekday (Monday 0) and time_period
    capacity INTEGER NOT NULL
);
CREATE TABLE appointment (
    appointment_id TEXT PRIMARY KEY,
    doctor_id TEXT NOT NULL REFERENCES doctor(doctor_id),
    date TEXT NOT NULL,
    time_period TEXT NOT NULL,
    patient_name TEXT NOT NULL,
    id_number TEXT NOT NULL,
    phone TEXT NOT NULL,
    queue_number INTEGER NOT NULL,
    status TEXT NOT NULL,  -- booked | cancelled
    created_at TEXT NOT NULL
);
"""

PERIODS: Dict[str, Tuple[time, time]] = {
    "morning": (time(8, 0), time(12, 0)),
    "afternoon": (time(14, 0), time(17, 30)),
    "evening": (time(18, 30), time(21, 30)),
}
TITLES: List[Tuple[str, int]] = [("主任医师", 50), ("副主任医师", 35), ("主治医师", 20)]
EVENING_DEPARTMENTS = {"急诊科", "发热门诊", "儿科"}
BOOKING_DAYS = 14
MINUTES_PER_PATIENT = 10
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕"
GIVEN = "志国建明永海文立新春红晓丽华伟敏静燕鹏宇婷"


def seed(conn: sqlite3.Connection, city: City) -> None:
    """Two or three doctors per department, each with a few weekly sessions."""
    rng = stable_rng("hospital", city.code)
    number = 0
    for hospital in city.gaz.hospitals:
        for department in hospital.departments:
            for title, fee in rng.sample(TITLES, rng.randint(2, 3)):
                number += 1
                name = rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.randint(1, 2)))
                slots = [(d, p) for d in range(7) for p in ("morning", "afternoon")]
                if department in EVENING_DEPARTMENTS:
                    slots += [(d, "evening") for d in range(7)]
                sessions = sorted(rng.sample(slots, rng.randint(3, 6)))
                conn.execute("INSERT INTO doctor VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", (
                    f"{city.abbr}D{number:04d}", city.code, hospital.name, department, name, title, fee * 100,
                    " ".join(f"{d}:{p}" for d, p in sessions), rng.randint(3, 8)))


def find_hospital(city: City, name: str) -> Hospital:
    for hospital in city.gaz.hospitals:
        if name == hospital.name or name in hospital.aliases:
            return hospital
    raise ApiError(404, "unknown_hospital", f"{city.name}暂未接入“{name}”的预约挂号")


def find_department(hospital: Hospital, name: str) -> str:
    canonical = gazetteer.load().canonical_names("department").get(name, name)
    if canonical not in hospital.departments:
        raise ApiError(404, "unknown_department",
                       f"{hospital.name}暂无“{name}”号源，可预约科室：{'、'.join(hospital.departments)}")
    return canonical


def _hospital_json(hospital: Hospital) -> Dict[str, Any]:
    return {"name": hospital.name, "aliases": hospital.aliases, "departments": hospital.departments}


def _sessions(doctor: sqlite3.Row) -> List[Tuple[int, str]]:
    return [(int(d), p) for d, p in (s.split(":") for s in doctor["sessions"].split())]


def _bookable(day: date, period: str, moment: datetime) -> bool:
    """Within the 14-day window and before the session ends."""
    if not 0 <= (day - moment.date()).days < BOOKING_DAYS:
        return False
    return datetime.combine(day, PERIODS[period][1], CHINA) > moment


def _doctor_json(doctor: sqlite3.Row) -> Dict[str, Any]:
    return {"doctor_id": doctor["doctor_id"], "name": doctor["name"], "title": doctor["title"]}


def _booked(conn: sqlite3.Connection, doctor_id: str, day: str, period: str) -> int:
    return conn.execute("SELECT COUNT(*) FROM appointment WHERE doctor_id = ? AND date = ? AND time_period = ? "
                        "AND status = 'booked'", (doctor_id, day, period)).fetchone()[0]


def _slot_json(conn: sqlite3.Connection, doctor: sqlite3.Row, day: date, period: str) -> Dict[str, Any]:
    start, end = PERIODS[period]
    return {
        "slot_id": f"{doctor['doctor_id']}-{day:%Y%m%d}-{period}",
        "date": day.isoformat(),
        "weekday": WEEKDAYS[day.weekday()],
        "time_period": period,
        "start": start.strftime("%H:%M"),
        "end": end.strftime("%H:%M"),
        "doctor": _doctor_json(doctor),
        "fee": yuan(doctor["fee_fen"]),
        "remaining": doctor["capacity"] - _booked(conn, doctor["doctor_id"], day.isoformat(), period),
    }


def _parse_period(request: web.Request) -> Optional[str]:
    period = query(request, "time_period", required=False)
    if period is not None and period not in PERIODS:
        raise ApiError(400, "invalid_time_period", "time_period 应为 morning、afternoon 或 evening")
    return period


def _parse_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ApiError(400, "invalid_date", f"日期格式不正确：{text}，应为 YYYY-MM-DD") from None


routes = web.RouteTableDef()
identity.add_routes(routes, id_required=True)


@routes.get("/hospitals")
async def list_hospitals(request: web.Request) -> web.Response:
    city = city_of(request)
    return reply({"city": city.name, "hospitals": [_hospital_json(h) for h in city.gaz.hospitals]})


@routes.get("/hospitals/{hospital}")
async def get_hospital(request: web.Request) -> web.Response:
    return reply(_hospital_json(find_hospital(city_of(request), request.match_info["hospital"])))


@routes.get("/slots")
async def list_slots(request: web.Request) -> web.Response:
    city = city_of(request)
    hospital = find_hospital(city, query(request, "hospital"))
    department = find_department(hospital, query(request, "department"))
    period = _parse_period(request)
    moment = now(request)
    days = [moment.date() + timedelta(days=n) for n in range(BOOKING_DAYS)]
    wanted = query(request, "date", required=False)
    if wanted is not None:
        day = _parse_date(wanted)
        if day not in days:
            raise ApiError(400, "date_out_of_range", f"仅可预约今天起{BOOKING_DAYS}天内的号源")
        days = [day]
    conn = request.app[DB]
    doctors = conn.execute("SELECT * FROM doctor WHERE city = ? AND hospital = ? AND department = ?",
                           (city.code, hospital.name, department)).fetchall()
    slots = [_slot_json(conn, doctor, day, p) for day in days for doctor in doctors
             for weekday, p in _sessions(doctor)
             if weekday == day.weekday() and period in (None, p) and _bookable(day, p, moment)]
    slots.sort(key=lambda s: (s["date"], s["start"], s["doctor"]["doctor_id"]))
    return reply({"hospital": hospital.name, "department": department, "slots": slots})


_SLOT_ID = re.compile(r"(?P<doctor>[A-Z]+D\d{4})-(?P<day>\d{8})-(?P<period>morning|afternoon|evening)")
_APPOINTMENTS = "SELECT a.*, d.hospital, d.department, d.name, d.title, d.fee_fen FROM appointment a " \
                "JOIN doctor d ON d.doctor_id = a.doctor_id "


def _appointment_json(row: sqlite3.Row) -> Dict[str, Any]:
    start = datetime.combine(date.fromisoformat(row["date"]), PERIODS[row["time_period"]][0])
    visit = start + timedelta(minutes=MINUTES_PER_PATIENT * (row["queue_number"] - 1))
    return {
        "appointment_id": row["appointment_id"],
        "status": row["status"],
        "hospital": row["hospital"],
        "department": row["department"],
        "doctor": _doctor_json(row),
        "date": row["date"],
        "time_period": row["time_period"],
        "visit_time": visit.strftime("%H:%M"),
        "queue_number": row["queue_number"],
        "fee": yuan(row["fee_fen"]),
        "patient_name": row["patient_name"],
        "id_number": mask_id_number(row["id_number"]),
        "phone": mask_phone(row["phone"]),
        "created_at": row["created_at"],
    }


def _patient(body: Dict[str, Any]) -> Tuple[str, str, str]:
    name = field(body, "patient_name")
    id_number, phone = identity.claimed_identity(body)
    return name, id_number or "", phone


@routes.post("/appointments")
async def book(request: web.Request) -> web.Response:
    city = city_of(request)
    body = await json_body(request)
    match = _SLOT_ID.fullmatch(field(body, "slot_id"))
    if match is None:
        raise ApiError(400, "invalid_slot", "号源编号格式不正确")
    name, id_number, phone = _patient(body)
    day = datetime.strptime(match["day"], "%Y%m%d").date()
    period = match["period"]
    moment = now(request)

    def take_slot(conn: sqlite3.Connection) -> Tuple[int, Dict[str, Any]]:
        doctor = conn.execute("SELECT * FROM doctor WHERE doctor_id = ? AND city = ?",
                              (match["doctor"], city.code)).fetchone()
        if doctor is None or (day.weekday(), period) not in _sessions(doctor):
            raise ApiError(404, "slot_not_found", "该号源不存在")
        if not _bookable(day, period, moment):
            raise ApiError(409, "slot_closed", f"该号源已停止预约（仅可预约今天起{BOOKING_DAYS}天内未开始的时段）")
        same_day = conn.execute(
            "SELECT 1 FROM appointment a JOIN doctor d ON d.doctor_id = a.doctor_id WHERE a.id_number = ? "
            "AND a.date = ? AND d.hospital = ? AND d.department = ? AND a.status = 'booked'",
            (id_number, day.isoformat(), doctor["hospital"], doctor["department"])).fetchone()
        if same_day:
            raise ApiError(409, "already_booked", "您当天已预约过该科室，不能重复挂号")
        if confirmed_fen(body, "fee") != doctor["fee_fen"]:
            raise ApiError(409, "fee_mismatch", f"挂号费与号源不符，该号源挂号费为 {money_text(doctor['fee_fen'])} 元")
        if _booked(conn, doctor["doctor_id"], day.isoformat(), period) >= doctor["capacity"]:
            raise ApiError(409, "slot_full", "该时段号源已约满，请选择其他时段或医生")
        queue = conn.execute("SELECT COUNT(*) FROM appointment WHERE doctor_id = ? AND date = ? AND time_period = ?",
                             (doctor["doctor_id"], day.isoformat(), period)).fetchone()[0] + 1
        serial = conn.execute("SELECT COUNT(*) FROM appointment").fetchone()[0] + 1
        appointment_id = f"{city.abbr}GH{day:%Y%m%d}{serial:05d}"
        conn.execute("INSERT INTO appointment VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'booked', ?)", (
            appointment_id, doctor["doctor_id"], day.isoformat(), period, name, id_number, phone, queue,
            moment.isoformat()))
        row = conn.execute(_APPOINTMENTS + "WHERE a.appointment_id = ?", (appointment_id,)).fetchone()
        return 201, _appointment_json(row)

    return idempotent(request, body, take_slot)


@routes.get("/appointments")
async def list_appointments(request: web.Request) -> web.Response:
    """The appointments booked with the ID number and phone the citizen proved (SMS code)."""
    city = city_of(request)
    proven = identity.verified(request, city, "查询预约记录")
    rows = request.app[DB].execute(
        _APPOINTMENTS + "WHERE d.city = ? AND a.id_number = ? AND a.phone = ? ORDER BY a.date, a.time_period",
        (city.code, proven["id_number"] or "", proven["phone"])).fetchall()
    return reply({"appointments": [_appointment_json(r) for r in rows]})


@routes.post("/appointments/{appointment_id}/cancel")
async def cancel(request: web.Request) -> web.Response:
    """Only the patient (proven phone, same ID number) may cancel, and only before the session starts."""
    city = city_of(request)
    proven = identity.verified(request, city, "取消预约")
    body = await json_body(request) if request.can_read_body else {}
    appointment_id = request.match_info["appointment_id"]
    moment = now(request)

    def release(conn: sqlite3.Connection) -> Tuple[int, Dict[str, Any]]:
        row = conn.execute(_APPOINTMENTS + "WHERE a.appointment_id = ? AND d.city = ?",
                           (appointment_id, city.code)).fetchone()
        if row is None:
            raise ApiError(404, "appointment_not_found", f"未找到预约记录 {appointment_id}")
        if (row["id_number"], row["phone"]) != (proven["id_number"], proven["phone"]):
            raise ApiError(403, "not_owner", "验证的身份与预约人不符，无法取消")
        if row["status"] == "booked":
            starts = datetime.combine(date.fromisoformat(row["date"]), PERIODS[row["time_period"]][0], CHINA)
            if moment >= starts:
                raise ApiError(409, "too_late_to_cancel", "就诊时段已开始，无法取消预约")
            conn.execute("UPDATE appointment SET status = 'cancelled' WHERE appointment_id = ?", (appointment_id,))
            row = conn.execute(_APPOINTMENTS + "WHERE a.appointment_id = ?", (appointment_id,)).fetchone()
        return 200, _appointment_json(row)

    return idempotent(request, body, release, required=False)
