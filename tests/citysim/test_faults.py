"""Fault injection through the test API: each kind, scoping, and a lost answer."""
from __future__ import annotations

import json

import pytest
import requests

from tests.citysim.http import error_code, get, post

ROAD = "/shenzhen/traffic/roads/深南大道"


def test_latency_delays_but_answers_normally(citysim):
    citysim.inject_fault("latency", service="traffic", seconds=0.6)
    with pytest.raises(requests.ReadTimeout):
        get(citysim, ROAD, timeout=0.2)
    response = get(citysim, ROAD)
    assert response.status_code == 200 and response.json()["road"] == "深南大道"


def test_error_answers_the_status_asked_for_with_a_chinese_message(citysim):
    citysim.inject_fault("error", service="traffic", status=502)
    response = get(citysim, ROAD)
    assert response.status_code == 502
    assert error_code(response) == "service_unavailable"


def test_timeout_hangs_then_gives_up_with_504(citysim):
    citysim.inject_fault("timeout", service="traffic", seconds=0.6)
    with pytest.raises(requests.ReadTimeout):
        get(citysim, ROAD, timeout=0.2)
    response = get(citysim, ROAD)
    assert response.status_code == 504 and error_code(response) == "upstream_timeout"


def test_malformed_answers_200_with_a_body_that_is_not_json(citysim):
    citysim.inject_fault("malformed", service="traffic")
    response = get(citysim, ROAD)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/json")
    with pytest.raises(ValueError):
        json.loads(response.content)


def test_faults_are_scoped_by_service_and_city(citysim):
    citysim.inject_fault("error", service="traffic", city="shenzhen")
    assert get(citysim, ROAD).status_code == 503
    assert get(citysim, "/guangzhou/traffic/roads/天河路").status_code == 200
    assert get(citysim, "/shenzhen/weather/forecast").status_code == 200
    assert get(citysim, "/health").status_code == 200


def test_a_fault_without_service_or_city_hits_every_service_but_not_the_test_api(citysim):
    citysim.inject_fault("error")
    assert get(citysim, "/wuhan/weather/forecast").status_code == 503
    assert get(citysim, "/foshan/transit/bus/lines").status_code == 503
    assert get(citysim, "/_test/faults").status_code == 200
    assert get(citysim, "/openapi.json").status_code == 200


def test_times_limits_a_fault_and_delete_clears_all(citysim):
    citysim.inject_fault("error", service="traffic", times=2)
    assert [get(citysim, ROAD).status_code for _ in range(3)] == [503, 503, 200]
    citysim.inject_fault("error", service="weather")
    assert len(get(citysim, "/_test/faults").json()["faults"]) == 1
    citysim.clear_faults()
    assert get(citysim, "/shenzhen/weather/forecast").status_code == 200


@pytest.mark.parametrize("spec", [
    {"kind": "flood"},
    {"kind": "error", "service": "parking"},
    {"kind": "error", "city": "hangzhou"},
    {"kind": "error", "status": 200},
    {"kind": "latency", "seconds": "soon"},
    {"kind": "error", "colour": "red"},
])
def test_bad_fault_specs_are_rejected(citysim, spec):
    response = post(citysim, "/_test/faults", spec)
    assert response.status_code == 400 and error_code(response) == "invalid_fault"


def test_after_runs_the_request_then_loses_the_answer(citysim):
    """The case idempotency keys exist for: charged, but the client saw a 503."""
    vehicle = next(v for v in citysim.seed("shenzhen")["vehicles"] if v["violations"] == 4)
    path = "/shenzhen/violation/vehicles/violations"
    unpaid = next(v for v in post(citysim, path, {"plate": vehicle["plate"]}).json()["violations"] if not v["paid"])
    pay = f"/shenzhen/violation/violations/{unpaid['decision_number']}/payment"
    citysim.inject_fault("error", service="violation", after=True, times=1)
    confirmed = {"amount": unpaid["amount_due"]}
    assert post(citysim, pay, confirmed, key="k-1").status_code == 503
    retried = post(citysim, pay, confirmed, key="k-1")
    assert retried.status_code == 201
    assert retried.headers["Idempotent-Replayed"] == "true"
    record = next(v for v in post(citysim, path, {"plate": vehicle["plate"]}).json()["violations"]
                  if v["decision_number"] == unpaid["decision_number"])
    assert record["payment"]["payment_id"] == retried.json()["payment_id"]
