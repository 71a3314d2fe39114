from typing import Optional

from rasa_sdk import Tracker

from actions.weather import ActionQueryWeather, ValidateWeatherForm
from tests.actions.conftest import make_tracker, run_action, slot_events, texts
from tests.actions.test_traffic import asked, filled, monday  # noqa: F401  (fixture)


def weather(city: Optional[str], day: Optional[str] = None, text: str = "天气怎么样") -> Tracker:
    return asked(text, "weather_form", {"city": city} if city else {}, day)


def test_without_a_day_the_week_comes_as_text_and_cards(monday):  # noqa: F811
    _, messages = run_action(ActionQueryWeather(), weather("武汉"))
    lines = texts(messages).splitlines()
    assert lines[0] == "武汉未来7天天气："
    assert lines[1].startswith("今天 周一") and lines[7].startswith("6月21日 周日")
    cards = messages[0]["custom"]
    assert cards["type"] == "card_list" and len(cards["items"]) == 7
    assert {"气温", "降水概率", "风力", "空气质量"} == {label for label, _ in cards["items"][0]["fields"]}


def test_the_day_asked_for_is_answered_alone(monday):  # noqa: F811
    _, messages = run_action(ActionQueryWeather(), weather("武汉", "2026-06-16", "明天天气怎么样"))
    text = texts(messages)
    assert text.startswith("武汉明天（6月16日 周二）：") and "降水概率75%" in text
    assert text.endswith("出门记得带伞。")  # a thunderstorm is forecast
    assert len(messages[0]["custom"]["items"]) == 1


def test_a_day_beyond_the_forecast_is_explained_and_the_week_shown(monday):  # noqa: F811
    _, messages = run_action(ActionQueryWeather(), weather("上海", "2026-07-10", "7月10号天气"))
    assert texts(messages).startswith("仅提供今天起7天内的天气预报，上海未来7天天气：")
    assert len(messages[0]["custom"]["items"]) == 7


def test_a_date_from_an_earlier_question_is_not_reused(monday):  # noqa: F811
    earlier = [{"event": "user", "text": "后天限行吗"}, {"event": "slot", "name": "date", "value": "2026-06-17"},
               {"event": "active_loop", "name": "restriction_form"}, {"event": "active_loop", "name": None}]
    tracker = asked("天气怎么样", "weather_form", {"city": "深圳", "date": "2026-06-17"}, before=earlier)
    _, messages = run_action(ActionQueryWeather(), tracker)
    assert texts(messages).startswith("深圳未来7天天气：")


def test_weather_backend_down_gives_an_apology(monday):  # noqa: F811
    monday.inject_fault("malformed", service="weather")
    _, messages = run_action(ActionQueryWeather(), weather("佛山", "2026-06-16"))
    assert "抱歉，天气服务返回的数据无法识别" in texts(messages) and "转人工" in texts(messages)


def test_stopped_weather_form_says_nothing():
    assert run_action(ActionQueryWeather(), weather(None)) == ([], [])


def test_weather_form_takes_a_served_city_and_explains_others():
    events, _ = run_action(ValidateWeatherForm(), filled({"requested_slot": "city"}, "city", "上海市"))
    assert slot_events(events)["city"] == "上海" and slot_events(events)["requested_slot"] is None
    events, messages = run_action(ValidateWeatherForm(), filled({"requested_slot": "city"}, "city", "火星"))
    assert "没有找到“火星”这个城市" in texts(messages)
    assert [b["title"] for b in messages[0]["buttons"]] == ["广州", "深圳", "佛山", "武汉", "上海"]
    assert slot_events(events)["requested_slot"] == "city"
    events, _ = run_action(ValidateWeatherForm(), make_tracker({"city": "武汉"}))
    assert slot_events(events)["requested_slot"] is None
