"""Traffic violations: look them up, pay a fine.

The vehicle's city comes from its plate (粤B is 深圳), and that city's
registry entry says whether the engine number is needed too.
"""
from __future__ import annotations

from decimal import Decimal
from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import confirmation, replies
from actions.backends import call, client_for, idempotency_key
from actions.clients.base import BackendError, RequestRejected
from actions.clients.violation import VehicleViolations, Violation, ViolationClient
from actions.forms import ServiceForm
from actions.texts import words
from common import gazetteer, registry
from common import codes

PAY_BUTTON = {"title": words("violation.PAY_BUTTON"), "payload": "/pay_fine"}


def plate_city(plate: Optional[str]) -> Optional[str]:
    return gazetteer.load().city_of_plate(plate) if plate else None


def describe_for(tracker: Tracker, v: Violation, number: int) -> str:
    """The fine as the plate's city allows it shown: in full, or without time and place."""
    if not details_missing(tracker):
        return describe(v)
    return words("violation.describe_for", number=number, fine=replies.yuan(v.fine), points=v.points)


def describe(v: Violation) -> str:
    state = words("violation.describe") if v.paid else words("violation.describe_2")
    late = words("violation.describe_3", yuan_v_late_fee=replies.yuan(v.late_fee)) if v.late_fee > 0 else ""
    return (words("violation.describe_4",
                  v_occurred_at=v.occurred_at,
                  v_place=v.place,
                  v_behaviour=v.behaviour,
                  yuan_v_fine=replies.yuan(v.fine),
                  late=late,
                  v_points=v.points,
                  state=state))


def violation_card(v: Violation) -> Dict[str, Any]:
    return replies.card(
        title=v.behaviour,
        subtitle=f"{v.occurred_at:%Y-%m-%d %H:%M} {v.place}",
        fields=[(words("violation.violation_card"), replies.yuan(v.fine)),
                *([(words("violation.violation_card_2"), replies.yuan(v.late_fee))] if v.late_fee > 0 else []),
                (words("violation.violation_card_3"), words("violation.violation_card_4", v_points=v.points)),
                (words("violation.violation_card_5"), v.decision_number),
                (words("violation.violation_card_6"),
                 words("violation.violation_card_7") if v.paid else words("violation.violation_card_8"))],
    )


def summary_card(v: Violation, number: int) -> Dict[str, Any]:
    """What a plate alone may show where the city's rule asks more for details: no time, place or decision."""
    return replies.card(
        title=words("violation.summary_card", number=number),
        fields=[(words("violation.summary_card_2"), replies.yuan(v.fine)),
                (words("violation.summary_card_3"), words("violation.summary_card_4", v_points=v.points)),
                (words("violation.summary_card_5"),
                 words("violation.summary_card_6") if v.paid else words("violation.summary_card_7"))],
    )


def details_missing(tracker: Tracker) -> List[str]:
    """What the plate's city needs before it shows when and where (registry `details_require`)."""
    city = registry.load().city(plate_city(tracker.get_slot("plate_number")))
    service = city.service("violation") if city else None
    return [s for s in (service.details_require if service else []) if not tracker.get_slot(s)]


async def fetch(tracker: Tracker) -> VehicleViolations:
    """The plate's violations from the plate's city (engine number where asked)."""
    plate = tracker.get_slot("plate_number")
    client = client_for(ViolationClient, plate_city(plate), "violation")
    if client is None:
        raise RequestRejected(words("violation.fetch"), 404, "not_served")
    return await call(client.violations, plate, tracker.get_slot("engine_number"))


class ValidateViolationForm(ServiceForm):
    form = "violation_form"
    service = "violation"
    slots = ["plate_number"]
    needs_city = False  # the plate says which city's bureau to ask

    def city_of(self, tracker: Tracker) -> Optional[registry.CityConfig]:
        return registry.load().city(plate_city(tracker.get_slot("plate_number")))

    async def validate_plate_number(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        plate = codes.canonical_plate(str(value)) if value else None
        if plate is None:
            dispatcher.utter_message(text=words("violation.ValidateViolationForm.validate_plate_number",
                                                value=value))
            return {"plate_number": None}
        city = plate_city(plate)
        if city is None or registry.load().city(city) is None:
            reg = registry.load()
            dispatcher.utter_message(
                text=words("violation.ValidateViolationForm.validate_plate_number_2",
                           plate=plate,
                           reg_served_list=reg.served_list())
            )
            return {"plate_number": None}
        return {"plate_number": plate}

    async def validate_engine_number(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        engine = str(value or "").strip().upper()
        if len(engine) < 6 or not engine.isalnum():
            dispatcher.utter_message(text=words("violation.ValidateViolationForm.validate_engine_number"))
            return {"engine_number": None}
        return {"engine_number": engine[-6:]}


class ActionQueryViolation(Action):
    def name(self) -> Text:
        return "action_query_violation"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        plate = tracker.get_slot("plate_number")
        if not plate:  # the form was stopped
            return []
        try:
            result = await fetch(tracker)
        except RequestRejected as error:
            dispatcher.utter_message(text=f"{error.user_message}。")
            return [SlotSet("engine_number", None)]
        except BackendError as error:
            replies.backend_failure(dispatcher, error)
            return []
        if not result.violations:
            dispatcher.utter_message(text=words("violation.ActionQueryViolation", plate=plate))
            return []
        unpaid = result.unpaid
        # Compact text; the details travel as cards (WeChat prints them as text).
        late = result.unpaid_late_fees
        late_text = words("violation.ActionQueryViolation_2", yuan_late=replies.yuan(late)) if late > 0 else ""
        summary = (words("violation.ActionQueryViolation_3",
                         plate=plate,
                         len_result_violations=len(result.violations),
                         len_unpaid=len(unpaid),
                         yuan_result_unpaid_fine=replies.yuan(result.unpaid_fine),
                         late_text=late_text,
                         sum_v_points_for_v_in_unpaid=sum((v.points for v in unpaid))))
        if details_missing(tracker):
            summary += words("violation.ActionQueryViolation_4")
            cards = [summary_card(v, i) for i, v in enumerate(result.violations, 1)]
        else:
            cards = [violation_card(v) for v in result.violations]
        dispatcher.utter_message(
            text=summary,
            buttons=[PAY_BUTTON] if unpaid else [],
            json_message=replies.card_list(words("violation.ActionQueryViolation_5", plate=plate), cards),
        )
        return []


class ValidatePayFineForm(ValidateViolationForm):
    form = "pay_fine_form"
    final_slots = ["violation_id", "confirmed"]
    transient_slots = ["violation_id", "confirmed", confirmation.TERMS_SLOT]

    async def validate_plate_number(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        result = await super().validate_plate_number(value, dispatcher, tracker, domain)
        return await self.preselect(result, dispatcher, tracker)

    async def validate_engine_number(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        result = await super().validate_engine_number(value, dispatcher, tracker, domain)
        return await self.preselect(result, dispatcher, tracker)

    async def preselect(
        self, result: Dict[Text, Any], dispatcher: CollectingDispatcher, tracker: Tracker
    ) -> Dict[Text, Any]:
        """Once the vehicle is identified: nothing to pay ends the form, one fine is chosen."""
        slots = {**tracker.slots, **result}
        plate = slots.get("plate_number")
        city = registry.load().city(plate_city(plate))
        needed = city.service("violation").required if city and city.service("violation") else []
        if not plate or any(not slots.get(s) for s in needed):
            return result
        probe = tracker.copy()
        probe.slots.update(result)
        try:
            unpaid = (await fetch(probe)).unpaid
        except RequestRejected as error:
            dispatcher.utter_message(text=f"{error.user_message}。")
            return {**result, "engine_number": None}
        except BackendError as error:
            replies.backend_failure(dispatcher, error)
            return {**result, "requested_slot": None}
        if not unpaid:
            dispatcher.utter_message(text=words("violation.ValidatePayFineForm.preselect", plate=plate))
            return {**result, "requested_slot": None}
        if len(unpaid) == 1:
            return {**result, "violation_id": unpaid[0].decision_number}
        if slots.get("violation_id") not in {v.decision_number for v in unpaid}:
            return {**result, "violation_id": None}  # chosen for another vehicle: asked again
        return result

    async def validate_violation_id(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        try:
            unpaid = {v.decision_number for v in (await fetch(tracker)).unpaid}
        except BackendError as error:
            replies.backend_failure(dispatcher, error)
            return {"violation_id": None, "requested_slot": None}
        if value not in unpaid:
            dispatcher.utter_message(text=words("violation.ValidatePayFineForm.validate_violation_id"))
            return {"violation_id": None}
        return {"violation_id": value}


class ActionAskViolationId(Action):
    """Which fine to pay, when more than one is unpaid (one is chosen by itself)."""

    def name(self) -> Text:
        return "action_ask_violation_id"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        try:
            unpaid = (await fetch(tracker)).unpaid
        except RequestRejected as error:
            dispatcher.utter_message(text=f"{error.user_message}。")
            return [SlotSet("engine_number", None), SlotSet("requested_slot", "engine_number")]
        except BackendError as error:
            replies.backend_failure(dispatcher, error)
            return []
        dispatcher.utter_message(
            text=words("violation.ActionAskViolationId"),
            buttons=[{"title": describe_for(tracker, v, n),
                      "payload": replies.intent_payload("inform", violation_id=v.decision_number)}
                     for n, v in enumerate(unpaid, 1)],
        )
        return []


def fine_subject(tracker: Tracker) -> Dict[str, Any]:
    """Which fine of which vehicle a confirmation is about."""
    return {"plate": tracker.get_slot("plate_number"), "violation_id": tracker.get_slot("violation_id")}


class ActionAskPayFineFormConfirmed(Action):
    """The fine and today's sum due (late fee included), kept as what the payment must match."""

    def name(self) -> Text:
        return "action_ask_pay_fine_form_confirmed"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        chosen = tracker.get_slot("violation_id")
        try:
            number, violation = next((n, v) for n, v in enumerate((await fetch(tracker)).unpaid, 1)
                                     if v.decision_number == chosen)
        except (BackendError, StopIteration):
            dispatcher.utter_message(text=words("violation.ActionAskPayFineFormConfirmed"))
            return confirmation.END_FORM
        late = words("violation.ActionAskPayFineFormConfirmed_2",
                     yuan_violation_fine=replies.yuan(violation.fine),
                     yuan_violation_late_fee=replies.yuan(violation.late_fee)) \
            if violation.late_fee > 0 else ""
        dispatcher.utter_message(
            text=words("violation.ActionAskPayFineFormConfirmed_3",
                       plate_number=tracker.get_slot('plate_number'),
                       describe_violation=describe_for(tracker, violation, number),
                       yuan_violation_amount_due=replies.yuan(violation.amount_due),
                       late=late),
            buttons=replies.CONFIRM_BUTTONS,
        )
        return [confirmation.remember(fine_subject(tracker), amount=violation.amount_due)]


class ActionPayFine(Action):
    def name(self) -> Text:
        return "action_pay_fine"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        decision = tracker.get_slot("violation_id")
        done = [SlotSet("violation_id", None), *confirmation.CLEARED]
        if not decision or tracker.get_slot("confirmed") is not True:
            return done
        terms = confirmation.confirmed_terms(tracker, fine_subject(tracker))
        if terms is None:
            return confirmation.refuse_unconfirmed(dispatcher, words("violation.ActionPayFine")) + done
        client = client_for(ViolationClient, plate_city(tracker.get_slot("plate_number")), "violation")
        try:
            paid = await call(client.pay, decision, Decimal(terms["amount"]),
                              idempotency_key(tracker, decision, terms["amount"]))
        except BackendError as error:
            confirmation.not_done(dispatcher, error, words("violation.ActionPayFine_2"))
            return done
        dispatcher.utter_message(
            text=words("violation.ActionPayFine_3",
                       paid_plate=paid.plate,
                       yuan_paid_amount=replies.yuan(paid.amount),
                       paid_payment_id=paid.payment_id),
            json_message=replies.card_list(words("violation.ActionPayFine_4"), [replies.card(
                title=words("violation.ActionPayFine_5"),
                subtitle=f"{paid.paid_at:%Y-%m-%d %H:%M}",
                fields=[(words("violation.ActionPayFine_6"), paid.plate),
                        (words("violation.ActionPayFine_7"), replies.yuan(paid.amount)),
                        (words("violation.ActionPayFine_8"), paid.decision_number),
                        (words("violation.ActionPayFine_9"), paid.payment_id)],
            )]),
        )
        return done
