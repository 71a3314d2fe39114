"""Replies several services share: cities, side questions, failures, cards."""
from __future__ import annotations

import json
from decimal import Decimal
from typing import Any, Dict, List, Optional, Sequence, Tuple

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.clients.base import BackendError
from actions.texts import words
from common import gazetteer, registry

CONFIRM_BUTTONS = [{"title": words("replies.CONFIRM_BUTTONS"), "payload": "/affirm"},
                   {"title": words("replies.CONFIRM_BUTTONS_2"), "payload": "/deny"}]
SIDE_RESPONSES = {
    "chitchat": "utter_chitchat",
    "help": "utter_help",
    "bot_challenge": "utter_iamabot",
    "greet": "utter_greet_short",
    "thank": "utter_thank_short",
    "out_of_scope": "utter_out_of_scope",
}


def served_city_or_explain(value: Any, dispatcher: CollectingDispatcher) -> Optional[str]:
    """The canonical served city, or None after telling the citizen which are served."""
    if not value:
        return None
    name = str(value).strip().removesuffix(words("replies.served_city_or_explain"))
    reg = registry.load()
    if reg.city(name):
        return name
    known = name in gazetteer.load().canonical_names("city")
    what = (words("replies.served_city_or_explain_2", name=name) if known
            else words("replies.served_city_or_explain_3", name=name))
    dispatcher.utter_message(
        text=words("replies.served_city_or_explain_4", what=what, reg_served_list=reg.served_list()),
        buttons=city_buttons(),
    )
    return None


def intent_payload(intent: str, **slots: Any) -> str:
    """A button payload: the intent with the entities it fills, as if typed (`/inform{"x": "y"}`)."""
    return f"/{intent}{json.dumps(slots, ensure_ascii=False)}" if slots else f"/{intent}"


def city_buttons() -> List[Dict[str, str]]:
    return [{"title": c, "payload": intent_payload("set_city", city=c)}
            for c in registry.load().served_cities]


def faq_topic(tracker: Tracker) -> Optional[str]:
    """The faq topic the ResponseSelector chose for the latest message."""
    selector = tracker.latest_message.get("response_selector", {}).get("faq", {})
    key = selector.get("response", {}).get("intent_response_key") or ""
    return key.split("/", 1)[1] if "/" in key else None


def answer_faq(dispatcher: CollectingDispatcher, tracker: Tracker) -> None:
    """The city's own answer where it overrides the generic guide."""
    topic = faq_topic(tracker)
    if topic is None:
        dispatcher.utter_message(response="utter_default")
        return
    city = registry.load().city(tracker.get_slot("city"))
    override = city.faq_overrides.get(topic) if city else None
    if override:
        dispatcher.utter_message(text=override)
    else:
        dispatcher.utter_message(response=f"utter_faq/{topic}")


def answer_side_question(dispatcher: CollectingDispatcher, tracker: Tracker, intent: str) -> None:
    """Answer a question asked in the middle of a form; the form then goes on."""
    if intent == "faq":
        answer_faq(dispatcher, tracker)
    else:
        dispatcher.utter_message(response=SIDE_RESPONSES[intent])


def backend_failure(dispatcher: CollectingDispatcher, error: BackendError, hotline: str = "12345") -> None:
    """An apology, what to try, and the conversation goes on."""
    advice = words("replies.backend_failure") if error.retryable else words("replies.backend_failure_2")
    dispatcher.utter_message(
        text=words("replies.backend_failure_3",
                   error_user_message=error.user_message,
                   advice=advice,
                   hotline=hotline)
    )


def yuan(amount: Any) -> str:
    """Money as citizens read it: 200 元, 50.50 元, 15,374.03 元."""
    value = Decimal(str(amount))
    text = f"{value:,.0f}" if value == value.to_integral_value() else f"{value:,.2f}"
    return words("replies.yuan", text=text)


def card_list(
    title: str,
    items: Sequence[Dict[str, Any]],
) -> Dict[str, Any]:
    """The structured payload chat windows render as cards (docs/webchat.md)."""
    return {"type": "card_list", "title": title, "items": list(items)}


def card(
    title: str,
    subtitle: str = "",
    fields: Sequence[Tuple[str, Any]] = (),
    buttons: Sequence[Dict[str, str]] = (),
) -> Dict[str, Any]:
    return {
        "title": title,
        "subtitle": subtitle,
        "fields": [[label, str(value)] for label, value in fields],
        "buttons": list(buttons),
    }
