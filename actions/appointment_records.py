"""The citizen's own appointments: look them up, cancel one, after the SMS check."""
from __future__ import annotations

from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import confirmation, replies
from actions.appointment import (BOOK_BUTTON, appointment_card, backend_down, describe, hospital_client,
                                 is_upcoming, status_label, upcoming_appointments)
from actions.backends import call, idempotency_key
from actions.clients.base import BackendError
from actions.clients.hospital import Appointment, HospitalClient
from actions.clients.identity import AccessToken
from actions.identity import OTP_SLOT, VERIFICATION_SLOT, VerifiedForm, VerifiedLookup, verified_identity
from actions.texts import words
from common import codes


class ValidateQueryAppointmentForm(VerifiedForm):
    """The SMS check first (once per session): an ID number alone shows nobody's appointments."""

    form = "query_appointment_form"
    service = "hospital"
    client_class = HospitalClient


class ValidateCancelAppointmentForm(ValidateQueryAppointmentForm):
    form = "cancel_appointment_form"
    final_slots = [OTP_SLOT, "appointment_id", "confirmed"]
    transient_slots = [OTP_SLOT, VERIFICATION_SLOT, "appointment_id", "confirmed"]
    declined_text = words("appointment_records.ValidateCancelAppointmentForm")  # "已取消" would suggest the opposite

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
            dispatcher.utter_message(
                text=words("appointment_records.ValidateCancelAppointmentForm.get_validation_events", masked=masked))
            return events + [SlotSet("requested_slot", None)]
        if chosen and chosen not in {a.appointment_id for a in upcoming}:
            dispatcher.utter_message(
                text=words("appointment_records.ValidateCancelAppointmentForm.get_validation_events_2"))
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
            dispatcher.utter_message(
                text=words("appointment_records.ValidateCancelAppointmentForm.validate_appointment_id"))
            return {"appointment_id": None}
        return {"appointment_id": value}


# --------------------------------------------------- query/cancel: actions
def cancel_button(a: Appointment) -> Dict[str, str]:
    return {"title": words("appointment_records.cancel_button"),
            "payload": replies.intent_payload("cancel_appointment", appointment_id=a.appointment_id)}


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
            dispatcher.utter_message(text=words("appointment_records.ActionQueryAppointment.answer",
                                                masked=masked,
                                                city=tracker.get_slot('city')),
                                     buttons=[BOOK_BUTTON])
            return []
        upcoming = [a for a in found if is_upcoming(a)]
        lines = [words("appointment_records.ActionQueryAppointment.answer_2",
                       i=i,
                       describe_a=describe(a),
                       a_appointment_id=a.appointment_id,
                       status_label_a=status_label(a))
                 for i, a in enumerate(found, 1)]
        cards = [appointment_card(a, [cancel_button(a)] if is_upcoming(a) else []) for a in found]
        dispatcher.utter_message(
            text="\n".join([words("appointment_records.ActionQueryAppointment.answer_3",
                                  masked=masked,
                                  len_found=len(found),
                                  len_upcoming=len(upcoming)), *lines]),
            json_message=replies.card_list(words("appointment_records.ActionQueryAppointment.answer_4"), cards),
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
            text=words("appointment_records.ActionAskAppointmentId"),
            buttons=[{"title": describe(a),
                      "payload": replies.intent_payload("inform", appointment_id=a.appointment_id)}
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
        number = words("appointment_records.ActionAskCancelAppointmentFormConfirmed", chosen=chosen)
        what = next((f"{describe(a)}，{number}" for a in upcoming if a.appointment_id == chosen), number)
        dispatcher.utter_message(text=words("appointment_records.ActionAskCancelAppointmentFormConfirmed_2",
                                            what=what), buttons=replies.CONFIRM_BUTTONS)
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
            confirmation.not_done(dispatcher, error, words("appointment_records.ActionCancelAppointment"),
                                  rejected=words("appointment_records.ActionCancelAppointment_2"))
            return done
        dispatcher.utter_message(
            text=words("appointment_records.ActionCancelAppointment_3",
                       describe_cancelled=describe(cancelled),
                       cancelled_appointment_id=cancelled.appointment_id),
            json_message=replies.card_list(words("appointment_records.ActionCancelAppointment_4"),
                                           [appointment_card(cancelled)]),
        )
        return done
