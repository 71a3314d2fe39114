"""Road conditions (路况) and driving restrictions (限行).

A road belongs to a city: 深南大道 is in 深圳 whatever city the citizen set,
so the road decides where to ask. Restriction rules differ in kind from city
to city (开四停四, peak-hour bans, elevated roads, odd/even days, none), so
the answer always shows the city's own rule text next to the verdict.
"""
from __future__ import annotations

import re
from datetime import date
from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import replies
from actions.backends import call, client_for
from actions.clients.base import BackendError, RequestRejected
from actions.clients.restriction import Restriction, RestrictionClient
from actions.clients.traffic import RoadStatus, TrafficClient
from actions.forms import ServiceForm
from actions.texts import words
from common import gazetteer, registry
from common import dates

CONGESTED = {"拥堵", "严重拥堵"}
RELATIVE_DAYS = {0: words("traffic.RELATIVE_DAYS"), 1: words("traffic.RELATIVE_DAYS_2"),
                 2: words("traffic.RELATIVE_DAYS_3")}
TAIL_NUMBER = re.compile(r"尾号\s*(?:是|为)?\s*([0-9])")


# ------------------------------------------------------------ shared helpers
def request_events(tracker: Tracker) -> List[Dict[str, Any]]:
    """The events since the citizen asked the question the active form answers.

    Optional details (a date, a tail number) belong to the question they were
    said with: a date left over from an earlier weather question or booking
    must not silently change this answer.
    """
    events = tracker.events
    form = tracker.active_loop.get("name") or _last_form(events)
    activated = max((i for i, e in enumerate(events)
                     if form and e.get("event") == "active_loop" and e.get("name") == form),
                    default=len(events))
    asked = max((i for i, e in enumerate(events[:activated]) if e.get("event") == "user"), default=0)
    return events[asked:]


def _last_form(events: List[Dict[str, Any]]) -> Optional[str]:
    """The form that just ended (submit actions run after `active_loop: null`)."""
    return next((e.get("name") for e in reversed(events)
                 if e.get("event") == "active_loop" and e.get("name")), None)


def requested_date(tracker: Tracker) -> Optional[date]:
    """The ISO date the citizen gave with this question, if any."""
    said = [e.get("value") for e in request_events(tracker)
            if e.get("event") == "slot" and e.get("name") == "date"]
    return date.fromisoformat(said[-1]) if said and said[-1] else None


def _relative_day(day: date) -> Optional[str]:
    return RELATIVE_DAYS.get((day - dates.now_in_china().date()).days)


def day_label(day: date) -> str:
    """今天 / 明天 / 后天, otherwise 6月18日."""
    return _relative_day(day) or words("traffic.day_label", day_month=day.month, day_day=day.day)


def day_title(day: date, weekday: str) -> str:
    """今天（6月15日 周一）, or 6月18日（周四）: the date is always said."""
    relative, month_day = _relative_day(day), words("traffic.day_title", day_month=day.month, day_day=day.day)
    return f"{relative}（{month_day} {weekday}）" if relative else f"{month_day}（{weekday}）"


# ------------------------------------------------------------------- traffic
def _road_names(city: str) -> Dict[str, str]:
    """Every name or alias of the city's roads -> the canonical road."""
    roads = gazetteer.load().cities[city].roads
    return {alias: road for road, aliases in roads.items() for alias in [road, *aliases]}


def cities_with_road(name: str) -> List[str]:
    return [c for c in registry.load().served_cities
            if c in gazetteer.load().cities and name in _road_names(c)]


def road_city(road: Optional[str], city: Optional[str]) -> Optional[str]:
    """Where to ask about a road: the citizen's city if it has one by that
    name, else the only served city that has it (深南大道 -> 深圳)."""
    served = city if registry.load().city(city) else None
    cities = cities_with_road(road) if road else []
    if served in cities or len(cities) != 1:
        return served
    return cities[0]


def describe_road(status: RoadStatus) -> str:
    return (words("traffic.describe_road",
                  status_level=status.level,
                  status_speed_kmh=status.speed_kmh,
                  status_free_flow_speed_kmh=status.free_flow_speed_kmh))


def road_cards(status: RoadStatus) -> Dict[str, Any]:
    return replies.card_list(words("traffic.road_cards", status_road=status.road), [
        replies.card(title=f"{status.road} {s.name}", subtitle=s.level, fields=[(words("traffic.road_cards_2"),
                                                                                 words("traffic.road_cards_3",
                                                                                             s_speed_kmh=s.speed_kmh))])
        for s in status.segments
    ])


class ValidateTrafficForm(ServiceForm):
    form = "traffic_form"
    service = "traffic"
    slots = ["road"]
    transient_slots = ["road"]

    def city_of(self, tracker: Tracker) -> Optional[registry.CityConfig]:
        """A road known in one city only says the city by itself."""
        return registry.load().city(road_city(tracker.get_slot("road"), tracker.get_slot("city")))

    async def validate_road(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        name = str(value or "").strip()
        city = road_city(name, tracker.get_slot("city"))
        canonical = _road_names(city).get(name) if city else None
        if canonical:
            return {"road": canonical}
        elsewhere = cities_with_road(name)
        if city is None and elsewhere:  # 中山大道 is in 广州 and 武汉: the city question follows
            dispatcher.utter_message(text=words("traffic.ValidateTrafficForm.validate_road",
                                                join_elsewhere='、'.join(elsewhere),
                                                name=name))
            return {"road": name}
        if elsewhere:
            text = (words("traffic.ValidateTrafficForm.validate_road_2",
                          city=city,
                          name=name,
                          join_elsewhere='、'.join(elsewhere),
                          elsewhere_0=elsewhere[0]))
        elif city:
            roads = "、".join(list(gazetteer.load().cities[city].roads)[:6])
            text = words("traffic.ValidateTrafficForm.validate_road_3", city=city, name=name, roads=roads)
        else:
            text = words("traffic.ValidateTrafficForm.validate_road_4", name=name)
        dispatcher.utter_message(text=text)
        return {"road": None}


class ActionQueryTraffic(Action):
    def name(self) -> Text:
        return "action_query_traffic"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        road = tracker.get_slot("road")
        if not road:  # the form was stopped
            return []
        done = [SlotSet("road", None)]  # the next question about traffic names its road
        city = road_city(road, tracker.get_slot("city"))
        client = client_for(TrafficClient, city, "traffic")
        if client is None:
            return done
        try:
            status = await call(client.road, road)
        except RequestRejected as error:
            dispatcher.utter_message(text=f"{error.user_message}。")
            return done
        except BackendError as error:
            replies.backend_failure(dispatcher, error)
            return done
        lines = []
        day = requested_date(tracker)
        if day and day != dates.now_in_china().date():
            lines.append(words("traffic.ActionQueryTraffic", day_label_day=day_label(day)))
        lines.append(words("traffic.ActionQueryTraffic_2",
                           city=city,
                           status_road=status.road,
                           describe_road_status=describe_road(status)))
        lines += [words("traffic.ActionQueryTraffic_3", s_name=s.name, s_level=s.level,
                        s_speed_kmh=s.speed_kmh) for s in status.segments]
        if status.level in CONGESTED:
            lines.append(words("traffic.ActionQueryTraffic_4"))
        lines.append(words("traffic.ActionQueryTraffic_5", status_updated_at=status.updated_at))
        dispatcher.utter_message(text="\n".join(lines), json_message=road_cards(status))
        return done


# --------------------------------------------------------------- restriction
def said_tail_number(tracker: Tracker) -> Optional[int]:
    """A tail number said with this question (尾号是4), which has no entity of its own."""
    for event in reversed(request_events(tracker)):
        found = TAIL_NUMBER.search(event.get("text") or "") if event.get("event") == "user" else None
        if found:
            return int(found.group(1))
    return None


def tail_verdict(r: Restriction, tail: int) -> str:
    """Only tail-number rules (武汉's odd/even days) can answer for a tail alone."""
    if r.restricted_tails:
        return words("traffic.tail_verdict", join_r_areas='、'.join(r.areas),
                     join_r_hours='、'.join(r.hours)) if tail in r.restricted_tails else words("traffic.tail_verdict_2")
    if not (r.hours or r.areas):
        return words("traffic.tail_verdict_3")
    return words("traffic.tail_verdict_4", r_city=r.city)


def plate_verdict(r: Restriction) -> str:
    verdict = words("traffic.plate_verdict") if r.restricted else words("traffic.plate_verdict_2")
    return verdict if r.reason == verdict else f"{verdict}，{r.reason}"


def describe_restriction(r: Restriction, tail: Optional[int]) -> str:
    lines = [words("traffic.describe_restriction",
                   r_city=r.city,
                   day_title_r_date_r_weekday=day_title(r.date, r.weekday),
                   r_rule=r.rule)]
    if r.hours:
        lines.append(words("traffic.describe_restriction_2",
                           join_r_hours='、'.join(r.hours),
                           join_r_areas='、'.join(r.areas)))
    elif r.areas:
        lines.append(words("traffic.describe_restriction_3"))
    if r.restricted_tails:
        lines.append(words("traffic.describe_restriction_4",
                           join_map_str_r_restricted_tails='、'.join(map(str, r.restricted_tails))))
    if tail is not None:
        lines.append(words("traffic.describe_restriction_5", tail=tail, tail_verdict_r_tail=tail_verdict(r, tail)))
    elif r.plate:
        lines.append(f"{r.plate}：{plate_verdict(r)}。")
    elif r.hours or r.areas:
        lines.append(words("traffic.describe_restriction_6"))
    return "\n".join(lines)


def restriction_card(r: Restriction, tail: Optional[int]) -> Dict[str, Any]:
    fields = [(words("traffic.restriction_card"), "、".join(r.hours)), (words("traffic.restriction_card_2"),
                                                                       "、".join(r.areas))] if r.hours else []
    if r.restricted_tails:
        fields.append((words("traffic.restriction_card_3"), "、".join(map(str, r.restricted_tails))))
    if tail is not None:
        fields.append((words("traffic.restriction_card_4", tail=tail), tail_verdict(r, tail)))
    elif r.plate:
        fields.append((r.plate, plate_verdict(r)))
    if not fields:
        fields.append((words("traffic.restriction_card_5"), words("traffic.restriction_card_6")))
    return replies.card_list(words("traffic.restriction_card_7", r_city=r.city), [
        replies.card(title=words("traffic.restriction_card_8", r_city=r.city, r_date=r.date, r_weekday=r.weekday),
                     subtitle=r.rule, fields=fields)
    ])


class ValidateRestrictionForm(ServiceForm):
    """Only the city is asked; date and plate are optional details of the question."""

    form = "restriction_form"
    service = "restriction"


class ActionQueryRestriction(Action):
    def name(self) -> Text:
        return "action_query_restriction"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        client = client_for(RestrictionClient, tracker.get_slot("city"), "restriction")
        if client is None:  # the form was stopped before a city was known
            return []
        tail = said_tail_number(tracker)
        plate = None if tail is not None else tracker.get_slot("plate_number")
        try:
            result = await call(client.status, requested_date(tracker), plate)
        except RequestRejected as error:
            dispatcher.utter_message(text=f"{error.user_message}。")
            return []
        except BackendError as error:
            replies.backend_failure(dispatcher, error)
            return []
        dispatcher.utter_message(text=describe_restriction(result, tail),
                                 json_message=restriction_card(result, tail))
        return []
