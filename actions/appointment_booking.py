"""Booking (挂号): the form and the booking, exactly as confirmed.

The citizen chooses a day and a time of day; the first doctor with a free
place in that session is shown, and that very place (doctor, session, fee)
is what is booked once confirmed. Before anything is booked the chosen
session is checked, so a full one is said at once, with the nearest open
sessions as buttons. Resident IDs are checked locally (checksum) before any
backend sees them, and every reply masks them.
"""
from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from typing import Any, ClassVar, Dict, List, Optional, Text, Tuple

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import confirmation, replies
from actions.appointment import (ALTERNATIVES, BOOK_BUTTON, BOOKING_DAYS, BOOKING_SLOTS, PATIENT_NAME,
                                 PATIENT_SLOTS, PERIOD_NAMES, PHONE, SCHEDULE_SLOTS, appointment_card,
                                 backend_down, canonical_department, city_of_hospital, day_label, describe,
                                 find_hospital, hospital_client, open_slot, session_label, today)
from actions.backends import call, idempotency_key
from actions.clients.base import BackendError, RequestRejected
from actions.clients.hospital import Hospital, HospitalClient
from actions.forms import ServiceForm
from actions.identity import explain_bad_id_number, id_number_problem
from common import codes, dates
from actions.department import recommend
from actions.texts import words


# -------------------------------------------------------------------- forms
class PatientForm(ServiceForm):
    """What the three appointment forms share: the hospital platform, the citizen's
    ID number and phone, and a city that may change mid-form."""

    service = "hospital"
    transient_slots: ClassVar[List[str]] = []

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
            dispatcher.utter_message(text=words("appointment_booking.PatientForm.validate_phone_number"))
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
        dispatcher.utter_message(text=words("appointment_booking.ValidateAppointmentForm.extract_department",
                                            join_advice_symptoms='、'.join(advice.symptoms),
                                            advice_department=advice.department))
        return {"department": advice.department}

    async def validate_date(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        """ISO or words (the slot mapping's validation usually converted it already)."""
        resolved = dates.resolve(str(value), dates.now_in_china()) if value else None
        if resolved is None:
            dispatcher.utter_message(text=words("appointment_booking.ValidateAppointmentForm.validate_date"))
            return {"date": None}
        day, first = date.fromisoformat(resolved.date), today()
        if day < first:
            dispatcher.utter_message(text=words("appointment_booking.ValidateAppointmentForm.validate_date_2",
                                                day_label_day=day_label(day)))
            return {"date": None}
        last = date.fromordinal(first.toordinal() + BOOKING_DAYS - 1)
        if day > last:
            dispatcher.utter_message(
                text=words("appointment_booking.ValidateAppointmentForm.validate_date_3",
                           booking_days=BOOKING_DAYS,
                           day_label_last=day_label(last))
            )
            return {"date": None}
        return {"date": day.isoformat()}

    async def validate_time_period(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        period = value if value in PERIOD_NAMES else dates.parse_time_period(str(value or ""))
        if period is None:
            dispatcher.utter_message(text=words("appointment_booking.ValidateAppointmentForm.validate_time_period"))
        return {"time_period": period}

    async def get_validation_events(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        """Each slot on its own first; then, once per turn, what depends on several:
        the hospital is in the city and has the department, the session is open."""
        events = await super().get_validation_events(dispatcher, tracker, domain)
        said = {e["name"] for e in events if e["value"] is not None}
        checks: Tuple[Any, ...] = ((("city", "hospital"), {"department"}, self.check_hospital),
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
            self.offer_departments(dispatcher, hospital,
                                   words("appointment_booking.ValidateAppointmentForm.check_hospital",
                                                               hospital_name=hospital.name,
                                                               department=department))
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
        chosen = words("appointment_booking.ValidateAppointmentForm.check_session",
                       hospital=hospital,
                       department=department,
                       session_label_day_period=session_label(day, period))
        same_day = [p for d, p in sessions if d == day]
        if same_day:
            dispatcher.utter_message(
                text=words("appointment_booking.ValidateAppointmentForm.check_session_2",
                           chosen=chosen,
                           join_period_names_p_for_p_in_same_day='、'.join((PERIOD_NAMES[p] for p in same_day))),
                buttons=[{"title": PERIOD_NAMES[p], "payload": replies.intent_payload("inform", time_period=p)}
                         for p in same_day],
            )
            return {"time_period": None}
        if sessions:
            nearest = sessions[:ALTERNATIVES]
            dispatcher.utter_message(
                text=words("appointment_booking.ValidateAppointmentForm.check_session_3", chosen=chosen),
                buttons=[{"title": session_label(d, p),
                          "payload": replies.intent_payload("inform", date=d.isoformat(), time_period=p)}
                         for d, p in nearest],
            )
            return {"date": None, "time_period": None}
        dispatcher.utter_message(
            text=words("appointment_booking.ValidateAppointmentForm.check_session_4",
                       hospital=hospital,
                       department=department,
                       booking_days=BOOKING_DAYS)
        )
        return {"requested_slot": None}

    @staticmethod
    def not_here(tracker: Tracker, hospital: str, city: str) -> str:
        """Why the hospital cannot be booked in this city, and what to do."""
        said = tracker.slots_to_validate()
        if "city" in said and "hospital" not in said:  # the city came after the hospital
            return words("appointment_booking.ValidateAppointmentForm.not_here", hospital=hospital, city=city)
        elsewhere = city_of_hospital(hospital)
        if elsewhere and elsewhere != city:
            return words("appointment_booking.ValidateAppointmentForm.not_here_2",
                         hospital=hospital,
                         elsewhere=elsewhere,
                         city=city)
        return words("appointment_booking.ValidateAppointmentForm.not_here_3", city=city, hospital=hospital)

    @staticmethod
    async def offer_hospitals(
        dispatcher: CollectingDispatcher, client: HospitalClient, city: str, intro: str
    ) -> None:
        hospitals = await call(client.hospitals)
        dispatcher.utter_message(
            text=words("appointment_booking.ValidateAppointmentForm.offer_hospitals", intro=intro, city=city),
            buttons=[{"title": h.name, "payload": replies.intent_payload("inform",
                                                                         hospital=h.name)} for h in hospitals],
        )

    @staticmethod
    def offer_departments(dispatcher: CollectingDispatcher, hospital: Hospital, intro: str) -> None:
        dispatcher.utter_message(
            text=words("appointment_booking.ValidateAppointmentForm.offer_departments", intro=intro),
            buttons=[{"title": d, "payload": replies.intent_payload("inform",
                                                                    department=d)} for d in hospital.departments],
        )


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
            dispatcher.utter_message(text=words("appointment_booking.ActionAskAppointmentFormConfirmed"),
                                     buttons=[BOOK_BUTTON])
            return confirmation.END_FORM
        day = date.fromisoformat(tracker.get_slot("date"))
        summary = words("appointment_booking.ActionAskAppointmentFormConfirmed_2",
                        hospital=tracker.get_slot("hospital"), department=tracker.get_slot("department"),
                        session=session_label(day, tracker.get_slot("time_period")), doctor=slot.doctor.name,
                        title=slot.doctor.title, fee=replies.yuan(slot.fee),
                        id_number=codes.mask_id_number(tracker.get_slot("id_number")),
                        phone=codes.mask_phone(tracker.get_slot("phone_number")))
        dispatcher.utter_message(text=summary, buttons=replies.CONFIRM_BUTTONS)
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
            return confirmation.refuse_unconfirmed(dispatcher,
                                                   words("appointment_booking.ActionBookAppointment")) + done
        try:
            key = idempotency_key(tracker, terms["subject"], terms["slot_id"], terms["fee"])
            booked = await call(hospital_client(tracker.get_slot("city")).book, terms["slot_id"],
                                Decimal(terms["fee"]), PATIENT_NAME, tracker.get_slot("id_number"),
                                tracker.get_slot("phone_number"), key)
        except RequestRejected as error:
            confirmation.not_done(dispatcher, error, words("appointment_booking.ActionBookAppointment_2"),
                                  rejected=words("appointment_booking.ActionBookAppointment_3"))
            return done
        except BackendError as error:
            confirmation.not_done(dispatcher, error, words("appointment_booking.ActionBookAppointment_4"))
            return list(confirmation.CLEARED)  # the rest is kept for another try
        dispatcher.utter_message(
            text=words("appointment_booking.ActionBookAppointment_5",
                       describe_booked=describe(booked),
                       booked_queue_number=booked.queue_number,
                       booked_appointment_id=booked.appointment_id),
            json_message=replies.card_list(words("appointment_booking.ActionBookAppointment_6"),
                                           [appointment_card(booked)]),
        )
        return done
