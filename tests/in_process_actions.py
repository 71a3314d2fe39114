"""Actions for tests/test_actions_in_process.py: one per answer the action server can give."""
from __future__ import annotations

from typing import Any, Dict, List

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.interfaces import ActionExecutionRejection


class Echo(Action):
    def name(self) -> str:
        return "action_test_echo"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
            domain: Dict[str, Any]) -> List[Dict[str, Any]]:
        users = [e["text"] for e in tracker.events if e.get("event") == "user"]
        dispatcher.utter_message(text=f"收到{len(users)}句：{users[-1]}")
        return [SlotSet("city", "深圳")]


class Rejects(Action):
    def name(self) -> str:
        return "action_test_rejects"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
            domain: Dict[str, Any]) -> List[Dict[str, Any]]:
        raise ActionExecutionRejection(self.name(), "不适用")


class Fails(Action):
    def name(self) -> str:
        return "action_test_fails"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
            domain: Dict[str, Any]) -> List[Dict[str, Any]]:
        raise RuntimeError("后端炸了")
