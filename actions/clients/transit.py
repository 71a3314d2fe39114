"""Bus lines, real-time arrivals, metro lines and route planning."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import List, Optional

from actions.clients.base import BaseClient, segment


@dataclass(frozen=True)
class BusLine:
    name: str
    first_bus: str
    last_bus: str
    stops: List[str]


@dataclass(frozen=True)
class Bus:
    minutes: int
    stops_away: Optional[int]  # None while the bus has not left the terminal
    status: str  # 在途 / 即将进站 / 未发车


@dataclass(frozen=True)
class Direction:
    towards: str
    buses: List[Bus]
    note: str


@dataclass(frozen=True)
class Arrivals:
    line: str
    stop: str
    updated_at: datetime
    directions: List[Direction]


@dataclass(frozen=True)
class MetroLine:
    name: str
    stations: List[str]


@dataclass(frozen=True)
class Leg:
    mode: str  # metro / bus / walk
    origin: str = field(metadata={"json": "from"})
    destination: str = field(metadata={"json": "to"})
    minutes: int
    line: Optional[str] = None
    towards: Optional[str] = None
    stops: List[str] = field(default_factory=list)
    stop_count: int = 0


@dataclass(frozen=True)
class Place:
    query: str
    name: str  # the station or stop the query resolved to


@dataclass(frozen=True)
class Route:
    origin: Place
    destination: Place
    legs: List[Leg]
    transfers: int
    stations_count: int
    minutes: int


class TransitClient(BaseClient):
    service_name = "公交地铁查询服务"

    def bus_lines(self) -> List[BusLine]:
        return self._get("/bus/lines", List[BusLine], unwrap="lines")

    def bus_line(self, name: str) -> BusLine:
        return self._get(f"/bus/lines/{segment(name)}", BusLine)

    def arrivals(self, line: str, stop: str) -> Arrivals:
        return self._get("/bus/arrivals", Arrivals, params={"line": line, "stop": stop})

    def metro_lines(self) -> List[MetroLine]:
        return self._get("/metro/lines", List[MetroLine], unwrap="lines")

    def route(self, origin: str, destination: str) -> Route:
        return self._get("/routes", Route, params={"origin": origin, "destination": destination})
