"""Weather forecast (天气): seven days, the same answer for a city and date every time."""
from __future__ import annotations

import math
from datetime import date, timedelta
from typing import Any, Dict, List, Tuple

from aiohttp import web

from citysim.core import WEEKDAYS, ApiError, City, city_of, now, query_date, reply, stable_rng

FORECAST_DAYS = 7
# city -> (mean annual temperature, half the summer-winter swing), °C
CLIMATE: Dict[str, Tuple[float, float]] = {
    "广州": (22.5, 7.8), "深圳": (23.0, 7.0), "佛山": (22.5, 7.8), "武汉": (17.0, 12.8), "上海": (17.0, 12.0),
}
DEFAULT_CLIMATE = (18.0, 10.0)
WARMEST_DAY_OF_YEAR = 200
# (condition, weight in the dry season, weight in the wet season)
CONDITIONS: List[Tuple[str, int, int]] = [
    ("晴", 5, 2), ("多云", 5, 4), ("阴", 3, 3), ("小雨", 2, 3), ("阵雨", 1, 4), ("雷阵雨", 0, 3), ("中雨", 1, 2),
]
RAIN_CHANCE = {"晴": 0, "多云": 10, "阴": 20, "小雨": 70, "阵雨": 60, "雷阵雨": 75, "中雨": 85}
WINDS = ["东北风", "东风", "东南风", "南风", "西南风", "西风", "西北风", "北风"]
AQI_LEVELS = [(50, "优"), (100, "良"), (150, "轻度污染"), (200, "中度污染")]


def forecast(city: City, day: date) -> Dict[str, Any]:
    rng = stable_rng("weather", city.code, day.isoformat())
    mean, swing = CLIMATE.get(city.name, DEFAULT_CLIMATE)
    typical = mean + swing * math.cos(2 * math.pi * (day.timetuple().tm_yday - WARMEST_DAY_OF_YEAR) / 365)
    wet = 4 <= day.month <= 9
    names = [c[0] for c in CONDITIONS]
    weights = [c[2] if wet else c[1] for c in CONDITIONS]
    day_sky, night_sky = rng.choices(names, weights, k=2)
    rainy = RAIN_CHANCE[day_sky] >= 50
    high = round(typical + rng.uniform(2, 5) - (2 if rainy else 0))
    low = round(typical - rng.uniform(3, 6))
    aqi = rng.randint(20, 90) if rainy else rng.randint(30, 160)
    return {
        "date": day.isoformat(),
        "weekday": WEEKDAYS[day.weekday()],
        "condition_day": day_sky,
        "condition_night": night_sky,
        "temp_high": high,
        "temp_low": min(low, high - 2),
        "precipitation_probability": RAIN_CHANCE[day_sky],
        "wind": f"{rng.choice(WINDS)}{rng.randint(1, 4)}级",
        "aqi": aqi,
        "aqi_level": next((name for top, name in AQI_LEVELS if aqi <= top), "重度污染"),
    }


routes = web.RouteTableDef()


@routes.get("/forecast")
async def get_forecast(request: web.Request) -> web.Response:
    """Seven days from today, or the one day asked for."""
    city = city_of(request)
    today = now(request).date()
    days = [today + timedelta(days=n) for n in range(FORECAST_DAYS)]
    if "date" in request.query:
        day = query_date(request)
        if day not in days:
            raise ApiError(400, "date_out_of_range", f"仅提供今天起{FORECAST_DAYS}天内的天气预报")
        days = [day]
    return reply({"city": city.name, "updated_at": now(request).isoformat(timespec="seconds"),
                  "days": [forecast(city, d) for d in days]})
