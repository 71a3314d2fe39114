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
from actions.texts import words
from common import codes

# The bureau's words for a record in good standing.
INSURED = words("social.INSURED")
DEPOSITING = words("social.DEPOSITING")


def mask_name(name: str) -> str:
    """陈**: the surname is enough to recognise one's own record."""
    return name[:1] + "*" * (len(name) - 1)


class ValidateIdentityForm(VerifiedForm):
    """The bureau texts the code only to the phone on file for the ID number."""

    service = "social"
    client_class = SocialClient
    mismatch_hint = words("social.ValidateIdentityForm")


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
    return f"{mask_name(name)}（{id_number}）", [(words("social.holder"), id_number), (words("social.holder_2"), phone)]


class ActionQuerySocialSecurity(ActionQueryRecord):
    form = "social_security_form"

    def name(self) -> Text:
        return "action_query_social_security"

    async def fetch(self, client: SocialClient, access: AccessToken) -> InsuranceRecord:
        return await call(client.insurance, access)

    def describe(self, record: InsuranceRecord, tracker: Tracker) -> Tuple[str, Dict[str, Any]]:
        who, identity_fields = holder(record.name, tracker)
        text = (words("social.ActionQuerySocialSecurity.describe",
                      who=who,
                      record_status=record.status,
                      record_months_paid=record.months_paid,
                      record_first_paid_month=record.first_paid_month,
                      record_last_paid_month=record.last_paid_month,
                      yuan_record_base=replies.yuan(record.base),
                      yuan_record_medical_insurance_balance=replies.yuan(record.medical_insurance_balance)))
        if record.status != INSURED:
            text += words("social.ActionQuerySocialSecurity.describe_2")
        card = replies.card(
            title=words("social.ActionQuerySocialSecurity.describe_3"),
            subtitle=record.employer,
            fields=[(words("social.ActionQuerySocialSecurity.describe_4"), record.status),
                    (words("social.ActionQuerySocialSecurity.describe_5"),
                     words("social.ActionQuerySocialSecurity.describe_6", record_months_paid=record.months_paid)),
                    (words("social.ActionQuerySocialSecurity.describe_7"), replies.yuan(record.base)),
                    (words("social.ActionQuerySocialSecurity.describe_8"),
                     replies.yuan(record.medical_insurance_balance)),
                    (words("social.ActionQuerySocialSecurity.describe_9"), record.last_paid_month), *identity_fields],
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
        text = words("social.ActionQueryHousingFund.describe",
                     who=who,
                     record_status=record.status,
                     yuan_record_balance=replies.yuan(record.balance))
        if record.status == DEPOSITING:
            text += (words("social.ActionQueryHousingFund.describe_2",
                           yuan_record_monthly_deposit=replies.yuan(record.monthly_deposit),
                           record_deposit_rate=record.deposit_rate,
                           record_last_deposit_month=record.last_deposit_month))
        else:
            text += words("social.ActionQueryHousingFund.describe_3",
                          record_last_deposit_month=record.last_deposit_month)
        card = replies.card(
            title=words("social.ActionQueryHousingFund.describe_4"),
            subtitle=record.employer,
            fields=[(words("social.ActionQueryHousingFund.describe_5"), record.status),
                    (words("social.ActionQueryHousingFund.describe_6"), replies.yuan(record.balance)),
                    (words("social.ActionQueryHousingFund.describe_7"), replies.yuan(record.monthly_deposit)),
                    (words("social.ActionQueryHousingFund.describe_8"), f"{record.deposit_rate:.0%}"),
                    (words("social.ActionQueryHousingFund.describe_9"), record.last_deposit_month), *identity_fields],
        )
        return text, card
