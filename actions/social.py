"""Social insurance (社保) and housing fund (公积金) records, behind SMS verification.

Both lookups prove who the citizen is the same way: the ID number and the
phone on file with the city's bureau, then a one-time code texted to that
phone. The bureau's token is kept together with the city and ID it was
issued for, so the second lookup in a conversation texts no second code
while the token is still valid, and a token from another city or for
another ID is never used.
"""
from __future__ import annotations

import json
import re
from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Dict, List, Optional, Text, Tuple

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import replies
from actions.backends import call, client_for
from actions.clients.base import BackendError, RequestRejected
from actions.clients.social import AccessToken, HousingFund, InsuranceRecord, SocialClient
from actions.forms import ServiceForm
from actions.probe import without_candidate
from common import codes, dates
from common.normalizer import normalise_surface

OTP_SLOT = "otp_code"
TOKEN_SLOT = "identity_token"
VERIFICATION_SLOT = "verification_id"
# What the verification is bound to: a new value means a new code.
IDENTITY_SLOTS = ("city", "id_number", "phone_number")
CODE = re.compile(r"(?<!\d)\d{6}(?!\d)")
PHONE = re.compile(r"1[3-9]\d{9}")
# A token this close to its end would expire between the check and the lookup.
EXPIRY_MARGIN = timedelta(seconds=30)
UNAUTHORIZED = 401
# The bureau's words for a record in good standing.
INSURED = "正常参保"
DEPOSITING = "正常缴存"


@dataclass(frozen=True)
class Identity:
    """A verified citizen: the bureau's token and what it is valid for."""

    access: AccessToken
    city: str
    id_number: str

    def dump(self) -> str:
        return json.dumps({"token": self.access.token, "expires_at": self.access.expires_at.isoformat(),
                           "city": self.city, "id_number": self.id_number})

    @classmethod
    def load(cls, raw: Optional[str]) -> Optional["Identity"]:
        try:
            data = json.loads(raw or "")
            access = AccessToken(data["token"], datetime.fromisoformat(data["expires_at"]))
            return cls(access, data["city"], data["id_number"])
        except (ValueError, KeyError, TypeError):
            return None

    def valid_for(self, city: Optional[str], id_number: Optional[str]) -> bool:
        now = dates.now_in_china()
        expires = self.access.expires_at
        if expires.tzinfo is None:
            expires = expires.replace(tzinfo=now.tzinfo)
        return (city, id_number) == (self.city, self.id_number) and expires - EXPIRY_MARGIN > now


def verified_identity(tracker: Tracker) -> Optional[Identity]:
    """The identity proven in this conversation, if it still holds for the city and ID asked about."""
    identity = Identity.load(tracker.get_slot(TOKEN_SLOT))
    if identity and identity.valid_for(tracker.get_slot("city"), tracker.get_slot("id_number")):
        return identity
    return None


def social_client(city: Optional[str]) -> Optional[SocialClient]:
    return client_for(SocialClient, city, "social")


def one_time_code(text: Any) -> Optional[str]:
    """The 6 digits of a typed code ("验证码 123 456" too), or None."""
    match = CODE.search(re.sub(r"\s", "", normalise_surface(str(text or ""))))
    return match.group() if match else None


def mask_name(name: str) -> str:
    """陈**: the surname is enough to recognise one's own record."""
    return name[:1] + "*" * (len(name) - 1)



class ValidateIdentityForm(ServiceForm):
    """ID number, phone on file, then the texted code (skipped while a token holds)."""

    service = "social"
    slots = ["id_number", "phone_number"]
    final_slots = [OTP_SLOT]
    transient_slots = [OTP_SLOT, VERIFICATION_SLOT]

    async def required_slots(
        self,
        domain_slots: List[Text],
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> List[Text]:
        """The code only while no token holds."""
        slots = await super().required_slots(domain_slots, dispatcher, tracker, domain)
        if verified_identity(tracker):
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

    @staticmethod
    def attempts_code(tracker: Tracker) -> bool:
        """Digits typed, and nothing else of the form's answers with them."""
        given = tracker.slots_to_validate()
        text = normalise_surface(str(given.get(OTP_SLOT) or ""))
        return any(c.isdigit() for c in text) and not any(s in given for s in IDENTITY_SLOTS)

    async def get_validation_events(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        """Once ID and phone are valid (again), the bureau checks them and texts a code."""
        events = await super().get_validation_events(dispatcher, tracker, domain)
        if self.needs_code(tracker):
            result = await self.send_code(dispatcher, tracker)
            tracker.slots.update(result)
            events += [SlotSet(slot, value) for slot, value in result.items()]
        return events

    @staticmethod
    def needs_code(tracker: Tracker) -> bool:
        if not (tracker.slots.get("id_number") and tracker.slots.get("phone_number")):
            return False
        if verified_identity(tracker):
            return False
        given = tracker.slots_to_validate()
        return tracker.slots.get(VERIFICATION_SLOT) is None or any(s in given for s in IDENTITY_SLOTS)

    @staticmethod
    async def send_code(dispatcher: CollectingDispatcher, tracker: Tracker) -> Dict[Text, Any]:
        client = social_client(tracker.slots.get("city"))
        if client is None:  # not offered here: the base class says so
            return {}
        try:
            verification = await call(client.start_verification, tracker.slots["id_number"],
                                      tracker.slots["phone_number"])
        except RequestRejected as error:
            dispatcher.utter_message(text=f"{error.user_message}。请重新输入身份证号和社保登记的手机号。")
            return {"id_number": None, "phone_number": None, VERIFICATION_SLOT: None}
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
            dispatcher.utter_message(text=f"好的，改到{result['city']}查询。")
        return result

    async def validate_id_number(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        """A different person than the one verified: their phone is asked anew."""
        id_number = codes.canonical_id_number(str(value or ""))
        if id_number is None:
            dispatcher.utter_message(text="身份证号码不正确：应为18位，最后一位是数字或X，请核对后再输入。")
            return {"id_number": None}
        verified = Identity.load(tracker.get_slot(TOKEN_SLOT))
        if verified and verified.id_number != id_number:
            return {"id_number": id_number, "phone_number": None}
        return {"id_number": id_number}

    async def validate_phone_number(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        phone = re.sub(r"[\s\-]", "", normalise_surface(str(value or "")))
        if not PHONE.fullmatch(phone):
            dispatcher.utter_message(text="手机号应为1开头的11位数字，请核对后再输入。")
            return {"phone_number": None}
        return {"phone_number": phone}

    async def validate_otp_code(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        """The bureau checks the code; an expired or spent one is replaced by a new text."""
        code = one_time_code(value)
        if code is None:
            dispatcher.utter_message(text="验证码是短信里的6位数字，请再输入一次。")
            return {OTP_SLOT: None}
        city, id_number = tracker.get_slot("city"), tracker.get_slot("id_number")
        client = social_client(city)
        verification_id = tracker.get_slot(VERIFICATION_SLOT)
        if client is None or verification_id is None:
            return {OTP_SLOT: None, VERIFICATION_SLOT: None}
        try:
            access = await call(client.confirm, verification_id, code)
        except RequestRejected as error:
            if error.code == "code_incorrect":  # the bureau's count of tries left is not ours
                dispatcher.utter_message(text="验证码不正确，请核对短信里的6位数字后重新输入。")
                return {OTP_SLOT: None}
            dispatcher.utter_message(text=f"{error.user_message}。")
            return {OTP_SLOT: None, VERIFICATION_SLOT: None}  # a new code is texted
        except BackendError as error:
            replies.backend_failure(dispatcher, error)
            return {OTP_SLOT: None, "requested_slot": None}
        return {OTP_SLOT: code, TOKEN_SLOT: Identity(access, city, id_number).dump()}


class ValidateSocialSecurityForm(ValidateIdentityForm):
    form = "social_security_form"


class ValidateHousingFundForm(ValidateIdentityForm):
    form = "housing_fund_form"


class ActionQueryRecord(Action, ABC):
    """Shared by both answers: the verified citizen's record, or a new verification."""

    form: str  # the form to run again when the bureau no longer accepts the token

    @abstractmethod
    async def fetch(self, client: SocialClient, access: AccessToken) -> Any:
        """The record from the bureau."""

    @abstractmethod
    def describe(self, record: Any, tracker: Tracker) -> Tuple[str, Dict[str, Any]]:
        """(text, card) for the record."""

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        done = [SlotSet(OTP_SLOT, None), SlotSet(VERIFICATION_SLOT, None)]
        identity = verified_identity(tracker)
        client = social_client(tracker.get_slot("city"))
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
        text, card = self.describe(record, tracker)
        dispatcher.utter_message(text=text, json_message=replies.card_list(card["title"], [card]))
        return done


def holder(name: str, tracker: Tracker) -> Tuple[str, List[Tuple[str, str]]]:
    """Who the record belongs to, masked: for the text and the card."""
    id_number = codes.mask_id_number(tracker.get_slot("id_number"))
    phone = codes.mask_phone(tracker.get_slot("phone_number"))
    return f"{mask_name(name)}（{id_number}）", [("身份证", id_number), ("手机", phone)]


class ActionQuerySocialSecurity(ActionQueryRecord):
    form = "social_security_form"

    def name(self) -> Text:
        return "action_query_social_security"

    async def fetch(self, client: SocialClient, access: AccessToken) -> InsuranceRecord:
        return await call(client.insurance, access)

    def describe(self, record: InsuranceRecord, tracker: Tracker) -> Tuple[str, Dict[str, Any]]:
        who, identity_fields = holder(record.name, tracker)
        text = (f"{who}的社保：{record.status}，累计缴费 {record.months_paid} 个月"
                f"（{record.first_paid_month} 至 {record.last_paid_month}），"
                f"缴费基数 {replies.yuan(record.base)}/月，医保个人账户余额 {replies.yuan(record.medical_insurance_balance)}。")
        if record.status != INSURED:
            text += "\n目前处于停缴状态。如已换工作，请尽快由新单位续缴，以免断缴影响医保等待遇。"
        card = replies.card(
            title="社保参保信息",
            subtitle=record.employer,
            fields=[("参保状态", record.status), ("累计缴费", f"{record.months_paid} 个月"),
                    ("缴费基数", replies.yuan(record.base)),
                    ("医保余额", replies.yuan(record.medical_insurance_balance)),
                    ("最近缴费", record.last_paid_month), *identity_fields],
        )
        return text, card


class ActionQueryHousingFund(ActionQueryRecord):
    form = "housing_fund_form"

    def name(self) -> Text:
        return "action_query_housing_fund"

    async def fetch(self, client: SocialClient, access: AccessToken) -> HousingFund:
        return await call(client.housing_fund, access)

    def describe(self, record: HousingFund, tracker: Tracker) -> Tuple[str, Dict[str, Any]]:
        who, identity_fields = holder(record.name, tracker)
        text = f"{who}的公积金：{record.status}，账户余额 {replies.yuan(record.balance)}，"
        if record.status == DEPOSITING:
            text += (f"月缴存额 {replies.yuan(record.monthly_deposit)}（单位和个人各 {record.deposit_rate:.0%}），"
                     f"最近缴存月份 {record.last_deposit_month}。")
        else:
            text += f"{record.last_deposit_month} 之后暂停缴存。\n想了解提取条件，可以问我“公积金怎么提取”。"
        card = replies.card(
            title="住房公积金账户",
            subtitle=record.employer,
            fields=[("账户状态", record.status), ("账户余额", replies.yuan(record.balance)),
                    ("月缴存额", replies.yuan(record.monthly_deposit)),
                    ("缴存比例", f"{record.deposit_rate:.0%}"),
                    ("最近缴存", record.last_deposit_month), *identity_fields],
        )
        return text, card
