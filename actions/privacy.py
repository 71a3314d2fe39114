"""删除我的记录: the citizen ends and erases their conversation.

Typed ("删除我的记录") the request is confirmed first; from a control (the
confirm button, the web chat's 结束并清除, both the payload /delete_my_data)
or confirmed in words (affirm, data/rules/privacy.yml) it erases at once.
Erasing is the bot's job, not the action server's: the action returns
`SlotSet("erase_conversation", True)` and the tracker store, saving that
event, deletes every stored event of the conversation (bot/tracker_store.py).
The personal slots are emptied too, so nothing stays in memory either.
"""
from __future__ import annotations

from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from common.privacy import SENSITIVE_SLOTS

ERASE_SLOT = "erase_conversation"  # bot.tracker_store.ERASE_SLOT (the action server imports nothing of bot/)


def confirmed(message: Dict[str, Any]) -> bool:
    """A control's payload, or a yes to the question."""
    intent = (message.get("intent") or {}).get("name")
    return (message.get("text") or "").startswith("/delete_my_data") or intent == "affirm"


class ActionDeleteMyData(Action):
    def name(self) -> Text:
        return "action_delete_my_data"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: Dict[Text, Any]) -> List[EventType]:
        if not confirmed(tracker.latest_message):
            dispatcher.utter_message(response="utter_ask_delete_my_data")
            return []
        dispatcher.utter_message(response="utter_delete_my_data_done")
        return [SlotSet(slot, None) for slot in SENSITIVE_SLOTS] + [SlotSet(ERASE_SLOT, True)]
