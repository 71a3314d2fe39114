from actions.conversation import ActionSetCity, ValidateSlotMappings
from actions.fallback import ActionSuggestIntents, button_payload, suggested_intents
from common import dates
from tests.actions.conftest import make_tracker, run_action, slot_events, texts


def validate_new_slots(slots, active_loop=None):
    tracker = make_tracker(slots, active_loop=active_loop,
                           events=[{"event": "slot", "name": k, "value": v} for k, v in slots.items()])
    return run_action(ValidateSlotMappings(), tracker)


def test_plate_canonicalised_and_tells_the_city():
    events, _ = validate_new_slots({"plate_number": "粤b 12345"})
    assert slot_events(events) == {"plate_number": "粤B12345", "city": "深圳"}


def test_plate_of_an_unserved_province_sets_no_city():
    events, _ = validate_new_slots({"plate_number": "浙A12345"})
    assert "city" not in slot_events(events)


def test_date_slot_holds_iso():
    events, _ = validate_new_slots({"date": "明天"})
    tomorrow = dates.resolve("明天", dates.now_in_china()).date
    assert slot_events(events)["date"] == tomorrow and len(tomorrow) == 10


def test_unserved_city_outside_a_form_is_explained_with_buttons():
    events, messages = validate_new_slots({"city": "杭州"})
    assert slot_events(events)["city"] is None
    assert "杭州暂时还没有接入" in texts(messages)
    assert [b["title"] for b in messages[0]["buttons"]] == ["广州", "深圳", "佛山", "武汉", "上海"]


def test_city_inside_a_form_is_left_to_the_form():
    events, messages = validate_new_slots({"city": "杭州"}, active_loop="traffic_form")
    assert slot_events(events)["city"] == "杭州" and messages == []


def test_set_city_confirms():
    tracker = make_tracker({"city": "上海"}, intent="set_city",
                           entities=[{"entity": "city", "value": "上海"}])
    _, messages = run_action(ActionSetCity(), tracker)
    assert texts(messages) == "好的，已切换到上海。请问要办什么？"


def test_fallback_offers_two_likeliest_intents_and_a_person():
    tracker = make_tracker(intent="nlu_fallback", confidence=0.3, text="粤B12345罚单",
                           entities=[{"entity": "plate_number", "value": "粤B12345"}])
    tracker.latest_message["intent_ranking"] = [
        {"name": "nlu_fallback", "confidence": 0.3}, {"name": "pay_fine", "confidence": 0.28},
        {"name": "inform", "confidence": 0.2}, {"name": "query_violation", "confidence": 0.19},
        {"name": "query_bill", "confidence": 0.1}]
    events, messages = run_action(ActionSuggestIntents(), tracker)
    buttons = messages[0]["buttons"]
    assert [b["title"] for b in buttons] == ["交违章罚款", "查违章", "转人工"]
    assert buttons[0]["payload"] == '/pay_fine{"plate_number": "粤B12345"}'
    assert events == [{"event": "rewind", "timestamp": None}]


def test_suggestions_skip_intents_a_citizen_cannot_act_on():
    ranking = [{"name": n} for n in ("affirm", "inform", "query_bus", "nlu_fallback")]
    assert suggested_intents(ranking) == ["query_bus"]
    assert button_payload("help", []) == "/help"
