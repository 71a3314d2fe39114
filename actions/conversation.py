"""Actions outside any one service: city, paperwork guide,
and the validation of slots filled on any turn."""
from __future__ import annotations

from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker, ValidationAction
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import replies
from actions.forms import SERVICE_FORMS
from actions.texts import words
from common import gazetteer, registry
from common import codes, dates


class ValidateSlotMappings(ValidationAction):
    """Canonical values for slots filled outside forms (forms validate their own)."""

    async def validate_city(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        # A form (running, or started by this message) explains an unserved city itself.
        if tracker.active_loop.get("name") or tracker.get_intent_of_latest_message() in SERVICE_FORMS:
            return {"city": value}
        return {"city": replies.served_city_or_explain(value, dispatcher)}

    async def validate_plate_number(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        """A plate also tells the city when the citizen has not said one."""
        plate = codes.canonical_plate(str(value)) if value else None
        result: Dict[Text, Any] = {"plate_number": plate}
        plate_city = gazetteer.load().city_of_plate(plate) if plate else None
        if plate_city and not tracker.get_slot("city") and registry.load().city(plate_city):
            result["city"] = plate_city
        return result

    async def validate_date(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        """The slot holds an ISO date in Asia/Shanghai; the entity holds the words."""
        resolved = dates.resolve(str(value), dates.now_in_china()) if value else None
        return {"date": resolved.date if resolved else None}


class ActionSetCity(Action):
    """Confirm the city the citizen chose (unserved cities were explained already)."""

    def name(self) -> Text:
        return "action_set_city"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        city = tracker.get_slot("city")
        said = next(tracker.get_latest_entity_values("city"), None)
        if city and (said is None or said == city):
            dispatcher.utter_message(text=words("conversation.ActionSetCity", city=city))
        elif said is None:
            dispatcher.utter_message(text=words("conversation.ActionSetCity_2"), buttons=replies.city_buttons())
        return []


class ActionAnswerFaq(Action):
    """Paperwork guide: the city's own answer where it has one."""

    def name(self) -> Text:
        return "action_answer_faq"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        replies.answer_faq(dispatcher, tracker)
        return []
