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

from abc import abstractmethod
from typing import Any, ClassVar, Dict, List, Optional, Text

from rasa_sdk import FormValidationAction, Tracker
from rasa_sdk.events import ActiveLoop, EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import bare_answers, replies
from common import registry, services

MAX_FAILURES = 3
# Questions answered inline while a form waits for its slot.
SIDE_INTENTS = {"faq", "chitchat", "help", "bot_challenge", "greet", "thank", "out_of_scope"}
SIDE_CONFIDENCE = 0.7
FAILURES_SLOT = "validation_failures"
# The form each service intent starts (common/services.yml).
SERVICE_FORMS = services.load().forms_by_intent()
# What to say when nothing usable was recognised in the answer to a question.
SLOT_HINTS = {
    "city": "没听出是哪个城市，请直接说城市名，或点下面的按钮选择。",
    "plate_number": "没有识别出车牌号。车牌是省份简称+字母+5位字母数字（新能源车6位），例如 粤B12345。",
    "engine_number": "发动机号后6位是字母或数字，例如 A12345，请再输入一次。",
    "road": "没找到这条路，请说出完整的路名，例如 深南大道。",
    "bus_line": "没听出是几路车，请输入线路名，例如 10路、B1路。",
    "origin": "请说出发地点，例如 火车站、市民中心。",
    "destination": "请说目的地，例如 火车站、市民中心。",
    "utility_type": "请选择水费、电费或燃气费。",
    "account_number": "户号一般是8到16位数字，请再核对一下。",
    "hospital": "没找到这家医院，请说医院全称或常用简称。",
    "department": "没听出是哪个科室，例如 儿科、内科、骨科；也可以说说哪里不舒服。",
    "date": "没听懂是哪一天，例如 明天、下周一、12月3号。",
    "time_period": "请说上午、下午或晚上。",
    "id_number": "身份证号应为18位（最后一位可能是X），请核对后再输入。",
    "phone_number": "手机号应为11位数字，请核对后再输入。",
    "symptom": "请说说具体哪里不舒服，例如 头疼、咳嗽、肚子疼。",
    "ticket_id": "工单号是两个字母加一串数字，例如 GZ20261127001；忘了的话，留过的手机号也可以。",
    "appointment_id": "请点击上面列表里要取消的预约。",
    "otp_code": "验证码是短信里的6位数字，请直接输入。",
    "confirmed": "请回复“确认”或“取消”。",
}


class ServiceForm(FormValidationAction):
    """Validation shared by every form; subclasses set the class variables."""

    @property
    @abstractmethod
    def form(self) -> str:
        """The form's name, e.g. violation_form (a class attribute in subclasses)."""

    @property
    @abstractmethod
    def service(self) -> str:
        """The registry service, e.g. violation (a class attribute in subclasses)."""

    slots: ClassVar[List[str]] = []  # asked in every city, in order
    final_slots: ClassVar[List[str]] = []  # asked after the city's own fields
    needs_city: ClassVar[bool] = True  # False where the city follows from a slot
    # Slots cleared when the form ends without being completed. A validator
    # ends the form by returning {"requested_slot": None}.
    transient_slots: ClassVar[List[str]] = ["confirmed"]
    # What a "no" at the confirmation step means for this service.
    declined_text: ClassVar[str] = "好的，已取消，没有做任何操作。"

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
        """City first, then this form's slots and the city's own fields.

        The city stays in the list once the citizen has one, so a switch to
        another city in the middle of the form is validated like any other answer.
        """
        city = self.city_of(tracker)
        ask_city = self.needs_city and (city is None or tracker.get_slot("city"))
        slots: List[str] = ["city"] if ask_city else []
        slots += self.slots
        service = city.service(self.service) if city else None
        if service:
            slots += [s for s in service.required if s not in slots]
        return slots + [s for s in self.final_slots if s not in slots]

    # ------------------------------------------------------- validation
    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        """Handle what is not an answer to the question first, then validate slots."""
        bare = bare_answers.events(tracker)  # 123456 typed alone for the engine number
        tracker.add_slots(bare)
        early = self.not_an_answer(dispatcher, tracker)
        if early is not None:
            return early
        requested = tracker.get_slot("requested_slot")
        candidates = tracker.slots_to_validate()
        events = bare + await self.get_extraction_events(dispatcher, tracker, domain)
        tracker.add_slots(events)
        validation = await self.get_validation_events(dispatcher, tracker, domain)
        tracker.add_slots(validation)
        events += validation
        if any(e.get("name") == "requested_slot" and e.get("value") is None for e in validation):
            return events + self.abort_events(tracker)  # a validator ended the form
        unavailable = self.service_unavailable(dispatcher, tracker, events)
        if unavailable:
            return unavailable
        required = await self.required_slots(self.domain_slots(domain), dispatcher, tracker, domain)
        missing = next((slot for slot in required if tracker.slots.get(slot) is None), None)
        events.append(SlotSet("requested_slot", missing))
        return self.count_failures(dispatcher, tracker, requested, candidates, events)

    def not_an_answer(
        self, dispatcher: CollectingDispatcher, tracker: Tracker
    ) -> Optional[List[EventType]]:
        """Stop, handoff, a side question, another service, or nothing recognised."""
        intent = tracker.latest_message.get("intent", {})
        name, confidence = intent.get("name"), intent.get("confidence", 0.0)
        requested = tracker.get_slot("requested_slot")
        if name == "stop":
            dispatcher.utter_message(response="utter_stop")
            return self.abort_events(tracker)
        if name == "human_handoff":
            return self.abort_events(tracker, then="action_handoff")
        if name == "delete_my_data":  # 删除我的记录 ends any form (actions/privacy.py)
            return self.abort_events(tracker, then="action_delete_my_data")
        if requested is None or tracker.slots_to_validate():
            return None
        # Nothing was extracted for the question asked.
        if name in SIDE_INTENTS and confidence >= SIDE_CONFIDENCE:
            replies.answer_side_question(dispatcher, tracker, name)
            return self.ask_again(requested)
        target = SERVICE_FORMS.get(name)
        if target and target != self.form and confidence >= SIDE_CONFIDENCE:
            dispatcher.utter_message(text="好的，先帮您办这个。")
            return self.abort_events(tracker, then=target)
        dispatcher.utter_message(text=SLOT_HINTS.get(requested, "没听明白，请再说一次。"))
        return self.ask_again(requested) + self.failure_events(dispatcher, tracker)

    @staticmethod
    def ask_again(slot: str) -> List[EventType]:
        """Keep the form on the same question (a SlotSet keeps Rasa from rejecting it)."""
        return [SlotSet(slot, None), SlotSet("requested_slot", slot)]

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
        candidates: Dict[str, Any],
        events: List[EventType],
    ) -> List[EventType]:
        """Count consecutive invalid answers; after MAX_FAILURES offer a person. A yes that
        changed the subject is asked again without counting (validate_confirmed)."""
        if not requested or requested == "confirmed" or candidates.get(requested) is None:
            return events
        if _latest_value(events, requested, candidates[requested]) is not None:
            return events + [SlotSet(FAILURES_SLOT, 0)]
        return events + self.failure_events(dispatcher, tracker)

    def failure_events(self, dispatcher: CollectingDispatcher, tracker: Tracker) -> List[EventType]:
        """One more invalid answer; the last one allowed ends the form with an offer of a person."""
        failures = int(tracker.get_slot(FAILURES_SLOT) or 0) + 1
        if failures < MAX_FAILURES:
            return [SlotSet(FAILURES_SLOT, failures)]
        dispatcher.utter_message(
            text="好像一直没能对上，先不继续了。需要的话我可以帮您转人工客服。",
            buttons=[{"title": "转人工", "payload": "/human_handoff"},
                     {"title": "不用了", "payload": "/deny"}],
        )
        return self.abort_events(tracker)

    def abort_events(self, tracker: Tracker, then: str = "action_listen") -> List[EventType]:
        """End the form without its answer and forget what only made sense inside it.

        The follow-up action (listening, by default) takes the place of the
        submit rule, so a stopped form never answers with what it had so far.
        """
        return [SlotSet(s, None) for s in self.transient_slots] + [
            SlotSet(FAILURES_SLOT, 0),
            SlotSet("requested_slot", None),
            ActiveLoop(None),
            FollowupAction(then),
        ]

    # ---------------------------------------------- shared validators
    async def validate_city(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        """A served city; a switch in the middle of the form is acknowledged before the
        form asks its next question, so the citizen knows the answer will be for it."""
        city = replies.served_city_or_explain(value, dispatcher)
        before = _value_before_latest_message(tracker, "city")
        if city and before and city != before:
            dispatcher.utter_message(text=f"好的，已切换到{city}。")
        return {"city": city}

    async def validate_confirmed(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        """A "no" at the confirmation step cancels, it is not a failure; a yes that
        also changes what was shown (`/affirm{"plate_number": ...}`) asks again."""
        if value is False:
            dispatcher.utter_message(text=self.declined_text)
            return {"confirmed": None, "requested_slot": None}
        changed = [slot for slot, said in tracker.slots_to_validate().items()
                   if slot not in ("confirmed", "requested_slot")
                   and said != _value_before_latest_message(tracker, slot)]
        if changed:
            dispatcher.utter_message(text="您改动了要办理的信息，请核对新的内容后再确认。")
            return {"confirmed": None}
        return {"confirmed": True}


def _value_before_latest_message(tracker: Tracker, slot: str) -> Any:
    """The slot's value before the citizen's latest message set anything."""
    events = list(tracker.events)
    last_user = max((i for i, e in enumerate(events) if e.get("event") == "user"), default=len(events))
    return _latest_value(events[:last_user], slot, None)


def _latest_value(events: List[EventType], slot: str, default: Any) -> Any:
    """The value the events leave a slot with."""
    for event in reversed(events):
        if event.get("event") == "slot" and event.get("name") == slot:
            return event.get("value")
    return default
