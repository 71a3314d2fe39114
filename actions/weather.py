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
from actions.texts import words
from actions.traffic import day_label, day_title, requested_date

RAIN_LIKELY = 50  # precipitation probability (%) from which an umbrella is advised
HOT, COLD = 35, 5  # °C


def sky(d: DayForecast) -> str:
    return d.condition_day if d.condition_day == d.condition_night else words("weather.sky",
                                                                              d_condition_day=d.condition_day,
                                                                              d_condition_night=d.condition_night)


def advice(d: DayForecast) -> str:
    """What to take or watch out for, only when the day calls for it."""
    tips = []
    if d.precipitation_probability >= RAIN_LIKELY:
        tips.append(words("weather.advice"))
    if d.temp_high >= HOT:
        tips.append(words("weather.advice_2"))
    if d.temp_low <= COLD:
        tips.append(words("weather.advice_3"))
    return f"{'，'.join(tips)}。" if tips else ""


def describe_day(d: DayForecast) -> str:
    return (words("weather.describe_day",
                  sky_d=sky(d),
                  d_temp_low=d.temp_low,
                  d_temp_high=d.temp_high,
                  d_precipitation_probability=d.precipitation_probability,
                  d_wind=d.wind,
                  d_aqi_level=d.aqi_level,
                  d_aqi=d.aqi))


def week_line(d: DayForecast) -> str:
    return words("weather.week_line",
                 day_label_d_date=day_label(d.date),
                 d_weekday=d.weekday,
                 sky_d=sky(d),
                 d_temp_low=d.temp_low,
                 d_temp_high=d.temp_high,
                 d_precipitation_probability=d.precipitation_probability)


def day_card(d: DayForecast) -> Dict[str, Any]:
    return replies.card(
        title=f"{day_label(d.date)} {d.weekday}",
        subtitle=sky(d),
        fields=[(words("weather.day_card"), f"{d.temp_low}~{d.temp_high}℃"),
                (words("weather.day_card_2"), f"{d.precipitation_probability}%"),
                (words("weather.day_card_3"), d.wind), (words("weather.day_card_4"), f"{d.aqi_level}（AQI {d.aqi}）")],
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
            json_message=replies.card_list(words("weather.ActionQueryWeather.one_day", city=city), [day_card(d)]),
        )

    @staticmethod
    def week(dispatcher: CollectingDispatcher, city: str, days: List[DayForecast], note: str = "") -> None:
        lines = [words("weather.ActionQueryWeather.week", note=note, city=city, len_days=len(days)),
                 *map(week_line, days)]
        tip = advice(days[0])
        if tip:
            lines.append(words("weather.ActionQueryWeather.week_2", tip=tip))
        dispatcher.utter_message(text="\n".join(lines),
                                 json_message=replies.card_list(words("weather.ActionQueryWeather.week_3",
                                                                      city=city,
                                                                      len_days=len(days)),
                                                                [day_card(d) for d in days]))
