"""Utility accounts: bills by month, arrears, idempotent payment."""
from __future__ import annotations

from citysim.core import CITIES
from tests.citysim.http import error_code, get, post

NOW = "2026-11-27T10:00:00+08:00"


def account(citysim, utility_type="electricity", arrears=2, city="shenzhen"):
    return next(a["account_number"] for a in citysim.seed(city)["utility_accounts"]
                if a["utility_type"] == utility_type and a["arrears_months"] == arrears)


def bills(citysim, number, city="shenzhen", **params):
    response = post(citysim, f"/{city}/utility/accounts/lookup", {"account_number": number, **params})
    assert response.status_code == 200, response.text
    return response.json()


def test_companies_come_from_the_gazetteer(citysim):
    companies = get(citysim, "/wuhan/utility/companies").json()["companies"]
    assert {c["utility_type"]: c["company"] for c in companies} == CITIES["wuhan"].gaz.utility_companies
    assert {c["label"] for c in companies} == {"水费", "电费", "燃气费"}


def test_recent_months_are_unpaid_and_add_up_to_the_arrears(citysim):
    citysim.pin_clock(NOW)
    body = bills(citysim, account(citysim))
    assert body["company"] == "深圳供电局"
    assert body["unpaid_months"] == ["2026-10", "2026-09"]
    assert [b["month"] for b in body["bills"]] == ["2026-10", "2026-09", "2026-08", "2026-07", "2026-06", "2026-05"]
    unpaid = [b for b in body["bills"] if not b["paid"]]
    assert round(sum(b["amount"] for b in unpaid), 2) == body["arrears"] > 0
    assert bills(citysim, account(citysim, arrears=0))["arrears"] == 0


def test_bills_follow_the_clock(citysim):
    citysim.pin_clock("2027-01-05T10:00:00+08:00")
    body = bills(citysim, account(citysim), months=12)
    assert body["bills"][0]["month"] == "2026-12" and len(body["bills"]) == 12
    assert body["bills"][0]["due_date"] == "2027-01-20"


def test_pay_all_arrears_once_per_key(citysim):
    citysim.pin_clock(NOW)
    number = account(citysim)
    path = "/shenzhen/utility/payments"
    arrears = bills(citysim, number)["arrears"]
    assert error_code(post(citysim, path, {"account_number": number, "amount": arrears})) == "missing_idempotency_key"
    first = post(citysim, path, {"account_number": number, "amount": arrears}, key="bill-1")
    assert first.status_code == 201
    assert first.json()["months"] == ["2026-09", "2026-10"] and first.json()["amount"] == arrears
    assert first.json()["arrears_after"] == 0
    replay = post(citysim, path, {"account_number": number, "amount": arrears}, key="bill-1")
    assert replay.json() == first.json()
    after = bills(citysim, number)
    assert after["arrears"] == 0 and after["unpaid_months"] == []
    assert {b["payment_id"] for b in after["bills"][:2]} == {first.json()["payment_id"]}
    again = post(citysim, path, {"account_number": number, "amount": arrears}, key="bill-2")
    assert again.status_code == 409 and error_code(again) == "no_arrears"


def test_pay_one_month(citysim):
    citysim.pin_clock(NOW)
    number = account(citysim)
    september = next(b for b in bills(citysim, number)["bills"] if b["month"] == "2026-09")
    response = post(citysim, "/shenzhen/utility/payments",
                    {"account_number": number, "months": ["2026-09"], "amount": september["amount"]}, key="m")
    assert response.status_code == 201 and response.json()["arrears_after"] > 0
    assert bills(citysim, number)["unpaid_months"] == ["2026-10"]


def test_payment_refuses_a_stale_amount_or_a_settled_month(citysim):
    citysim.pin_clock(NOW)
    path, number = "/shenzhen/utility/payments", account(citysim)
    stale = post(citysim, path, {"account_number": number, "amount": 1.0}, key="a")
    assert stale.status_code == 409 and error_code(stale) == "amount_mismatch"
    settled = post(citysim, path, {"account_number": number, "months": ["2026-01"], "amount": 1.0}, key="b")
    assert settled.status_code == 409 and error_code(settled) == "month_not_payable"
    nonsense = post(citysim, path, {"account_number": number, "amount": "lots"}, key="c")
    assert nonsense.status_code == 400 and error_code(nonsense) == "invalid_amount"
    whatever_is_due = post(citysim, path, {"account_number": number}, key="d")  # never "pay whatever is due"
    assert whatever_is_due.status_code == 400 and error_code(whatever_is_due) == "missing_amount"


def test_lookup_errors(citysim):
    water = account(citysim, "water")
    lookup = "/shenzhen/utility/accounts/lookup"
    wrong_type = post(citysim, lookup, {"account_number": water, "utility_type": "gas"})
    assert wrong_type.status_code == 404 and error_code(wrong_type) == "account_type_mismatch"
    other_city = post(citysim, "/guangzhou/utility/accounts/lookup", {"account_number": water})
    assert other_city.status_code == 404 and error_code(other_city) == "account_not_found"
    bad_months = post(citysim, lookup, {"account_number": water, "months": 13})
    assert bad_months.status_code == 400 and error_code(bad_months) == "invalid_months"
