"""Realistic conversations written straight into a tracker database.

Tests, screenshots and the benchmark need conversations of every kind the
console filters on (fallback, handoff, backend error, abandoned form, personal
data) without running the bot. They are built with Rasa's own event classes, in
the shape the live stack stores them (a citizen's turn, the form, the slots,
the bot's answer with buttons or cards), and inserted as rows exactly like
`bot/tracker_store.py` writes them.
"""
from __future__ import annotations

import json
import random
import uuid
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence

from rasa.shared.core.events import (
    ActionExecuted,
    ActiveLoop,
    BotUttered,
    Event,
    SessionStarted,
    SlotSet,
    UserUttered,
)
from sqlalchemy.engine import Engine

from common.privacy import seal_event
from console import db

CITIES = ("广州", "深圳", "佛山", "武汉", "上海")
PLATES = {"广州": "粤A", "深圳": "粤B", "佛山": "粤E", "武汉": "鄂A", "上海": "沪A"}


class Script:
    """One conversation being written, turn by turn, with advancing timestamps."""

    def __init__(self, start: float, rng: random.Random) -> None:
        self.ts = start
        self.rng = rng
        self.events: List[Event] = [ActionExecuted("action_session_start", timestamp=start),
                                    SessionStarted(timestamp=start),
                                    ActionExecuted("action_listen", timestamp=start)]

    def _tick(self) -> float:
        self.ts += self.rng.uniform(2, 40)
        return self.ts

    def user(self, text: str, intent: str, confidence: float,
             entities: Sequence[Dict[str, Any]] = ()) -> "Script":
        ranking = [{"name": intent, "confidence": confidence},
                   {"name": "out_of_scope", "confidence": round((1 - confidence) / 2, 4)}]
        parse = {"intent": {"name": intent, "confidence": confidence}, "entities": list(entities),
                 "text": text, "message_id": uuid.uuid4().hex, "intent_ranking": ranking}
        self.events.append(UserUttered(text, intent=parse["intent"], parse_data=parse,
                                       entities=list(entities), timestamp=self._tick(),
                                       message_id=parse["message_id"]))
        for e in entities:
            self.events.append(SlotSet(e["entity"], e["value"], timestamp=self.ts))
        return self

    def act(self, name: str, *effects: Event) -> "Script":
        self.events.append(ActionExecuted(name, policy="RulePolicy", confidence=1.0, timestamp=self.ts))
        for effect in effects:
            effect.timestamp = self.ts
            self.events.append(effect)
        return self

    def say(self, text: str, buttons: Optional[List[Dict[str, str]]] = None,
            custom: Optional[Dict[str, Any]] = None, utter: Optional[str] = None) -> "Script":
        data = {"buttons": buttons, "custom": custom}
        self.events.append(BotUttered(text, data=data, metadata={"utter_action": utter} if utter else {},
                                      timestamp=self.ts + 0.3))
        return self

    def listen(self) -> "Script":
        return self.act("action_listen")


def _entity(name: str, value: str, text: str) -> Dict[str, Any]:
    start = text.find(value)
    return {"entity": name, "value": value, "start": start, "end": start + len(value),
            "extractor": "CodeEntityExtractor"}


def _city_buttons() -> List[Dict[str, str]]:
    return [{"title": c, "payload": f'/set_city{{"city": "{c}"}}'} for c in CITIES]


def violation(s: Script, city: str) -> None:
    plate = PLATES[city] + "".join(s.rng.choice("0123456789") for _ in range(5))
    text = f"查一下{plate}有没有违章"
    s.user(text, "query_violation", round(s.rng.uniform(0.7, 0.99), 3), [_entity("plate_number", plate, text)])
    s.act("violation_form", ActiveLoop("violation_form"), SlotSet("requested_slot", "engine_number"))
    s.say("请提供发动机号后6位。", utter="utter_ask_engine_number").listen()
    s.user("A12345", "inform", 0.62, [_entity("engine_number", "A12345", "A12345")])
    s.act("violation_form", SlotSet("requested_slot", None), ActiveLoop(None))
    s.act("action_query_violation", SlotSet("city", city))
    card = {"type": "card_list", "title": f"{plate} 的违章记录",
            "items": [{"title": "闯红灯", "subtitle": "深南大道", "fields": [["罚款", "200 元"], ["记分", "6"]],
                       "buttons": [{"title": "缴纳罚款", "payload": "/pay_fine"}]}]}
    s.say(f"{plate} 有 1 条未处理的违章。", custom=card).listen()


def fallback(s: Script, city: str) -> None:
    s.user("我在" + city, "set_city", 0.93, [_entity("city", city, "我在" + city)])
    s.act("action_set_city", SlotSet("city", city)).say(f"好的，已切换到{city}。").listen()
    s.user("那个东西咋整啊", "nlu_fallback", 0.3)
    s.act("action_suggest_intents").say("抱歉，我没太明白。您是想：",
                                        buttons=[{"title": "查违章", "payload": "/query_violation"},
                                                 {"title": "查路况", "payload": "/query_traffic"}]).listen()


def handoff(s: Script, city: str) -> None:
    s.user("查一下这个月电费", "query_bill", 0.88)
    s.act("bill_form", ActiveLoop("bill_form"), SlotSet("requested_slot", "city"))
    s.say("请问您在哪个城市？", buttons=_city_buttons(), utter="utter_ask_city").listen()
    s.user(city, "inform", 0.55, [_entity("city", city, city)])
    s.act("bill_form", SlotSet("city", city), SlotSet("requested_slot", "account_number"))
    s.say("请提供户号。").listen()
    s.user("转人工", "human_handoff", 0.97)
    s.act("action_handoff", SlotSet("handoff", True)).say("好的，已为您转人工客服，人工客服会查看记录并尽快联系您。")
    s.listen()


def backend_error(s: Script, city: str) -> None:
    account = "".join(s.rng.choice("0123456789") for _ in range(10))
    s.user("帮我查水费", "query_bill", 0.91)
    s.act("bill_form", ActiveLoop("bill_form"), SlotSet("city", city), SlotSet("requested_slot", "account_number"))
    s.say("请提供户号。").listen()
    s.user(f"户号{account}", "inform", 0.74, [_entity("account_number", account, f"户号{account}")])
    s.act("bill_form", SlotSet("requested_slot", None), ActiveLoop(None))
    s.act("action_query_bill").say("抱歉，水费系统暂时无法访问。请稍后再试一次，或拨打热线12345；也可以回复“转人工”。")
    s.listen()


def abandoned(s: Script, city: str) -> None:
    s.user("我想挂明天的儿科", "book_appointment", 0.86)
    s.act("appointment_form", ActiveLoop("appointment_form"), SlotSet("city", city),
          SlotSet("requested_slot", "id_number"))
    s.say("请提供就诊人的身份证号。").listen()
    for n, typed in enumerate(("不知道", "123", "没带"), start=1):
        s.user(typed, "inform", round(s.rng.uniform(0.2, 0.5), 3))
        if n < 3:
            s.act("appointment_form", SlotSet("validation_failures", n)).say("身份证号格式不对，请再输入一次。")
        else:
            s.act("appointment_form", SlotSet("validation_failures", 0), SlotSet("requested_slot", None),
                  ActiveLoop(None))
            s.say("好像一直没能对上，先不继续了。需要的话我可以帮您转人工客服。",
                  buttons=[{"title": "转人工", "payload": "/human_handoff"},
                           {"title": "不用了", "payload": "/deny"}])
        s.listen()


def appointment(s: Script, city: str) -> None:
    id_number, phone = "440301199001011234", "13812345678"
    s.user("帮我挂号", "book_appointment", 0.95)
    s.act("appointment_form", ActiveLoop("appointment_form"), SlotSet("city", city),
          SlotSet("requested_slot", "id_number")).say("请提供就诊人的身份证号。").listen()
    text = f"身份证{id_number}，电话{phone}，我叫张伟"
    s.user(text, "inform", 0.81, [_entity("id_number", id_number, text), _entity("phone_number", phone, text)])
    s.act("appointment_form", SlotSet("requested_slot", None), ActiveLoop(None))
    s.act("action_book_appointment").say(f"已为您预约成功，短信会发到 {phone}。").listen()


KINDS: Dict[str, Callable[[Script, str], None]] = {
    "violation": violation, "fallback": fallback, "handoff": handoff,
    "backend_error": backend_error, "abandoned": abandoned, "appointment": appointment,
}


def conversation(kind: str, city: str, start: float, rng: random.Random) -> List[Dict[str, Any]]:
    """The events (as Rasa stores them) of one conversation of this kind."""
    script = Script(start, rng)
    KINDS[kind](script, city)
    return [event.as_dict() for event in script.events]


def rows(sender_id: str, events: Iterable[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """`events` table rows, as bot/tracker_store.py writes them (personal values sealed)."""
    return [{"sender_id": sender_id, "type_name": e["event"], "timestamp": e.get("timestamp"),
             "intent_name": (e.get("parse_data") or {}).get("intent", {}).get("name"),
             "action_name": e.get("name"), "data": json.dumps(seal_event(e))} for e in events]


def write(engine: Engine, sender_id: str, events: Iterable[Dict[str, Any]]) -> None:
    with engine.begin() as conn:
        conn.execute(db.events.insert(), rows(sender_id, events))
