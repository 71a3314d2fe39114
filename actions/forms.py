"""The base every service form validates through.

Why one base class: every form must behave the same when a citizen says
"算了" (stop), asks for a person, asks a side question in the middle
(digression), switches city, or keeps typing something invalid. Subclasses
declare their service and slots and write `validate_<slot>` methods that
explain in Chinese what is wrong; the base class does the rest, including
stopping after repeated failures and offering a person instead
(the pattern of Rasa's financial-demo `custom_forms.py`).
"""
from __future__ import annotations

from typing import Any, ClassVar, Dict, List, Optional, Text

from rasa_sdk import FormValidationAction, Tracker
from rasa_sdk.events import ActiveLoop, EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import replies
from bot import registry

MAX_FAILURES = 3
# Questions answered inline while a form waits for its slot.
SIDE_INTENTS = {"faq", "chitchat", "help", "bot_challenge", "greet", "thank", "out_of_scope"}
SIDE_CONFIDENCE = 0.7
FAILURES_SLOT = "validation_failures"


class ServiceForm(FormValidationAction):
    """Validation shared by every form; subclasses set the class variables."""

    form: ClassVar[str]  # e.g. "violation_form"
    service: ClassVar[str]  # registry service, e.g. "violation"
    slots: ClassVar[List[str]] = []  # asked in every city, in order
    final_slots: ClassVar[List[str]] = []  # asked after the city's own fields
    needs_city: ClassVar[bool] = True  # False where the city follows from a slot
    # Slots cleared when the citizen stops the form.
    transient_slots: ClassVar[List[str]] = ["confirmed"]

    def name(self) -> Text:
        return f"validate_{self.form}"

    # ------------------------------------------------------------ slots
    def city_of(self, tracker: Tracker) -> Optional[registry.CityConfig]:
        return registry.load().city(tracker.get_slot("city"))

    async def required_slots(
        self,
        domain_slots: List[Text],
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> List[Text]:
        """City first (if unknown), then this form's slots and the city's own fields."""
        city = self.city_of(tracker)
        slots: List[str] = []
        if self.needs_city and city is None:
            slots.append("city")
        slots += self.slots
        service = city.service(self.service) if city else None
        if service:
            slots += [s for s in service.required if s not in slots]
        return slots + [s for s in self.final_slots if s not in slots]

    # ------------------------------------------------------- validation
    async def validate(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        intent = tracker.latest_message.get("intent", {})
        name, confidence = intent.get("name"), intent.get("confidence", 0.0)
        requested = tracker.get_slot("requested_slot")
        if name == "stop":
            dispatcher.utter_message(response="utter_stop")
            return self.abort_events(tracker)
        if name == "human_handoff":
            return self.abort_events(tracker) + replies.handoff(dispatcher, tracker)
        if name in SIDE_INTENTS and confidence >= SIDE_CONFIDENCE and requested != "confirmed":
            replies.answer_side_question(dispatcher, tracker, name)
            # Re-ask the slot; a SlotSet keeps Rasa from rejecting the form.
            return [SlotSet(requested, None)] if requested else []
        events = await super().validate(dispatcher, tracker, domain)
        unavailable = self.service_unavailable(dispatcher, tracker, events)
        if unavailable:
            return unavailable
        return self.count_failures(dispatcher, tracker, requested, events)

    def service_unavailable(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, events: List[EventType]
    ) -> Optional[List[EventType]]:
        """The city is known but does not offer this service: say so, end the form."""
        city_name = _latest_value(events, "city", tracker.get_slot("city"))
        city = registry.load().city(city_name)
        if city is None or city.service(self.service):
            return None
        dispatcher.utter_message(
            text=f"{city.city}暂未开通这项线上服务，您可以拨打{city.city}政务服务热线"
            f"{city.hotline}咨询办理。"
        )
        return events + self.abort_events(tracker)

    def count_failures(
        self,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        requested: Optional[str],
        events: List[EventType],
    ) -> List[EventType]:
        """Count consecutive invalid answers; after MAX_FAILURES offer a person."""
        candidates = tracker.slots_to_validate()
        if not requested or candidates.get(requested) is None:
            return events
        if _latest_value(events, requested, candidates[requested]) is not None:
            return events + [SlotSet(FAILURES_SLOT, 0)]
        failures = int(tracker.get_slot(FAILURES_SLOT) or 0) + 1
        if failures < MAX_FAILURES:
            return events + [SlotSet(FAILURES_SLOT, failures)]
        dispatcher.utter_message(
            text="好像一直没能对上，先不继续了。需要的话我可以帮您转人工客服。",
            buttons=[{"title": "转人工", "payload": "/human_handoff"},
                     {"title": "不用了", "payload": "/deny"}],
        )
        return events + self.abort_events(tracker)

    def abort_events(self, tracker: Tracker) -> List[EventType]:
        """End the form and forget what only made sense inside it."""
        return [SlotSet(s, None) for s in self.transient_slots] + [
            SlotSet(FAILURES_SLOT, 0),
            SlotSet("requested_slot", None),
            ActiveLoop(None),
        ]

    # ---------------------------------------------- shared validators
    async def validate_city(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        return {"city": replies.served_city_or_explain(value, dispatcher)}

    async def validate_confirmed(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        """A "no" at the confirmation step cancels, it is not a failure."""
        if value is False:
            dispatcher.utter_message(text="好的，已取消，没有做任何操作。")
            return {"confirmed": None, "requested_slot": None}
        return {"confirmed": True}


def _latest_value(events: List[EventType], slot: str, default: Any) -> Any:
    """The value the events leave a slot with."""
    for event in reversed(events):
        if event.get("event") == "slot" and event.get("name") == slot:
            return event.get("value")
    return default
