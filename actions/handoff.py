"""Human handoff, the citizen's side: 转人工 files the conversation in the staff queue
(common/handoff.py, a table in the tracker database the console reads), and the bot says where
the citizen stands, or, outside the city's handoff hours (registry `handoff_hours`), offers a
12345 ticket while the request waits for the next shift. When staff hand the conversation back,
the console runs `action_handoff_back`, so the bot's return is an event like any other answer.

Every message here carries the custom payload `{"type": "handoff", "state": ...}`: the web chat
page shows the text as usual and knows from the state whether a person has the conversation.
"""
from __future__ import annotations

import asyncio
import logging
from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActionExecuted, EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict
from sqlalchemy.exc import SQLAlchemyError

from actions.forms import SERVICE_FORMS
from actions.texts import words
from common import handoff, registry

log = logging.getLogger(__name__)
TICKET_BUTTON = {"payload": "/report_issue"}
# The turn ends with the request, also when a form handed over to this action (FollowupAction).
ENDS_TURN: List[EventType] = [SlotSet("handoff", True), FollowupAction("action_listen")]


def marker(state: str) -> Dict[str, Any]:
    """The custom payload that tells the page where the handoff stands."""
    return {"type": "handoff", "state": state}


def reason_of(tracker: Tracker) -> str:
    """button (a payload, like the page's 转人工), words, or bot_offer (the bot had offered it)."""
    text = tracker.latest_message.get("text") or ""
    previous_bot = next((e for e in reversed(tracker.events) if e.get("event") == "bot"), None)
    buttons = ((previous_bot or {}).get("data") or {}).get("buttons") or []
    if text.startswith("/") and any(b.get("payload") == "/human_handoff" for b in buttons):
        return "bot_offer"
    return "button" if text.startswith("/") else "words"


def service_of(tracker: Tracker) -> Optional[str]:
    """The service intent the citizen asked for last, if any."""
    for event in reversed(tracker.events):
        intent = ((event.get("parse_data") or {}).get("intent") or {}).get("name")
        if event.get("event") == "user" and intent in SERVICE_FORMS:
            return str(intent)
    return None


class ActionHandoff(Action):
    """Queue the conversation for a person and tell the citizen what happens next."""

    def name(self) -> Text:
        return "action_handoff"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        city_name = tracker.get_slot("city")
        city = registry.load().city(city_name)
        hotline = city.hotline if city else "12345"
        open_now = city.staffed() if city else True
        try:
            filed = await asyncio.to_thread(
                handoff.file_request, handoff.engine(handoff.tracker_url()), tracker.sender_id,
                reason_of(tracker), city_name, service_of(tracker), not open_now)
        except SQLAlchemyError:
            log.exception("转人工登记失败")
            dispatcher.utter_message(text=words("handoff.unavailable", hotline=hotline))
            return list(ENDS_TURN)
        if not open_now and city is not None:
            dispatcher.utter_message(
                text=words("handoff.after_hours", city=city.city, hours=city.handoff_hours,
                           hotline=hotline),
                buttons=[{"title": words("handoff.ticket_button"), **TICKET_BUTTON}],
                json_message=marker("after_hours"))
        elif filed.claimed_by:
            dispatcher.utter_message(text=words("handoff.already_claimed"),
                                     json_message=marker("with_agent"))
        else:
            dispatcher.utter_message(text=words("handoff.queued", position=filed.position),
                                     json_message=marker("queued"))
        return list(ENDS_TURN)


class ActionHandoffBack(Action):
    """Run by the console (POST /conversations/<id>/execute) once staff hand back."""

    def name(self) -> Text:
        return "action_handoff_back"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        dispatcher.utter_message(text=words("handoff.back"), json_message=marker("ended"))
        # Run outside a turn (/execute predicts nothing after it): end by listening, as a turn
        # does, so the citizen's next message starts a fresh prediction, not one after this.
        return [SlotSet("handoff", False), ActionExecuted("action_listen")]
