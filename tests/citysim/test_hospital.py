"""Hospitals, slots in the next 14 days, booking, listing and cancelling."""
from __future__ import annotations

from citysim.hospital import BOOKING_DAYS
from common.codes import id_check_char
from tests.citysim.http import error_code, get, post, proven

NOW = "2026-11-27T07:00:00+08:00"  # a Friday, before the morning sessions


def resident_id(serial: int) -> str:
    first17 = f"44030419900101{serial:03d}"
    return first17 + id_check_char(first17)


def patient(serial: int = 1) -> dict:
    return {"patient_name": f"测试{serial}", "id_number": resident_id(serial), "phone": f"1380013{serial:04d}"}


def slots(citysim, **params):
    query = {"hospital": "深圳市人民医院", "department": "儿科", **params}
    response = get(citysim, "/shenzhen/hospital/slots", **query)
    assert response.status_code == 200, response.text
    return response.json()["slots"]


def book(citysim, slot, serial=1, key=None, fee=None):
    """Books `slot` (as listed) for the fee the citizen saw with it, unless told another."""
    body = {"slot_id": slot["slot_id"], "fee": slot["fee"] if fee is None else fee, **patient(serial)}
    return post(citysim, "/shenzhen/hospital/appointments", body, key=key or f"book-{slot['slot_id']}-{serial}")


def test_hospital_and_department_aliases(citysim):
    hospital = get(citysim, "/guangzhou/hospital/hospitals/中山一院").json()
    assert hospital["name"] == "中山大学附属第一医院" and "儿科" in hospital["departments"]
    citysim.pin_clock(NOW)
    found = get(citysim, "/guangzhou/hospital/slots", hospital="省医", department="心内科").json()
    assert found["hospital"] == "广东省人民医院" and found["department"] == "心血管内科"
    missing = get(citysim, "/shenzhen/hospital/slots", hospital="深圳市儿童医院", department="骨科")
    assert missing.status_code == 404 and error_code(missing) == "unknown_department"
    assert "儿科" in missing.json()["error"]["message"]
    unknown = get(citysim, "/shenzhen/hospital/hospitals/协和医院")
    assert unknown.status_code == 404 and error_code(unknown) == "unknown_hospital"


def test_slots_cover_the_next_fourteen_days_only(citysim):
    citysim.pin_clock(NOW)
    dates = {s["date"] for s in slots(citysim)}
    assert min(dates) >= "2026-11-27" and max(dates) <= "2026-12-10"
    assert len(dates) > 1
    too_far = get(citysim, "/shenzhen/hospital/slots", hospital="深圳市人民医院", department="儿科",
                  date="2026-12-11")
    assert too_far.status_code == 400 and error_code(too_far) == "date_out_of_range"
    assert BOOKING_DAYS == 14


def test_time_period_filter_and_sessions_already_over(citysim):
    citysim.pin_clock(NOW)
    evening = slots(citysim, time_period="evening")
    assert evening and {s["time_period"] for s in evening} == {"evening"}
    bad = get(citysim, "/shenzhen/hospital/slots", hospital="深圳市人民医院", department="儿科", time_period="上午")
    assert bad.status_code == 400 and error_code(bad) == "invalid_time_period"
    citysim.pin_clock("2026-11-27T13:00:00+08:00")
    today = [s for s in slots(citysim) if s["date"] == "2026-11-27"]
    assert all(s["time_period"] != "morning" for s in today)


def test_book_list_and_cancel(citysim):
    citysim.pin_clock(NOW)
    slot = next(s for s in slots(citysim) if s["remaining"] >= 2)
    booked = book(citysim, slot, key="k1")
    assert booked.status_code == 201
    appointment = booked.json()
    assert appointment["status"] == "booked" and appointment["queue_number"] == 1
    assert appointment["hospital"] == "深圳市人民医院" and appointment["date"] == slot["date"]
    assert appointment["id_number"].startswith("4403") and "*" in appointment["id_number"]
    assert book(citysim, slot, key="k1").json() == appointment  # replayed, not booked twice
    remaining = {s["slot_id"]: s["remaining"] for s in slots(citysim)}
    assert remaining[slot["slot_id"]] == slot["remaining"] - 1

    owner = proven(citysim, "/shenzhen/hospital", patient(1)["phone"], resident_id(1))
    listed = get(citysim, "/shenzhen/hospital/appointments", headers=owner).json()["appointments"]
    assert [a["appointment_id"] for a in listed] == [appointment["appointment_id"]]
    by_id_alone = get(citysim, "/shenzhen/hospital/appointments", id_number=resident_id(1))
    assert by_id_alone.status_code == 401 and error_code(by_id_alone) == "verification_required"
    claimed = proven(citysim, "/shenzhen/hospital", "13900139999", resident_id(1))  # the ID, another phone
    assert get(citysim, "/shenzhen/hospital/appointments", headers=claimed).json()["appointments"] == []

    cancel_path = f"/shenzhen/hospital/appointments/{appointment['appointment_id']}/cancel"
    unproven = post(citysim, cancel_path, {"id_number": resident_id(1)})
    assert unproven.status_code == 401 and error_code(unproven) == "verification_required"
    stranger = post(citysim, cancel_path, headers=claimed)
    assert stranger.status_code == 403 and error_code(stranger) == "not_owner"
    cancelled = post(citysim, cancel_path, headers=owner)
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert post(citysim, cancel_path, headers=owner).json()["status"] == "cancelled"
    remaining = {s["slot_id"]: s["remaining"] for s in slots(citysim)}
    assert remaining[slot["slot_id"]] == slot["remaining"]


def test_one_booking_per_patient_department_and_day(citysim):
    citysim.pin_clock(NOW)
    first, second = [s for s in slots(citysim) if s["date"] == "2026-11-28"][:2]
    assert book(citysim, first).status_code == 201
    twice = book(citysim, second)
    assert twice.status_code == 409 and error_code(twice) == "already_booked"


def test_a_full_slot_is_refused(citysim):
    citysim.pin_clock(NOW)
    slot = slots(citysim)[0]
    for serial in range(slot["remaining"]):
        assert book(citysim, slot, serial=serial + 10).status_code == 201
    full = book(citysim, slot, serial=99)
    assert full.status_code == 409 and error_code(full) == "slot_full"


def test_booking_validation(citysim):
    citysim.pin_clock(NOW)
    slot = slots(citysim)[0]
    body = {"slot_id": slot["slot_id"], "fee": slot["fee"], **patient()}
    cases = [
        ({**body, "id_number": "440304199001010010"}, "invalid_id_number"),
        ({**body, "phone": "12345"}, "invalid_phone"),
        ({**body, "slot_id": "nonsense"}, "invalid_slot"),
        ({k: v for k, v in body.items() if k != "patient_name"}, "missing_field"),
        ({k: v for k, v in body.items() if k != "fee"}, "missing_fee"),
        ({**body, "fee": "很多"}, "invalid_fee"),
    ]
    for payload, code in cases:
        response = post(citysim, "/shenzhen/hospital/appointments", payload, key=code)
        assert response.status_code == 400 and error_code(response) == code
    assert error_code(post(citysim, "/shenzhen/hospital/appointments", body)) == "missing_idempotency_key"
    listing = get(citysim, "/shenzhen/hospital/appointments")
    assert listing.status_code == 401 and error_code(listing) == "verification_required"


def test_no_cancelling_once_the_session_started(citysim):
    citysim.pin_clock(NOW)
    slot = next(s for s in slots(citysim) if s["date"] == "2026-11-27" and s["time_period"] == "morning")
    appointment = book(citysim, slot).json()
    citysim.pin_clock("2026-11-27T08:30:00+08:00")
    late = post(citysim, f"/shenzhen/hospital/appointments/{appointment['appointment_id']}/cancel",
                headers=proven(citysim, "/shenzhen/hospital", patient(1)["phone"], resident_id(1)))
    assert late.status_code == 409 and error_code(late) == "too_late_to_cancel"


def test_a_fee_other_than_the_slot_s_is_refused_and_nothing_booked(citysim):
    citysim.pin_clock(NOW)
    slot = slots(citysim)[0]
    wrong = book(citysim, slot, fee=slot["fee"] + 1)
    assert wrong.status_code == 409 and error_code(wrong) == "fee_mismatch"
    assert str(slot["fee"]).rstrip("0").rstrip(".") in wrong.json()["error"]["message"]
    remaining = {s["slot_id"]: s["remaining"] for s in slots(citysim)}
    assert remaining[slot["slot_id"]] == slot["remaining"]
