"""Water, electricity and gas: look up bills and arrears, pay the arrears.

An account number belongs to one company of one city, so it is checked with
that city's backend as soon as the city, the utility and the number are all
known, and again whenever one of them changes: a wrong number is explained
with the backend's own message and asked again before anything is shown or
paid.
"""
from __future__ import annotations

import re
from decimal import Decimal
from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import confirmation, replies
from actions.backends import call, client_for, idempotency_key
from actions.clients.base import BackendError, RequestRejected
from actions.clients.utility import Bill, UtilityAccount, UtilityClient
from actions.forms import ServiceForm
from actions.texts import words
from common import gazetteer

SERVICE = "utility"
ACCOUNT_SLOTS = ("city", "utility_type", "account_number")
RECENT_MONTHS = 6
ACCOUNT_PATTERN = re.compile(r"\d{8,16}")


# ------------------------------------------------------------- wording
def canonical_utility_type(value: Any) -> Optional[str]:
    """water / electricity / gas from a canonical value or a word such as 电费, 煤气."""
    text = str(value or "").strip()
    if text in gazetteer.load().utility_types:
        return text
    return gazetteer.load().canonical_names("utility_type").get(text)


def canonical_account(value: Any) -> Optional[str]:
    """The digits as typed (spaces and hyphens dropped), or None if it cannot be an account."""
    number = re.sub(r"[\s\-]", "", str(value or ""))
    return number if ACCOUNT_PATTERN.fullmatch(number) else None


def label(utility_type: str) -> str:
    """电费, 水费, 燃气费."""
    return gazetteer.load().utility_types[utility_type][0]


def mask_account(number: str) -> str:
    """******2401: the last four digits are enough to recognise one's own account."""
    return "*" * (len(number) - 4) + number[-4:]


def month_label(month: str) -> str:
    """2026-10 -> 2026年10月."""
    return words("utility_bill.month_label", month_4=month[:4], int_month_5=int(month[5:]))



def state(bill: Bill) -> str:
    return words("utility_bill.state") if bill.paid else words("utility_bill.state_2")


def describe(bill: Bill) -> str:
    return f"{month_label(bill.month)}：{bill.usage}{bill.unit}，{replies.yuan(bill.amount)}，{state(bill)}"


def pay_button(account: UtilityAccount) -> Dict[str, str]:
    """Pays this very account, also from a card clicked later in the conversation."""
    return {"title": words("utility_bill.pay_button"), "payload": replies.intent_payload(
        "pay_bill", utility_type=account.utility_type, account_number=account.account_number)}


def bill_card(account: UtilityAccount, bill: Bill) -> Dict[str, Any]:
    return replies.card(
        title=f"{month_label(bill.month)} {label(account.utility_type)}",
        subtitle=words("utility_bill.bill_card",
                       mask_account_account_account_number=mask_account(account.account_number),
                       account_company=account.company),
        fields=[(words("utility_bill.bill_card_2"), replies.yuan(bill.amount)),
                (words("utility_bill.bill_card_3"), f"{bill.usage} {bill.unit}"),
                (words("utility_bill.bill_card_4"), bill.due_date.isoformat()),
                (words("utility_bill.bill_card_5"), state(bill))],
        buttons=[] if bill.paid else [pay_button(account)],
    )


def arrears_text(account: UtilityAccount) -> str:
    months = "、".join(month_label(m) for m in sorted(account.unpaid_months))
    return f"{replies.yuan(account.arrears)}（{months}）"


def nothing_due(account: UtilityAccount, dispatcher: CollectingDispatcher) -> None:
    dispatcher.utter_message(
        text=words("utility_bill.nothing_due",
                   mask_account_account_account_number=mask_account(account.account_number),
                   label_account_utility_type=label(account.utility_type))
    )


# ------------------------------------------------------------- backend
def client(city: Optional[str]) -> UtilityClient:
    found = client_for(UtilityClient, city, SERVICE)
    if found is None:
        raise RequestRejected(words("utility_bill.client", city_or=city or '该城市'), 404, "not_served")
    return found


async def fetch(tracker: Tracker, months: Optional[int] = None) -> UtilityAccount:
    """The account in the slots, checked against the utility the citizen named."""
    return await call(client(tracker.get_slot("city")).account, tracker.get_slot("account_number"),
                      tracker.get_slot("utility_type"), months)


def explain(error: BackendError, dispatcher: CollectingDispatcher) -> None:
    """The backend's own explanation for a wrong request, an apology for an outage."""
    if isinstance(error, RequestRejected):
        dispatcher.utter_message(text=f"{error.user_message}。")
    else:
        replies.backend_failure(dispatcher, error)


def account_subject(tracker: Tracker) -> Dict[str, Any]:
    """Which account of which company a confirmation is about."""
    return {slot: tracker.get_slot(slot) for slot in ACCOUNT_SLOTS}


# ---------------------------------------------------------------- forms
class ValidateBillForm(ServiceForm):
    form = "bill_form"
    service = SERVICE
    slots = ["utility_type", "account_number"]

    async def validate_city(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        result = await super().validate_city(value, dispatcher, tracker, domain)
        return await self.recheck_account(result, dispatcher, tracker)

    async def validate_utility_type(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        utility_type = canonical_utility_type(value)
        if utility_type is None:
            dispatcher.utter_message(text=words("utility_bill.ValidateBillForm.validate_utility_type", value=value))
            return {"utility_type": None}
        return await self.recheck_account({"utility_type": utility_type}, dispatcher, tracker)

    async def validate_account_number(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        number = canonical_account(value)
        if number is None:
            dispatcher.utter_message(
                text=words("utility_bill.ValidateBillForm.validate_account_number", value=value)
            )
            return {"account_number": None}
        return await self.check_account({"account_number": number}, dispatcher, tracker)

    async def recheck_account(
        self, result: Dict[Text, Any], dispatcher: CollectingDispatcher, tracker: Tracker
    ) -> Dict[Text, Any]:
        """A new city or utility: an account number given before may not belong to it."""
        if "account_number" in tracker.slots_to_validate() or not tracker.get_slot("account_number"):
            return result
        return await self.check_account(result, dispatcher, tracker)

    async def check_account(
        self, result: Dict[Text, Any], dispatcher: CollectingDispatcher, tracker: Tracker
    ) -> Dict[Text, Any]:
        """Ask the city's company; the utility follows from the account if not yet said."""
        probe = tracker.copy()
        probe.slots.update(result)
        probe.slots["utility_type"] = canonical_utility_type(probe.get_slot("utility_type"))
        if self.city_of(probe) is None:
            return result  # checked once the city is known
        try:
            account = await fetch(probe, months=1)
        except RequestRejected as error:
            explain(error, dispatcher)
            return {**result, "account_number": None}
        except BackendError as error:
            explain(error, dispatcher)
            return {**result, "account_number": None, "requested_slot": None}
        return {**result, "utility_type": account.utility_type, **self.account_found(account, dispatcher)}

    def account_found(self, account: UtilityAccount, dispatcher: CollectingDispatcher) -> Dict[Text, Any]:
        """What else follows from a valid account (nothing, for a lookup)."""
        return {}


class ValidatePayBillForm(ValidateBillForm):
    form = "pay_bill_form"
    final_slots = ["confirmed"]
    transient_slots = ["confirmed", confirmation.TERMS_SLOT]

    def account_found(self, account: UtilityAccount, dispatcher: CollectingDispatcher) -> Dict[Text, Any]:
        """Nothing due: say so and end the form instead of asking for a confirmation."""
        if account.arrears > 0:
            return {}
        nothing_due(account, dispatcher)
        return {"requested_slot": None}


# -------------------------------------------------------------- answers
class ActionQueryBill(Action):
    def name(self) -> Text:
        return "action_query_bill"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        if not all(tracker.get_slot(s) for s in ACCOUNT_SLOTS):
            return []  # the form was stopped
        try:
            account = await fetch(tracker, months=RECENT_MONTHS)
        except RequestRejected as error:
            explain(error, dispatcher)
            return [SlotSet("account_number", None)]
        except BackendError as error:
            explain(error, dispatcher)
            return []
        owner = words("utility_bill.ActionQueryBill",
                      account_company=account.company,
                      mask_account_account_account_number=mask_account(account.account_number),
                      account_holder=account.holder)
        status = (words("utility_bill.ActionQueryBill_2", arrears_text_account=arrears_text(account))
                  if account.arrears > 0 else words("utility_bill.ActionQueryBill_3"))
        lines = [describe(b) for b in account.bills]
        dispatcher.utter_message(
            text="\n".join([f"{owner}：{status}", words("utility_bill.ActionQueryBill_4", len_lines=len(lines)),
                            *lines]),
            buttons=[pay_button(account)] if account.arrears > 0 else [],
            json_message=replies.card_list(words("utility_bill.ActionQueryBill_5",
                                                 label_account_utility_type=label(account.utility_type)),
                                           [bill_card(account, b) for b in account.bills]),
        )
        return []


class ActionAskPayBillFormConfirmed(Action):
    """The summary the citizen confirms: company, masked account, months and amount."""

    def name(self) -> Text:
        return "action_ask_pay_bill_form_confirmed"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        try:
            account = await fetch(tracker, months=1)
        except BackendError as error:
            explain(error, dispatcher)
            return confirmation.END_FORM
        if account.arrears <= 0:  # paid elsewhere since the account was checked
            nothing_due(account, dispatcher)
            return confirmation.END_FORM
        dispatcher.utter_message(
            text=words("utility_bill.ActionAskPayBillFormConfirmed",
                       label_account_utility_type=label(account.utility_type),
                       account_company=account.company,
                       mask_account_account_account_number=mask_account(account.account_number),
                       account_holder=account.holder,
                       arrears_text_account=arrears_text(account)),
            buttons=replies.CONFIRM_BUTTONS,
        )
        return [confirmation.remember(account_subject(tracker), amount=account.arrears)]


class ActionPayBill(Action):
    def name(self) -> Text:
        return "action_pay_bill"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        done = list(confirmation.CLEARED)
        city, utility_type, number = (tracker.get_slot(s) for s in ACCOUNT_SLOTS)
        if tracker.get_slot("confirmed") is not True or not (city and utility_type and number):
            return done
        terms = confirmation.confirmed_terms(tracker, account_subject(tracker))
        if terms is None:
            return confirmation.refuse_unconfirmed(dispatcher, words("utility_bill.ActionPayBill"))
        # The company refuses if the bill is no longer the sum the citizen confirmed.
        try:
            paid = await call(client(city).pay, number, Decimal(terms["amount"]),
                              idempotency_key=idempotency_key(tracker, city, number, terms["amount"]))
        except BackendError as error:
            confirmation.not_done(dispatcher, error, words("utility_bill.ActionPayBill_2"))
            return done
        kind = label(utility_type)
        months = "、".join(month_label(m) for m in paid.months)
        left = (words("utility_bill.ActionPayBill_3", yuan_paid_arrears_after=replies.yuan(paid.arrears_after))
                if paid.arrears_after > 0 else words("utility_bill.ActionPayBill_4"))
        dispatcher.utter_message(
            text=words("utility_bill.ActionPayBill_5",
                       mask_account_paid_account_number=mask_account(paid.account_number),
                       kind=kind,
                       yuan_paid_amount=replies.yuan(paid.amount),
                       months=months,
                       left=left,
                       paid_payment_id=paid.payment_id),
            json_message=replies.card_list(words("utility_bill.ActionPayBill_6"), [replies.card(
                title=words("utility_bill.ActionPayBill_7", kind=kind),
                subtitle=f"{paid.paid_at:%Y-%m-%d %H:%M}",
                fields=[(words("utility_bill.ActionPayBill_8"), mask_account(paid.account_number)),
                        (words("utility_bill.ActionPayBill_9"), replies.yuan(paid.amount)),
                        (words("utility_bill.ActionPayBill_10"), months),
                        (words("utility_bill.ActionPayBill_11"), paid.payment_id)],
            )]),
        )
        return done
