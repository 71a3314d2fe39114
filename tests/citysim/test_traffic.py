"""Road conditions: aliases, levels, rush hours."""
from __future__ import annotations

from citysim.core import CITIES
from citysim.traffic import LEVELS
from tests.citysim.http import error_code, get


def roads(citysim, moment, city="guangzhou"):
    citysim.pin_clock(moment)
    return get(citysim, f"/{city}/traffic/roads").json()["roads"]


def test_alias_answers_for_the_canonical_road(citysim):
    body = get(citysim, "/shenzhen/traffic/roads/深南路").json()
    assert body["road"] == "深南大道"
    assert body["level"] in {name for _, name in LEVELS}
    assert 2 <= len(body["segments"]) <= 3
    assert all(s["name"].endswith("段") and s["speed_kmh"] > 0 for s in body["segments"])


def test_aliases_are_looked_up_in_the_city_asked(citysim):
    missing = get(citysim, "/guangzhou/traffic/roads/深南路")
    assert missing.status_code == 404 and error_code(missing) == "unknown_road"


def test_every_gazetteer_road_is_listed(citysim):
    for code, city in CITIES.items():
        assert [r["road"] for r in roads(citysim, "2026-11-27T12:00:00+08:00", code)] == list(city.gaz.roads)


def test_workday_rush_hour_is_slower_than_the_night(citysim):
    rush = roads(citysim, "2026-11-27T08:15:00+08:00")
    night = roads(citysim, "2026-11-27T03:00:00+08:00")
    assert sum(r["speed_kmh"] for r in rush) < 0.7 * sum(r["speed_kmh"] for r in night)
    assert any(r["level"] in ("拥堵", "严重拥堵") for r in rush)
    assert all(r["level"] == "畅通" for r in night)


def test_same_moment_same_answer(citysim):
    assert roads(citysim, "2026-11-27T18:05:00+08:00") == roads(citysim, "2026-11-27T18:05:00+08:00")
