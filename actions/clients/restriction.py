"""Driving restrictions (限行) for a date, optionally for one plate."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import List, Optional

from actions.clients.base import BaseClient


@dataclass(frozen=True)
class Restriction:
    city: str
    date: date
    weekday: str
    workday: bool
    plate: Optional[str]
    rule: str
    hours: List[str]
    areas: List[str]
    restricted_tails: List[int]
    restricted: Optional[bool]  # None when no plate was given
    reason: str


class RestrictionClient(BaseClient):
    service_name = "限行查询服务"

    def status(self, day: Optional[date] = None, plate: Optional[str] = None) -> Restriction:
        params = {"date": day.isoformat() if day else None, "plate": plate}
        return self._get("/status", Restriction, params=params)
