"""12345 hotline: report a problem to the city, follow up on its ticket.

Citizens describe problems in their own words. The hotline dispatches by
category, which is inferred from keywords (actions/hotline_categories.yml, per
city where a city sorts differently) and shown with the rest of the report
for confirmation before anything is filed. Tickets are looked up by number,
or, when the citizen has forgotten it, by the phone number they left.
"""
from __future__ import annotations

import re
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, ClassVar, Dict, List, Optional, Pattern, Text

import yaml
from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import replies
from actions.backends import call, client_for, idempotency_key
from actions.clients.base import BackendError, RequestRejected
from actions.clients.hotline import HotlineClient, Ticket
from actions.clients.identity import AccessToken
from actions.forms import SIDE_CONFIDENCE, ServiceForm
from actions.identity import OTP_SLOT, VERIFICATION_SLOT, VerifiedForm, VerifiedLookup
from actions.texts import words
from common import gazetteer, registry
from common import codes

CATEGORIES_FILE = Path(__file__).with_name("hotline_categories.yml")
OTHER_CATEGORY = "其他"
CLOSED = "已办结"
MAX_DESCRIPTION = 500  # the hotline refuses longer descriptions
MIN_DETAIL = 4  # characters left once the "I want to complain" words are removed
# Intents whose text can be the description; a confident other intent is a
# side question, another service or a city switch instead.
DESCRIPTION_INTENTS = {"report_issue", "inform"}
# Words that say "I want to complain" without saying about what.
_OPENER = re.compile(
    r"我要|我想|想要|请问|你好|您好|麻烦|帮我|帮忙|拨打|打|12345|热线|投诉|投訴|举报|反映|反馈"
    r"|一下|一个|个|问题|情况|事情|嗯|那个|[^\w]|_"
)
# A phone number in the description goes to the phone field, not to the text.
_PHONE_IN_TEXT = re.compile(
    rf"(?:联系)?(?:电话|手机号?码?)?(?:是|为|:|：)?\s*{codes.PHONE_PATTERN.pattern}"
)
_TICKET_ID = re.compile(r"[A-Z0-9]{6,32}")


# ------------------------------------------------------------- the report
@lru_cache(maxsize=None)
def category_tables(path: Path = CATEGORIES_FILE) -> Dict[str, Dict[str, List[str]]]:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def categorise(description: str, city: Optional[str], path: Path = CATEGORIES_FILE) -> str:
    """The first category with a keyword in the description, in the city's own table if it has one."""
    tables = category_tables(path)
    for category, keywords in (tables.get(city or "") or tables["default"]).items():
        if any(word in description for word in keywords):
            return category
    return OTHER_CATEGORY


@lru_cache(maxsize=None)
def _place_pattern(city: str) -> Optional[Pattern[str]]:
    """The city's districts, roads, stops and landmarks, longest first."""
    gaz = gazetteer.load().cities.get(city)
    if gaz is None:
        return None
    names = {*gaz.districts, *gaz.places, *gaz.stations, *gaz.bus_stops}
    names.update(alias for name, aliases in gaz.roads.items() for alias in [name, *aliases])
    return re.compile("|".join(map(re.escape, sorted(names, key=len, reverse=True))))


def location_of(description: str, city: str) -> str:
    """Where the problem is, for dispatching: the city and the places of it the citizen named."""
    pattern = _place_pattern(city)
    places = dict.fromkeys(pattern.findall(description)) if pattern else {}
    return city + "".join(places)


def without_phone(text: str) -> str:
    return re.sub(r"[\s，,。；;]+$", "", _PHONE_IN_TEXT.sub("", text)).strip()


def _when(moment: datetime) -> str:
    return words("hotline._when", moment_month=moment.month, moment_day=moment.day, moment=moment)


def _said_something_else(tracker: Tracker) -> bool:
    """The description is free text, so it is filled whatever is said while it is asked."""
    intent = tracker.latest_message.get("intent", {})
    return (
        tracker.get_slot("requested_slot") == "issue_description"
        and intent.get("name") not in DESCRIPTION_INTENTS
        and intent.get("confidence", 0.0) >= SIDE_CONFIDENCE
    )


def _without_candidate(tracker: Tracker, slot: str) -> Tracker:
    """The tracker as if `slot` had not been extracted this turn (candidates are the trailing slot events)."""
    probe = tracker.copy()
    keep = len(probe.events)
    while keep and probe.events[keep - 1].get("event") == "slot":
        keep -= 1
    probe.events = probe.events[:keep] + [e for e in probe.events[keep:] if e.get("name") != slot]
    probe.slots[slot] = None
    return probe


class ValidateReportForm(ServiceForm):
    form = "report_form"
    service = "hotline"
    slots = ["issue_description", "phone_number"]
    final_slots = ["confirmed"]
    transient_slots = ["issue_description", "confirmed"]

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        """A faq question or "我在上海" typed where the description is asked is not the description."""
        if not _said_something_else(tracker):
            return await super().run(dispatcher, tracker, domain)
        probe = _without_candidate(tracker, "issue_description")
        return [SlotSet("issue_description", None), *await super().run(dispatcher, probe, domain)]

    async def validate_issue_description(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        """Staff need to know what is wrong and where; "我要投诉" alone is only the opener."""
        text = without_phone(str(value or ""))
        if len(text) > MAX_DESCRIPTION:
            dispatcher.utter_message(text=words("hotline.ValidateReportForm.validate_issue_description",
                                                len_text=len(text),
                                                max_description=MAX_DESCRIPTION))
            return {"issue_description": None}
        if len(_OPENER.sub("", text)) < MIN_DETAIL:
            if tracker.get_slot("requested_slot") == "issue_description":  # not the opening message
                dispatcher.utter_message(text=words("hotline.ValidateReportForm.validate_issue_description_2",
                                                    text=text))
            return {"issue_description": None}
        return {"issue_description": text}

    async def validate_phone_number(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        phone = re.sub(r"\D", "", str(value or ""))
        if not codes.PHONE_PATTERN.fullmatch(phone):
            dispatcher.utter_message(text=words("hotline.ValidateReportForm.validate_phone_number"))
            return {"phone_number": None}
        return {"phone_number": phone}


class ActionAskReportFormConfirmed(Action):
    """The report as it will be filed, category included, before anything is sent."""

    def name(self) -> Text:
        return "action_ask_report_form_confirmed"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        city, description = tracker.get_slot("city"), tracker.get_slot("issue_description")
        dispatcher.utter_message(
            text=words("hotline.ActionAskReportFormConfirmed",
                       city=city,
                       categorise_description_city=categorise(description, city),
                       description=description,
                       location_of_description_city=location_of(description, city),
                       mask_phone_tracker_get_slot_phone_number=codes.mask_phone(tracker.get_slot('phone_number'))),
            buttons=replies.CONFIRM_BUTTONS,
        )
        return []


class ActionReportIssue(Action):
    def name(self) -> Text:
        return "action_report_issue"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        city, description = tracker.get_slot("city"), tracker.get_slot("issue_description")
        phone = tracker.get_slot("phone_number")
        done = [SlotSet("issue_description", None), SlotSet("confirmed", None)]
        if not description or tracker.get_slot("confirmed") is not True:
            return done
        hotline = registry.load().city(city).hotline
        client = client_for(HotlineClient, city, "hotline")
        try:
            ticket = await call(client.create_ticket, description, location_of(description, city), phone,
                                categorise(description, city), idempotency_key(tracker, description, phone))
        except RequestRejected as error:
            dispatcher.utter_message(text=words("hotline.ActionReportIssue", error_user_message=error.user_message))
            return done
        except BackendError as error:
            replies.backend_failure(dispatcher, error, hotline)
            return done
        dispatcher.utter_message(
            text=words("hotline.ActionReportIssue_2",
                       ticket_ticket_id=ticket.ticket_id,
                       ticket_status=ticket.status,
                       ticket_department=ticket.department,
                       when_ticket_expected_close_at=_when(ticket.expected_close_at),
                       ticket_phone=ticket.phone,
                       city=city,
                       hotline=hotline),
            json_message=replies.card_list(words("hotline.ActionReportIssue_3"), [replies.card(
                title=words("hotline.ActionReportIssue_4"),
                subtitle=words("hotline.ActionReportIssue_5", ticket_ticket_id=ticket.ticket_id),
                fields=[(words("hotline.ActionReportIssue_6"), ticket.category),
                        (words("hotline.ActionReportIssue_7"), ticket.department),
                        (words("hotline.ActionReportIssue_8"),
                         _when(ticket.created_at)), (words("hotline.ActionReportIssue_9"),
                                                     _when(ticket.expected_close_at)),
                        (words("hotline.ActionReportIssue_10"), ticket.phone)],
            )]),
        )
        return done


# ------------------------------------------------------------- the ticket
def _short(text: str, limit: int = 20) -> str:
    return text if len(text) <= limit else text[:limit] + "…"


def _outlook(ticket: Ticket) -> str:
    if ticket.status == CLOSED:
        return words("hotline._outlook", when_ticket_history_1_at=_when(ticket.history[-1].at))
    return words("hotline._outlook_2",
                 ticket_status=ticket.status,
                 when_ticket_expected_close_at=_when(ticket.expected_close_at))


def ticket_card(ticket: Ticket) -> Dict[str, Any]:
    """The ticket with its timeline, one field per stage reached."""
    return replies.card(
        title=f"{ticket.category} · {ticket.status}",
        subtitle=words("hotline.ticket_card", ticket_ticket_id=ticket.ticket_id),
        fields=[(words("hotline.ticket_card_2"), _short(ticket.description)), (words("hotline.ticket_card_3"),
                                                                               ticket.department),
                *[(f"{_when(e.at)} {e.status}", e.note) for e in ticket.history],
                *([] if ticket.status == CLOSED else [(words("hotline.ticket_card_4"),
                                                       _when(ticket.expected_close_at))])],
    )


def describe_ticket(ticket: Ticket) -> str:
    timeline = "\n".join(f"· {_when(e.at)} {e.status}：{e.note}" for e in ticket.history)
    return (words("hotline.describe_ticket",
                  ticket_ticket_id=ticket.ticket_id,
                  ticket_category=ticket.category,
                  outlook_ticket=_outlook(ticket),
                  short_ticket_description_40=_short(ticket.description, 40),
                  timeline=timeline))


def describe_tickets(tickets: List[Ticket], phone: str, city: str) -> str:
    lines = [f"{i}. {t.ticket_id} {_short(t.description)}：{_outlook(t)}" for i, t in enumerate(tickets, 1)]
    return "\n".join([words("hotline.describe_tickets",
                            mask_phone_phone=codes.mask_phone(phone),
                            city=city,
                            len_tickets=len(tickets)), *lines])


class ValidateTicketForm(VerifiedForm):
    """A ticket number shows that ticket; without one, the phone the citizen left finds
    their tickets, once the SMS check proves the phone is theirs (a number alone lists nothing)."""

    form = "ticket_form"
    service = "hotline"
    client_class = HotlineClient
    identity_slots = ("phone_number",)
    mismatch_hint = words("hotline.ValidateTicketForm")
    slots = ["ticket_id"]
    final_slots: ClassVar[List[str]] = []
    transient_slots = ["ticket_id", OTP_SLOT, VERIFICATION_SLOT]

    async def required_slots(
        self,
        domain_slots: List[Text],
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> List[Text]:
        """Without a ticket number: the phone, then the code while no token holds for it."""
        slots = await super().required_slots(domain_slots, dispatcher, tracker, domain)
        if tracker.get_slot("phone_number") and not tracker.get_slot("ticket_id"):
            code = [] if self.verified(tracker) else [OTP_SLOT]
            return [s for s in slots if s != "ticket_id"] + ["phone_number", *code]
        return slots

    def needs_code(self, tracker: Tracker) -> bool:
        """Only on the phone path: a ticket number needs no code."""
        return not tracker.slots.get("ticket_id") and super().needs_code(tracker)

    async def validate_ticket_id(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        ticket_id = re.sub(r"\s", "", str(value or "")).upper()
        if not _TICKET_ID.fullmatch(ticket_id):
            dispatcher.utter_message(text=words("hotline.ValidateTicketForm.validate_ticket_id", value=value))
            return {"ticket_id": None}
        return {"ticket_id": ticket_id}


class ActionQueryTicket(VerifiedLookup):
    """One ticket by its number (not guessable), or the verified phone's tickets."""

    form = "ticket_form"
    client_class = HotlineClient
    service = "hotline"
    needs_id = False

    def name(self) -> Text:
        return "action_query_ticket"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        city, ticket_id = tracker.get_slot("city"), tracker.get_slot("ticket_id")
        done: List[EventType] = [SlotSet("ticket_id", None)]
        if not ticket_id:
            return done + await super().run(dispatcher, tracker, domain)
        client = client_for(HotlineClient, city, "hotline")
        if client is None:  # the form was stopped
            return done
        try:
            ticket = await call(client.ticket, ticket_id)
        except RequestRejected as error:
            elsewhere = next(c for c in registry.load().served_cities if c != city)
            dispatcher.utter_message(
                text=words("hotline.ActionQueryTicket",
                           error_user_message=error.user_message,
                           city=city,
                           elsewhere=elsewhere)
            )
            return done
        except BackendError as error:
            replies.backend_failure(dispatcher, error, registry.load().city(city).hotline)
            return done
        dispatcher.utter_message(text=describe_ticket(ticket),
                                 json_message=replies.card_list(words("hotline.ActionQueryTicket_2"),
                                                                [ticket_card(ticket)]))
        return done

    async def fetch(self, client: HotlineClient, access: AccessToken) -> List[Ticket]:
        return await call(client.tickets, access)

    def answer(self, tickets: List[Ticket], dispatcher: CollectingDispatcher,
               tracker: Tracker) -> List[EventType]:
        city, phone = tracker.get_slot("city"), tracker.get_slot("phone_number")
        if not tickets:
            dispatcher.utter_message(
                text=words("hotline.ActionQueryTicket.answer", mask_phone_phone=codes.mask_phone(phone), city=city)
            )
            return []
        dispatcher.utter_message(text=describe_tickets(tickets, phone, city),
                                 json_message=replies.card_list(words("hotline.ActionQueryTicket.answer_2"),
                                                                [ticket_card(t) for t in tickets]))
        return []
