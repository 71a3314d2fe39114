"""Hospital appointments: book (挂号), look up, cancel, and which department (导诊).

Hospitals, departments and free places come from the city's hospital
platform. The citizen chooses a day and a time of day; the first doctor with
a free place in that session is booked. Before anything is booked the chosen
session is checked, so a full one is said at once, with the nearest open
sessions as buttons. Resident IDs are checked locally (checksum) before any
backend sees them, and every reply masks them.
"""
from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import lru_cache
from typing import Any, Dict, List, Optional, Sequence, Text, Tuple

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import confirmation, replies
from actions.backends import call, client_for, idempotency_key
from actions.clients.base import BackendError, RequestRejected
from actions.clients.hospital import Appointment, Hospital, HospitalClient, Slot
from actions.clients.identity import AccessToken
from actions.forms import ServiceForm
from actions.identity import (OTP_SLOT, VERIFICATION_SLOT, VerifiedForm, VerifiedLookup, explain_bad_id_number,
                              id_number_problem, verified_identity)
from common import gazetteer
from common import codes, dates

PERIOD_NAMES = {"morning": "上午", "afternoon": "下午", "evening": "晚上"}
WEEKDAY_NAMES = "一二三四五六日"
# Hospitals release places for today and the next 13 days.
BOOKING_DAYS = 14
# Booking is by real name: the ID number identifies the patient and the
# hospital fills in the registered name at check-in, so the form does not ask it.
PATIENT_NAME = "就诊人"
ALTERNATIVES = 4  # open sessions offered when the chosen one is full
SCHEDULE_SLOTS = ("hospital", "department", "date", "time_period")
BOOKING_SLOTS = [*SCHEDULE_SLOTS, "confirmed", confirmation.TERMS_SLOT]
PATIENT_SLOTS = ("id_number", "phone_number")
PHONE = re.compile(r"1[3-9][0-9]{9}")
# Symptoms that may be an emergency: the citizen is told to go to 急诊 or call
# 120 first; the department is the one to see once it is not acute.
URGENT_SYMPTOMS = {
    "胸痛": "心血管内科", "胸口痛": "心血管内科", "胸口疼": "心血管内科",
    "呼吸困难": "呼吸内科", "喘不上气": "呼吸内科", "喘不过气": "呼吸内科", "咯血": "呼吸内科",
    "吐血": "消化内科", "便血": "消化内科", "剧烈腹痛": "消化内科",
    "昏迷": "急诊科", "晕倒": "急诊科", "大出血": "急诊科",
    "抽搐": "神经内科", "口角歪斜": "神经内科", "半身麻木": "神经内科", "说话不清": "神经内科",
}
# Hospitals see anyone with a fever at the fever clinic first, whatever else hurts.
FIRST_STOP = "发热门诊"
CHILD_WORDS = ("孩子", "小孩", "宝宝", "儿子", "女儿", "小朋友")
# Intents of an answer to “哪里不舒服” taken as a description in the citizen's own words.
DESCRIPTION_INTENTS = ("inform", "nlu_fallback")
CHILDREN_DEPARTMENT = "儿科"
GENERAL_DEPARTMENT = "内科"
BOOK_BUTTON = {"title": "预约挂号", "payload": "/book_appointment"}


# ------------------------------------------------------------------ helpers
def hospital_client(city: Optional[str]) -> HospitalClient:
    client = client_for(HospitalClient, city, "hospital")
    if client is None:  # forms only run in cities that offer the service
        raise BackendError("预约挂号服务暂未开通", retryable=False)
    return client


def today() -> date:
    return dates.now_in_china().date()


def day_label(day: date) -> str:
    return f"{day.month}月{day.day}日（周{WEEKDAY_NAMES[day.weekday()]}）"


def session_label(day: date, period: str) -> str:
    return f"{day_label(day)}{PERIOD_NAMES[period]}"



def is_upcoming(a: Appointment) -> bool:
    return a.status == "booked" and a.date >= today()


def status_label(a: Appointment) -> str:
    if a.status == "cancelled":
        return "已取消"
    return "待就诊" if is_upcoming(a) else "已过就诊日"


def describe(a: Appointment) -> str:
    return (f"{session_label(a.date, a.time_period)} {a.visit_time} {a.hospital} {a.department} "
            f"{a.doctor.name}（{a.doctor.title}）")


def appointment_card(a: Appointment, buttons: Sequence[Dict[str, str]] = ()) -> Dict[str, Any]:
    return replies.card(
        title=f"{a.hospital} {a.department}",
        subtitle=f"{session_label(a.date, a.time_period)} {a.visit_time}",
        fields=[("医生", f"{a.doctor.name}（{a.doctor.title}）"), ("排队号", f"第{a.queue_number}号"),
                ("挂号费", replies.yuan(a.fee)), ("预约号", a.appointment_id), ("状态", status_label(a))],
        buttons=buttons,
    )


def canonical_department(name: str) -> str:
    return gazetteer.load().canonical_names("department").get(name, name)


def city_of_hospital(name: str) -> Optional[str]:
    """The served city that has a hospital by this name or alias."""
    for city in gazetteer.load().cities.values():
        if any(name == h.name or name in h.aliases for h in city.hospitals):
            return city.city
    return None


async def find_hospital(client: HospitalClient, name: str) -> Optional[Hospital]:
    """The hospital by name or alias, None where the city has no such hospital."""
    try:
        return await call(client.hospital, name)
    except RequestRejected:
        return None


async def open_slot(tracker: Tracker) -> Optional[Slot]:
    """The first doctor with a free place in the chosen session."""
    client = hospital_client(tracker.get_slot("city"))
    found = await call(client.slots, tracker.get_slot("hospital"), tracker.get_slot("department"),
                       date.fromisoformat(tracker.get_slot("date")), tracker.get_slot("time_period"))
    return next((s for s in found if s.remaining > 0), None)


async def upcoming_appointments(tracker: Tracker) -> List[Appointment]:
    """The verified citizen's appointments that can still be kept or cancelled (none if not verified)."""
    identity = verified_identity(tracker)
    if identity is None:
        return []
    found = await call(hospital_client(tracker.get_slot("city")).appointments, identity.access)
    return [a for a in found if is_upcoming(a)]


def backend_down(dispatcher: CollectingDispatcher, error: BackendError) -> Dict[Text, Any]:
    """The platform cannot answer: say so and end the form."""
    replies.backend_failure(dispatcher, error)
    return {"requested_slot": None}


# -------------------------------------------------------------------- forms
class PatientForm(ServiceForm):
    """What the three appointment forms share: the hospital platform, the citizen's
    ID number and phone, and a city that may change mid-form."""

    service = "hospital"
    transient_slots: List[str] = []

    def not_an_answer(
        self, dispatcher: CollectingDispatcher, tracker: Tracker
    ) -> Optional[List[EventType]]:
        return explain_bad_id_number(self, dispatcher, tracker) or super().not_an_answer(dispatcher, tracker)

    async def validate_id_number(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        id_number = codes.canonical_id_number(str(value)) if value else None
        if id_number is None:
            dispatcher.utter_message(text=id_number_problem(str(value or "")))
        return {"id_number": id_number}

    async def validate_phone_number(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        phone = re.sub(r"[\s-]", "", str(value or ""))
        if not PHONE.fullmatch(phone):
            dispatcher.utter_message(text="手机号应为以1开头的11位数字，请核对后再输入。")
            return {"phone_number": None}
        return {"phone_number": phone}


class ValidateAppointmentForm(PatientForm):
    form = "appointment_form"
    slots = ["hospital", "department", "date", "time_period", "id_number", "phone_number"]
    final_slots = ["confirmed"]
    transient_slots = BOOKING_SLOTS

    def not_an_answer(
        self, dispatcher: CollectingDispatcher, tracker: Tracker
    ) -> Optional[List[EventType]]:
        """What hurts, said instead of a department, is an answer (see extract_department)."""
        symptom = next(tracker.get_latest_entity_values("symptom"), None)
        if tracker.get_slot("requested_slot") == "department" and symptom:
            return None
        return super().not_an_answer(dispatcher, tracker)

    async def validate_hospital(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        """Checked against the city once both are known (check_hospital)."""
        return {"hospital": str(value).strip()}

    async def validate_department(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        """The canonical name; whether the hospital has it is checked with the hospital."""
        return {"department": canonical_department(str(value))}

    async def extract_department(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        """Asked for the department, the citizen may say what hurts instead."""
        if tracker.get_slot("requested_slot") != "department" or next(
            tracker.get_latest_entity_values("department"), None
        ):
            return {}
        said = " ".join(tracker.get_latest_entity_values("symptom"))
        if not said:
            return {}
        advice = recommend(said)
        dispatcher.utter_message(text=f"根据“{'、'.join(advice.symptoms)}”，建议挂{advice.department}。")
        return {"department": advice.department}

    async def validate_date(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        """ISO or words (the slot mapping's validation usually converted it already)."""
        resolved = dates.resolve(str(value), dates.now_in_china()) if value else None
        if resolved is None:
            dispatcher.utter_message(text="没听懂是哪一天，例如 明天、下周一、12月3号。")
            return {"date": None}
        day, first = date.fromisoformat(resolved.date), today()
        if day < first:
            dispatcher.utter_message(text=f"{day_label(day)}已经过去了，请选择今天或以后的日期。")
            return {"date": None}
        last = date.fromordinal(first.toordinal() + BOOKING_DAYS - 1)
        if day > last:
            dispatcher.utter_message(
                text=f"医院只开放今天起{BOOKING_DAYS}天内（到{day_label(last)}）的号源，请选这段时间内的日期。"
            )
            return {"date": None}
        return {"date": day.isoformat()}

    async def validate_time_period(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        period = value if value in PERIOD_NAMES else dates.parse_time_period(str(value or ""))
        if period is None:
            dispatcher.utter_message(text="请选择上午、下午或晚上。")
        return {"time_period": period}

    async def get_validation_events(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        """Each slot on its own first; then, once per turn, what depends on several:
        the hospital is in the city and has the department, the session is open."""
        events = await super().get_validation_events(dispatcher, tracker, domain)
        said = {e["name"] for e in events if e["value"] is not None}
        checks = ((("city", "hospital"), {"department"}, self.check_hospital),
                  (("city", *SCHEDULE_SLOTS), set(), self.check_session))
        for needed, also_after, check in checks:
            if any(e["name"] == "requested_slot" and e["value"] is None for e in events):
                break  # the form ended
            if said & {*needed, *also_after} and all(tracker.get_slot(s) for s in needed):
                checked = [SlotSet(slot, value) for slot, value in (await check(dispatcher, tracker)).items()]
                tracker.add_slots(checked)
                events += checked
        return events

    async def check_hospital(self, dispatcher: CollectingDispatcher, tracker: Tracker) -> Dict[Text, Any]:
        """The hospital by its full name, if the city has it; the department, if the hospital has it."""
        city, name, department = (tracker.get_slot(s) for s in ("city", "hospital", "department"))
        try:
            client = hospital_client(city)
            hospital = await find_hospital(client, name)
            if hospital is None:
                await self.offer_hospitals(dispatcher, client, city, self.not_here(tracker, name, city))
                return {"hospital": None}
        except BackendError as error:
            return backend_down(dispatcher, error)
        if department and department not in hospital.departments:
            self.offer_departments(dispatcher, hospital, f"{hospital.name}暂无“{department}”号源。")
            return {"hospital": hospital.name, "department": None}
        return {"hospital": hospital.name}

    async def check_session(self, dispatcher: CollectingDispatcher, tracker: Tracker) -> Dict[Text, Any]:
        """A full or closed session: offer that day's other periods, else the nearest open days."""
        hospital, department = tracker.get_slot("hospital"), tracker.get_slot("department")
        day, period = date.fromisoformat(tracker.get_slot("date")), tracker.get_slot("time_period")
        try:
            found = await call(hospital_client(tracker.get_slot("city")).slots, hospital, department)
        except BackendError as error:
            return backend_down(dispatcher, error)
        sessions: List[Tuple[date, str]] = list(dict.fromkeys((s.date, s.time_period) for s in found
                                                              if s.remaining > 0))
        if (day, period) in sessions:
            return {}
        chosen = f"{hospital}{department} {session_label(day, period)}没有可预约的号"
        same_day = [p for d, p in sessions if d == day]
        if same_day:
            dispatcher.utter_message(
                text=f"{chosen}，当天{'、'.join(PERIOD_NAMES[p] for p in same_day)}还有号，请选择：",
                buttons=[{"title": PERIOD_NAMES[p], "payload": replies.intent_payload("inform", time_period=p)} for p in same_day],
            )
            return {"time_period": None}
        if sessions:
            nearest = sessions[:ALTERNATIVES]
            dispatcher.utter_message(
                text=f"{chosen}，最近可预约的时段有：",
                buttons=[{"title": session_label(d, p), "payload": replies.intent_payload("inform", date=d.isoformat(), time_period=p)}
                         for d, p in nearest],
            )
            return {"date": None, "time_period": None}
        dispatcher.utter_message(
            text=f"{hospital}{department}近{BOOKING_DAYS}天的号都已约满，可以换一家医院或科室再试。"
        )
        return {"requested_slot": None}

    @staticmethod
    def not_here(tracker: Tracker, hospital: str, city: str) -> str:
        """Why the hospital cannot be booked in this city, and what to do."""
        said = tracker.slots_to_validate()
        if "city" in said and "hospital" not in said:  # the city came after the hospital
            return f"{hospital}不在{city}，请重新选择医院。"
        elsewhere = city_of_hospital(hospital)
        if elsewhere and elsewhere != city:
            return f"{hospital}在{elsewhere}，不在{city}（要约{elsewhere}的医院，请先说“切换到{elsewhere}”）。"
        return f"{city}暂未接入“{hospital}”的预约挂号。"

    @staticmethod
    async def offer_hospitals(
        dispatcher: CollectingDispatcher, client: HospitalClient, city: str, intro: str
    ) -> None:
        hospitals = await call(client.hospitals)
        dispatcher.utter_message(
            text=f"{intro}{city}可预约的医院有：",
            buttons=[{"title": h.name, "payload": replies.intent_payload("inform", hospital=h.name)} for h in hospitals],
        )

    @staticmethod
    def offer_departments(dispatcher: CollectingDispatcher, hospital: Hospital, intro: str) -> None:
        dispatcher.utter_message(
            text=f"{intro}可预约的科室有：",
            buttons=[{"title": d, "payload": replies.intent_payload("inform", department=d)} for d in hospital.departments],
        )


class ValidateQueryAppointmentForm(VerifiedForm):
    """The SMS check first (once per session): an ID number alone shows nobody's appointments."""

    form = "query_appointment_form"
    service = "hospital"
    client_class = HospitalClient


class ValidateCancelAppointmentForm(ValidateQueryAppointmentForm):
    form = "cancel_appointment_form"
    final_slots = [OTP_SLOT, "appointment_id", "confirmed"]
    transient_slots = [OTP_SLOT, VERIFICATION_SLOT, "appointment_id", "confirmed"]
    declined_text = "好的，预约保留不变，没有取消。"  # "已取消" would suggest the opposite

    async def get_validation_events(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        """Once the citizen is verified: nothing to cancel ends the form, one appointment is chosen."""
        events = await super().get_validation_events(dispatcher, tracker, domain)
        tracker.add_slots(events)
        ended = any(e.get("name") == "requested_slot" and e.get("value") is None for e in events)
        chosen_now = "appointment_id" in tracker.slots_to_validate()  # checked by its validator
        if ended or chosen_now or not self.verified(tracker) or tracker.get_slot("requested_slot") in (
                "appointment_id", "confirmed"):
            return events
        try:
            upcoming = await upcoming_appointments(tracker)
        except BackendError as error:
            return events + [SlotSet(k, v) for k, v in backend_down(dispatcher, error).items()]
        chosen = tracker.get_slot("appointment_id")
        if not upcoming:
            masked = codes.mask_id_number(tracker.get_slot("id_number"))
            dispatcher.utter_message(text=f"没有查到身份证 {masked} 名下待就诊的预约，不需要取消。")
            return events + [SlotSet("requested_slot", None)]
        if chosen and chosen not in {a.appointment_id for a in upcoming}:
            dispatcher.utter_message(text="这条预约不存在、已取消或已过就诊日，请从列表里选择。")
            return events + [SlotSet("appointment_id", None)]
        if not chosen and len(upcoming) == 1:
            return events + [SlotSet("appointment_id", upcoming[0].appointment_id)]
        return events

    async def validate_appointment_id(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        """Checked against the citizen's own appointments once they are verified."""
        if not self.verified(tracker):
            return {"appointment_id": value}
        try:
            upcoming = {a.appointment_id for a in await upcoming_appointments(tracker)}
        except BackendError as error:
            return backend_down(dispatcher, error)
        if value not in upcoming:
            dispatcher.utter_message(text="这条预约不存在、已取消或已过就诊日，请从列表里选择。")
            return {"appointment_id": None}
        return {"appointment_id": value}


# ---------------------------------------------------------- book: actions
def booking_subject(tracker: Tracker) -> Dict[str, Any]:
    """Which session of which department, for whom: what a booking confirmation is about."""
    return {slot: tracker.get_slot(slot) for slot in ("city", *SCHEDULE_SLOTS, *PATIENT_SLOTS)}


class ActionAskAppointmentFormConfirmed(Action):
    """The summary to confirm, with the doctor and fee of the very place that will be booked."""

    def name(self) -> Text:
        return "action_ask_appointment_form_confirmed"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        try:
            slot = await open_slot(tracker)
        except BackendError as error:
            replies.backend_failure(dispatcher, error)
            return confirmation.END_FORM
        if slot is None:
            dispatcher.utter_message(text="这个时段的号刚刚被约完了，请换个时段再约。", buttons=[BOOK_BUTTON])
            return confirmation.END_FORM
        day = date.fromisoformat(tracker.get_slot("date"))
        lines = [f"医院：{tracker.get_slot('hospital')}", f"科室：{tracker.get_slot('department')}",
                 f"时间：{session_label(day, tracker.get_slot('time_period'))}",
                 f"医生：{slot.doctor.name}（{slot.doctor.title}），挂号费 {replies.yuan(slot.fee)}",
                 f"身份证：{codes.mask_id_number(tracker.get_slot('id_number'))}",
                 f"手机：{codes.mask_phone(tracker.get_slot('phone_number'))}"]
        dispatcher.utter_message(text="请确认挂号信息：\n" + "\n".join(lines), buttons=replies.CONFIRM_BUTTONS)
        return [confirmation.remember(booking_subject(tracker), slot_id=slot.slot_id, fee=slot.fee)]


class ActionBookAppointment(Action):
    """Books the place the citizen confirmed (doctor, session, fee), never another one."""

    def name(self) -> Text:
        return "action_book_appointment"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        done = [SlotSet(s, None) for s in BOOKING_SLOTS]
        needed = [*SCHEDULE_SLOTS, *PATIENT_SLOTS]
        if tracker.get_slot("confirmed") is not True or any(not tracker.get_slot(s) for s in needed):
            return done
        terms = confirmation.confirmed_terms(tracker, booking_subject(tracker))
        if terms is None:
            return confirmation.refuse_unconfirmed(dispatcher, "挂号") + done
        try:
            key = idempotency_key(tracker, terms["subject"], terms["slot_id"], terms["fee"])
            booked = await call(hospital_client(tracker.get_slot("city")).book, terms["slot_id"],
                                Decimal(terms["fee"]), PATIENT_NAME, tracker.get_slot("id_number"),
                                tracker.get_slot("phone_number"), key)
        except RequestRejected as error:
            confirmation.not_done(dispatcher, error, "挂号", rejected="没能挂上号")
            return done
        except BackendError as error:
            confirmation.not_done(dispatcher, error, "挂号")
            return list(confirmation.CLEARED)  # the rest is kept for another try
        dispatcher.utter_message(
            text=f"挂号成功！{describe(booked)}，第{booked.queue_number}号，预约号 {booked.appointment_id}。"
            "请携带身份证按时就诊；如需取消，请在就诊时段开始前办理。",
            json_message=replies.card_list("挂号凭证", [appointment_card(booked)]),
        )
        return done


# --------------------------------------------------- query/cancel: actions
def cancel_button(a: Appointment) -> Dict[str, str]:
    return {"title": "取消", "payload": replies.intent_payload("cancel_appointment", appointment_id=a.appointment_id)}


class ActionQueryAppointment(VerifiedLookup):
    form = "query_appointment_form"
    client_class = HospitalClient
    service = "hospital"

    def name(self) -> Text:
        return "action_query_appointment"

    async def fetch(self, client: HospitalClient, access: AccessToken) -> List[Appointment]:
        return await call(client.appointments, access)

    def answer(self, found: List[Appointment], dispatcher: CollectingDispatcher,
               tracker: Tracker) -> List[EventType]:
        masked = codes.mask_id_number(tracker.get_slot("id_number"))
        if not found:
            dispatcher.utter_message(text=f"没有查到身份证 {masked} 在{tracker.get_slot('city')}的挂号记录。",
                                     buttons=[BOOK_BUTTON])
            return []
        upcoming = [a for a in found if is_upcoming(a)]
        lines = [f"{i}. {describe(a)}，预约号 {a.appointment_id}（{status_label(a)}）"
                 for i, a in enumerate(found, 1)]
        cards = [appointment_card(a, [cancel_button(a)] if is_upcoming(a) else []) for a in found]
        dispatcher.utter_message(
            text="\n".join([f"身份证 {masked} 共有 {len(found)} 条挂号记录，其中待就诊 {len(upcoming)} 条：", *lines]),
            json_message=replies.card_list("我的挂号", cards),
        )
        return []


class ActionAskAppointmentId(Action):
    """Which appointment to cancel, when there is more than one (one is chosen by itself)."""

    def name(self) -> Text:
        return "action_ask_appointment_id"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        try:
            upcoming = await upcoming_appointments(tracker)
        except BackendError as error:
            replies.backend_failure(dispatcher, error)
            return []
        dispatcher.utter_message(
            text="请选择要取消的预约：",
            buttons=[{"title": describe(a), "payload": replies.intent_payload("inform", appointment_id=a.appointment_id)}
                     for a in upcoming],
        )
        return []


class ActionAskCancelAppointmentFormConfirmed(Action):
    def name(self) -> Text:
        return "action_ask_cancel_appointment_form_confirmed"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        chosen = tracker.get_slot("appointment_id")
        try:
            upcoming = await upcoming_appointments(tracker)
        except BackendError:
            upcoming = []  # the number alone; the cancellation itself will tell what is wrong
        number = f"预约号 {chosen}"
        what = next((f"{describe(a)}，{number}" for a in upcoming if a.appointment_id == chosen), number)
        dispatcher.utter_message(text=f"确认取消以下预约吗？\n{what}", buttons=replies.CONFIRM_BUTTONS)
        return []


class ActionCancelAppointment(Action):
    def name(self) -> Text:
        return "action_cancel_appointment"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        chosen = tracker.get_slot("appointment_id")
        done = [SlotSet("appointment_id", None), SlotSet("confirmed", None)]
        identity = verified_identity(tracker)
        if not chosen or tracker.get_slot("confirmed") is not True or identity is None:
            return done
        try:
            cancelled = await call(hospital_client(tracker.get_slot("city")).cancel, chosen, identity.access,
                                   idempotency_key=idempotency_key(tracker, chosen))
        except BackendError as error:
            confirmation.not_done(dispatcher, error, "取消预约", rejected="没能取消")
            return done
        dispatcher.utter_message(
            text=f"已取消预约：{describe(cancelled)}，预约号 {cancelled.appointment_id}。",
            json_message=replies.card_list("取消预约", [appointment_card(cancelled)]),
        )
        return done


# -------------------------------------------------------- recommendation
@dataclass(frozen=True)
class Recommendation:
    department: str
    symptoms: List[str]  # the known ones, as said
    urgent: List[str]


@lru_cache(maxsize=None)
def _symptom_pattern() -> re.Pattern[str]:
    words = {*gazetteer.load().symptoms, *URGENT_SYMPTOMS}
    return re.compile("|".join(map(re.escape, sorted(words, key=len, reverse=True))))


def recommend(said: str) -> Recommendation:
    """Children: 儿科; a fever: 发热门诊; else the department most symptoms point to; unknown: 内科."""
    mapping = {**gazetteer.load().symptoms, **URGENT_SYMPTOMS}
    symptoms = list(dict.fromkeys(_symptom_pattern().findall(said)))
    urgent = [s for s in symptoms if s in URGENT_SYMPTOMS]
    departments = Counter(mapping[s] for s in symptoms)
    if any(word in said for word in CHILD_WORDS):
        department = CHILDREN_DEPARTMENT
    elif FIRST_STOP in departments:
        department = FIRST_STOP
    elif departments:
        department = departments.most_common(1)[0][0]
    else:
        department = GENERAL_DEPARTMENT
    return Recommendation(department, symptoms, urgent)


class ValidateDepartmentForm(ServiceForm):
    form = "department_form"
    service = "hospital"
    slots = ["symptom"]
    needs_city = False  # advice is the same everywhere
    transient_slots = ["symptom"]

    def not_an_answer(
        self, dispatcher: CollectingDispatcher, tracker: Tracker
    ) -> Optional[List[EventType]]:
        """Symptoms in the citizen's own words (胸口疼得厉害) are an answer too."""
        intent = tracker.latest_message.get("intent", {}).get("name")
        if tracker.get_slot("requested_slot") == "symptom" and intent in DESCRIPTION_INTENTS:
            return None
        return super().not_an_answer(dispatcher, tracker)

    async def extract_symptom(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        """Words no entity covers: the answer to the question, or an urgent symptom said up front."""
        text = (tracker.latest_message.get("text") or "").strip()
        if tracker.slots_to_validate().get("symptom") or not text:
            return {}
        answering = (tracker.get_slot("requested_slot") == "symptom"
                     and tracker.latest_message.get("intent", {}).get("name") in DESCRIPTION_INTENTS)
        return {"symptom": text} if answering or recommend(text).urgent else {}

    async def validate_symptom(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        """The whole message, not only the symptom the slot took: 头疼发烧 is two, and
        孩子发烧 is for 儿科. A symptom left from an earlier message is asked again."""
        said = (tracker.latest_message.get("text") or "").strip()
        return {"symptom": said if str(value) in said else None}


class ActionRecommendDepartment(Action):
    def name(self) -> Text:
        return "action_recommend_department"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        said = tracker.get_slot("symptom")
        if not said:  # the form was stopped
            return []
        advice = recommend(said)
        lines = []
        if advice.urgent:
            lines.append(f"⚠️ {'、'.join(advice.urgent)}可能是急症：症状严重或突然加重时，请立即到最近医院的急诊科就诊，"
                         "或拨打120。")
        if advice.symptoms:
            lines.append(f"根据“{'、'.join(advice.symptoms)}”，建议挂{advice.department}。")
            if advice.department == FIRST_STOP:
                lines.append("按医院规定，发烧的患者需先到发热门诊就诊。")
        else:
            general = "（有全科门诊的医院也可挂全科）" if advice.department == GENERAL_DEPARTMENT else ""
            lines.append(f"暂时没法根据“{said}”判断具体科室，建议先挂{advice.department}{general}，"
                         "由医生初步诊断后再转到专科。")
        dispatcher.utter_message(
            text="\n".join(lines),
            buttons=[{"title": f"预约{advice.department}",
                      "payload": replies.intent_payload("book_appointment", department=advice.department)}],
        )
        return [SlotSet("symptom", None)]
