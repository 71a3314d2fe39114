"""Every client against the running simulator: typed answers, backend messages on 4xx."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from actions.clients.base import RequestRejected
from actions.clients.hospital import HospitalClient
from actions.clients.hotline import HotlineClient
from actions.clients.restriction import RestrictionClient
from actions.clients.social import SocialClient
from actions.clients.traffic import TrafficClient
from actions.clients.transit import TransitClient
from actions.clients.utility import UtilityClient
from actions.clients.violation import ViolationClient
from actions.clients.weather import WeatherClient
from common.codes import id_check_char

NOW = "2026-11-27T07:00:00+08:00"


def test_violation_lookup_and_payment(citysim, connect):
    vehicle = next(v for v in citysim.seed("shenzhen")["vehicles"] if v["violations"] == 3)
    client = connect(ViolationClient)
    record = client.violations(vehicle["plate"], engine_number=vehicle["engine_number"][-6:])
    assert record.plate == vehicle["plate"] and record.engine_number_verified
    assert len(record.violations) == 3 and isinstance(record.violations[0].fine, Decimal)
    assert record.violations[0].occurred_at.tzinfo is not None
    unpaid_before = record.unpaid_fine
    target = record.unpaid[0]
    paid = client.pay(target.decision_number, target.amount_due)
    assert paid.amount == target.amount_due == target.fine + target.late_fee and paid.plate == vehicle["plate"]
    assert client.violations(vehicle["plate"]).unpaid_fine == unpaid_before - target.fine


def test_violation_rejections_carry_the_backend_message(connect):
    with pytest.raises(RequestRejected) as caught:
        connect(ViolationClient).violations("粤A12345")
    assert caught.value.code == "plate_not_local" and caught.value.status == 404
    assert "深圳" in caught.value.user_message and not caught.value.retryable


def test_traffic(connect):
    road = connect(TrafficClient).road("深南")
    assert road.road == "深南大道" and road.segments and road.updated_at.tzinfo is not None
    assert len(connect(TrafficClient, "wuhan").roads()) == 10


def test_restriction(connect):
    answer = connect(RestrictionClient, "wuhan").status(date(2026, 11, 27), "鄂A12344")
    assert answer.restricted is True and answer.restricted_tails == [0, 2, 4, 6, 8]
    assert answer.date == date(2026, 11, 27)
    assert connect(RestrictionClient, "foshan").status().restricted is None


def test_transit(citysim, connect):
    citysim.pin_clock("2026-11-27T08:00:00+08:00")
    client = connect(TransitClient)
    assert "10路" in [line.name for line in client.bus_lines()]
    assert client.bus_line("m375").name == "M375路"
    arrivals = client.arrivals("10", "市民中心")
    assert arrivals.line == "10路" and len(arrivals.directions) == 2
    assert all(bus.minutes >= 0 for d in arrivals.directions for bus in d.buses)
    assert {m.name for m in client.metro_lines()} >= {"1号线", "4号线"}
    route = client.route("火车站", "北站")
    assert route.transfers == 1 and route.origin.name == "罗湖"
    assert [(leg.mode, leg.line, leg.origin, leg.destination) for leg in route.legs] == [
        ("metro", "1号线", "罗湖", "会展中心"), ("metro", "4号线", "会展中心", "深圳北站")]
    walking = client.route("景田", "火车站")
    assert any(leg.mode == "walk" and leg.line is None for leg in walking.legs)


def test_utility(citysim, connect):
    citysim.pin_clock(NOW)
    number = next(a["account_number"] for a in citysim.seed("guangzhou")["utility_accounts"]
                  if a["utility_type"] == "gas" and a["arrears_months"] == 1)
    client = connect(UtilityClient, "guangzhou")
    assert {c.utility_type for c in client.companies()} == {"water", "electricity", "gas"}
    account = client.account(number, utility_type="gas", months=3)
    assert account.company == "广州燃气集团" and len(account.bills) == 3
    assert account.unpaid_months == ["2026-10"] and account.arrears == account.bills[0].amount
    payment = client.pay(number, amount=account.arrears)
    assert payment.months == ["2026-10"] and payment.arrears_after == 0
    assert client.account(number).arrears == 0


def resident_id(serial: int) -> str:
    first17 = f"42010619850505{serial:03d}"
    return first17 + id_check_char(first17)


def test_hospital(citysim, connect):
    citysim.pin_clock(NOW)
    client = connect(HospitalClient, "wuhan")
    assert "华中科技大学同济医学院附属同济医院" in [h.name for h in client.hospitals()]
    assert client.hospital("同济").name == "华中科技大学同济医学院附属同济医院"
    slots = client.slots("同济", "小儿科", time_period="morning")
    assert slots and all(s.time_period == "morning" for s in slots)
    slot = slots[0]
    appointment = client.book(slot.slot_id, slot.fee, "李雷", resident_id(7), "13900139000")
    assert appointment.status == "booked" and appointment.date == slot.date and appointment.doctor == slot.doctor
    verification = client.start_verification(resident_id(7), "13900139000")
    token = client.confirm(verification.verification_id, citysim.otp("13900139000"))
    assert [a.appointment_id for a in client.appointments(token)] == [appointment.appointment_id]
    cancelled = client.cancel(appointment.appointment_id, token)
    assert cancelled.status == "cancelled"
    with pytest.raises(RequestRejected) as caught:
        client.slots("同济", "小儿科", day=date(2027, 1, 1))
    assert caught.value.code == "date_out_of_range"


def test_weather(citysim, connect):
    citysim.pin_clock(NOW)
    client = connect(WeatherClient, "shanghai")
    week = client.forecast()
    assert [d.date for d in week][:2] == [date(2026, 11, 27), date(2026, 11, 28)] and len(week) == 7
    assert client.forecast(date(2026, 11, 28)) == [week[1]]


def test_social(citysim, connect):
    citysim.pin_clock(NOW)
    person = citysim.seed("shanghai")["citizens"][0]
    client = connect(SocialClient, "shanghai")
    verification = client.start_verification(person["id_number"], person["phone"])
    assert verification.phone.endswith(person["phone"][-4:])
    with pytest.raises(RequestRejected) as caught:
        client.confirm(verification.verification_id, "abcdef")
    assert caught.value.code == "code_incorrect"
    token = client.confirm(verification.verification_id, citysim.otp(person["phone"]))
    insurance = client.insurance(token)
    assert insurance.name == person["name"] and insurance.months_paid > 0
    assert [i.type for i in insurance.insurances][0] == "养老保险"
    assert client.housing_fund(token).balance > 0


def test_hotline(citysim, connect):
    citysim.pin_clock(NOW)
    client = connect(HotlineClient, "foshan")
    ticket = client.create_ticket("路灯坏了", "禅城区季华路1号", "13800138000", category="市政设施")
    assert ticket.ticket_id.startswith("FS20261127") and len(ticket.ticket_id) == 18 and ticket.status == "已受理"
    citysim.pin_clock("2026-11-27T10:00:00+08:00")
    assert client.ticket(ticket.ticket_id).status == "处理中"
    verification = client.start_verification(None, "13800138000")
    token = client.confirm(verification.verification_id, citysim.otp("13800138000"))
    assert [t.ticket_id for t in client.tickets(token)] == [ticket.ticket_id]
