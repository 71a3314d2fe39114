"""Road conditions (路况): congestion per road segment, worse in rush hours.

Nothing is stored: a segment's speed is a pure function of the road, the
segment and the 10-minute slot, so answers change over the day yet any
moment can be reproduced by pinning the clock.
"""
from __future__ import annotations

import math
from datetime import datetime
from typing import Any, Dict, List, Tuple

from aiohttp import web

from citysim.core import ApiError, City, city_of, now, reply, stable_rng

# lowest share of free-flow speed for each level, best first
LEVELS: List[Tuple[float, str]] = [(0.7, "畅通"), (0.5, "缓行"), (0.3, "拥堵"), (0.0, "严重拥堵")]
# (peak hour, width in hours, how much of the free-flow speed it takes away)
WORKDAY_PEAKS = [(8.25, 0.8, 0.6), (18.25, 0.9, 0.6)]
WEEKEND_PEAKS = [(15.0, 2.5, 0.3)]


def free_flow_speed(road: str) -> int:
    """Expressways are faster than avenues, avenues than streets."""
    if any(word in road for word in ("高速", "快速", "高架", "环", "大桥", "线")):
        return 80
    return 60 if any(word in road for word in ("大道", "关")) else 40


def level_of(ratio: float) -> str:
    return next(name for low, name in LEVELS if ratio >= low)


def _peak_factor(moment: datetime) -> float:
    hour = moment.hour + moment.minute / 60
    peaks = WORKDAY_PEAKS if moment.weekday() < 5 else WEEKEND_PEAKS
    return 1 - max(depth * math.exp(-((hour - at) ** 2) / (2 * width**2)) for at, width, depth in peaks)


def _segments(city: City, road: str) -> List[str]:
    rng = stable_rng("traffic", city.code, road)
    return [f"{district}段" for district in rng.sample(city.gaz.districts, rng.randint(2, 3))]


def road_status(city: City, road: str, moment: datetime) -> Dict[str, Any]:
    free = free_flow_speed(road)
    slot = moment.replace(minute=moment.minute // 10 * 10, second=0, microsecond=0)
    segments = []
    for name in _segments(city, road):
        base = stable_rng("traffic-base", city.code, road, name).uniform(0.85, 1.0)
        noise = stable_rng("traffic-noise", city.code, road, name, slot.isoformat()).uniform(-0.08, 0.08)
        ratio = min(1.0, max(0.1, base * _peak_factor(slot) + noise))
        segments.append({"name": name, "level": level_of(ratio), "speed_kmh": round(free * ratio), "ratio": ratio})
    mean = sum(s.pop("ratio") for s in segments) / len(segments)
    return {
        "road": road,
        "level": level_of(mean),
        "speed_kmh": round(free * mean),
        "free_flow_speed_kmh": free,
        "segments": segments,
        "updated_at": slot.isoformat(),
    }


def canonical_road(city: City, name: str) -> str:
    """Canonical road for a name or alias, looked up in this city only."""
    for road, aliases in city.gaz.roads.items():
        if name == road or name in aliases:
            return road
    raise ApiError(404, "unknown_road", f"{city.name}暂无“{name}”的路况信息")


routes = web.RouteTableDef()


@routes.get("/roads")
async def list_roads(request: web.Request) -> web.Response:
    city = city_of(request)
    moment = now(request)
    return reply({"city": city.name, "roads": [road_status(city, r, moment) for r in city.gaz.roads]})


@routes.get("/roads/{road}")
async def get_road(request: web.Request) -> web.Response:
    city = city_of(request)
    road = canonical_road(city, request.match_info["road"])
    return reply(road_status(city, road, now(request)))
