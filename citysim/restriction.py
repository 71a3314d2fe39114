"""Driving restrictions (限行): each city's rule is a different kind of policy.

广州 cycles non-local cars through four days on, four days off; 深圳 keeps
non-local cars out of the centre at peak hours; 上海 keeps them off the
elevated roads; 武汉 lets odd or even tail numbers over the Yangtze bridge by
date; 佛山 does not restrict cars. Statutory holidays are not modelled:
workday means Monday to Friday.
"""
from __future__ import annotations

from datetime import date
from typing import Any, Callable, Dict, List, Optional

from aiohttp import web

from common import gazetteer
from citysim.core import WEEKDAYS, ApiError, City, city_of, query, query_date, reply, stable_rng
from common.codes import canonical_plate

Verdict = Dict[str, Any]
GUANGZHOU_AREAS = ["越秀区", "荔湾区", "海珠区", "天河区"]
SHENZHEN_AREAS = ["福田区", "罗湖区", "南山区"]
WUHAN_BRIDGE = "长江大桥"
FOUR_ON_FOUR_OFF_EPOCH = date(2026, 1, 1)


def is_local(city: City, plate: str) -> bool:
    return gazetteer.load().city_of_plate(plate) == city.name


def is_new_energy(plate: str) -> bool:
    return len(plate) == 8


def tail_digit(plate: str) -> int:
    """The last digit on the plate; letters at the end do not count."""
    return int(next(ch for ch in reversed(plate) if ch.isdigit()))


def _verdict(rule: str, hours: List[str], areas: List[str], restricted: Optional[bool], reason: str,
             tails: Optional[List[int]] = None) -> Verdict:
    return {"rule": rule, "hours": hours, "areas": areas, "restricted_tails": tails or [],
            "restricted": restricted, "reason": reason}


def guangzhou(city: City, day: date, plate: Optional[str]) -> Verdict:
    hours = ["07:00-09:00", "17:00-19:00"]
    areas = GUANGZHOU_AREAS
    rule = ("非粤A号牌小客车（新能源车除外）在限行区域实行“开四停四”：连续通行4天后须停驶4天；"
            "开放通行期间，工作日7:00-9:00、17:00-19:00高峰时段仍禁止驶入限行区域")
    if plate is None:
        return _verdict(rule, hours, areas, None, "未提供号牌")
    if is_local(city, plate):
        return _verdict(rule, [], [], False, "粤A号牌不受限行")
    if is_new_energy(plate):
        return _verdict(rule, [], [], False, "新能源车不受“开四停四”限制")
    cycle_day = ((day - FOUR_ON_FOUR_OFF_EPOCH).days + stable_rng("开四停四", plate).randrange(8)) % 8
    if cycle_day >= 4:
        return _verdict(rule, ["00:00-24:00"], areas, True, f"当日为停驶期（第{cycle_day - 3}天/共4天），全天禁止驶入限行区域")
    if day.weekday() >= 5:
        return _verdict(rule, [], [], False, f"当日为通行期（第{cycle_day + 1}天/共4天），周末无高峰限行")
    return _verdict(rule, hours, areas, True, f"当日为通行期（第{cycle_day + 1}天/共4天），但高峰时段禁止驶入限行区域")


def shenzhen(city: City, day: date, plate: Optional[str]) -> Verdict:
    hours = ["07:00-09:00", "17:30-19:30"]
    rule = f"非粤B号牌小客车工作日7:00-9:00、17:30-19:30禁止在{'、'.join(SHENZHEN_AREAS)}主要道路通行"
    workday = day.weekday() < 5
    if plate is None:
        return _verdict(rule, hours if workday else [], SHENZHEN_AREAS, None, "未提供号牌")
    if is_local(city, plate):
        return _verdict(rule, [], [], False, "粤B号牌不受限行")
    if not workday:
        return _verdict(rule, [], [], False, "周末不限行")
    return _verdict(rule, hours, SHENZHEN_AREAS, True, "外地号牌，工作日高峰时段在限行区域内禁行")


def shanghai(city: City, day: date, plate: Optional[str]) -> Verdict:
    hours = ["07:00-10:00", "16:00-19:00"]
    elevated = [road for road in city.gaz.roads if "高架" in road]
    rule = f"外省市号牌及沪C号牌小客车工作日7:00-10:00、16:00-19:00禁止驶入高架道路（{'、'.join(elevated)}等）"
    workday = day.weekday() < 5
    if plate is None:
        return _verdict(rule, hours if workday else [], elevated, None, "未提供号牌")
    if is_local(city, plate) and not plate.startswith("沪C"):
        return _verdict(rule, [], [], False, "沪牌（沪C除外）不受高架限行")
    if not workday:
        return _verdict(rule, [], [], False, "周末高架不限行")
    return _verdict(rule, hours, elevated, True, "外牌或沪C号牌，工作日高峰时段禁止驶入高架道路")


def wuhan(city: City, day: date, plate: Optional[str]) -> Verdict:
    rule = f"{WUHAN_BRIDGE}实行单双号通行：单日仅尾号为单数的车辆通行，双日仅尾号为双数的车辆通行（7:00-21:00）"
    barred = [d for d in range(10) if d % 2 != day.day % 2]
    hours, areas = ["07:00-21:00"], [WUHAN_BRIDGE]
    if plate is None:
        return _verdict(rule, hours, areas, None, "未提供号牌", barred)
    tail = tail_digit(plate)
    parity = "单" if day.day % 2 else "双"
    if tail in barred:
        return _verdict(rule, hours, areas, True, f"当日为{parity}日，尾号{tail}不能通行{WUHAN_BRIDGE}", barred)
    return _verdict(rule, [], [], False, f"当日为{parity}日，尾号{tail}可以通行", barred)


def no_restriction(city: City, day: date, plate: Optional[str]) -> Verdict:
    rule = f"{city.name}目前未对小客车实施尾号限行或外地车限行"
    return _verdict(rule, [], [], None if plate is None else False, "不限行")


RULES: Dict[str, Callable[[City, date, Optional[str]], Verdict]] = {
    "广州": guangzhou,
    "深圳": shenzhen,
    "上海": shanghai,
    "武汉": wuhan,
}

routes = web.RouteTableDef()


@routes.get("/status")
async def restriction_status(request: web.Request) -> web.Response:
    city = city_of(request)
    day = query_date(request)
    raw = query(request, "plate", required=False)
    plate = None
    if raw is not None:
        plate = canonical_plate(raw)
        if plate is None:
            raise ApiError(400, "invalid_plate", f"号牌格式不正确：{raw}")
    verdict = RULES.get(city.name, no_restriction)(city, day, plate)
    return reply({"city": city.name, "date": day.isoformat(), "weekday": WEEKDAYS[day.weekday()],
                  "workday": day.weekday() < 5, "plate": plate, **verdict})
