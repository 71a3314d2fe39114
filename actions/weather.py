"""Weather: the day asked for, or the coming week when no day was said.

The city's weather service forecasts seven days from today; a day outside
them is explained and the week is shown instead of a bare refusal.
"""
from __future__ import annotations

from datetime import date
from typing import Any, Dict, List, Optional, Text, Tuple

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import replies
from actions.backends import call, client_for
from actions.clients.base import BackendError, RequestRejected
from actions.clients.weather import DayForecast, WeatherClient
from actions.forms import ServiceForm
from actions.days import day_label, day_title
from actions.traffic import requested_date

RAIN_LIKELY = 50  # precipitation probability (%) from which an umbrella is advised
HOT, COLD = 35, 5  # °C


def sky(d: DayForecast) -> str:
    return d.condition_day if d.condition_day == d.condition_night else f"{d.condition_day}转{d.condition_night}"


def advice(d: DayForecast) -> str:
    """What to take or watch out for, only when the day calls for it."""
    tips = []
    if d.precipitation_probability >= RAIN_LIKELY:
        tips.append("出门记得带伞")
    if d.temp_high >= HOT:
        tips.append("注意防暑")
    if d.temp_low <= COLD:
        tips.append("注意保暖")
    return f"{'，'.join(tips)}。" if tips else ""


def describe_day(d: DayForecast) -> str:
    return (f"{sky(d)}，{d.temp_low}~{d.temp_high}℃，降水概率{d.precipitation_probability}%，"
            f"{d.wind}，空气{d.aqi_level}（AQI {d.aqi}）")


def week_line(d: DayForecast) -> str:
    return f"{day_label(d.date)} {d.weekday} {sky(d)} {d.temp_low}~{d.temp_high}℃ 降水{d.precipitation_probability}%"


def day_card(d: DayForecast) -> Dict[str, Any]:
    return replies.card(
        title=f"{day_label(d.date)} {d.weekday}",
        subtitle=sky(d),
        fields=[("气温", f"{d.temp_low}~{d.temp_high}℃"), ("降水概率", f"{d.precipitation_probability}%"),
                ("风力", d.wind), ("空气质量", f"{d.aqi_level}（AQI {d.aqi}）")],
    )


async def fetch(client: WeatherClient, day: Optional[date]) -> Tuple[List[DayForecast], str]:
    """The day asked for; a day the service does not forecast gets the week and the reason."""
    try:
        return await call(client.forecast, day), ""
    except RequestRejected as error:
        if day is None:
            raise
        return await call(client.forecast), f"{error.user_message}，"


class ValidateWeatherForm(ServiceForm):
    """Only the city is asked; the day is an optional detail of the question."""

    form = "weather_form"
    service = "weather"


class ActionQueryWeather(Action):
    def name(self) -> Text:
        return "action_query_weather"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        city = tracker.get_slot("city")
        client = client_for(WeatherClient, city, "weather")
        if client is None:  # the form was stopped before a city was known
            return []
        day = requested_date(tracker)
        try:
            days, note = await fetch(client, day)
        except BackendError as error:
            replies.backend_failure(dispatcher, error)
            return []
        if day is None or note:
            self.week(dispatcher, city, days, note)
        else:
            self.one_day(dispatcher, city, days[0])
        return []

    @staticmethod
    def one_day(dispatcher: CollectingDispatcher, city: str, d: DayForecast) -> None:
        dispatcher.utter_message(
            text=f"{city}{day_title(d.date, d.weekday)}：{describe_day(d)}。{advice(d)}",
            json_message=replies.card_list(f"{city}天气", [day_card(d)]),
        )

    @staticmethod
    def week(dispatcher: CollectingDispatcher, city: str, days: List[DayForecast], note: str = "") -> None:
        lines = [f"{note}{city}未来{len(days)}天天气：", *map(week_line, days)]
        tip = advice(days[0])
        if tip:
            lines.append(f"今天{tip}")
        dispatcher.utter_message(text="\n".join(lines),
                                 json_message=replies.card_list(f"{city}未来{len(days)}天天气",
                                                                [day_card(d) for d in days]))
