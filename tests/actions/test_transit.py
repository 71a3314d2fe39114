"""Bus lines and routes against the simulated transit backends.

Names are from the gazetteer the simulator is seeded with: 广州 10路 runs
广州火车站 … 北京路 → 海珠广场 (06:00-22:30); 天河城 is a landmark at 体育西路.
Arrivals move with the clock, so those tests pin it.
"""
from typing import Any, Dict, List, Optional

from actions.transit import (
    ActionQueryBus,
    ActionQueryRoute,
    ValidateBusForm,
    ValidateRouteForm,
    clean_place,
)
from tests.actions.conftest import make_tracker, run_action, slot_events, texts

AT_BEIJING_ROAD = '/query_bus{"bus_line": "10路", "bus_stop": "北京路"}'
MORNING = "2026-11-27T10:00:00+08:00"
LATE_NIGHT = "2026-11-27T23:50:00+08:00"


def said(**slots: Any) -> List[Dict[str, Any]]:
    """The slot events a turn ends with (what the form validates)."""
    return [{"event": "user", "timestamp": 1.0}] + [
        {"event": "slot", "name": name, "value": value} for name, value in slots.items()
    ]


def bus_question(text: str, stop: Optional[str] = None) -> List[Dict[str, Any]]:
    """The events of a query_bus turn, as the action server receives them."""
    events = [{"event": "user", "timestamp": 2.0, "text": text,
               "parse_data": {"intent": {"name": "query_bus", "confidence": 0.99}}}]
    return events + ([{"event": "slot", "name": "bus_stop", "value": stop}] if stop else [])


def buttons(messages: List[Dict[str, Any]]) -> List[Dict[str, str]]:
    return [b for m in messages for b in m.get("buttons", [])]


def custom(messages: List[Dict[str, Any]]) -> Dict[str, Any]:
    return next(m["custom"] for m in messages if m.get("custom"))


# ------------------------------------------------------------------ bus form
def test_bus_line_gets_the_backends_name(city_backends):
    tracker = make_tracker({"city": "广州", "requested_slot": "bus_line", "bus_line": "b1"},
                           events=said(bus_line="b1"))
    events, messages = run_action(ValidateBusForm(), tracker)
    assert slot_events(events)["bus_line"] == "B1路"
    assert slot_events(events)["requested_slot"] is None and messages == []


def test_unknown_line_lists_the_lines_of_the_city(city_backends):
    tracker = make_tracker({"city": "广州", "requested_slot": "bus_line", "bus_line": "15路"},
                           events=said(bus_line="15路"))
    events, messages = run_action(ValidateBusForm(), tracker)
    assert "广州没有15路公交线路" in texts(messages)
    assert [b["title"] for b in buttons(messages)] == ["10路", "B1路", "2路", "夜20路"]
    assert slot_events(events)["bus_line"] is None
    assert slot_events(events)["requested_slot"] == "bus_line"
    assert slot_events(events)["validation_failures"] == 1


def test_line_waits_for_the_city_then_is_checked_there(city_backends):
    first = make_tracker({"bus_line": "10路"}, events=said(bus_line="10路"))
    events, _ = run_action(ValidateBusForm(), first)
    assert slot_events(events)["requested_slot"] == "city"
    for city, kept in (("深圳", "10路"), ("上海", None)):
        tracker = make_tracker({"bus_line": "10路", "city": city, "requested_slot": "city"},
                               events=said(city=city))
        events, messages = run_action(ValidateBusForm(), tracker)
        assert slot_events(events)["bus_line"] == kept
    assert "上海没有10路公交线路" in texts(messages) and "71路" in texts(messages)
    assert slot_events(events)["requested_slot"] == "bus_line"


def test_backend_down_while_checking_the_line_ends_the_form(city_backends):
    city_backends.inject_fault("error", service="transit", status=503)
    tracker = make_tracker({"city": "广州", "requested_slot": "bus_line", "bus_line": "10路"},
                           events=said(bus_line="10路"))
    events, messages = run_action(ValidateBusForm(), tracker)
    assert "抱歉" in texts(messages) and "暂时不可用" in texts(messages)
    assert slot_events(events)["bus_line"] is None
    assert {"event": "active_loop", "name": None} in [
        {k: e.get(k) for k in ("event", "name")} for e in events if e["event"] == "active_loop"
    ]


# ---------------------------------------------------------------- bus answer
def test_arrivals_at_the_stop_in_both_directions(city_backends):
    city_backends.pin_clock(MORNING)
    tracker = make_tracker({"city": "广州", "bus_line": "10路", "bus_stop": "北京路"},
                           events=bus_question("10路到北京路还要多久", stop="北京路"))
    events, messages = run_action(ActionQueryBus(), tracker)
    assert "10路 北京路站 实时到站（10:00更新）" in texts(messages)
    assert "开往海珠广场：" in texts(messages) and "开往广州火车站：" in texts(messages)
    card = custom(messages)
    assert card["type"] == "card_list" and [c["title"] for c in card["items"]] == ["开往海珠广场", "开往广州火车站"]
    assert {"下一班", "距离"} <= {label for label, _ in card["items"][0]["fields"]}
    assert buttons(messages) == [{"title": "刷新", "payload": AT_BEIJING_ROAD}]
    assert slot_events(events) == {"bus_line": None, "bus_stop": None}


def test_a_stop_the_nlu_tagged_as_a_road_is_found_in_the_words(city_backends):
    city_backends.pin_clock(MORNING)
    tracker = make_tracker({"city": "广州", "bus_line": "10路"}, events=bus_question("10路到北京路还要多久"))
    _, messages = run_action(ActionQueryBus(), tracker)
    assert "10路 北京路站 实时到站" in texts(messages)


def test_after_the_last_bus_and_at_the_terminal(city_backends):
    city_backends.pin_clock(LATE_NIGHT)
    tracker = make_tracker({"city": "广州", "bus_line": "10路", "bus_stop": "海珠广场"},
                           events=bus_question("10路海珠广场还有车吗", stop="海珠广场"))
    _, messages = run_action(ActionQueryBus(), tracker)
    assert "开往海珠广场：本站为终点站" in texts(messages)
    assert "开往广州火车站：今日末班车已过" in texts(messages)


def test_without_a_stop_first_and_last_bus_and_stops_as_buttons(city_backends):
    earlier_stop = [{"event": "slot", "name": "bus_stop", "value": "广州塔"}]  # from a route question
    tracker = make_tracker({"city": "广州", "bus_line": "10路", "bus_stop": "广州塔"},
                           events=earlier_stop + bus_question("10路首班车几点"))
    _, messages = run_action(ActionQueryBus(), tracker)
    assert "10路：首班 06:00，末班 22:30" in texts(messages)
    assert len(buttons(messages)) == 6
    assert buttons(messages)[4] == {"title": "北京路", "payload": AT_BEIJING_ROAD}
    assert dict(custom(messages)["items"][0]["fields"])["站数"] == "6 站"


def test_a_stop_off_the_line_is_explained_with_the_stops_it_has(city_backends):
    tracker = make_tracker({"city": "广州", "bus_line": "10路", "bus_stop": "广州塔"},
                           events=bus_question("10路到广州塔还要多久", stop="广州塔"))
    _, messages = run_action(ActionQueryBus(), tracker)
    assert "10路不经过“广州塔”站" in texts(messages)
    assert [b["title"] for b in buttons(messages)][0] == "广州火车站"


def test_bus_backend_down_gives_an_apology_and_what_to_try(city_backends):
    city_backends.inject_fault("error", service="transit", status=503)
    tracker = make_tracker({"city": "广州", "bus_line": "10路"}, events=bus_question("10路几点来"))
    events, messages = run_action(ActionQueryBus(), tracker)
    assert "抱歉" in texts(messages) and "转人工" in texts(messages)
    assert slot_events(events)["bus_line"] is None


def test_no_bus_answer_when_the_form_was_stopped(city_backends):
    events, messages = run_action(ActionQueryBus(), make_tracker({"city": "广州"}))
    assert messages == [] and slot_events(events)["bus_line"] is None


# ---------------------------------------------------------------- route form
def test_place_typed_without_an_entity_answers_the_question(city_backends):
    tracker = make_tracker({"city": "广州", "destination": "陈家祠", "requested_slot": "origin"},
                           intent="nlu_fallback", text="我在火车站", confidence=0.3)
    events, messages = run_action(ValidateRouteForm(), tracker)
    assert slot_events(events)["origin"] == "火车站"
    assert slot_events(events)["requested_slot"] is None and messages == []


def test_unknown_place_offers_similar_stations_and_stops(city_backends):
    tracker = make_tracker({"city": "广州", "origin": "天河城", "requested_slot": "destination"},
                           intent="nlu_fallback", text="天河公园", confidence=0.3)
    events, messages = run_action(ValidateRouteForm(), tracker)
    assert "广州暂未收录地点“天河公园”" in texts(messages) and "越秀公园" in texts(messages)
    assert {"title": "越秀公园", "payload": '/inform{"destination": "越秀公园"}'} in buttons(messages)
    assert slot_events(events)["destination"] is None
    assert slot_events(events)["requested_slot"] == "destination"


def test_of_two_places_said_together_only_the_unknown_one_is_asked_again(city_backends):
    tracker = make_tracker({"city": "广州", "origin": "火星", "destination": "陈家祠"}, intent="query_route",
                           events=said(origin="火星", destination="陈家祠"))
    events, messages = run_action(ValidateRouteForm(), tracker)
    assert "暂未收录地点“火星”" in texts(messages) and "可以换个说法" in texts(messages)
    assert slot_events(events)["origin"] is None and slot_events(events)["destination"] == "陈家祠"
    assert slot_events(events)["requested_slot"] == "origin"


def test_city_named_mid_form_rechecks_the_places_in_that_city(city_backends):
    tracker = make_tracker({"city": "上海", "origin": "徐家汇", "destination": "陈家祠",
                            "requested_slot": "origin"}, intent="set_city", events=said(city="上海"))
    events, messages = run_action(ValidateRouteForm(), tracker)
    assert "上海暂未收录地点“陈家祠”" in texts(messages)
    assert slot_events(events)["destination"] is None
    assert slot_events(events)["requested_slot"] == "destination"


def test_two_names_of_one_place_ask_for_another_destination(city_backends):
    tracker = make_tracker({"city": "广州", "origin": "广州塔", "destination": "小蛮腰"},
                           events=said(origin="广州塔", destination="小蛮腰"))
    events, messages = run_action(ValidateRouteForm(), tracker)
    assert "起点和终点是同一个地方，请换一个目的地" in texts(messages)
    assert slot_events(events)["destination"] is None


def test_an_origin_said_while_the_destination_is_asked_changes_the_origin(city_backends):
    tracker = make_tracker({"city": "广州", "origin": "火车站", "requested_slot": "destination"},
                           intent="query_route", text="不对，从火车站出发",
                           entities=[{"entity": "origin", "value": "火车站"}], events=said(origin="火车站"))
    events, messages = run_action(ValidateRouteForm(), tracker)
    assert slot_events(events)["origin"] == "火车站" and "destination" not in slot_events(events)
    assert slot_events(events)["requested_slot"] == "destination"


def test_a_sentence_is_not_taken_for_a_place():
    assert clean_place("从火车站出发") == "火车站"
    assert clean_place("我也不知道该从哪里出发比较好呢") is None
    tracker = make_tracker({"city": "广州", "requested_slot": "origin"}, intent="nlu_fallback",
                           text="这个我也不太清楚具体是在什么地方", confidence=0.3)
    events, messages = run_action(ValidateRouteForm(), tracker)
    assert "请说出发地点" in texts(messages) and slot_events(events)["validation_failures"] == 1


def test_backend_down_while_planning_ends_the_route_form(city_backends):
    city_backends.inject_fault("error", service="transit", status=503)
    tracker = make_tracker({"city": "广州", "origin": "天河城", "destination": "陈家祠"},
                           events=said(origin="天河城", destination="陈家祠"))
    events, messages = run_action(ValidateRouteForm(), tracker)
    assert "抱歉" in texts(messages)
    assert slot_events(events)["origin"] is None and slot_events(events)["requested_slot"] is None


# -------------------------------------------------------------- route answer
def test_direct_metro_route_with_a_card(city_backends):
    tracker = make_tracker({"city": "广州", "origin": "天河城", "destination": "陈家祠"})
    events, messages = run_action(ActionQueryRoute(), tracker)
    assert "天河城（体育西路） → 陈家祠：约25分钟，无需换乘，地铁共7站" in texts(messages)
    assert "1. 地铁1号线：体育西路 → 陈家祠（开往西塱方向，7站，约25分钟）" in texts(messages)
    card = custom(messages)
    assert card["title"] == "天河城 → 陈家祠 · 约 25 分钟" and len(card["items"]) == 1
    assert slot_events(events) == {"origin": None, "destination": None}


def test_bus_then_walk_then_metro(city_backends):
    tracker = make_tracker({"city": "广州", "origin": "解放北路", "destination": "陈家祠"})
    _, messages = run_action(ActionQueryRoute(), tracker)
    assert "换乘1次" in texts(messages)
    assert "1. 公交10路：解放北路 → 北京路" in texts(messages)
    assert "2. 步行：北京路 → 公园前，约5分钟" in texts(messages)
    assert [c["title"] for c in custom(messages)["items"]] == ["公交10路", "步行换乘", "地铁1号线"]


def test_route_backend_down_gives_an_apology(city_backends):
    city_backends.inject_fault("error", service="transit", status=503)
    tracker = make_tracker({"city": "广州", "origin": "天河城", "destination": "陈家祠"})
    events, messages = run_action(ActionQueryRoute(), tracker)
    assert "抱歉" in texts(messages) and "转人工" in texts(messages)
    assert slot_events(events)["origin"] is None


def test_no_route_answer_when_the_form_was_stopped(city_backends):
    events, messages = run_action(ActionQueryRoute(), make_tracker({"city": "广州", "origin": "天河城"}))
    assert messages == [] and slot_events(events)["destination"] is None
