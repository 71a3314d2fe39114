"""Identity verification by SMS code, then social insurance and housing fund records."""
from __future__ import annotations

from common.codes import canonical_id_number
from tests.citysim.http import error_code, get, post

NOW = "2026-11-27T10:00:00+08:00"


def citizen(citysim, index=0, city="shenzhen"):
    return citysim.seed(city)["citizens"][index]


def start(citysim, person, city="shenzhen"):
    return post(citysim, f"/{city}/social/verify/start", {"id_number": person["id_number"], "phone": person["phone"]})


def verify(citysim, person, city="shenzhen") -> str:
    verification = start(citysim, person, city).json()
    code = citysim.otp(person["phone"])
    confirmed = post(citysim, f"/{city}/social/verify/confirm",
                     {"verification_id": verification["verification_id"], "code": code})
    assert confirmed.status_code == 200, confirmed.text
    return confirmed.json()["token"]


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


def record(citysim, path, token, city="shenzhen"):
    return get(citysim, f"/{city}/social/{path}", headers=bearer(token))


def test_seeded_citizens_have_valid_resident_ids(citysim):
    for person in citysim.seed("wuhan")["citizens"]:
        assert canonical_id_number(person["id_number"]) == person["id_number"]


def test_code_goes_to_the_registered_phone_and_buys_a_token(citysim):
    citysim.pin_clock(NOW)
    person = citizen(citysim)
    started = start(citysim, person)
    assert started.status_code == 201
    assert started.json()["phone"] == person["phone"][:3] + "****" + person["phone"][-4:]
    assert "code" not in started.json()
    token = verify(citysim, person)
    insurance = record(citysim, "insurance", token)
    assert insurance.status_code == 200
    body = insurance.json()
    assert body["name"] == person["name"] and body["status"] == "正常参保"
    assert body["last_paid_month"] == "2026-10"
    first_year, first_month = map(int, body["first_paid_month"].split("-"))
    assert body["months_paid"] == (2026 * 12 + 10) - (first_year * 12 + first_month) + 1
    assert len(body["recent"]) == 6 and body["recent"][0]["month"] == "2026-10"
    fund = record(citysim, "housing-fund", token).json()
    assert fund["status"] == "正常缴存" and fund["balance"] > 0 and fund["monthly_deposit"] > 0


def test_a_citizen_who_stopped_paying(citysim):
    citysim.pin_clock(NOW)
    token = verify(citysim, citizen(citysim, 2))
    assert record(citysim, "insurance", token).json()["status"] == "暂停参保"
    fund = record(citysim, "housing-fund", token).json()
    assert fund["status"] == "封存" and fund["monthly_deposit"] == 0


def test_records_need_a_valid_fresh_token_of_the_same_city(citysim):
    citysim.pin_clock(NOW)
    assert error_code(get(citysim, "/shenzhen/social/insurance")) == "verification_required"
    assert error_code(record(citysim, "insurance", "forged")) == "invalid_token"
    token = verify(citysim, citizen(citysim))
    elsewhere = record(citysim, "insurance", token, city="guangzhou")
    assert elsewhere.status_code == 401 and error_code(elsewhere) == "invalid_token"
    citysim.pin_clock("2026-11-27T10:11:00+08:00")
    expired = record(citysim, "housing-fund", token)
    assert expired.status_code == 401 and error_code(expired) == "token_expired"


def test_id_and_phone_must_match_the_register(citysim):
    person = citizen(citysim)
    other = citizen(citysim, 1)
    mismatch = start(citysim, {**person, "phone": other["phone"]})
    assert mismatch.status_code == 403 and error_code(mismatch) == "identity_mismatch"
    wrong_city = start(citysim, person, city="guangzhou")
    assert wrong_city.status_code == 403
    invalid = post(citysim, "/shenzhen/social/verify/start", {"id_number": "123", "phone": person["phone"]})
    assert invalid.status_code == 400 and error_code(invalid) == "invalid_id_number"


def test_wrong_codes_run_out_and_a_code_works_once(citysim):
    citysim.pin_clock(NOW)
    person = citizen(citysim)
    verification_id = start(citysim, person).json()["verification_id"]
    code = citysim.otp(person["phone"])
    wrong = str((int(code) + 1) % 10 ** 6).zfill(6)
    confirm = "/shenzhen/social/verify/confirm"
    for _ in range(5):
        answer = post(citysim, confirm, {"verification_id": verification_id, "code": wrong})
        assert answer.status_code == 403 and error_code(answer) == "code_incorrect"
    locked = post(citysim, confirm, {"verification_id": verification_id, "code": code})
    assert locked.status_code == 429 and error_code(locked) == "too_many_attempts"

    verification_id = start(citysim, person).json()["verification_id"]
    code = citysim.otp(person["phone"])
    assert post(citysim, confirm, {"verification_id": verification_id, "code": code}).status_code == 200
    reused = post(citysim, confirm, {"verification_id": verification_id, "code": code})
    assert reused.status_code == 409 and error_code(reused) == "code_used"


def test_codes_expire(citysim):
    citysim.pin_clock(NOW)
    person = citizen(citysim)
    verification_id = start(citysim, person).json()["verification_id"]
    code = citysim.otp(person["phone"])
    citysim.pin_clock("2026-11-27T10:06:00+08:00")
    late = post(citysim, "/shenzhen/social/verify/confirm", {"verification_id": verification_id, "code": code})
    assert late.status_code == 403 and error_code(late) == "code_expired"


def test_the_test_api_knows_only_phones_that_got_a_code(citysim):
    response = get(citysim, "/_test/otp", phone="13800000000")
    assert response.status_code == 404 and error_code(response) == "no_sms"
