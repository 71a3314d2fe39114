"""32 conversations pay and book at once while the backends fail: nothing is charged or booked twice.

Sixteen citizens pay their utility arrears and sixteen book a doctor, all in one
event loop through the real actions (the summary, the yes, the payment or
booking), while the simulator loses answers after charging (500 after the
work is done), times out and sends broken JSON. A failed attempt is retried
the two ways it happens in production: the same request again (the Rasa
server or the action server retrying: same idempotency key) and the citizen
confirming again (a new message: a new key). The simulator's ledger is then
checked: at most one payment per account and one booking per patient, of the
sum or fee the citizen confirmed, and one for every citizen told it succeeded.
"""
from __future__ import annotations

import asyncio
import sqlite3
from datetime import date
from decimal import Decimal
from typing import Any, Dict, List, Tuple

import requests
from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.appointment import today
from actions.appointment_booking import ActionAskAppointmentFormConfirmed, ActionBookAppointment
from actions.clients.hospital import HospitalClient
from actions.utility_bill import ActionAskPayBillFormConfirmed, ActionPayBill
from citysim.core import CITIES
from tests.actions.conftest import DOMAIN, make_tracker, slot_events, texts
from tests.actions.test_appointment import GZ_FIRST, resident_id

CONVERSATIONS = 32
DEPARTMENTS = ("儿科", "骨科", "外科")
ATTEMPTS = 4  # the same request retried, then the citizen confirms again


async def run(action: Action, tracker: Tracker) -> Tuple[List[Dict[str, Any]], str]:
    dispatcher = CollectingDispatcher()
    events = await action.run(dispatcher, tracker, DOMAIN)
    return events, texts(dispatcher.messages)


async def confirm_then_act(ask: Action, act: Action, slots: Dict[str, Any], done: str) -> Tuple[str, Dict]:
    """The citizen sees the summary, says yes, and the payment or booking runs; failures are retried."""
    said, terms = "", None
    for attempt in range(ATTEMPTS):
        if terms is None or attempt == ATTEMPTS // 2:  # (again) shown and confirmed: a new message
            events, said = await run(ask, make_tracker(slots))
            terms = slot_events(events).get("confirmed_terms")
            if not terms:
                continue
        message = [{"event": "user", "timestamp": float(attempt // 2 + 1), "text": "确认"}]
        tracker = make_tracker({**slots, "confirmed_terms": terms, "confirmed": True}, events=message)
        _, said = await run(act, tracker)
        if done in said or "没有办成" in said or "没能挂上号" in said:
            break
    return said, terms or {}


def ledger(citysim: Any, query: str, value: str) -> List[sqlite3.Row]:
    conn = sqlite3.connect(citysim.db_path)
    conn.row_factory = sqlite3.Row
    try:
        return conn.execute(query, (value,)).fetchall()
    finally:
        conn.close()


def test_thirty_two_conversations_under_faults_charge_and_book_at_most_once(city_backends):
    accounts = [(CITIES[code].name, a) for code in CITIES for a in city_backends.seed(code)["utility_accounts"]
                if a["arrears_months"] > 0][:CONVERSATIONS // 2]
    client = HospitalClient(f"{city_backends.url}/guangzhou/hospital")
    sessions = {d: min((s.date, s.time_period) for s in client.slots(GZ_FIRST, d)
                       if s.remaining > 0 and s.date > today()) for d in DEPARTMENTS}
    bills = [{"city": city, "utility_type": a["utility_type"], "account_number": a["account_number"]}
             for city, a in accounts]
    bookings = [{"city": "广州", "hospital": GZ_FIRST, "department": d, "date": sessions[d][0].isoformat(),
                 "time_period": sessions[d][1], "id_number": resident_id(100 + n), "phone_number": f"1390000{n:04d}"}
                for n, d in enumerate(DEPARTMENTS[n % len(DEPARTMENTS)] for n in range(CONVERSATIONS // 2))]
    assert len(bills) + len(bookings) == CONVERSATIONS
    for service in ("utility", "hospital"):
        city_backends.inject_fault("error", service=service, status=500, after=True, times=6)
        city_backends.inject_fault("malformed", service=service, times=3)
        city_backends.inject_fault("timeout", service=service, seconds=0.2, times=3)

    async def everyone() -> List[Tuple[str, Dict]]:
        return await asyncio.gather(
            *(confirm_then_act(ActionAskPayBillFormConfirmed(), ActionPayBill(), s, "缴费成功") for s in bills),
            *(confirm_then_act(ActionAskAppointmentFormConfirmed(), ActionBookAppointment(), s, "挂号成功")
              for s in bookings))

    outcomes = asyncio.run(everyone())
    left = requests.get(f"{city_backends.url}/_test/faults", timeout=5).json()["faults"]
    assert left == []  # every injected fault fired
    city_backends.clear_faults()
    assert all(said for said, _ in outcomes)  # every citizen heard something: success, refusal or apology
    for slots, (said, terms) in zip(bills, outcomes[:len(bills)]):
        paid = ledger(city_backends, "SELECT amount_fen FROM utility_payment WHERE account_number = ?",
                      slots["account_number"])
        assert len(paid) <= 1, slots
        if "缴费成功" in said:
            assert len(paid) == 1 and Decimal(paid[0]["amount_fen"]) / 100 == Decimal(terms["amount"])
    for slots, (said, terms) in zip(bookings, outcomes[len(bills):]):
        booked = ledger(city_backends, "SELECT doctor_id, date, time_period FROM appointment "
                        "WHERE id_number = ? AND status = 'booked'", slots["id_number"])
        assert len(booked) <= 1, slots
        if "挂号成功" in said:
            assert len(booked) == 1
            row = booked[0]
            assert f"{row['doctor_id']}-{date.fromisoformat(row['date']):%Y%m%d}-{row['time_period']}" == \
                terms["slot_id"]
    assert any("缴费成功" in said for said, _ in outcomes) and any("挂号成功" in said for said, _ in outcomes)
