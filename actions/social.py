"""Social insurance (社保) and housing fund (公积金) records, behind the city's SMS check.

Both lookups prove who the citizen is the way every personal lookup does
(actions/identity.py): the ID number and the phone on file with the city's
bureau, then a one-time code texted to that phone, once per session.
"""
from __future__ import annotations

from abc import abstractmethod
from typing import Any, Dict, List, Text, Tuple

from rasa_sdk import Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher

from actions import replies
from actions.backends import call
from actions.clients.identity import AccessToken
from actions.clients.social import HousingFund, InsuranceRecord, SocialClient
from actions.identity import VerifiedForm, VerifiedLookup
from common import codes

# The bureau's words for a record in good standing.
INSURED = "正常参保"
DEPOSITING = "正常缴存"


def mask_name(name: str) -> str:
    """陈**: the surname is enough to recognise one's own record."""
    return name[:1] + "*" * (len(name) - 1)


class ValidateIdentityForm(VerifiedForm):
    """The bureau texts the code only to the phone on file for the ID number."""

    service = "social"
    client_class = SocialClient
    mismatch_hint = "请重新输入身份证号和社保登记的手机号。"


class ValidateSocialSecurityForm(ValidateIdentityForm):
    form = "social_security_form"


class ValidateHousingFundForm(ValidateIdentityForm):
    form = "housing_fund_form"


class ActionQueryRecord(VerifiedLookup):
    """Shared by both answers: the record as text and a card."""

    client_class = SocialClient
    service = "social"

    def answer(self, record: Any, dispatcher: CollectingDispatcher, tracker: Tracker) -> List[EventType]:
        text, card = self.describe(record, tracker)
        dispatcher.utter_message(text=text, json_message=replies.card_list(card["title"], [card]))
        return []

    @abstractmethod
    def describe(self, record: Any, tracker: Tracker) -> Tuple[str, Dict[str, Any]]:
        """(text, card) for the record."""


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
