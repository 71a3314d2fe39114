"""Appointments against a fresh simulated city per test.

Doctors' weekly sessions are seeded, but which dates are open depends on
today, so the sessions a test books or expects to be closed are looked up
from the simulator first.
"""
from __future__ import annotations

from datetime import date, timedelta
from typing import Any, Dict, List, Optional, Set, Tuple

import pytest
from rasa_sdk import Tracker

from actions.appointment import today
from actions.appointment_booking import (
    ActionAskAppointmentFormConfirmed,
    ActionBookAppointment,
    ValidateAppointmentForm,
)
from actions.appointment_records import (
    ActionAskAppointmentId,
    ActionAskCancelAppointmentFormConfirmed,
    ActionCancelAppointment,
    ActionQueryAppointment,
    ValidateCancelAppointmentForm,
    ValidateQueryAppointmentForm,
)
from actions.department import ActionRecommendDepartment, ValidateDepartmentForm
from actions.clients.hospital import HospitalClient
from actions.identity import Identity
from common.codes import id_check_char
from actions.replies import yuan
from tests.actions.conftest import make_tracker, run_action, slot_events, texts

GZ_CHILDREN = "广州市妇女儿童医疗中心"
GZ_FIRST = "中山大学附属第一医院"
PHONE = "13800138000"


def resident_id(serial: int) -> str:
    first17 = f"44010619850301{serial:03d}"
    return first17 + id_check_char(first17)


def validate(form: Any, slots: Dict[str, Any], said: Dict[str, Any], text: str = "",
             intent: str = "inform", entities: Optional[List[Dict[str, Any]]] = None) -> Tuple[Dict, List]:
    """One turn of a form: `slots` known before, `said` extracted from this message."""
    tracker = make_tracker({**slots, **said}, intent=intent, text=text, entities=entities,
                           events=[{"event": "slot", "name": k, "value": v} for k, v in said.items()],
                           active_loop=form.form)
    events, messages = run_action(form, tracker)
    return slot_events(events), messages


CITY_CODES = {"广州": "guangzhou", "深圳": "shenzhen"}


def proven(citysim: Any, city: str, serial: int) -> Dict[str, Any]:
    """Slots of a citizen who passed the SMS check in this conversation (the real check)."""
    client = HospitalClient(f"{citysim.url}/{CITY_CODES[city]}/hospital")
    verification = client.start_verification(resident_id(serial), PHONE)
    access = client.confirm(verification.verification_id, citysim.otp(PHONE))
    identity = Identity(access, city, resident_id(serial), PHONE)
    return {"city": city, "id_number": resident_id(serial), "phone_number": PHONE, "identity_token": identity.dump()}


def citizen(citysim: Any, city: str, serial: int) -> Any:
    """The tracker of a verified citizen."""
    return make_tracker(proven(citysim, city, serial))


def buttons(messages: List[Dict[str, Any]]) -> List[Dict[str, str]]:
    return [b for m in messages for b in m.get("buttons", [])]


def open_sessions(citysim: Any, hospital: str, department: str) -> Set[Tuple[date, str]]:
    """(date, period) with a free place, after today (today's may close while the test runs)."""
    client = HospitalClient(f"{citysim.url}/guangzhou/hospital")
    return {(s.date, s.time_period) for s in client.slots(hospital, department)
            if s.remaining > 0 and s.date > today()}


def booking(citysim: Any, serial: int, department: str = "儿科") -> Dict[str, Any]:
    """Slots of a confirmed booking in the first open session."""
    day, period = min(open_sessions(citysim, GZ_FIRST, department))
    return {"city": "广州", "hospital": GZ_FIRST, "department": department, "date": day.isoformat(),
            "time_period": period, "id_number": resident_id(serial), "phone_number": PHONE, "confirmed": True}


def confirmed(slots: Dict[str, Any]) -> Tracker:
    """The tracker after the citizen saw the summary (doctor, fee) and said yes: the real path."""
    events, _ = run_action(ActionAskAppointmentFormConfirmed(), make_tracker({**slots, "confirmed": None}))
    return make_tracker({**slots, **slot_events(events), "confirmed": True})


def book(citysim: Any, serial: int, department: str = "儿科") -> str:
    """Book through the action; the appointment id."""
    _, messages = run_action(ActionBookAppointment(), confirmed(booking(citysim, serial, department)))
    return dict(messages[0]["custom"]["items"][0]["fields"])["预约号"]


# ------------------------------------------------------------- booking form
def test_hospital_alias_becomes_the_full_name(city_backends):
    slots, messages = validate(ValidateAppointmentForm(), {"city": "广州"}, {"hospital": "省医"})
    assert slots["hospital"] == "广东省人民医院" and slots["requested_slot"] == "department"
    assert messages == []


def test_hospital_of_another_city_is_explained_with_this_citys_hospitals(city_backends):
    slots, messages = validate(ValidateAppointmentForm(), {"city": "深圳"}, {"hospital": GZ_FIRST})
    assert slots["hospital"] is None
    assert f"{GZ_FIRST}在广州" in texts(messages) and "切换到广州" in texts(messages)
    assert {"title": "深圳市儿童医院", "payload": '/inform{"hospital": "深圳市儿童医院"}'} in buttons(messages)


def test_department_not_at_the_hospital_offers_its_departments(city_backends):
    slots, messages = validate(ValidateAppointmentForm(), {"city": "广州", "hospital": GZ_CHILDREN},
                               {"department": "骨科"})
    assert slots["department"] is None
    assert f"{GZ_CHILDREN}暂无“骨科”号源" in texts(messages)
    assert [b["title"] for b in buttons(messages)] == ["儿科", "妇科", "产科", "急诊科", "发热门诊"]


def test_department_alias_is_canonical(city_backends):
    slots, _ = validate(ValidateAppointmentForm(), {"city": "广州", "hospital": "广东省人民医院"},
                        {"department": "心内科"})
    assert slots["department"] == "心血管内科"


def test_department_chosen_first_is_checked_when_the_hospital_comes(city_backends):
    slots, messages = validate(ValidateAppointmentForm(), {"city": "广州", "department": "骨科"},
                               {"hospital": GZ_CHILDREN})
    assert slots["hospital"] == GZ_CHILDREN and slots["department"] is None
    assert f"{GZ_CHILDREN}暂无“骨科”号源" in texts(messages) and slots["requested_slot"] == "department"


def test_a_symptom_instead_of_a_department_is_turned_into_one(city_backends):
    known = {"city": "广州", "hospital": GZ_FIRST, "requested_slot": "department"}
    # The symptom slot is not this form's, so it is not among the slots to validate.
    slots, messages = validate(ValidateAppointmentForm(), known, {}, text="咳嗽好几天了",
                               entities=[{"entity": "symptom", "value": "咳嗽"}])
    assert slots["department"] == "呼吸内科" and "建议挂呼吸内科" in texts(messages)


def test_switching_city_after_choosing_a_hospital_asks_for_one_there(city_backends):
    known = {"city": "上海", "hospital": GZ_FIRST, "department": "儿科", "requested_slot": "date"}
    slots, messages = validate(ValidateAppointmentForm(), known, {"city": "上海"}, text="我在上海",
                               intent="set_city")
    assert slots["hospital"] is None and "department" not in slots  # still wanted, checked at the new one
    assert slots["requested_slot"] == "hospital"
    assert f"{GZ_FIRST}不在上海，请重新选择医院" in texts(messages) and "上海可预约的医院有" in texts(messages)
    assert "复旦大学附属华山医院" in [b["title"] for b in buttons(messages)]


@pytest.mark.parametrize("city, expected_hospital, explained", [
    ("广州", GZ_FIRST, None),
    ("深圳", None, f"{GZ_FIRST}不在深圳，请重新选择医院"),
])
def test_a_hospital_said_before_the_city_is_checked_once_the_city_is_known(
        city_backends, city, expected_hospital, explained):
    known = {"hospital": GZ_FIRST, "department": "骨科", "requested_slot": "city"}
    slots, messages = validate(ValidateAppointmentForm(), known, {"city": city}, text=city)
    assert slots["hospital"] == expected_hospital
    assert slots["requested_slot"] == ("date" if expected_hospital else "hospital")
    assert (explained or "") in texts(messages) and bool(messages) == bool(explained)


@pytest.mark.parametrize("said, expected, explained", [
    ("明天", (today() + timedelta(days=1)).isoformat(), None),
    ("昨天", None, "已经过去了"),
    ((today() + timedelta(days=20)).isoformat(), None, "14天内"),
    ("随便哪天", None, "没听懂是哪一天"),
])
def test_dates_are_iso_and_within_the_booking_window(city_backends, said, expected, explained):
    slots, messages = validate(ValidateAppointmentForm(), {"city": "广州"}, {"date": said})
    assert slots["date"] == expected
    assert (explained or "") in texts(messages) and bool(messages) == bool(explained)


@pytest.mark.parametrize("said, expected", [("下午", "afternoon"), ("evening", "evening"), ("早上", "morning"),
                                            ("随时", None)])
def test_time_of_day_is_canonical(city_backends, said, expected):
    slots, _ = validate(ValidateAppointmentForm(), {"city": "广州"}, {"time_period": said})
    assert slots["time_period"] == expected


def test_a_closed_session_offers_the_same_days_other_periods(city_backends):
    sessions = open_sessions(city_backends, GZ_FIRST, "眼科")
    day = min(d for d, _ in sessions)
    closed = next(p for p in ("morning", "afternoon", "evening") if (day, p) not in sessions)
    known = {"city": "广州", "hospital": GZ_FIRST, "department": "眼科", "date": day.isoformat()}
    slots, messages = validate(ValidateAppointmentForm(), known, {"time_period": closed})
    assert slots["time_period"] is None and "date" not in slots  # the day stays
    assert "没有可预约的号，当天" in texts(messages)
    offered = {b["payload"] for b in buttons(messages)}
    assert offered == {f'/inform{{"time_period": "{p}"}}' for d, p in sessions if d == day}


def test_a_day_without_sessions_offers_the_nearest_open_ones(city_backends):
    sessions = open_sessions(city_backends, GZ_FIRST, "眼科")
    closed_day = next(today() + timedelta(days=n) for n in range(2, 14)
                      if not any(d == today() + timedelta(days=n) for d, _ in sessions))
    known = {"city": "广州", "hospital": GZ_FIRST, "department": "眼科"}
    slots, messages = validate(ValidateAppointmentForm(), known,
                               {"date": closed_day.isoformat(), "time_period": "morning"})
    assert slots["date"] is None and slots["time_period"] is None
    assert "最近可预约的时段有" in texts(messages)
    first = buttons(messages)[0]["payload"]
    assert first.startswith('/inform{"date": "') and len(buttons(messages)) == 4


def test_an_open_session_goes_on_to_the_id_number(city_backends):
    day, period = min(open_sessions(city_backends, GZ_FIRST, "儿科"))
    known = {"city": "广州", "hospital": GZ_FIRST, "department": "儿科", "date": day.isoformat()}
    slots, messages = validate(ValidateAppointmentForm(), known, {"time_period": period})
    assert slots["time_period"] == period and slots["requested_slot"] == "id_number"
    assert messages == []


def test_slot_lookup_failure_ends_the_form_with_an_apology(city_backends):
    day, period = min(open_sessions(city_backends, GZ_FIRST, "儿科"))
    city_backends.inject_fault("error", service="hospital", status=503)
    known = {"city": "广州", "hospital": GZ_FIRST, "department": "儿科", "date": day.isoformat()}
    slots, messages = validate(ValidateAppointmentForm(), known, {"time_period": period})
    assert "抱歉" in texts(messages) and slots["requested_slot"] is None
    assert slots["hospital"] is None  # the form's own slots are forgotten


# ------------------------------------------------------------- ID and phone
def test_an_id_number_with_a_wrong_check_digit_is_explained(city_backends):
    good = resident_id(1)
    bad = good[:17] + ("0" if good[17] != "0" else "1")
    tracker = make_tracker({"city": "广州", "requested_slot": "id_number"}, text=f"身份证{bad}",
                           events=[{"event": "user", "text": bad}], active_loop="query_appointment_form")
    events, messages = run_action(ValidateQueryAppointmentForm(), tracker)
    assert "校验码" in texts(messages)
    slots = slot_events(events)
    assert slots["requested_slot"] == "id_number" and slots["validation_failures"] == 1


def test_id_number_x_is_upper_case_and_short_ones_explained(city_backends):
    first17 = "11010519491231002"
    with_x = first17 + id_check_char(first17)
    assert with_x.endswith("X")
    slots, _ = validate(ValidateQueryAppointmentForm(), {"city": "广州"}, {"id_number": with_x.lower()})
    assert slots["id_number"] == with_x
    slots, messages = validate(ValidateQueryAppointmentForm(), {"city": "广州"}, {"id_number": "4401061985"})
    assert slots["id_number"] is None and "应为18位" in texts(messages)


@pytest.mark.parametrize("said, expected", [
    ("138-0013-8000", PHONE), ("1380013800", None), ("23800138000", None),
])
def test_phone_numbers(city_backends, said, expected):
    slots, messages = validate(ValidateAppointmentForm(), {"city": "广州"}, {"phone_number": said})
    assert slots["phone_number"] == expected
    assert ("11位" in texts(messages)) == (expected is None)


# ---------------------------------------------------- confirmation, booking
def test_summary_masks_personal_data_and_names_the_doctor(city_backends):
    slots = {**booking(city_backends, 1), "confirmed": None}
    _, messages = run_action(ActionAskAppointmentFormConfirmed(), make_tracker(slots))
    text = texts(messages)
    assert "请确认挂号信息" in text and "医生：" in text and "挂号费" in text
    assert resident_id(1) not in text and PHONE not in text
    assert "4401**********" in text and "138****8000" in text
    assert [b["title"] for b in buttons(messages)] == ["确认", "取消"]


def test_booking_gives_a_receipt_and_forgets_the_booking(city_backends):
    tracker = confirmed(booking(city_backends, 2))
    events, messages = run_action(ActionBookAppointment(), tracker)
    assert "挂号成功" in texts(messages) and GZ_FIRST in texts(messages)
    card = messages[0]["custom"]
    assert card["type"] == "card_list" and card["title"] == "挂号凭证"
    fields = dict(card["items"][0]["fields"])
    assert fields["预约号"].startswith("GZGH") and fields["状态"] == "待就诊"
    assert {s: v for s, v in slot_events(events).items()} == {
        "hospital": None, "department": None, "date": None, "time_period": None, "confirmed": None,
        "confirmed_terms": None}
    _, again = run_action(ActionBookAppointment(), tracker)  # e.g. the action server retried
    assert texts(again) == texts(messages)


def test_the_same_department_twice_a_day_is_refused_with_the_backends_reason(city_backends):
    tracker = confirmed(booking(city_backends, 3))
    run_action(ActionBookAppointment(), tracker)
    later = make_tracker(tracker.slots, events=[{"event": "user", "timestamp": 2.0, "text": "确认"}])
    _, messages = run_action(ActionBookAppointment(), later)
    assert "没能挂上号" in texts(messages) and "不能重复挂号" in texts(messages)


def test_booking_backend_down_keeps_the_booking_for_another_try(city_backends):
    tracker = confirmed(booking(city_backends, 4))
    city_backends.inject_fault("error", service="hospital", status=503)
    events, messages = run_action(ActionBookAppointment(), tracker)
    assert "抱歉" in texts(messages) and "转人工" in texts(messages) and "确认已作废" in texts(messages)
    assert slot_events(events) == {"confirmed": None, "confirmed_terms": None}


def test_the_confirmed_doctor_and_fee_are_booked_not_another_place(city_backends):
    tracker = confirmed(booking(city_backends, 6))
    terms = tracker.get_slot("confirmed_terms")
    _, messages = run_action(ActionBookAppointment(), tracker)
    booked = dict(messages[0]["custom"]["items"][0]["fields"])
    doctor_id = terms["slot_id"].split("-")[0]
    assert booked["挂号费"] == yuan(terms["fee"]) and doctor_id.startswith("GZ")
    client = HospitalClient(f"{city_backends.url}/guangzhou/hospital")
    identity = Identity.load(proven(city_backends, "广州", 6)["identity_token"])
    assert [a.doctor.doctor_id for a in client.appointments(identity.access)] == [doctor_id]


def test_a_fee_other_than_the_confirmed_one_books_nothing(city_backends):
    tracker = confirmed(booking(city_backends, 7))
    tracker.slots["confirmed_terms"]["fee"] = "0.5"  # not what this doctor charges
    events, messages = run_action(ActionBookAppointment(), tracker)
    assert "没能挂上号" in texts(messages) and "挂号费与号源不符" in texts(messages)
    assert slot_events(events)["confirmed_terms"] is None
    _, listed = run_action(ActionQueryAppointment(), citizen(city_backends, "广州", 7))
    assert "没有查到" in texts(listed)


def test_a_yes_without_the_confirmed_place_books_nothing(city_backends):
    events, messages = run_action(ActionBookAppointment(), make_tracker(booking(city_backends, 8)))
    assert "没有找到您确认过的挂号信息" in texts(messages) and slot_events(events)["confirmed"] is None
    _, listed = run_action(ActionQueryAppointment(), citizen(city_backends, "广州", 8))
    assert "没有查到" in texts(listed)


def test_a_place_confirmed_for_another_day_books_nothing(city_backends):
    tracker = confirmed(booking(city_backends, 9))
    day = date.fromisoformat(tracker.get_slot("date"))
    tracker.slots["date"] = date.fromordinal(day.toordinal() + 1).isoformat()
    _, messages = run_action(ActionBookAppointment(), tracker)
    assert "没有找到您确认过的挂号信息" in texts(messages) and "挂号成功" not in texts(messages)


def test_nothing_is_booked_without_confirmation(city_backends):
    slots = {**booking(city_backends, 5), "confirmed": None}
    events, messages = run_action(ActionBookAppointment(), make_tracker(slots))
    assert messages == [] and slot_events(events)["hospital"] is None
    _, listed = run_action(ActionQueryAppointment(), citizen(city_backends, "广州", 5))
    assert "没有查到" in texts(listed)


# ------------------------------------------------------------------ query
def test_query_lists_appointments_with_a_cancel_button(city_backends):
    appointment_id = book(city_backends, 6)
    _, messages = run_action(ActionQueryAppointment(), citizen(city_backends, "广州", 6))
    assert "共有 1 条挂号记录，其中待就诊 1 条" in texts(messages) and appointment_id in texts(messages)
    assert resident_id(6) not in texts(messages)
    card = messages[0]["custom"]["items"][0]
    assert card["buttons"] == [{"title": "取消",
                                "payload": f'/cancel_appointment{{"appointment_id": "{appointment_id}"}}'}]


def test_query_in_another_city_finds_nothing(city_backends):
    book(city_backends, 7)
    _, messages = run_action(ActionQueryAppointment(), citizen(city_backends, "深圳", 7))
    assert "在深圳的挂号记录" in texts(messages) and buttons(messages)[0]["payload"] == "/book_appointment"


def test_query_backend_down(city_backends):
    tracker = citizen(city_backends, "广州", 8)
    city_backends.inject_fault("timeout", service="hospital")
    _, messages = run_action(ActionQueryAppointment(), tracker)
    assert "抱歉" in texts(messages)


# ----------------------------------------------------------------- cancel
def test_an_id_number_alone_lists_nothing_and_asks_for_the_phone_then_a_code(city_backends):
    book(city_backends, 20)
    unverified = make_tracker({"city": "广州", "id_number": resident_id(20)})
    _, messages = run_action(ActionQueryAppointment(), unverified)
    assert messages == []
    slots, _ = validate(ValidateQueryAppointmentForm(), {"city": "广州"}, {"id_number": resident_id(20)})
    assert slots["requested_slot"] == "phone_number"
    slots, messages = validate(ValidateQueryAppointmentForm(), {"city": "广州", "id_number": resident_id(20)},
                               {"phone_number": PHONE})
    assert slots["requested_slot"] == "otp_code" and "验证码已发送至138****8000" in texts(messages)


def test_the_code_once_per_session_then_no_second_code(city_backends):
    known = proven(city_backends, "广州", 21)
    slots, messages = validate(ValidateCancelAppointmentForm(), {"city": "广州"},
                               {"id_number": resident_id(21), "phone_number": PHONE,
                                "identity_token": known["identity_token"]})
    assert slots["requested_slot"] is None and "验证码" not in texts(messages)


def test_a_code_texted_and_typed_verifies(city_backends):
    appointment_id = book(city_backends, 22)
    known = {"city": "广州", "id_number": resident_id(22), "phone_number": PHONE}
    texted, _ = validate(ValidateCancelAppointmentForm(), {"city": "广州"},
                         {"id_number": resident_id(22), "phone_number": PHONE})
    slots, _ = validate(ValidateCancelAppointmentForm(), {**known, **texted, "requested_slot": "otp_code"},
                        {"otp_code": city_backends.otp(PHONE)})
    assert slots["identity_token"] and slots["appointment_id"] == appointment_id
    assert slots["requested_slot"] == "confirmed"


def test_nothing_to_cancel_ends_the_form(city_backends):
    slots, messages = validate(ValidateCancelAppointmentForm(), proven(city_backends, "广州", 9), {})
    assert slots["requested_slot"] is None and "不需要取消" in texts(messages)


def test_the_only_appointment_is_chosen_by_itself(city_backends):
    appointment_id = book(city_backends, 10)
    slots, _ = validate(ValidateCancelAppointmentForm(), proven(city_backends, "广州", 10), {})
    assert slots["appointment_id"] == appointment_id and slots["requested_slot"] == "confirmed"


def test_several_appointments_are_offered_as_buttons(city_backends):
    first, second = book(city_backends, 11, "儿科"), book(city_backends, 11, "骨科")
    slots, _ = validate(ValidateCancelAppointmentForm(), proven(city_backends, "广州", 11), {})
    assert slots["requested_slot"] == "appointment_id"
    _, messages = run_action(ActionAskAppointmentId(), citizen(city_backends, "广州", 11))
    offered = {b["payload"] for b in buttons(messages)}
    assert offered == {f'/inform{{"appointment_id": "{a}"}}' for a in (first, second)}


def test_an_appointment_of_someone_else_is_not_accepted(city_backends):
    other = book(city_backends, 12)
    book(city_backends, 13)
    slots, messages = validate(ValidateCancelAppointmentForm(), proven(city_backends, "广州", 13),
                               {"appointment_id": other})
    assert slots["appointment_id"] is None and "请从列表里选择" in texts(messages)


def test_cancel_confirmation_then_cancelled(city_backends):
    appointment_id = book(city_backends, 14)
    slots = {**proven(city_backends, "广州", 14), "appointment_id": appointment_id}
    _, asked = run_action(ActionAskCancelAppointmentFormConfirmed(), make_tracker(slots))
    assert "确认取消以下预约吗" in texts(asked) and GZ_FIRST in texts(asked)
    events, messages = run_action(ActionCancelAppointment(), make_tracker({**slots, "confirmed": True}))
    assert "已取消预约" in texts(messages) and appointment_id in texts(messages)
    assert slot_events(events) == {"appointment_id": None, "confirmed": None}
    _, listed = run_action(ActionQueryAppointment(), make_tracker(slots))
    assert "已取消" in texts(listed) and "待就诊 0 条" in texts(listed)


def test_cancel_without_verification_does_nothing(city_backends):
    appointment_id = book(city_backends, 17)
    slots = {"city": "广州", "id_number": resident_id(17), "appointment_id": appointment_id, "confirmed": True}
    _, messages = run_action(ActionCancelAppointment(), make_tracker(slots))
    assert "已取消预约" not in texts(messages)
    _, listed = run_action(ActionQueryAppointment(), citizen(city_backends, "广州", 17))
    assert "待就诊 1 条" in texts(listed)


def test_saying_no_keeps_the_appointment(city_backends):
    appointment_id = book(city_backends, 15)
    known = {**proven(city_backends, "广州", 15), "appointment_id": appointment_id, "requested_slot": "confirmed"}
    slots, messages = validate(ValidateCancelAppointmentForm(), known, {"confirmed": False}, intent="deny")
    assert slots["requested_slot"] is None and "预约保留不变" in texts(messages)


def test_cancel_backend_down(city_backends):
    appointment_id = book(city_backends, 16)
    slots = {**proven(city_backends, "广州", 16), "appointment_id": appointment_id, "confirmed": True}
    city_backends.inject_fault("error", service="hospital", status=502)
    _, messages = run_action(ActionCancelAppointment(), make_tracker(slots))
    assert "抱歉" in texts(messages) and "已取消预约" not in texts(messages)


# ---------------------------------------------------------- which department
def recommend(said: str) -> Tuple[str, List[Dict[str, str]]]:
    _, messages = run_action(ActionRecommendDepartment(), make_tracker({"symptom": said}))
    return texts(messages), buttons(messages)


def test_several_symptoms_go_to_the_department_most_of_them_point_to():
    text, offered = recommend("头疼、咳嗽、头晕")
    assert "建议挂神经内科" in text and "120" not in text
    assert offered == [{"title": "预约神经内科", "payload": '/book_appointment{"department": "神经内科"}'}]


def test_a_fever_goes_to_the_fever_clinic_first():
    text, offered = recommend("头疼、发烧")
    assert "建议挂发热门诊" in text and "需先到发热门诊" in text
    assert offered[0]["payload"] == '/book_appointment{"department": "发热门诊"}'


def test_serious_symptoms_come_with_an_emergency_warning():
    text, _ = recommend("胸痛、呼吸困难")
    assert "急诊" in text and "120" in text and "建议挂心血管内科" in text


def test_unknown_symptoms_get_general_medicine_advice():
    text, offered = recommend("浑身没劲")
    assert "内科" in text and "全科" in text and offered[0]["title"] == "预约内科"


def test_children_go_to_paediatrics():
    text, _ = recommend("孩子发烧")
    assert "建议挂儿科" in text


def test_symptoms_in_own_words_are_taken_as_the_answer(city_backends):
    known = {"requested_slot": "symptom"}
    tracker = make_tracker(known, text="胸口疼得厉害，还喘不上气", events=[{"event": "user", "text": "x"}],
                           active_loop="department_form")
    events, _ = run_action(ValidateDepartmentForm(), tracker)
    assert slot_events(events)["symptom"] == "胸口疼得厉害，还喘不上气"
    assert slot_events(events)["requested_slot"] is None


def test_the_whole_message_is_kept_so_every_symptom_counts(city_backends):
    slots, _ = validate(ValidateDepartmentForm(), {}, {"symptom": "发烧"}, text="孩子头疼发烧挂什么科",
                        intent="recommend_department")
    assert slots["symptom"] == "孩子头疼发烧挂什么科"
    text, _ = recommend(slots["symptom"])
    assert "根据“头疼、发烧”，建议挂儿科" in text


def test_a_symptom_from_an_earlier_message_is_asked_again(city_backends):
    slots, _ = validate(ValidateDepartmentForm(), {}, {"symptom": "发烧"}, text="挂什么科",
                        intent="recommend_department")
    assert slots["symptom"] is None and slots["requested_slot"] == "symptom"


def test_the_recommendation_forgets_the_symptom():
    events, _ = run_action(ActionRecommendDepartment(), make_tracker({"symptom": "牙疼"}))
    assert slot_events(events) == {"symptom": None}
