"""Identity before personal data: the city's SMS one-time code, once per session.

社保, hospital appointments (look up, cancel) and 12345 ticket lists show
or change personal data, so each first proves who is asking the same way:
the ID number (where the service needs one) and the phone, then a one-time
code texted to that phone. The token the city returns is kept with the city,
ID and phone it was issued for, so a second lookup in the conversation (in
any of those services of the same city) texts no second code while the
token is still valid, and a token from another city or for another person is
never used.
"""
from __future__ import annotations

import json
import re
from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, ClassVar, Dict, List, Optional, Text, Tuple, Type

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import replies
from actions.backends import call, client_for
from actions.clients.base import BackendError, RequestRejected
from actions.clients.identity import AccessToken, IdentityCheck
from actions.forms import ServiceForm
from actions.texts import words
from common import codes, dates
from common.normalizer import normalise_surface

OTP_SLOT = "otp_code"
TOKEN_SLOT = "identity_token"
VERIFICATION_SLOT = "verification_id"
CODE = re.compile(r"(?<!\d)\d{6}(?!\d)")
PHONE = re.compile(r"1[3-9]\d{9}")
ID_LIKE = re.compile(r"(?<![0-9])[0-9]{17}[0-9Xx](?![0-9A-Za-z])")
# A token this close to its end would expire between the check and the lookup.
EXPIRY_MARGIN = timedelta(seconds=30)
UNAUTHORIZED = 401


@dataclass(frozen=True)
class Identity:
    """A verified citizen: the city's token and what it is valid for."""

    access: AccessToken
    city: str
    id_number: Optional[str]
    phone: str

    def dump(self) -> str:
        return json.dumps({"token": self.access.token, "expires_at": self.access.expires_at.isoformat(),
                           "city": self.city, "id_number": self.id_number, "phone": self.phone})

    @classmethod
    def load(cls, raw: Optional[str]) -> Optional["Identity"]:
        try:
            data = json.loads(raw or "")
            access = AccessToken(data["token"], datetime.fromisoformat(data["expires_at"]))
            return cls(access, data["city"], data["id_number"], data["phone"])
        except (ValueError, KeyError, TypeError):
            return None

    def valid_for(self, city: Optional[str], id_number: Optional[str], phone: Optional[str],
                  needs_id: bool) -> bool:
        """For this city and phone (and ID number, where the service needs one), not about to expire."""
        now = dates.now_in_china()
        expires = self.access.expires_at
        if expires.tzinfo is None:
            expires = expires.replace(tzinfo=now.tzinfo)
        same_id = not needs_id or (self.id_number is not None and self.id_number == id_number)
        return (city, phone) == (self.city, self.phone) and same_id and expires - EXPIRY_MARGIN > now


def verified_identity(tracker: Tracker, needs_id: bool = True) -> Optional[Identity]:
    """The identity proven in this conversation, if it still holds for the city, ID and phone asked about."""
    identity = Identity.load(tracker.get_slot(TOKEN_SLOT))
    if identity and identity.valid_for(tracker.get_slot("city"), tracker.get_slot("id_number"),
                                       tracker.get_slot("phone_number"), needs_id):
        return identity
    return None


def one_time_code(text: Any) -> Optional[str]:
    """The 6 digits of a typed code ("验证码 123 456" too), or None."""
    match = CODE.search(re.sub(r"\s", "", normalise_surface(str(text or ""))))
    return match.group() if match else None


def without_candidate(tracker: Tracker, slot: str) -> Tracker:
    """The tracker as if `slot` had not been extracted from the latest message."""
    events = tracker.events
    tail = next((i + 1 for i in range(len(events) - 1, -1, -1) if events[i].get("event") != "slot"), 0)
    probe = tracker.copy()
    probe.events = events[:tail] + [e for e in events[tail:] if e.get("name") != slot]
    probe.slots[slot] = None
    return probe


def id_number_problem(typed: str) -> str:
    if ID_LIKE.fullmatch(typed.strip()):
        return words("identity.id_number_problem")
    return words("identity.id_number_problem_2")


def explain_bad_id_number(form: ServiceForm, dispatcher: CollectingDispatcher,
                          tracker: Tracker) -> Optional[List[EventType]]:
    """An 18-character ID with a wrong check digit is not recognised by the NLU;
    say what is wrong with it rather than "not recognised"."""
    typed = ID_LIKE.search(tracker.latest_message.get("text") or "")
    if tracker.get_slot("requested_slot") == "id_number" and typed and not tracker.slots_to_validate():
        dispatcher.utter_message(text=id_number_problem(typed.group()))
        return form.ask_again("id_number") + form.failure_events(dispatcher, tracker)
    return None


class VerifiedForm(ServiceForm):
    """ID number (where needed), phone, then the texted code (skipped while a token holds).

    Subclasses name the backend (`client_class`, `service`); `identity_slots`
    are asked in order, and a new value for any of them (or the city) means a
    new code.
    """

    client_class: ClassVar[Type[IdentityCheck]]
    identity_slots: ClassVar[Tuple[str, ...]] = ("id_number", "phone_number")
    # What to ask again when the backend refuses the ID number and phone together.
    mismatch_hint: ClassVar[str] = words("identity.VerifiedForm")
    slots = ["id_number", "phone_number"]
    final_slots = [OTP_SLOT]
    transient_slots = [OTP_SLOT, VERIFICATION_SLOT]

    def not_an_answer(
        self, dispatcher: CollectingDispatcher, tracker: Tracker
    ) -> Optional[List[EventType]]:
        return explain_bad_id_number(self, dispatcher, tracker) or super().not_an_answer(dispatcher, tracker)

    @property
    def needs_id(self) -> bool:
        return "id_number" in self.identity_slots

    def verified(self, tracker: Tracker) -> Optional[Identity]:
        return verified_identity(tracker, self.needs_id)

    async def required_slots(
        self,
        domain_slots: List[Text],
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> List[Text]:
        """The code only while no token holds."""
        slots = await super().required_slots(domain_slots, dispatcher, tracker, domain)
        if self.verified(tracker):
            return [s for s in slots if s != OTP_SLOT]
        return slots

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        """The code question takes any text: what is no attempt at a code is handled as such.

        A question, a new city or a corrected ID/phone typed while the code is
        awaited then gets the base class's treatment instead of "wrong code".
        """
        if tracker.get_slot("requested_slot") != OTP_SLOT or self.attempts_code(tracker):
            return await super().run(dispatcher, tracker, domain)
        return [SlotSet(OTP_SLOT, None)] + await super().run(dispatcher, without_candidate(tracker, OTP_SLOT),
                                                             domain)

    def attempts_code(self, tracker: Tracker) -> bool:
        """Digits typed, and nothing else of the form's answers with them."""
        given = tracker.slots_to_validate()
        text = normalise_surface(str(given.get(OTP_SLOT) or ""))
        return any(c.isdigit() for c in text) and not any(s in given for s in ("city", *self.identity_slots))

    async def get_validation_events(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        """Once the identity slots are valid (again), the city checks them and texts a code."""
        events = await super().get_validation_events(dispatcher, tracker, domain)
        if self.needs_code(tracker):
            result = await self.send_code(dispatcher, tracker)
            tracker.slots.update(result)
            events += [SlotSet(slot, value) for slot, value in result.items()]
        return events

    def needs_code(self, tracker: Tracker) -> bool:
        if not all(tracker.slots.get(s) for s in self.identity_slots) or self.verified(tracker):
            return False
        given = tracker.slots_to_validate()
        return tracker.slots.get(VERIFICATION_SLOT) is None or any(
            s in given for s in ("city", *self.identity_slots))

    async def send_code(self, dispatcher: CollectingDispatcher, tracker: Tracker) -> Dict[Text, Any]:
        client = client_for(self.client_class, tracker.slots.get("city"), self.service)
        if client is None:  # not offered here: the base class says so
            return {}
        id_number = tracker.slots.get("id_number") if self.needs_id else None
        try:
            verification = await call(client.start_verification, id_number, tracker.slots["phone_number"])
        except RequestRejected as error:
            dispatcher.utter_message(text=f"{error.user_message}。{self.mismatch_hint}")
            return {**{s: None for s in self.identity_slots}, VERIFICATION_SLOT: None}
        except BackendError as error:
            replies.backend_failure(dispatcher, error)
            return {VERIFICATION_SLOT: None, "requested_slot": None}
        dispatcher.utter_message(text=f"{verification.message}。")
        return {VERIFICATION_SLOT: verification.verification_id}

    async def validate_city(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        """A city said while something else was asked moves the lookup there: say so."""
        result = await super().validate_city(value, dispatcher, tracker, domain)
        if result["city"] and tracker.get_slot("requested_slot") not in (None, "city"):
            dispatcher.utter_message(text=words("identity.VerifiedForm.validate_city", result_city=result['city']))
        return result

    async def validate_id_number(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        """A different person than the one verified: their phone is asked anew."""
        id_number = codes.canonical_id_number(str(value or ""))
        if id_number is None:
            dispatcher.utter_message(text=words("identity.VerifiedForm.validate_id_number"))
            return {"id_number": None}
        verified = Identity.load(tracker.get_slot(TOKEN_SLOT))
        if verified and verified.id_number != id_number and "phone_number" in self.identity_slots:
            return {"id_number": id_number, "phone_number": None}
        return {"id_number": id_number}

    async def validate_phone_number(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        phone = re.sub(r"[\s\-]", "", normalise_surface(str(value or "")))
        if not PHONE.fullmatch(phone):
            dispatcher.utter_message(text=words("identity.VerifiedForm.validate_phone_number"))
            return {"phone_number": None}
        return {"phone_number": phone}

    async def validate_otp_code(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        """The city checks the code; an expired or spent one is replaced by a new text."""
        code = one_time_code(value)
        if code is None:
            dispatcher.utter_message(text=words("identity.VerifiedForm.validate_otp_code"))
            return {OTP_SLOT: None}
        city = tracker.get_slot("city")
        client = client_for(self.client_class, city, self.service)
        verification_id = tracker.get_slot(VERIFICATION_SLOT)
        if client is None or verification_id is None:
            return {OTP_SLOT: None, VERIFICATION_SLOT: None}
        try:
            access = await call(client.confirm, verification_id, code)
        except RequestRejected as error:
            if error.code == "code_incorrect":  # the city's count of tries left is not ours
                dispatcher.utter_message(text=words("identity.VerifiedForm.validate_otp_code_2"))
                return {OTP_SLOT: None}
            dispatcher.utter_message(text=f"{error.user_message}。")
            return {OTP_SLOT: None, VERIFICATION_SLOT: None}  # a new code is texted
        except BackendError as error:
            replies.backend_failure(dispatcher, error)
            return {OTP_SLOT: None, "requested_slot": None}
        id_number = tracker.get_slot("id_number") if self.needs_id else None
        identity = Identity(access, city, id_number, tracker.get_slot("phone_number"))
        return {OTP_SLOT: code, TOKEN_SLOT: identity.dump()}


class VerifiedLookup(Action, ABC):
    """An answer that needs the verified citizen: their records, or a new verification."""

    form: ClassVar[str]  # the form to run again when the city no longer accepts the token
    client_class: ClassVar[Type[IdentityCheck]]
    service: ClassVar[str]
    needs_id: ClassVar[bool] = True

    @abstractmethod
    async def fetch(self, client: Any, access: AccessToken) -> Any:
        """The record from the backend."""

    @abstractmethod
    def answer(self, record: Any, dispatcher: CollectingDispatcher, tracker: Tracker) -> List[EventType]:
        """Tell the citizen; the events to add."""

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        done: List[EventType] = [SlotSet(OTP_SLOT, None), SlotSet(VERIFICATION_SLOT, None)]
        identity = verified_identity(tracker, self.needs_id)
        client = client_for(self.client_class, tracker.get_slot("city"), self.service)
        if identity is None or client is None:  # the form was stopped or not offered here
            return done
        try:
            record = await self.fetch(client, identity.access)
        except RequestRejected as error:
            dispatcher.utter_message(text=f"{error.user_message}。")
            if error.status == UNAUTHORIZED:
                return done + [SlotSet(TOKEN_SLOT, None), FollowupAction(self.form)]
            return done
        except BackendError as error:
            replies.backend_failure(dispatcher, error)
            return done
        return done + self.answer(record, dispatcher, tracker)
