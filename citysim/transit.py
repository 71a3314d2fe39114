"""Public transport (公交/地铁): bus lines, real-time arrivals, metro, route planning.

Arrivals follow each line's timetable from the gazetteer (first/last bus)
with a per-line headway and a per-run delay, so they move with the clock but
are reproducible. The route planner searches bus and metro together: a bus
stop links to a station on foot when it has the station's name or is a
landmark the gazetteer places at that station.
"""
from __future__ import annotations

import heapq
import itertools
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any, Dict, List, Optional, Tuple

from aiohttp import web

from citysim.core import CITIES, ApiError, City, city_of, now, query, reply, stable_rng
from common.gazetteer import BusLine

MINUTES_PER_STOP = {"bus": 4, "metro": 3}
BOARDING_WAIT = {"bus": 6, "metro": 4}
WALK_MINUTES = 5
HEADWAYS = [6, 8, 10, 12, 15]
ARRIVALS_SHOWN = 2
LOOKAHEAD_MINUTES = 60  # buses leaving the terminal later than this are not shown

Node = Tuple[str, str]  # ("metro", station) or ("bus", stop)
Line = Tuple[str, str]  # ("metro", "1号线") or ("bus", "10路")


def _minutes(hhmm: str) -> int:
    hours, minutes = hhmm.split(":")
    return int(hours) * 60 + int(minutes)


def find_bus_line(city: City, name: str) -> BusLine:
    """Accepts 10路, 10, b1路: people drop the 路 and the capital letter."""
    wanted = name.strip().upper()
    for line in city.gaz.bus_lines:
        if line.name.upper() in (wanted, wanted + "路"):
            return line
    raise ApiError(404, "unknown_bus_line", f"{city.name}没有{name}公交线路")


def _line_json(line: BusLine) -> Dict[str, Any]:
    return {"name": line.name, "first_bus": line.first, "last_bus": line.last, "stops": line.stops}


def arrivals(city: City, line: BusLine, stop: str, moment: datetime) -> List[Dict[str, Any]]:
    """Next buses at `stop` in both directions."""
    first, last = _minutes(line.first), _minutes(line.last)
    if last < first:  # night line running past midnight
        last += 24 * 60
    t = moment.hour * 60 + moment.minute
    service_day = moment.date()
    if t + 24 * 60 <= last:
        t += 24 * 60
        service_day -= timedelta(days=1)
    headway = stable_rng("headway", city.code, line.name).choice(HEADWAYS)
    per_stop = MINUTES_PER_STOP["bus"]
    directions = []
    for stops in (line.stops, line.stops[::-1]):
        index = stops.index(stop)
        if index == len(stops) - 1:
            directions.append({"towards": stops[-1], "buses": [], "note": "本站为终点站"})
            continue
        buses = []
        for run in range((last - first) // headway + 1):
            departs = first + run * headway
            departs += stable_rng("delay", city.code, line.name, stops[-1], service_day, run).randint(0, 3)
            due = departs + index * per_stop
            if due < t:
                continue
            on_the_way = departs <= t
            if departs - t > LOOKAHEAD_MINUTES:
                break
            buses.append({
                "minutes": due - t,
                "stops_away": index - (t - departs) // per_stop if on_the_way else None,
                "status": ("即将进站" if due == t else "在途") if on_the_way else "未发车",
            })
            if len(buses) == ARRIVALS_SHOWN:
                break
        note = "" if buses else (f"首班车{line.first}发车" if t < first else "今日末班车已过")
        directions.append({"towards": stops[-1], "buses": buses, "note": note})
    return directions


@dataclass(frozen=True)
class Network:
    """Bus and metro of one city as a graph; edges carry the line ridden."""

    rides: Dict[Node, List[Tuple[Node, Line]]]
    walks: Dict[Node, List[Node]]
    terminals: Dict[Line, List[str]]


@lru_cache(maxsize=None)
def network(code: str) -> Network:
    gaz = CITIES[code].gaz
    rides: Dict[Node, List[Tuple[Node, Line]]] = {}
    walks: Dict[Node, List[Node]] = {}
    terminals: Dict[Line, List[str]] = {}
    sequences = [("metro", m.name, m.stations) for m in gaz.metro_lines]
    sequences += [("bus", b.name, b.stops) for b in gaz.bus_lines]
    for mode, name, stops in sequences:
        terminals[(mode, name)] = stops
        for a, b in zip(stops, stops[1:]):
            rides.setdefault((mode, a), []).append(((mode, b), (mode, name)))
            rides.setdefault((mode, b), []).append(((mode, a), (mode, name)))
    stations = set(gaz.stations)
    for stop in gaz.bus_stops:
        station = stop if stop in stations else gaz.places.get(stop)
        if station in stations:
            walks.setdefault(("bus", stop), []).append(("metro", station))
            walks.setdefault(("metro", station), []).append(("bus", stop))
    return Network(rides, walks, terminals)


def resolve_place(city: City, name: str) -> List[Node]:
    """Where a place name may be boarded: its station, its landmark's station, its bus stop."""
    gaz = city.gaz
    for candidate in (name, name.removesuffix("地铁站"), name.removesuffix("站")):
        nodes = []
        if candidate in gaz.stations:
            nodes.append(("metro", candidate))
        if candidate in gaz.places:
            nodes.append(("metro", gaz.places[candidate]))
        if candidate in gaz.bus_stops:
            nodes.append(("bus", candidate))
        if nodes:
            return list(dict.fromkeys(nodes))
    raise ApiError(404, "unknown_place", f"{city.name}暂未收录地点“{name}”")


State = Tuple[Node, Optional[Line]]  # where we are, and the line we are on (None: on foot)


def plan(city: City, origins: List[Node], destinations: List[Node]) -> List[State]:
    """Fastest path by estimated minutes (Dijkstra over (node, line) states;
    boarding costs a wait, so fewer transfers win among similar routes)."""
    net = network(city.code)
    goals = set(destinations)
    tie = itertools.count()
    queue = [(0, next(tie), (node, None)) for node in origins]
    cost: Dict[State, int] = {(node, None): 0 for node in origins}
    parent: Dict[State, Optional[State]] = {(node, None): None for node in origins}
    while queue:
        minutes, _, state = heapq.heappop(queue)
        if minutes > cost[state]:
            continue
        node, line = state
        if line is None and node in goals:
            path = [state]
            while parent[path[-1]] is not None:
                path.append(parent[path[-1]])
            return path[::-1]
        if line is None:
            moves = [((node, ride_line), BOARDING_WAIT[ride_line[0]]) for _, ride_line in net.rides.get(node, [])]
            moves += [((other, None), WALK_MINUTES) for other in net.walks.get(node, [])]
        else:
            moves = [((nxt, line), MINUTES_PER_STOP[line[0]]) for nxt, ride_line in net.rides.get(node, [])
                     if ride_line == line]
            moves.append(((node, None), 0))
        for nxt_state, step in moves:
            total = minutes + step
            if total < cost.get(nxt_state, total + 1):
                cost[nxt_state] = total
                parent[nxt_state] = state
                heapq.heappush(queue, (total, next(tie), nxt_state))
    raise ApiError(404, "no_route", "未找到可达的公交或地铁线路")


def legs(city: City, path: List[State]) -> List[Dict[str, Any]]:
    """Collapse the state path into ride and walk legs."""
    net = network(city.code)
    result: List[Dict[str, Any]] = []
    for (node, line), (nxt, nxt_line) in zip(path, path[1:]):
        if nxt_line is not None and line == nxt_line:
            leg = result[-1]
            leg["stops"].append(nxt[1])
            leg["to"] = nxt[1]
            leg["stop_count"] += 1
            leg["minutes"] += MINUTES_PER_STOP[line[0]]
        elif nxt_line is not None:
            result.append({"mode": nxt_line[0], "line": nxt_line[1], "from": node[1], "to": node[1],
                           "stops": [node[1]], "stop_count": 0, "minutes": BOARDING_WAIT[nxt_line[0]]})
        elif nxt != node:
            result.append({"mode": "walk", "from": node[1], "to": nxt[1], "minutes": WALK_MINUTES})
    for leg in result:
        if leg["mode"] != "walk":
            sequence = net.terminals[(leg["mode"], leg["line"])]
            forward = sequence.index(leg["to"]) > sequence.index(leg["from"])
            leg["towards"] = sequence[-1] if forward else sequence[0]
    return result


routes = web.RouteTableDef()


@routes.get("/bus/lines")
async def list_bus_lines(request: web.Request) -> web.Response:
    city = city_of(request)
    return reply({"city": city.name, "lines": [_line_json(line) for line in city.gaz.bus_lines]})


@routes.get("/bus/lines/{line}")
async def get_bus_line(request: web.Request) -> web.Response:
    return reply(_line_json(find_bus_line(city_of(request), request.match_info["line"])))


@routes.get("/bus/arrivals")
async def bus_arrivals(request: web.Request) -> web.Response:
    city = city_of(request)
    line = find_bus_line(city, query(request, "line"))
    stop = query(request, "stop")
    if stop not in line.stops:
        raise ApiError(404, "stop_not_on_line", f"{line.name}不经过“{stop}”站，途经：{'、'.join(line.stops)}")
    moment = now(request)
    return reply({"line": line.name, "stop": stop, "updated_at": moment.isoformat(timespec="seconds"),
                  "directions": arrivals(city, line, stop, moment)})


@routes.get("/metro/lines")
async def list_metro_lines(request: web.Request) -> web.Response:
    city = city_of(request)
    lines = [{"name": m.name, "stations": m.stations} for m in city.gaz.metro_lines]
    return reply({"city": city.name, "lines": lines})


@routes.get("/routes")
async def plan_route(request: web.Request) -> web.Response:
    city = city_of(request)
    origin, destination = query(request, "origin"), query(request, "destination")
    origins, destinations = resolve_place(city, origin), resolve_place(city, destination)
    if set(origins) & set(destinations):
        raise ApiError(400, "same_place", "起点和终点是同一个地方")
    path = plan(city, origins, destinations)
    route_legs = legs(city, path)
    rides = [leg for leg in route_legs if leg["mode"] != "walk"]
    return reply({
        "origin": {"query": origin, "name": path[0][0][1]},
        "destination": {"query": destination, "name": path[-1][0][1]},
        "legs": route_legs,
        "transfers": max(len(rides) - 1, 0),
        "stations_count": sum(leg["stop_count"] for leg in rides if leg["mode"] == "metro"),
        "minutes": sum(leg["minutes"] for leg in route_legs),
    })
