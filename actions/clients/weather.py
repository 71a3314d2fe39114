"""Seven-day weather forecast."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import List, Optional

from actions.clients.base import BaseClient


@dataclass(frozen=True)
class DayForecast:
    date: date
    weekday: str
    condition_day: str
    condition_night: str
    temp_high: int
    temp_low: int
    precipitation_probability: int
    wind: str
    aqi: int
    aqi_level: str


class WeatherClient(BaseClient):
    service_name = "天气服务"

    def forecast(self, day: Optional[date] = None) -> List[DayForecast]:
        """Seven days from today, or just `day` (which must be among them)."""
        params = {"date": day.isoformat() if day else None}
        return self._get("/forecast", List[DayForecast], params=params, unwrap="days")
