"""Public transport: one bus line (arrivals at a stop, or first/last bus and
its stops), and the way from A to B by bus and metro.

Line, stop and place names only mean something within one city, so a city
named in the middle of a form re-checks what was said for the previous one.
The city's transit backend is the authority on names: it canonicalises bus
lines and resolves place aliases (火车站, 小蛮腰), and the forms ask it.
"""
from __future__ import annotations

import difflib
import re
from typing import Any, Dict, List, Optional, Set, Text, Tuple

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import replies
from actions.backends import call, client_for
from actions.clients.base import BackendError, RequestRejected
from actions.clients.transit import Arrivals, Bus, BusLine, Direction, Leg, Place, Route, TransitClient
from actions.forms import ServiceForm
from actions.texts import words

SERVICE = "transit"
PLACE_SLOTS = ("origin", "destination")
# How a bare place name typed as the answer to "从哪里出发/要去哪里" is
# classified: it has no intent of its own, and often no entity (陈家祠).
PLACE_ANSWER_INTENTS = {"inform", "nlu_fallback"}
PLACE_FILLERS = re.compile(r"^(?:我(?:现在)?在|我要去|我想去|从|在|去|到)|(?:出发|附近|吧|啊|呀|啦|呢)$")
PUNCTUATION = re.compile(r"[\s，。、,.!！?？~～]")
MAX_PLACE_LENGTH = 12  # longer text is a sentence, not a place name
SIMILAR_SHOWN = 4
MODE_NAMES = {"metro": words("transit.MODE_NAMES"), "bus": words("transit.MODE_NAMES_2")}


def client(tracker: Tracker) -> Optional[TransitClient]:
    """The transit backend of the citizen's city; None while the city is unknown."""
    return client_for(TransitClient, tracker.get_slot("city"), SERVICE)


def stop_buttons(line: BusLine) -> List[Dict[str, str]]:
    return [{"title": stop, "payload": replies.intent_payload("query_bus", bus_line=line.name,
                                                              bus_stop=stop)} for stop in line.stops]


class TransitForm(ServiceForm):
    """What both transit forms share: the service, and a hook after the
    per-slot validators for checks that need several slots together."""

    service = SERVICE

    async def get_validation_events(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        said = set(tracker.slots_to_validate())  # a city too, where the form no longer asks for one
        events = await super().get_validation_events(dispatcher, tracker, domain)
        return events + await self.check_together(said, dispatcher, tracker, domain)

    async def check_together(
        self, said: Set[str], dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        """Checks over several slots; `said` are the slots filled this turn."""
        return []


# --------------------------------------------------------------- bus lines
class ValidateBusForm(TransitForm):
    form = "bus_form"
    slots = ["bus_line"]
    transient_slots = ["bus_line", "bus_stop"]

    async def validate_bus_line(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        """The backend's name for the line (b1 -> B1路); unknown lines list the city's lines."""
        transit = client(tracker)
        if transit is None:
            return {"bus_line": value}  # checked once the city is known
        try:
            line = await call(transit.bus_line, str(value))
        except RequestRejected as error:
            await explain_unknown_line(error, transit, dispatcher, tracker)
            return {"bus_line": None}
        except BackendError as error:
            replies.backend_failure(dispatcher, error)
            return {"bus_line": None, "requested_slot": None}
        return {"bus_line": line.name}

    async def check_together(
        self, said: Set[str], dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        """A line said before the city (or for another city) is checked in the city now named."""
        line = tracker.get_slot("bus_line")
        if "city" not in said or "bus_line" in said or not line:
            return []
        result = await self.validate_bus_line(line, dispatcher, tracker, domain)
        return [SlotSet(name, value) for name, value in result.items()]


async def explain_unknown_line(
    error: RequestRejected, transit: TransitClient, dispatcher: CollectingDispatcher, tracker: Tracker
) -> None:
    """The backend's reason, and the lines the city does have as buttons."""
    try:
        lines = await call(transit.bus_lines)
    except BackendError:
        dispatcher.utter_message(text=words("transit.explain_unknown_line", error_user_message=error.user_message))
        return
    names = [line.name for line in lines]
    dispatcher.utter_message(
        text=words("transit.explain_unknown_line_2",
                   error_user_message=error.user_message,
                   city=tracker.get_slot('city'),
                   join_names='、'.join(names)),
        buttons=[{"title": name, "payload": replies.intent_payload("inform", bus_line=name)} for name in names],
    )


def events_since_bus_question(tracker: Tracker) -> List[Dict[str, Any]]:
    """The events since the citizen last asked about a bus: a stop named
    earlier (in a route, in a report) is not where they are waiting now."""
    events = tracker.events
    asked = [i for i, e in enumerate(events) if e.get("event") == "user" and intent_of(e) == "query_bus"]
    return events[asked[-1]:] if asked else events


def intent_of(user_event: Dict[str, Any]) -> Optional[str]:
    return (user_event.get("parse_data") or {}).get("intent", {}).get("name")


def asked_stop(tracker: Tracker, line: BusLine) -> Optional[str]:
    """The stop the citizen named for this question: the bus_stop entity, or
    else a stop of the line in their words (北京路 is also a road, so the NLU
    may tag it as one)."""
    window = events_since_bus_question(tracker)
    for event in reversed(window):
        if event.get("event") == "slot" and event.get("name") == "bus_stop" and event.get("value"):
            return str(event["value"])
    for event in reversed(window):
        if event.get("event") == "user":
            named = [stop for stop in line.stops if stop in (event.get("text") or "")]
            if named:
                return max(named, key=len)
    return None


def describe_bus(bus: Bus) -> str:
    if bus.status == "即将进站":
        return words("transit.describe_bus")
    if bus.stops_away is None:
        return words("transit.describe_bus_2", bus_minutes=bus.minutes)
    return words("transit.describe_bus_3", bus_minutes=bus.minutes, bus_stops_away=bus.stops_away)


def describe_direction(direction: Direction) -> str:
    buses = "；".join(describe_bus(b) for b in direction.buses) or direction.note
    return words("transit.describe_direction", direction_towards=direction.towards, buses=buses)


def bus_due(bus: Bus) -> str:
    return words("transit.bus_due") if bus.status == "即将进站" else words("transit.bus_due_2", bus_minutes=bus.minutes)


def direction_card(direction: Direction, arrivals: Arrivals, line: BusLine) -> Dict[str, Any]:
    fields: List[Tuple[str, str]] = [(words("transit.direction_card"), direction.note)]
    if direction.buses:
        first, later = direction.buses[0], direction.buses[1:2]
        fields = [(words("transit.direction_card_2"), bus_due(first)),
                  (words("transit.direction_card_3"),
                   words("transit.direction_card_4") if first.stops_away is None else words("transit.direction_card_5",
                                                                      first_stops_away=first.stops_away))]
        fields += [(words("transit.direction_card_6"), bus_due(bus)) for bus in later]
    return replies.card(
        title=words("transit.direction_card_7", direction_towards=direction.towards),
        subtitle=words("transit.direction_card_8",
                       arrivals_stop=arrivals.stop,
                       line_first_bus=line.first_bus,
                       line_last_bus=line.last_bus),
        fields=fields,
    )


def reply_arrivals(dispatcher: CollectingDispatcher, line: BusLine, arrivals: Arrivals) -> None:
    lines = [describe_direction(d) for d in arrivals.directions]
    dispatcher.utter_message(
        text="\n".join([words("transit.reply_arrivals",
                              line_name=line.name,
                              arrivals_stop=arrivals.stop,
                              arrivals_updated_at=arrivals.updated_at), *lines]),
        buttons=[{"title": words("transit.reply_arrivals_2"),
                  "payload": replies.intent_payload("query_bus", bus_line=line.name, bus_stop=arrivals.stop)}],
        json_message=replies.card_list(words("transit.reply_arrivals_3",
                                             line_name=line.name,
                                             arrivals_stop=arrivals.stop),
                                       [direction_card(d, arrivals, line) for d in arrivals.directions]),
    )


def reply_line(dispatcher: CollectingDispatcher, line: BusLine, lead: str = "") -> None:
    """First/last bus and the stops, which are buttons for their arrivals."""
    text = (words("transit.reply_line",
                  lead=lead,
                  line_name=line.name,
                  line_first_bus=line.first_bus,
                  line_last_bus=line.last_bus,
                  len_line_stops=len(line.stops),
                  join_line_stops=' → '.join(line.stops)))
    dispatcher.utter_message(
        text=text,
        buttons=stop_buttons(line),
        json_message=replies.card_list(line.name, [replies.card(
            title=line.name,
            subtitle=f"{line.stops[0]} ⇄ {line.stops[-1]}",
            fields=[(words("transit.reply_line_2"), line.first_bus), (words("transit.reply_line_3"), line.last_bus),
                    (words("transit.reply_line_4"), words("transit.reply_line_5",
                                                                                len_line_stops=len(line.stops)))],
        )]),
    )


class ActionQueryBus(Action):
    def name(self) -> Text:
        return "action_query_bus"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        name, transit = tracker.get_slot("bus_line"), client(tracker)
        done = [SlotSet("bus_line", None), SlotSet("bus_stop", None)]  # the next question starts afresh
        if not name or transit is None:  # the form was stopped
            return done
        try:
            line = await call(transit.bus_line, name)
            stop = asked_stop(tracker, line)
            if stop is None:
                reply_line(dispatcher, line)
            elif stop not in line.stops:
                reply_line(dispatcher, line, lead=words("transit.ActionQueryBus", line_name=line.name, stop=stop))
            else:
                reply_arrivals(dispatcher, line, await call(transit.arrivals, line.name, stop))
        except RequestRejected as error:
            dispatcher.utter_message(text=f"{error.user_message}。")
        except BackendError as error:
            replies.backend_failure(dispatcher, error)
        return done


# ------------------------------------------------------------------ routes
def clean_place(value: Any) -> Optional[str]:
    """我在火车站 -> 火车站; None when it cannot be a place name."""
    text = PLACE_FILLERS.sub("", PUNCTUATION.sub("", str(value or "")))
    return text if 2 <= len(text) <= MAX_PLACE_LENGTH else None


class ValidateRouteForm(TransitForm):
    form = "route_form"
    slots = list(PLACE_SLOTS)
    transient_slots = list(PLACE_SLOTS)

    def typed_place(self, tracker: Tracker) -> Optional[str]:
        """A place typed as the bare answer to the place question (no origin or
        destination entity needed; with one, the NLU has said which it is)."""
        message = tracker.latest_message
        if (tracker.get_slot("requested_slot") not in PLACE_SLOTS
                or message.get("intent", {}).get("name") not in PLACE_ANSWER_INTENTS
                or any(e.get("entity") in PLACE_SLOTS for e in message.get("entities", []))):
            return None
        return clean_place(message.get("text"))

    def not_an_answer(
        self, dispatcher: CollectingDispatcher, tracker: Tracker
    ) -> Optional[List[EventType]]:
        if self.typed_place(tracker) is not None:
            return None
        return super().not_an_answer(dispatcher, tracker)

    def extract_place(self, slot: str, tracker: Tracker) -> Dict[Text, Any]:
        place = self.typed_place(tracker) if tracker.get_slot("requested_slot") == slot else None
        return {slot: place} if place else {}

    async def extract_origin(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        return self.extract_place("origin", tracker)

    async def extract_destination(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        return self.extract_place("destination", tracker)

    async def validate_origin(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        return self.validate_place("origin", value, dispatcher)

    async def validate_destination(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        return self.validate_place("destination", value, dispatcher)

    @staticmethod
    def validate_place(slot: str, value: Any, dispatcher: CollectingDispatcher) -> Dict[Text, Any]:
        place = clean_place(value)
        if place is None:
            dispatcher.utter_message(text=words("transit.ValidateRouteForm.validate_place"))
        return {slot: place}

    async def check_together(
        self, said: Set[str], dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        """Once the city and both ends are known, the planner says whether it knows both places."""
        transit = client(tracker)
        origin, destination = (tracker.get_slot(s) for s in PLACE_SLOTS)
        if not said & {"city", *PLACE_SLOTS} or transit is None or not origin or not destination:
            return []
        try:
            await call(transit.route, origin, destination)
        except RequestRejected as error:
            if error.code == "unknown_place":
                return await explain_unknown_place(error, transit, dispatcher, tracker)
            if error.code == "same_place":
                dispatcher.utter_message(text=words("transit.ValidateRouteForm.check_together",
                                                    error_user_message=error.user_message))
                return [SlotSet("destination", None)]
            return []  # e.g. no route between known places: the answer says so
        except BackendError as error:
            replies.backend_failure(dispatcher, error)
            return [SlotSet("requested_slot", None)]
        return []


async def explain_unknown_place(
    error: RequestRejected, transit: TransitClient, dispatcher: CollectingDispatcher, tracker: Tracker
) -> List[EventType]:
    """Forget the place the backend does not know and offer similar stations and stops."""
    named = [s for s in PLACE_SLOTS if f"“{tracker.get_slot(s)}”" in error.user_message]
    unknown = named or list(PLACE_SLOTS)
    slot = unknown[0]
    similar = await similar_places(transit, tracker.get_slot(slot))
    hint = (words("transit.explain_unknown_place", join_similar='、'.join(similar)) if similar
            else words("transit.explain_unknown_place_2"))
    dispatcher.utter_message(
        text=f"{error.user_message}。{hint}",
        buttons=[{"title": name, "payload": replies.intent_payload("inform", **{slot: name})} for name in similar],
    )
    return [SlotSet(s, None) for s in unknown]


async def similar_places(transit: TransitClient, name: str) -> List[str]:
    """The city's stations and stops that look like `name` (天河公园 -> 越秀公园...)."""
    try:
        metro, buses = await call(transit.metro_lines), await call(transit.bus_lines)
    except BackendError:
        return []
    known = list(dict.fromkeys([s for m in metro for s in m.stations] + [s for b in buses for s in b.stops]))
    return difflib.get_close_matches(name, known, n=SIMILAR_SHOWN, cutoff=0.4)


def place_label(place: Place) -> str:
    return place.query if place.query == place.name else f"{place.query}（{place.name}）"


def walk(leg: Leg) -> str:
    if leg.origin == leg.destination:  # the bus stop and the station share the name
        return words("transit.walk", leg_origin=leg.origin)
    return words("transit.walk_2", leg_origin=leg.origin, leg_destination=leg.destination)


def ride(leg: Leg) -> str:
    return f"{MODE_NAMES.get(leg.mode, leg.mode)}{leg.line}"


def describe_leg(leg: Leg) -> str:
    if leg.mode == "walk":
        return words("transit.describe_leg", walk_leg=walk(leg), leg_minutes=leg.minutes)
    return (words("transit.describe_leg_2",
                  ride_leg=ride(leg),
                  leg_origin=leg.origin,
                  leg_destination=leg.destination,
                  leg_towards=leg.towards,
                  leg_stop_count=leg.stop_count,
                  leg_minutes=leg.minutes))


def leg_card(leg: Leg) -> Dict[str, Any]:
    if leg.mode == "walk":
        return replies.card(title=words("transit.leg_card"), subtitle=walk(leg),
                            fields=[(words("transit.leg_card_2"), words("transit.leg_card_3",
                                                                        leg_minutes=leg.minutes))])
    return replies.card(
        title=ride(leg),
        subtitle=words("transit.leg_card_4",
                       leg_origin=leg.origin,
                       leg_destination=leg.destination,
                       leg_towards=leg.towards),
        fields=[(words("transit.leg_card_5"), words("transit.leg_card_6", leg_stop_count=leg.stop_count)),
                (words("transit.leg_card_7"), words("transit.leg_card_8",
                                                    leg_minutes=leg.minutes)), (words("transit.leg_card_9"),
                                                                                "、".join(leg.stops))],
    )


def reply_route(dispatcher: CollectingDispatcher, route: Route) -> None:
    transfers = words("transit.reply_route") if route.transfers == 0 else words("transit.reply_route_2",
                                                                                route_transfers=route.transfers)
    summary = words("transit.reply_route_3",
                    place_label_route_origin=place_label(route.origin),
                    place_label_route_destination=place_label(route.destination),
                    route_minutes=route.minutes,
                    transfers=transfers)
    if route.stations_count:
        summary += words("transit.reply_route_4", route_stations_count=route.stations_count)
    steps = [f"{i}. {describe_leg(leg)}" for i, leg in enumerate(route.legs, 1)]
    dispatcher.utter_message(
        text="\n".join([f"{summary}：", *steps]),
        json_message=replies.card_list(
            words("transit.reply_route_5",
                  route_origin_query=route.origin.query,
                  route_destination_query=route.destination.query,
                  route_minutes=route.minutes),
            [leg_card(leg) for leg in route.legs],
        ),
    )


class ActionQueryRoute(Action):
    def name(self) -> Text:
        return "action_query_route"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        done = [SlotSet(s, None) for s in PLACE_SLOTS]  # the next trip starts afresh
        origin, destination = (tracker.get_slot(s) for s in PLACE_SLOTS)
        transit = client(tracker)
        if not origin or not destination or transit is None:  # the form was stopped
            return done
        try:
            reply_route(dispatcher, await call(transit.route, origin, destination))
        except RequestRejected as error:
            dispatcher.utter_message(text=f"{error.user_message}。")
        except BackendError as error:
            replies.backend_failure(dispatcher, error)
        return done
