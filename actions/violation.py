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
from common import gazetteer, registry
from common import codes

PAY_BUTTON = {"title": "缴纳罚款", "payload": "/pay_fine"}


def plate_city(plate: Optional[str]) -> Optional[str]:
    return gazetteer.load().city_of_plate(plate) if plate else None


def describe(v: Violation) -> str:
    state = "已缴" if v.paid else "未缴"
    late = f"，滞纳金{replies.yuan(v.late_fee)}" if v.late_fee > 0 else ""
    return (f"{v.occurred_at:%m月%d日} {v.place} {v.behaviour}，罚款{replies.yuan(v.fine)}{late}，"
            f"扣{v.points}分（{state}）")


def violation_card(v: Violation) -> Dict[str, Any]:
    return replies.card(
        title=v.behaviour,
        subtitle=f"{v.occurred_at:%Y-%m-%d %H:%M} {v.place}",
        fields=[("罚款", replies.yuan(v.fine)), *([("滞纳金", replies.yuan(v.late_fee))] if v.late_fee > 0 else []),
                ("扣分", f"{v.points} 分"),
                ("决定书编号", v.decision_number), ("状态", "已缴款" if v.paid else "未缴款")],
    )


def summary_card(v: Violation, number: int) -> Dict[str, Any]:
    """What a plate alone may show where the city's rule asks more for details: no time, place or decision."""
    return replies.card(
        title=f"第 {number} 条违章",
        fields=[("罚款", replies.yuan(v.fine)), ("扣分", f"{v.points} 分"), ("状态", "已缴款" if v.paid else "未缴款")],
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
        raise RequestRejected("该号牌所属城市暂未开通违章查询", 404, "not_served")
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
            dispatcher.utter_message(text=f"“{value}”不是有效的车牌号，例如 粤B12345。")
            return {"plate_number": None}
        city = plate_city(plate)
        if city is None or registry.load().city(city) is None:
            reg = registry.load()
            dispatcher.utter_message(
                text=f"{plate} 属于外地号牌，目前只能查询{reg.served_list()}的号牌"
                "（粤A、粤B、粤E/X/Y、鄂A、沪）。外地车辆请在交管12123 App查询。"
            )
            return {"plate_number": None}
        return {"plate_number": plate}

    async def validate_engine_number(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        engine = str(value or "").strip().upper()
        if len(engine) < 6 or not engine.isalnum():
            dispatcher.utter_message(text="发动机号后6位应是6个字母或数字，请再输入一次。")
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
            dispatcher.utter_message(text=f"{plate} 暂无违章记录，继续保持安全驾驶！")
            return []
        unpaid = result.unpaid
        # Compact text; the details travel as cards (WeChat prints them as text).
        late = result.unpaid_late_fees
        late_text = f"（另有滞纳金 {replies.yuan(late)}）" if late > 0 else ""
        summary = (f"{plate} 共 {len(result.violations)} 条违章，其中未缴款 {len(unpaid)} 条，"
                   f"待缴罚款 {replies.yuan(result.unpaid_fine)}{late_text}、扣 {sum(v.points for v in unpaid)} 分。")
        if details_missing(tracker):
            summary += "如需查看每条违章的时间和地点，请提供发动机号后6位（可在行驶证上找到）。"
            cards = [summary_card(v, i) for i, v in enumerate(result.violations, 1)]
        else:
            cards = [violation_card(v) for v in result.violations]
        dispatcher.utter_message(
            text=summary,
            buttons=[PAY_BUTTON] if unpaid else [],
            json_message=replies.card_list(f"{plate} 的违章记录", cards),
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
            dispatcher.utter_message(text=f"{plate} 没有待缴的罚款。")
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
            dispatcher.utter_message(text="这条违章已缴款或不存在，请从列表里选择。")
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
            text="请选择要缴纳的罚款：",
            buttons=[{"title": describe(v), "payload": replies.intent_payload("inform", violation_id=v.decision_number)}
                     for v in unpaid],
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
            violation = next(v for v in (await fetch(tracker)).unpaid if v.decision_number == chosen)
        except (BackendError, StopIteration):
            dispatcher.utter_message(text="没能取到这条违章的详情，请稍后再试。")
            return confirmation.END_FORM
        late = f"（罚款 {replies.yuan(violation.fine)} + 滞纳金 {replies.yuan(violation.late_fee)}）" \
            if violation.late_fee > 0 else ""
        dispatcher.utter_message(
            text=f"确认缴纳以下罚款吗？\n{tracker.get_slot('plate_number')}：{describe(violation)}\n"
            f"今日应缴 {replies.yuan(violation.amount_due)}{late}",
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
            return confirmation.refuse_unconfirmed(dispatcher, "缴款") + done
        client = client_for(ViolationClient, plate_city(tracker.get_slot("plate_number")), "violation")
        try:
            paid = await call(client.pay, decision, Decimal(terms["amount"]),
                              idempotency_key(tracker, decision, terms["amount"]))
        except BackendError as error:
            confirmation.not_done(dispatcher, error, "罚款缴纳")
            return done
        dispatcher.utter_message(
            text=f"缴款成功！{paid.plate} 罚款 {replies.yuan(paid.amount)}已缴纳，缴款编号 {paid.payment_id}。"
            "记分请按交管部门通知处理。",
            json_message=replies.card_list("缴款回执", [replies.card(
                title="违章罚款缴款成功",
                subtitle=f"{paid.paid_at:%Y-%m-%d %H:%M}",
                fields=[("车牌", paid.plate), ("金额", replies.yuan(paid.amount)),
                        ("决定书编号", paid.decision_number), ("缴款编号", paid.payment_id)],
            )]),
        )
        return done
