"""The tracker store keeps no raw personal value in its rows; the bot reads them back plain."""
from __future__ import annotations

import json
from typing import List

from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from tests.test_tracker_store import run, stores  # noqa: F401  (the SQLite/PostgreSQL fixture)

ID = "44030119900101123X"
PHONE = "13812345678"
TOKEN = "tok-9f8e7d"
DOMAIN = Domain.from_yaml("""
version: "3.1"
slots:
  city: {type: text, mappings: [{type: custom}]}
  id_number: {type: text, mappings: [{type: custom}]}
  phone_number: {type: text, mappings: [{type: custom}]}
  identity_token: {type: text, mappings: [{type: custom}]}
""")


def raw_rows(store, sender: str) -> List[str]:
    with store.session_scope() as session:
        return [data for (data,) in session.query(store.SQLEvent.data).filter_by(sender_id=sender)]


def personal_turn(tracker: DialogueStateTracker) -> None:
    text = f"身份证{ID}，手机{PHONE}"
    tracker.update(UserUttered(text, {"name": "inform", "confidence": 1.0}, [
        {"entity": "id_number", "value": ID, "start": 3, "end": 21},
        {"entity": "phone_number", "value": PHONE, "start": 24, "end": 35}],
        parse_data={"text": text, "intent": {"name": "inform", "confidence": 1.0}}))
    tracker.update(SlotSet("id_number", ID))
    tracker.update(SlotSet("phone_number", PHONE))
    tracker.update(SlotSet("identity_token", TOKEN))
    tracker.update(SlotSet("city", "深圳"))
    tracker.update(ActionExecuted("action_query_social_security"))
    tracker.update(BotUttered(f"已为手机 {PHONE} 查询"))
    tracker.update(ActionExecuted("action_listen"))


def test_rows_hold_no_raw_id_phone_or_token_and_read_back_plain(stores):  # noqa: F811
    ours, rasa = stores
    ours.domain = rasa.domain = DOMAIN
    tracker = run(ours.get_or_create_tracker("web:citizen"))
    personal_turn(tracker)
    run(ours.save(tracker))

    rows = raw_rows(rasa, "web:citizen")
    assert len(rows) == len(tracker.events)
    for data in rows:
        for raw in (ID, PHONE, TOKEN, "1990010", "8123"):
            assert raw not in data and raw not in json.loads(data).__repr__()
    assert any("138****5678" in json.loads(data).__repr__() for data in rows)  # the mask stays readable

    back = run(ours.retrieve("web:citizen"))
    assert [e.as_dict() for e in back.events] == [e.as_dict() for e in tracker.events]
    assert (back.get_slot("id_number"), back.get_slot("phone_number"),
            back.get_slot("identity_token"), back.get_slot("city")) == (ID, PHONE, TOKEN, "深圳")
    assert back.latest_message.text == f"身份证{ID}，手机{PHONE}"


def test_rows_without_personal_data_are_rasas_plain_json(stores):  # noqa: F811
    ours, rasa = stores
    tracker = run(ours.get_or_create_tracker("web:plain"))
    tracker.update(UserUttered("你好", {"name": "greet", "confidence": 1.0}))
    run(ours.save(tracker))
    rows = raw_rows(rasa, "web:plain")
    assert rows and not any("sealed" in data for data in rows)
    assert run(rasa.retrieve("web:plain")).latest_message.text == "你好"
