from datetime import datetime
from typing import Any, Dict, List, Optional

import pytest
from rasa_sdk import Tracker

from actions.traffic import (
    ActionQueryRestriction,
    ActionQueryTraffic,
    ValidateRestrictionForm,
    ValidateTrafficForm,
)
from common import dates
from tests.actions.conftest import make_tracker, run_action, slot_events, texts

MONDAY = datetime(2026, 6, 15, 9, 0, tzinfo=dates.CHINA)  # an odd day, a workday, morning peak


@pytest.fixture
def monday(city_backends, monkeypatch):
    """Bot and backends agree it is Monday 2026-06-15, 09:00."""
    city_backends.pin_clock(MONDAY.isoformat())
    monkeypatch.setattr(dates, "now_in_china", lambda: MONDAY)
    return city_backends


def asked(text: str, form: str, slots: Optional[Dict[str, Any]] = None, day: Optional[str] = None,
          before: Optional[List[Dict[str, Any]]] = None) -> Tracker:
    """The tracker a submit action sees right after `form` answered the question `text`."""
    said = [{"event": "slot", "name": "date", "value": day}] if day else []
    events = [*(before or []), {"event": "user", "text": text}, *said,
              {"event": "active_loop", "name": form}, {"event": "active_loop", "name": None}]
    return make_tracker(slots, text=text, events=events)


def filled(form_slots: Dict[str, Any], slot: str, value: Any) -> Tracker:
    """The tracker a form validation sees when `slot` was just filled with `value`."""
    return make_tracker({**form_slots, slot: value}, events=[{"event": "slot", "name": slot, "value": value}])


def traffic(slots: Dict[str, Any], day: Optional[str] = None) -> Tracker:
    return asked("路况怎么样", "traffic_form", slots, day)


def restriction(text: str, slots: Dict[str, Any], day: Optional[str] = None, **kwargs: Any) -> Tracker:
    return asked(text, "restriction_form", slots, day, **kwargs)


# ------------------------------------------------------------------- traffic
def test_road_status_lists_segments_as_text_and_cards(monday):
    events, messages = run_action(ActionQueryTraffic(), traffic({"city": "深圳", "road": "深南大道"}))
    text = texts(messages)
    assert "深圳深南大道现在" in text and "平均时速" in text
    cards = messages[0]["custom"]
    assert cards["type"] == "card_list" and len(cards["items"]) == text.count("· ") >= 2
    assert all(item["title"].startswith("深南大道 ") for item in cards["items"])
    assert slot_events(events)["road"] is None  # the next traffic question names its road


def test_a_road_of_another_city_is_answered_for_that_city(monday):
    _, messages = run_action(ActionQueryTraffic(), traffic({"city": "广州", "road": "深南大道"}))
    assert "深圳深南大道现在" in texts(messages)


def test_traffic_for_a_future_day_says_it_is_live_only(monday):
    _, messages = run_action(ActionQueryTraffic(),
                             traffic({"city": "广州", "road": "黄埔大道"}, day="2026-06-16"))
    assert "没法预测明天" in texts(messages) and "广州黄埔大道现在" in texts(messages)


def test_a_road_the_city_does_not_know_gets_the_backends_explanation(monday):
    _, messages = run_action(ActionQueryTraffic(), traffic({"city": "广州", "road": "火星大道"}))
    assert "广州暂无“火星大道”的路况信息" in texts(messages)


def test_traffic_backend_down_gives_an_apology(monday):
    monday.inject_fault("error", service="traffic", status=503)
    events, messages = run_action(ActionQueryTraffic(), traffic({"city": "深圳", "road": "深南大道"}))
    assert "抱歉" in texts(messages) and "转人工" in texts(messages)
    assert slot_events(events)["road"] is None


def test_stopped_traffic_form_says_nothing():
    assert run_action(ActionQueryTraffic(), traffic({"city": "深圳"})) == ([], [])


def test_road_alias_becomes_the_canonical_road():
    events, messages = run_action(ValidateTrafficForm(), filled({"city": "深圳", "requested_slot": "road"},
                                                                "road", "深南路"))
    assert slot_events(events)["road"] == "深南大道" and messages == []
    assert slot_events(events)["requested_slot"] is None


def test_unknown_road_is_explained_with_roads_to_try():
    events, messages = run_action(ValidateTrafficForm(), filled({"city": "上海", "requested_slot": "road"},
                                                                "road", "深南大道的隔壁"))
    assert texts(messages).startswith("上海暂时没有“深南大道的隔壁”的路况信息，可以查询延安高架")
    assert slot_events(events)["road"] is None and slot_events(events)["requested_slot"] == "road"


def test_a_road_of_one_city_needs_no_city_question():
    events, _ = run_action(ValidateTrafficForm(), filled({"requested_slot": "city"}, "road", "延安高架"))
    assert slot_events(events)["road"] == "延安高架" and slot_events(events)["requested_slot"] is None


def test_a_road_in_two_cities_asks_which_city():
    events, messages = run_action(ValidateTrafficForm(), filled({"requested_slot": "city"}, "road", "中山大道"))
    assert texts(messages) == "广州、武汉都有中山大道。"
    assert slot_events(events)["road"] == "中山大道" and slot_events(events)["requested_slot"] == "city"


def test_a_road_of_other_cities_says_where_it_is():
    events, messages = run_action(ValidateTrafficForm(), filled({"city": "深圳", "requested_slot": "road"},
                                                                "road", "中山大道"))
    assert texts(messages) == "深圳没有“中山大道”，广州、武汉有这条路；要查那里的路况，请先说“我在广州”。"
    assert slot_events(events)["road"] is None and slot_events(events)["requested_slot"] == "road"


# --------------------------------------------------------------- restriction
def test_rules_differ_per_city(monday):
    said = {}
    for city in ("广州", "深圳", "上海", "武汉", "佛山"):
        _, messages = run_action(ActionQueryRestriction(), restriction("今天限行吗", {"city": city}))
        said[city] = texts(messages)
        assert said[city].startswith(f"{city}今天（6月15日 周一）限行规定：")
        assert messages[0]["custom"]["type"] == "card_list"
    assert "开四停四" in said["广州"] and "福田区" in said["深圳"] and "高架" in said["上海"]
    assert "当天限行尾号：0、2、4、6、8" in said["武汉"]  # the 15th is an odd day
    assert "未对小客车实施" in said["佛山"] and "车牌号" not in said["佛山"]
    assert "告诉我车牌号" in said["深圳"]


def test_a_tail_number_is_judged_where_the_rule_is_by_tail(monday):
    _, wuhan = run_action(ActionQueryRestriction(), restriction("尾号是4今天能不能开", {"city": "武汉"}))
    assert "尾号4：限行（长江大桥 07:00-21:00）" in texts(wuhan)
    _, wuhan_tomorrow = run_action(ActionQueryRestriction(),
                                   restriction("尾号4明天限不限", {"city": "武汉"}, day="2026-06-16"))
    assert "武汉明天" in texts(wuhan_tomorrow) and "尾号4：不限行" in texts(wuhan_tomorrow)
    _, shenzhen = run_action(ActionQueryRestriction(), restriction("尾号为4限行吗", {"city": "深圳"}))
    assert "深圳不按尾号限行" in texts(shenzhen)


def test_a_plate_gets_a_verdict_for_the_day(monday):
    for plate, verdict in (("湘D09876", "湘D09876：限行"), ("粤B55S41", "粤B55S41：不限行")):
        _, messages = run_action(ActionQueryRestriction(),
                                 restriction("我的车限行吗", {"city": "深圳", "plate_number": plate}))
        assert verdict in texts(messages)
        assert plate in [label for label, _ in messages[0]["custom"]["items"][0]["fields"]]
    _, saturday = run_action(ActionQueryRestriction(), restriction(
        "周六限行吗", {"city": "深圳", "plate_number": "湘D09876"}, day="2026-06-20"))
    assert texts(saturday).startswith("深圳6月20日（周六）限行规定")
    assert "湘D09876：不限行，周末不限行" in texts(saturday)


def test_a_date_from_an_earlier_question_is_not_reused(monday):
    earlier = [{"event": "user", "text": "后天天气"}, {"event": "slot", "name": "date", "value": "2026-06-17"},
               {"event": "active_loop", "name": "weather_form"}, {"event": "active_loop", "name": None}]
    tracker = restriction("限行吗", {"city": "武汉", "date": "2026-06-17"}, before=earlier)
    _, messages = run_action(ActionQueryRestriction(), tracker)
    assert "武汉今天（6月15日 周一）" in texts(messages)


def test_restriction_backend_down_gives_an_apology(monday):
    monday.inject_fault("error", service="restriction", city="wuhan", status=500)
    _, messages = run_action(ActionQueryRestriction(), restriction("限行吗", {"city": "武汉"}))
    assert "抱歉" in texts(messages) and "限行查询服务暂时不可用" in texts(messages)
    _, other_city = run_action(ActionQueryRestriction(), restriction("限行吗", {"city": "广州"}))
    assert "开四停四" in texts(other_city)


def test_stopped_restriction_form_says_nothing():
    assert run_action(ActionQueryRestriction(), restriction("限行", {})) == ([], [])


def test_restriction_form_asks_the_city_and_explains_unserved_ones():
    events, _ = run_action(ValidateRestrictionForm(), make_tracker({"requested_slot": None}))
    assert slot_events(events)["requested_slot"] == "city"
    events, messages = run_action(ValidateRestrictionForm(), filled({"requested_slot": "city"}, "city", "杭州"))
    assert "杭州暂时还没有接入" in texts(messages)
    assert slot_events(events)["city"] is None and slot_events(events)["requested_slot"] == "city"
