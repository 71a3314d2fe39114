"""Hospital appointments (预约挂号): what booking, look-up and cancel share.

Hospitals, departments and free places come from the city's hospital
platform; this module holds the client, the labels and the cards. The forms
and answers live by concern: booking in appointment_booking.py, the citizen's
own appointments (look up, cancel, behind the SMS check) in
appointment_records.py, and which department to see (导诊) in department.py.
"""
from __future__ import annotations

import re
from datetime import date
from typing import Any, Dict, List, Optional, Sequence, Text

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions import confirmation, replies
from actions.backends import call, client_for
from actions.clients.base import BackendError, RequestRejected
from actions.clients.hospital import Appointment, Hospital, HospitalClient, Slot
from actions.identity import verified_identity
from actions.texts import words
from common import gazetteer
from common import dates

PERIOD_NAMES = {"morning": words("appointment.PERIOD_NAMES"), "afternoon": words("appointment.PERIOD_NAMES_2"),
                "evening": words("appointment.PERIOD_NAMES_3")}
WEEKDAY_NAMES = words("appointment.WEEKDAY_NAMES")
# Hospitals release places for today and the next 13 days.
BOOKING_DAYS = 14
# Booking is by real name: the ID number identifies the patient and the
# hospital fills in the registered name at check-in, so the form does not ask it.
PATIENT_NAME = words("appointment.PATIENT_NAME")
ALTERNATIVES = 4  # open sessions offered when the chosen one is full
SCHEDULE_SLOTS = ("hospital", "department", "date", "time_period")
BOOKING_SLOTS = [*SCHEDULE_SLOTS, "confirmed", confirmation.TERMS_SLOT]
PATIENT_SLOTS = ("id_number", "phone_number")
PHONE = re.compile(r"1[3-9][0-9]{9}")
BOOK_BUTTON = {"title": words("appointment.BOOK_BUTTON"), "payload": "/book_appointment"}




# ------------------------------------------------------------------ helpers
def hospital_client(city: Optional[str]) -> HospitalClient:
    client = client_for(HospitalClient, city, "hospital")
    if client is None:  # forms only run in cities that offer the service
        raise BackendError(words("appointment.hospital_client"), retryable=False)
    return client


def today() -> date:
    return dates.now_in_china().date()


def day_label(day: date) -> str:
    return words("appointment.day_label",
                 day_month=day.month,
                 day_day=day.day,
                 weekday_names_day_weekday=WEEKDAY_NAMES[day.weekday()])


def session_label(day: date, period: str) -> str:
    return f"{day_label(day)}{PERIOD_NAMES[period]}"



def is_upcoming(a: Appointment) -> bool:
    return a.status == "booked" and a.date >= today()


def status_label(a: Appointment) -> str:
    if a.status == "cancelled":
        return words("appointment.status_label")
    return words("appointment.status_label_2") if is_upcoming(a) else words("appointment.status_label_3")


def describe(a: Appointment) -> str:
    return (f"{session_label(a.date, a.time_period)} {a.visit_time} {a.hospital} {a.department} "
            f"{a.doctor.name}（{a.doctor.title}）")


def appointment_card(a: Appointment, buttons: Sequence[Dict[str, str]] = ()) -> Dict[str, Any]:
    return replies.card(
        title=f"{a.hospital} {a.department}",
        subtitle=f"{session_label(a.date, a.time_period)} {a.visit_time}",
        fields=[(words("appointment.appointment_card"), f"{a.doctor.name}（{a.doctor.title}）"),
                (words("appointment.appointment_card_2"),
                 words("appointment.appointment_card_3", a_queue_number=a.queue_number)),
                (words("appointment.appointment_card_4"), replies.yuan(a.fee)),
                (words("appointment.appointment_card_5"), a.appointment_id),
                (words("appointment.appointment_card_6"), status_label(a))],
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
