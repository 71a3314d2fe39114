"""Violations: lookup by plate (with engine number check) and idempotent payment."""
from __future__ import annotations

from datetime import date, timedelta

from tests.citysim.http import error_code, get, post


def lookup(citysim, plate, city="shenzhen", **extra):
    """A vehicle's violations: the plate goes in the body, never in the URL."""
    return post(citysim, f"/{city}/violation/vehicles/violations", {"plate": plate, **extra})


def _vehicle(citysim, city="shenzhen", violations=4):
    return next(v for v in citysim.seed(city)["vehicles"] if v["violations"] == violations)


def test_lookup_lists_violations_newest_first_with_unpaid_totals(citysim):
    vehicle = _vehicle(citysim)
    body = lookup(citysim, vehicle["plate"]).json()
    assert body["plate"] == vehicle["plate"]
    assert len(body["violations"]) == 4
    times = [v["occurred_at"] for v in body["violations"]]
    assert times == sorted(times, reverse=True)
    unpaid = [v for v in body["violations"] if not v["paid"]]
    assert body["unpaid_count"] == len(unpaid)
    assert body["unpaid_fine"] == sum(v["fine"] for v in unpaid)
    assert all((v["payment"] is None) != v["paid"] for v in body["violations"])


def test_plate_is_accepted_the_way_people_type_it(citysim):
    plate = _vehicle(citysim)["plate"]
    typed = f"{plate[:2].lower()} {plate[2:].lower()}"
    assert lookup(citysim, typed).json()["plate"] == plate


def test_new_energy_vehicle_without_violations(citysim):
    vehicle = next(v for v in citysim.seed("guangzhou")["vehicles"] if len(v["plate"]) == 8)
    body = lookup(citysim, vehicle["plate"], "guangzhou").json()
    assert body["vehicle_type"] == "小型新能源汽车"
    assert len(body["violations"]) == vehicle["violations"]


def test_engine_number_is_checked_when_given(citysim):
    vehicle = _vehicle(citysim)
    plate = vehicle["plate"]
    assert lookup(citysim, plate, engine_number=vehicle["engine_number"][-6:].lower()).json()["engine_number_verified"]
    wrong = lookup(citysim, plate, engine_number="000000")
    assert wrong.status_code == 403 and error_code(wrong) == "engine_number_mismatch"
    short = lookup(citysim, plate, engine_number="123")
    assert short.status_code == 400 and error_code(short) == "invalid_engine_number"


def test_bad_foreign_and_unknown_plates(citysim):
    cases = {"粤12345": (400, "invalid_plate"), "粤A12345": (404, "plate_not_local"),
             "粤B00000": (404, "vehicle_not_found")}
    for plate, (status, code) in cases.items():
        response = lookup(citysim, plate)
        assert (response.status_code, error_code(response)) == (status, code), plate


def test_payment_needs_a_key_and_charges_once_per_key(citysim):
    vehicle = _vehicle(citysim)
    before = lookup(citysim, vehicle["plate"]).json()
    unpaid = next(v for v in before["violations"] if not v["paid"])
    pay = f"/shenzhen/violation/violations/{unpaid['decision_number']}/payment"

    confirmed = {"amount": unpaid["amount_due"]}
    missing = post(citysim, pay, confirmed)
    assert missing.status_code == 400 and error_code(missing) == "missing_idempotency_key"

    first = post(citysim, pay, confirmed, key="pay-1")
    assert first.status_code == 201
    assert first.json()["amount"] == unpaid["amount_due"] and first.json()["plate"] == vehicle["plate"]
    again = post(citysim, pay, confirmed, key="pay-1")
    assert again.status_code == 201 and again.json() == first.json()

    other_key = post(citysim, pay, confirmed, key="pay-2")
    assert other_key.status_code == 409 and error_code(other_key) == "already_paid"

    after = lookup(citysim, vehicle["plate"]).json()
    assert after["unpaid_count"] == before["unpaid_count"] - 1
    assert after["unpaid_fine"] == before["unpaid_fine"] - unpaid["fine"]
    paid = next(v for v in after["violations"] if v["decision_number"] == unpaid["decision_number"])
    assert paid["payment"]["payment_id"] == first.json()["payment_id"]


def test_a_key_reused_for_another_request_is_refused(citysim):
    vehicle = _vehicle(citysim)
    unpaid = [v for v in lookup(citysim, vehicle["plate"]).json()["violations"]
              if not v["paid"]]
    assert len(unpaid) >= 2
    assert post(citysim, f"/shenzhen/violation/violations/{unpaid[0]['decision_number']}/payment",
                {"amount": unpaid[0]["amount_due"]}, key="same").status_code == 201
    reused = post(citysim, f"/shenzhen/violation/violations/{unpaid[1]['decision_number']}/payment",
                  {"amount": unpaid[1]["amount_due"]}, key="same")
    assert reused.status_code == 422 and error_code(reused) == "idempotency_key_reused"


def test_a_violation_of_another_city_cannot_be_paid_here(citysim):
    vehicle = _vehicle(citysim)
    number = lookup(citysim, vehicle["plate"]).json()["violations"][0]
    response = post(citysim, f"/guangzhou/violation/violations/{number['decision_number']}/payment",
                    {"amount": number["fine"]}, key="x")
    assert response.status_code == 404 and error_code(response) == "violation_not_found"


def _unpaid(citysim, when):
    """The oldest unpaid fine of a seeded 深圳 vehicle, as the bureau shows it at `when`."""
    citysim.pin_clock(when)
    vehicle = _vehicle(citysim)
    body = lookup(citysim, vehicle["plate"]).json()
    return min((v for v in body["violations"] if not v["paid"]), key=lambda v: v["occurred_at"])


def _days_after_it(citysim, days):
    """The moment `days` after the oldest unpaid fine was incurred."""
    occurred = _unpaid(citysim, "2026-03-01T00:00:00+08:00")["occurred_at"][:10]
    return f"{date.fromisoformat(occurred) + timedelta(days=days)}T12:00:00+08:00"


def test_late_fees_grow_by_day_up_to_the_fine(citysim):
    first = _unpaid(citysim, "2026-03-01T00:00:00+08:00")  # before any seeded violation happened
    assert first["late_fee"] == 0 and first["amount_due"] == first["fine"]
    assert _unpaid(citysim, _days_after_it(citysim, 15))["late_fee"] == 0
    one_day_late = _unpaid(citysim, _days_after_it(citysim, 16))
    assert one_day_late["late_fee"] == round(first["fine"] * 0.03, 2)
    assert one_day_late["amount_due"] == round(first["fine"] + one_day_late["late_fee"], 2)
    capped = _unpaid(citysim, _days_after_it(citysim, 400))
    assert capped["late_fee"] == first["fine"] and capped["amount_due"] == 2 * first["fine"]


def test_a_payment_of_another_sum_than_due_today_is_refused(citysim):
    seen = _unpaid(citysim, _days_after_it(citysim, 20))  # what the citizen confirmed
    today = _unpaid(citysim, _days_after_it(citysim, 21))  # paid a day later: the late fee grew
    assert today["amount_due"] > seen["amount_due"]
    pay = f"/shenzhen/violation/violations/{seen['decision_number']}/payment"
    stale = post(citysim, pay, {"amount": seen["amount_due"]}, key="stale")
    assert stale.status_code == 409 and error_code(stale) == "amount_mismatch"
    assert f"今日应缴 {today['amount_due']:.2f}".rstrip("0").rstrip(".") in stale.json()["error"]["message"]
    missing = post(citysim, pay, {}, key="missing")
    assert missing.status_code == 400 and error_code(missing) == "missing_amount"
    for wrong in ("abc", True, -5):
        refused = post(citysim, pay, {"amount": wrong}, key=f"wrong-{wrong}")
        assert refused.status_code == 400 and error_code(refused) == "invalid_amount", wrong
    assert not _unpaid(citysim, _days_after_it(citysim, 21))["paid"]
    paid = post(citysim, pay, {"amount": today["amount_due"]}, key="right")
    assert paid.status_code == 201 and paid.json()["amount"] == today["amount_due"]
    assert paid.json()["late_fee"] == today["late_fee"]


def test_the_plate_is_not_taken_from_the_url(citysim):
    plate = _vehicle(citysim)["plate"]
    assert get(citysim, f"/shenzhen/violation/vehicles/{plate}").status_code in (404, 405)
    missing = post(citysim, "/shenzhen/violation/vehicles/violations", {})
    assert missing.status_code == 400 and error_code(missing) == "missing_field"
