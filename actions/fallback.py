"""Low-confidence fallback: offer the two likeliest intents, never a dead end."""
from __future__ import annotations

from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import UserUtteranceReverted
from rasa_sdk.executor import CollectingDispatcher

from actions.replies import intent_payload

# What each intent means to a citizen, as a button title.
INTENT_LABELS: Dict[str, str] = {
    "query_violation": "查违章",
    "pay_fine": "交违章罚款",
    "query_traffic": "查路况",
    "query_restriction": "查限行",
    "query_bus": "查公交",
    "query_route": "查换乘路线",
    "query_bill": "查水电燃气费",
    "pay_bill": "交水电燃气费",
    "book_appointment": "预约挂号",
    "query_appointment": "查我的挂号",
    "cancel_appointment": "取消挂号",
    "recommend_department": "导诊：该挂什么科",
    "query_weather": "查天气",
    "query_social_security": "查社保",
    "query_housing_fund": "查公积金",
    "report_issue": "向12345反映问题",
    "query_ticket": "查反映问题的进度",
    "faq": "办事指南",
    "help": "看看能办什么",
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
        buttons.append({"title": "转人工", "payload": "/human_handoff"})
        text = "抱歉，我不太确定您的意思。您是想：" if intents else "抱歉，我没太明白。您可以："
        dispatcher.utter_message(text=text, buttons=buttons)
        return [UserUtteranceReverted()]
