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
from actions.days import day_label, day_title
from actions.clients.base import BackendError, RequestRejected
from actions.clients.restriction import Restriction, RestrictionClient
from actions.clients.traffic import RoadStatus, TrafficClient
from actions.forms import ServiceForm
from common import gazetteer, registry
from common import dates

CONGESTED = {"拥堵", "严重拥堵"}
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
    return (f"{status.level}，平均时速{status.speed_kmh}公里"
            f"（畅通时约{status.free_flow_speed_kmh}公里）")


def road_cards(status: RoadStatus) -> Dict[str, Any]:
    return replies.card_list(f"{status.road}实时路况", [
        replies.card(title=f"{status.road} {s.name}", subtitle=s.level, fields=[("时速", f"{s.speed_kmh} 公里")])
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
            dispatcher.utter_message(text=f"{'、'.join(elsewhere)}都有{name}。")
            return {"road": name}
        if elsewhere:
            text = (f"{city}没有“{name}”，{'、'.join(elsewhere)}有这条路；"
                    f"要查那里的路况，请先说“我在{elsewhere[0]}”。")
        elif city:
            roads = "、".join(list(gazetteer.load().cities[city].roads)[:6])
            text = f"{city}暂时没有“{name}”的路况信息，可以查询{roads}等道路。"
        else:
            text = f"暂时没有“{name}”的路况信息，请换一条路再试。"
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
            lines.append(f"路况是实时数据，没法预测{day_label(day)}的情况，先给您看现在的：")
        lines.append(f"{city}{status.road}现在{describe_road(status)}：")
        lines += [f"· {s.name} {s.level} {s.speed_kmh}公里/时" for s in status.segments]
        if status.level in CONGESTED:
            lines.append("建议错峰出行或改乘地铁。")
        lines.append(f"（{status.updated_at:%H:%M} 更新）")
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
        return f"限行（{'、'.join(r.areas)} {'、'.join(r.hours)}）" if tail in r.restricted_tails else "不限行"
    if not (r.hours or r.areas):
        return "不限行"
    return f"{r.city}不按尾号限行，要看号牌归属地；告诉我完整车牌号可以帮您确认"


def plate_verdict(r: Restriction) -> str:
    verdict = "限行" if r.restricted else "不限行"
    return verdict if r.reason == verdict else f"{verdict}，{r.reason}"


def describe_restriction(r: Restriction, tail: Optional[int]) -> str:
    lines = [f"{r.city}{day_title(r.date, r.weekday)}限行规定：{r.rule}。"]
    if r.hours:
        lines.append(f"限行时段：{'、'.join(r.hours)}；区域：{'、'.join(r.areas)}。")
    elif r.areas:
        lines.append("当天不限行。")
    if r.restricted_tails:
        lines.append(f"当天限行尾号：{'、'.join(map(str, r.restricted_tails))}。")
    if tail is not None:
        lines.append(f"尾号{tail}：{tail_verdict(r, tail)}。")
    elif r.plate:
        lines.append(f"{r.plate}：{plate_verdict(r)}。")
    elif r.hours or r.areas:
        lines.append("告诉我车牌号，可以帮您确认某辆车当天能不能开。")
    return "\n".join(lines)


def restriction_card(r: Restriction, tail: Optional[int]) -> Dict[str, Any]:
    fields = [("限行时段", "、".join(r.hours)), ("限行区域", "、".join(r.areas))] if r.hours else []
    if r.restricted_tails:
        fields.append(("限行尾号", "、".join(map(str, r.restricted_tails))))
    if tail is not None:
        fields.append((f"尾号{tail}", tail_verdict(r, tail)))
    elif r.plate:
        fields.append((r.plate, plate_verdict(r)))
    if not fields:
        fields.append(("限行", "当天不限行"))
    return replies.card_list(f"{r.city}限行", [
        replies.card(title=f"{r.city}限行 {r.date:%Y-%m-%d} {r.weekday}", subtitle=r.rule, fields=fields)
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
