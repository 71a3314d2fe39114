"""Each city's restriction rule, by date and plate."""
from __future__ import annotations

from datetime import date, timedelta

from citysim import restriction
from citysim.core import CITIES
from tests.citysim.http import error_code, get

FRIDAY, SATURDAY = "2026-11-27", "2026-11-28"


def status(citysim, city, day, plate=None):
    params = {"date": day, **({"plate": plate} if plate else {})}
    response = get(citysim, f"/{city}/restriction/status", **params)
    assert response.status_code == 200, response.text
    return response.json()


def test_shenzhen_bars_non_local_plates_at_workday_peaks(citysim):
    outsider = status(citysim, "shenzhen", FRIDAY, "粤A12345")
    assert outsider["restricted"] is True
    assert outsider["hours"] == ["07:00-09:00", "17:30-19:30"]
    assert outsider["areas"] == restriction.SHENZHEN_AREAS
    assert status(citysim, "shenzhen", FRIDAY, "粤B12345")["restricted"] is False
    assert status(citysim, "shenzhen", SATURDAY, "粤A12345")["restricted"] is False


def test_shanghai_keeps_non_local_and_hu_c_plates_off_elevated_roads(citysim):
    outsider = status(citysim, "shanghai", FRIDAY, "粤B12345")
    assert outsider["restricted"] is True
    assert outsider["hours"] == ["07:00-10:00", "16:00-19:00"]
    assert outsider["areas"] and all("高架" in road for road in outsider["areas"])
    assert set(outsider["areas"]) <= set(CITIES["shanghai"].gaz.roads)
    assert status(citysim, "shanghai", FRIDAY, "沪A12345")["restricted"] is False
    assert status(citysim, "shanghai", FRIDAY, "沪C12345")["restricted"] is True
    assert status(citysim, "shanghai", SATURDAY, "粤B12345")["restricted"] is False


def test_guangzhou_four_days_on_four_days_off_for_non_local_plates(citysim):
    start = date(2026, 11, 23)  # a Monday
    week = [status(citysim, "guangzhou", (start + timedelta(days=n)).isoformat(), "粤B12345") for n in range(8)]
    stopped = [day for day in week if day["hours"] == ["00:00-24:00"]]
    assert len(stopped) == 4
    assert all(day["restricted"] for day in stopped)
    open_workdays = [day for day in week if day not in stopped and day["workday"]]
    assert all(day["restricted"] and day["hours"] == ["07:00-09:00", "17:00-19:00"] for day in open_workdays)
    open_weekend = [day for day in week if day not in stopped and not day["workday"]]
    assert all(day["restricted"] is False for day in open_weekend)
    assert {status(citysim, "guangzhou", d["date"], "粤A12345")["restricted"] for d in week} == {False}
    assert {status(citysim, "guangzhou", d["date"], "粤BD12345")["restricted"] for d in week} == {False}


def test_wuhan_bridge_odd_and_even_tail_numbers_by_date(citysim):
    odd_day = status(citysim, "wuhan", FRIDAY)  # the 27th
    assert odd_day["restricted_tails"] == [0, 2, 4, 6, 8]
    assert odd_day["areas"] == [restriction.WUHAN_BRIDGE]
    assert status(citysim, "wuhan", FRIDAY, "鄂A12344")["restricted"] is True
    assert status(citysim, "wuhan", FRIDAY, "鄂A12345")["restricted"] is False
    assert status(citysim, "wuhan", SATURDAY)["restricted_tails"] == [1, 3, 5, 7, 9]
    assert status(citysim, "wuhan", SATURDAY, "鄂A1234D")["restricted"] is False  # tail digit 4


def test_foshan_does_not_restrict(citysim):
    answer = status(citysim, "foshan", FRIDAY, "粤A12345")
    assert answer["restricted"] is False and answer["restricted_tails"] == [] and "未" in answer["rule"]
    assert status(citysim, "foshan", FRIDAY)["restricted"] is None


def test_rules_only_name_places_the_gazetteer_knows():
    assert set(restriction.GUANGZHOU_AREAS) <= set(CITIES["guangzhou"].gaz.districts)
    assert set(restriction.SHENZHEN_AREAS) <= set(CITIES["shenzhen"].gaz.districts)
    assert restriction.WUHAN_BRIDGE in CITIES["wuhan"].gaz.roads


def test_without_a_date_the_clock_decides(citysim):
    citysim.pin_clock("2026-11-28T09:00:00+08:00")
    assert get(citysim, "/shenzhen/restriction/status").json()["date"] == SATURDAY


def test_bad_input(citysim):
    bad_plate = get(citysim, "/shenzhen/restriction/status", plate="ABC")
    assert bad_plate.status_code == 400 and error_code(bad_plate) == "invalid_plate"
    bad_date = get(citysim, "/shenzhen/restriction/status", date="27/11/2026")
    assert bad_date.status_code == 400 and error_code(bad_date) == "invalid_date"
