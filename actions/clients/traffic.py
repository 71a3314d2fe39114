"""Live road conditions."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import List

from actions.clients.base import BaseClient, segment


@dataclass(frozen=True)
class Segment:
    name: str
    level: str  # 畅通 / 缓行 / 拥堵 / 严重拥堵
    speed_kmh: int


@dataclass(frozen=True)
class RoadStatus:
    road: str
    level: str
    speed_kmh: int
    free_flow_speed_kmh: int
    segments: List[Segment]
    updated_at: datetime


class TrafficClient(BaseClient):
    service_name = "实时路况服务"

    def road(self, name: str) -> RoadStatus:
        """`name` may be an alias (深南路); the answer carries the canonical road."""
        return self._get(f"/roads/{segment(name)}", RoadStatus)

    def roads(self) -> List[RoadStatus]:
        return self._get("/roads", List[RoadStatus], unwrap="roads")
