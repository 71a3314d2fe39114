"""Bus lines and arrivals, metro lines, and the route planner."""
from __future__ import annotations

from citysim import transit
from citysim.core import CITIES
from tests.citysim.http import error_code, get

RUSH = "2026-11-27T08:00:00+08:00"


def arrivals(citysim, moment, city="shenzhen", line="10路", stop="市民中心"):
    citysim.pin_clock(moment)
    response = get(citysim, f"/{city}/transit/bus/arrivals", line=line, stop=stop)
    assert response.status_code == 200, response.text
    return response.json()["directions"]


def test_bus_lines_come_from_the_gazetteer_and_names_are_forgiving(citysim):
    lines = get(citysim, "/guangzhou/transit/bus/lines").json()["lines"]
    assert [line["name"] for line in lines] == [b.name for b in CITIES["guangzhou"].gaz.bus_lines]
    b1 = get(citysim, "/guangzhou/transit/bus/lines/b1").json()
    assert b1["name"] == "B1路" and b1["first_bus"] == "06:10" and b1["stops"][0] == "天河客运站"
    missing = get(citysim, "/guangzhou/transit/bus/lines/999")
    assert missing.status_code == 404 and error_code(missing) == "unknown_bus_line"


def test_arrivals_in_both_directions_at_rush_hour(citysim):
    directions = arrivals(citysim, RUSH)
    assert [d["towards"] for d in directions] == ["景田", "福田口岸"]
    stop_index = {"景田": 2, "福田口岸": 3}  # 市民中心 counted from each direction's first stop
    for direction in directions:
        minutes = [bus["minutes"] for bus in direction["buses"]]
        assert len(minutes) == 2 and minutes == sorted(minutes) and minutes[0] >= 0
        for bus in direction["buses"]:
            if bus["stops_away"] is not None:
                assert 0 <= bus["stops_away"] <= stop_index[direction["towards"]]
            else:
                assert bus["status"] == "未发车"


def test_arrivals_are_reproducible_and_move_with_the_clock(citysim):
    assert arrivals(citysim, RUSH) == arrivals(citysim, RUSH)
    assert arrivals(citysim, RUSH) != arrivals(citysim, "2026-11-27T08:07:00+08:00")


def test_no_buses_before_the_first_or_after_the_last(citysim):
    early = arrivals(citysim, "2026-11-27T05:00:00+08:00")
    assert all(d["buses"] == [] and d["note"] == "首班车06:20发车" for d in early)
    late = arrivals(citysim, "2026-11-27T23:50:00+08:00")
    assert all(d["buses"] == [] and d["note"] == "今日末班车已过" for d in late)


def test_terminal_stop_and_night_line(citysim):
    at_terminal = arrivals(citysim, RUSH, stop="景田")
    assert at_terminal[0]["note"] == "本站为终点站" and at_terminal[1]["buses"]
    night = arrivals(citysim, "2026-11-28T02:00:00+08:00", city="guangzhou", line="夜20路", stop="体育中心")
    assert any(d["buses"] for d in night)


def test_stop_not_on_line(citysim):
    response = get(citysim, "/shenzhen/transit/bus/arrivals", line="10路", stop="罗湖火车站")
    assert response.status_code == 404 and error_code(response) == "stop_not_on_line"


def test_metro_lines(citysim):
    lines = get(citysim, "/wuhan/transit/metro/lines").json()["lines"]
    assert {line["name"] for line in lines} == {m.name for m in CITIES["wuhan"].gaz.metro_lines}


def route(citysim, city, origin, destination):
    return get(citysim, f"/{city}/transit/routes", origin=origin, destination=destination)


def test_route_with_one_metro_transfer(citysim):
    body = route(citysim, "shenzhen", "火车站", "北站").json()
    assert body["origin"] == {"query": "火车站", "name": "罗湖"}
    assert body["destination"]["name"] == "深圳北站"
    assert body["transfers"] == 1
    assert [(leg["line"], leg["from"], leg["to"]) for leg in body["legs"]] == [
        ("1号线", "罗湖", "会展中心"), ("4号线", "会展中心", "深圳北站")]
    assert body["legs"][1]["towards"] == "清湖"
    assert body["stations_count"] == 14
    assert body["minutes"] == sum(leg["minutes"] for leg in body["legs"])


def test_direct_line_needs_no_transfer(citysim):
    body = route(citysim, "guangzhou", "广州站", "海珠广场").json()
    assert body["transfers"] == 0
    assert [leg["line"] for leg in body["legs"]] == ["2号线"]


def test_bus_stop_without_a_station_walks_to_the_metro(citysim):
    body = route(citysim, "shenzhen", "景田", "火车站").json()
    modes = [leg["mode"] for leg in body["legs"]]
    assert modes[0] == "bus" and "walk" in modes and modes[-1] == "metro"
    assert body["legs"][0]["line"] == "10路"
    assert body["transfers"] == 1


def test_place_aliases_resolve_per_city(citysim):
    assert route(citysim, "guangzhou", "火车站", "小蛮腰").json()["origin"]["name"] == "广州火车站"
    assert route(citysim, "wuhan", "火车站", "光谷").json()["origin"]["name"] == "武汉火车站"
    assert route(citysim, "shanghai", "外滩", "迪士尼").json()["destination"]["name"] == "龙阳路"


def test_unknown_and_identical_places(citysim):
    unknown = route(citysim, "shenzhen", "火星", "北站")
    assert unknown.status_code == 404 and error_code(unknown) == "unknown_place"
    same = route(citysim, "shenzhen", "火车站", "罗湖")
    assert same.status_code == 400 and error_code(same) == "same_place"
    missing = get(citysim, "/shenzhen/transit/routes", origin="火车站")
    assert missing.status_code == 400 and error_code(missing) == "missing_parameter"


def test_every_station_and_stop_is_reachable_from_the_first_station():
    for city in CITIES.values():
        start = transit.resolve_place(city, city.gaz.stations[0])
        for place in city.gaz.stations[1:] + city.gaz.bus_stops:
            target = transit.resolve_place(city, place)
            if not set(start) & set(target):
                assert transit.plan(city, start, target), (city.name, place)
