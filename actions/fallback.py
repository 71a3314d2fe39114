"""Low-confidence fallback: offer the two likeliest intents, never a dead end."""
from __future__ import annotations

from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import UserUtteranceReverted
from rasa_sdk.executor import CollectingDispatcher

from actions.replies import intent_payload
from actions.texts import words

# What each intent means to a citizen, as a button title.
INTENT_LABELS: Dict[str, str] = {
    "query_violation": words("fallback.INTENT_LABELS"),
    "pay_fine": words("fallback.INTENT_LABELS_2"),
    "query_traffic": words("fallback.INTENT_LABELS_3"),
    "query_restriction": words("fallback.INTENT_LABELS_4"),
    "query_bus": words("fallback.INTENT_LABELS_5"),
    "query_route": words("fallback.INTENT_LABELS_6"),
    "query_bill": words("fallback.INTENT_LABELS_7"),
    "pay_bill": words("fallback.INTENT_LABELS_8"),
    "book_appointment": words("fallback.INTENT_LABELS_9"),
    "query_appointment": words("fallback.INTENT_LABELS_10"),
    "cancel_appointment": words("fallback.INTENT_LABELS_11"),
    "recommend_department": words("fallback.INTENT_LABELS_12"),
    "query_weather": words("fallback.INTENT_LABELS_13"),
    "query_social_security": words("fallback.INTENT_LABELS_14"),
    "query_housing_fund": words("fallback.INTENT_LABELS_15"),
    "report_issue": words("fallback.INTENT_LABELS_16"),
    "query_ticket": words("fallback.INTENT_LABELS_17"),
    "faq": words("fallback.INTENT_LABELS_18"),
    "help": words("fallback.INTENT_LABELS_19"),
}
SUGGESTIONS = 2


def suggested_intents(ranking: List[Dict[str, Any]]) -> List[str]:
    """The likeliest intents a citizen can act on, best first."""
    names = [r.get("name") for r in ranking]
    return [n for n in names if n in INTENT_LABELS][:SUGGESTIONS]


def button_payload(intent: str, entities: List[Dict[str, Any]]) -> str:
    """`/intent{...}` keeping what the citizen already told us."""
    values = {e["entity"]: e["value"] for e in entities if e.get("entity") and "value" in e}
    return intent_payload(intent, **values)


class ActionSuggestIntents(Action):
    """Ask which of the two likeliest services was meant, plus a human."""

    def name(self) -> Text:
        return "action_suggest_intents"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        message = tracker.latest_message
        intents = suggested_intents(message.get("intent_ranking", []))
        entities = message.get("entities", [])
        buttons = [
            {"title": INTENT_LABELS[i], "payload": button_payload(i, entities)} for i in intents
        ]
        buttons.append({"title": words("fallback.ActionSuggestIntents"), "payload": "/human_handoff"})
        text = words("fallback.ActionSuggestIntents_2") if intents else words("fallback.ActionSuggestIntents_3")
        dispatcher.utter_message(text=text, buttons=buttons)
        return [UserUtteranceReverted()]
