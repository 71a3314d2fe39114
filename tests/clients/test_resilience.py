"""The shared client base under each injected fault, and its decoding."""
from __future__ import annotations

import socket
import sqlite3
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import List, Optional

import pytest

from actions.clients.base import BackendError, RequestRejected, decode, shared_session
from actions.clients.social import SocialClient
from actions.clients.traffic import TrafficClient
from actions.clients.utility import UtilityClient
from actions.clients.violation import ViolationClient

NOW = "2026-11-27T10:00:00+08:00"


def test_latency_within_the_timeout_succeeds(citysim, connect):
    citysim.inject_fault("latency", service="traffic", seconds=0.3)
    assert connect(TrafficClient, timeout=5).road("深南大道").road == "深南大道"


def test_5xx_is_retried_until_it_passes(citysim, connect):
    citysim.inject_fault("error", service="traffic", times=2)
    assert connect(TrafficClient, retries=2).road("深南大道").road == "深南大道"


def test_5xx_on_every_attempt_raises_a_retryable_backend_error(citysim, connect):
    citysim.inject_fault("error", service="traffic", status=502, times=3)
    with pytest.raises(BackendError) as caught:
        connect(TrafficClient, retries=2).road("深南大道")
    assert caught.value.retryable and caught.value.status == 502
    assert caught.value.user_message == "实时路况服务暂时不可用"
    assert not isinstance(caught.value, RequestRejected)
    assert connect(TrafficClient, retries=0).road("深南大道")  # exactly three attempts used the fault up


def test_timeout_raises_a_retryable_backend_error(citysim, connect):
    citysim.inject_fault("timeout", service="traffic", seconds=1.0)
    with pytest.raises(BackendError) as caught:
        connect(TrafficClient, timeout=0.2, retries=1).road("深南大道")
    assert caught.value.retryable and "超时" in caught.value.user_message and caught.value.status is None


def test_malformed_json_raises_a_backend_error(citysim, connect):
    citysim.inject_fault("malformed", service="traffic")
    with pytest.raises(BackendError) as caught:
        connect(TrafficClient).road("深南大道")
    assert "无法识别" in caught.value.user_message and caught.value.status == 200


def test_unreachable_backend_raises_a_backend_error():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(BackendError) as caught:
        TrafficClient(f"http://127.0.0.1:{port}/shenzhen/traffic", retries=1, backoff=0.01).road("深南大道")
    assert caught.value.retryable and "连接" in caught.value.user_message


def test_4xx_is_not_retried(citysim, connect):
    citysim.inject_fault("error", service="traffic", status=429, times=1)
    with pytest.raises(RequestRejected) as caught:
        connect(TrafficClient, retries=2).road("深南大道")
    assert caught.value.status == 429 and not caught.value.retryable
    assert connect(TrafficClient).road("深南大道")


def test_a_post_without_idempotency_key_is_sent_once(citysim, connect):
    person = citysim.seed("shenzhen")["citizens"][0]
    citysim.inject_fault("error", service="social", times=1)
    client = connect(SocialClient, retries=2)
    with pytest.raises(BackendError):
        client.start_verification(person["id_number"], person["phone"])
    assert client.start_verification(person["id_number"], person["phone"]).verification_id


def payments(citysim, table: str, column: str, value: str) -> int:
    conn = sqlite3.connect(citysim.db_path)
    try:
        return conn.execute(f"SELECT COUNT(*) FROM {table} WHERE {column} = ?", (value,)).fetchone()[0]
    finally:
        conn.close()


def test_a_bill_payment_whose_answer_was_lost_is_retried_and_charged_once(citysim, connect):
    citysim.pin_clock(NOW)
    number = next(a["account_number"] for a in citysim.seed("shenzhen")["utility_accounts"]
                  if a["arrears_months"] == 2)
    client = connect(UtilityClient, retries=2)
    arrears = client.account(number).arrears
    citysim.inject_fault("error", service="utility", status=503, after=True, times=1)
    payment = client.pay(number, amount=arrears)
    assert payment.amount == arrears and payment.arrears_after == 0
    assert payments(citysim, "utility_payment", "account_number", number) == 1
    assert client.account(number).arrears == 0


def test_a_fine_payment_retried_after_a_503_charges_once(citysim, connect):
    vehicle = next(v for v in citysim.seed("wuhan")["vehicles"] if v["violations"] == 4)
    client = connect(ViolationClient, "wuhan", retries=2)
    target = client.violations(vehicle["plate"]).unpaid[0]
    citysim.inject_fault("error", service="violation", city="wuhan", after=True, times=2)
    paid = client.pay(target.decision_number, target.amount_due)
    assert paid.decision_number == target.decision_number
    assert payments(citysim, "violation_payment", "decision_number", target.decision_number) == 1


def test_the_same_key_in_a_later_call_returns_the_first_payment(citysim, connect):
    vehicle = next(v for v in citysim.seed("shenzhen")["vehicles"] if v["violations"] == 4)
    client = connect(ViolationClient)
    target = client.violations(vehicle["plate"]).unpaid[0]
    first = client.pay(target.decision_number, target.amount_due, idempotency_key="confirmed-by-citizen")
    assert client.pay(target.decision_number, target.amount_due, idempotency_key="confirmed-by-citizen") == first
    with pytest.raises(RequestRejected) as caught:
        client.pay(target.decision_number, target.amount_due)
    assert caught.value.code == "already_paid"


def test_clients_share_one_session(connect):
    assert connect(TrafficClient).session is connect(UtilityClient).session is shared_session()


@dataclass(frozen=True)
class Inner:
    day: date
    amount: Decimal


@dataclass(frozen=True)
class Outer:
    origin: str = field(metadata={"json": "from"})
    items: List[Inner] = field(default_factory=list)
    note: Optional[str] = None
    ratio: float = 0.0


def test_decode_builds_nested_dataclasses():
    value = decode(Outer, {"from": "罗湖", "items": [{"day": "2026-11-27", "amount": 12.5}], "ratio": 1})
    assert value == Outer("罗湖", [Inner(date(2026, 11, 27), Decimal("12.5"))], None, 1.0)
    assert decode(Outer, {"from": "罗湖"}) == Outer("罗湖")


@pytest.mark.parametrize("payload", [
    {"items": []},
    {"from": 3},
    {"from": "x", "items": {"day": "2026-11-27"}},
    {"from": "x", "items": [{"day": "27/11/2026", "amount": 1}]},
    {"from": "x", "ratio": True},
])
def test_decode_rejects_wrong_shapes(payload):
    with pytest.raises((KeyError, TypeError, ValueError)):
        decode(Outer, payload)


def test_the_total_deadline_stops_the_retries_and_says_busy(citysim, connect):
    """Each attempt waits 0.6 s for a 504; a 1 s deadline leaves room for two, not six."""
    citysim.inject_fault("timeout", service="traffic", seconds=0.6, times=6)
    with pytest.raises(BackendError) as caught:
        connect(TrafficClient, retries=5, deadline=1.0).road("深南大道")
    assert caught.value.retryable and "繁忙" in caught.value.user_message
    with pytest.raises(BackendError):  # faults were left over: the deadline, not the retries, ended it
        connect(TrafficClient, retries=0).road("深南大道")


def test_urls_in_warnings_carry_no_personal_data(citysim, connect, caplog):
    citysim.inject_fault("error", service="utility", status=503, times=3)
    with pytest.raises(BackendError):
        connect(UtilityClient, retries=2).pay("0575136233", Decimal("1.00"))
    assert caplog.records and all("0575136233" not in r.getMessage() for r in caplog.records)
