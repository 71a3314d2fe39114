"""12345 tickets that progress with time, and the seven-day forecast."""
from __future__ import annotations

import re

from tests.citysim.http import error_code, get, post, proven

ISSUE = {"category": "市政设施", "description": "小区门口路灯坏了好几天了", "location": "天河区天河路100号",
         "phone": "13800138000"}


def test_ticket_numbers_name_city_and_day_and_cannot_be_guessed(citysim):
    citysim.pin_clock("2026-11-27T09:00:00+08:00")
    first = post(citysim, "/guangzhou/hotline/tickets", ISSUE)
    assert first.status_code == 201
    numbers = [first.json()["ticket_id"]] + [
        post(citysim, "/guangzhou/hotline/tickets", ISSUE).json()["ticket_id"] for _ in range(5)]
    assert all(re.fullmatch(r"GZ20261127\d{8}", n) for n in numbers) and len(set(numbers)) == 6
    serials = [int(n[-8:]) for n in numbers]
    assert sorted(serials) != list(range(serials[0], serials[0] + 6))  # not one after another
    assert post(citysim, "/wuhan/hotline/tickets", ISSUE).json()["ticket_id"].startswith("WH20261127")
    assert first.json()["status"] == "已受理" and first.json()["department"] == "城市管理和综合执法局"
    assert first.json()["phone"] == "138****8000"


def test_a_ticket_advances_with_time(citysim):
    citysim.pin_clock("2026-11-27T09:00:00+08:00")
    ticket_id = post(citysim, "/shenzhen/hotline/tickets", ISSUE).json()["ticket_id"]
    statuses = []
    for moment in ("2026-11-27T10:00:00+08:00", "2026-11-27T12:00:00+08:00", "2026-11-29T09:00:00+08:00"):
        citysim.pin_clock(moment)
        statuses.append(get(citysim, f"/shenzhen/hotline/tickets/{ticket_id}").json()["status"])
    assert statuses == ["已受理", "处理中", "已办结"]
    history = get(citysim, f"/shenzhen/hotline/tickets/{ticket_id.lower()}").json()["history"]
    assert [h["status"] for h in history] == ["已受理", "处理中", "已办结"]


def test_tickets_by_phone_and_a_retried_submission(citysim):
    citysim.pin_clock("2026-11-27T09:00:00+08:00")
    once = post(citysim, "/shanghai/hotline/tickets", ISSUE, key="t-1").json()
    assert post(citysim, "/shanghai/hotline/tickets", ISSUE, key="t-1").json() == once
    anyone = get(citysim, "/shanghai/hotline/tickets", phone=ISSUE["phone"])  # a number alone lists nothing
    assert anyone.status_code == 401 and error_code(anyone) == "verification_required"
    headers = proven(citysim, "/shanghai/hotline", ISSUE["phone"])
    listed = get(citysim, "/shanghai/hotline/tickets", headers=headers).json()["tickets"]
    assert [t["ticket_id"] for t in listed] == [once["ticket_id"]]
    other = proven(citysim, "/shanghai/hotline", "13900139000")  # another phone sees only its own
    assert get(citysim, "/shanghai/hotline/tickets", headers=other).json()["tickets"] == []


def test_ticket_validation(citysim):
    bad_category = post(citysim, "/guangzhou/hotline/tickets", {**ISSUE, "category": "外星人"})
    assert bad_category.status_code == 400 and error_code(bad_category) == "invalid_category"
    no_phone = post(citysim, "/guangzhou/hotline/tickets", {k: v for k, v in ISSUE.items() if k != "phone"})
    assert no_phone.status_code == 400 and error_code(no_phone) == "missing_field"
    defaulted = post(citysim, "/guangzhou/hotline/tickets", {k: v for k, v in ISSUE.items() if k != "category"})
    assert defaulted.json()["category"] == "其他"
    unknown = get(citysim, "/guangzhou/hotline/tickets/GZ20000101001")
    assert unknown.status_code == 404 and error_code(unknown) == "ticket_not_found"


def forecast(citysim, moment, city="guangzhou", **params):
    citysim.pin_clock(moment)
    response = get(citysim, f"/{city}/weather/forecast", **params)
    assert response.status_code == 200, response.text
    return response.json()["days"]


def test_seven_days_from_today(citysim):
    days = forecast(citysim, "2026-11-27T09:00:00+08:00")
    assert [d["date"] for d in days] == [f"2026-11-{n}" for n in range(27, 31)] + [f"2026-12-0{n}" for n in (1, 2, 3)]
    assert all(d["temp_low"] < d["temp_high"] and 0 <= d["precipitation_probability"] <= 100 for d in days)


def test_a_date_gets_the_same_forecast_whenever_asked(citysim):
    early = forecast(citysim, "2026-11-27T09:00:00+08:00", date="2026-12-01")
    later = forecast(citysim, "2026-11-30T21:00:00+08:00", date="2026-12-01")
    assert early == later and len(early) == 1
    out_of_range = get(citysim, "/guangzhou/weather/forecast", date="2026-12-20")
    assert out_of_range.status_code == 400 and error_code(out_of_range) == "date_out_of_range"


def test_climates_differ_between_cities(citysim):
    wuhan = forecast(citysim, "2027-01-10T09:00:00+08:00", city="wuhan")
    guangzhou = forecast(citysim, "2027-01-10T09:00:00+08:00", city="guangzhou")
    assert sum(d["temp_high"] for d in wuhan) < sum(d["temp_high"] for d in guangzhou)
