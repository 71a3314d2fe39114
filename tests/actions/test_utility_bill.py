from typing import Any, Dict, Optional

from rasa_sdk import Tracker

from actions.backends import client_for
from actions.clients.utility import UtilityClient
from actions.utility_bill import (
    ActionAskPayBillFormConfirmed,
    ActionPayBill,
    ActionQueryBill,
    ValidateBillForm,
    ValidatePayBillForm,
)
from actions.replies import yuan
from tests.actions.conftest import make_tracker, run_action, slot_events, texts

# Seeded 广州 accounts (GET /_test/seed?city=guangzhou): type and unpaid months.
NO_ARREARS = "0431998395"  # electricity, nothing due
ONE_MONTH = "0027932401"  # electricity, 1 month unpaid
TWO_MONTHS = "0575136233"  # electricity, 2 months unpaid
WATER = "3524025835"  # water, 1 month unpaid
GZ = {"city": "广州", "utility_type": "electricity"}


def form_turn(slots: Dict[str, Any], said: Dict[str, Any], requested: Optional[str] = None) -> Tracker:
    """A turn of a running form: `said` are the slots extracted from the latest message."""
    events = [{"event": "user", "timestamp": 1.0, "text": ""}]
    events += [{"event": "slot", "name": name, "value": value} for name, value in said.items()]
    return make_tracker({**slots, **said, "requested_slot": requested}, events=events)


def arrears(account_number: str) -> float:
    client = client_for(UtilityClient, "广州", "utility")
    return float(client.account(account_number).arrears)


def ended(events) -> bool:
    return {"event": "active_loop", "name": None} in [
        {"event": e["event"], "name": e.get("name")} for e in events if e["event"] == "active_loop"
    ]


# ---------------------------------------------------------------- lookup
def test_bills_come_as_text_and_cards_with_a_pay_button_when_in_arrears(city_backends):
    _, messages = run_action(ActionQueryBill(), make_tracker({**GZ, "account_number": TWO_MONTHS}))
    text = texts(messages)
    assert "广州供电局 户号 ******6233" in text and "欠费" in text and "最近 6 个月账单" in text
    assert TWO_MONTHS not in text  # masked
    card = messages[0]["custom"]
    assert card["type"] == "card_list" and len(card["items"]) == 6
    unpaid = [item for item in card["items"] if ["状态", "未缴"] in item["fields"]]
    assert len(unpaid) == 2 and all(item["buttons"] for item in unpaid)
    assert messages[0]["buttons"][0]["title"] == "缴费"
    assert f'"account_number": "{TWO_MONTHS}"' in messages[0]["buttons"][0]["payload"]


def test_no_arrears_no_pay_button(city_backends):
    _, messages = run_action(ActionQueryBill(), make_tracker({**GZ, "account_number": NO_ARREARS}))
    assert "目前没有欠费" in texts(messages) and messages[0]["buttons"] == []


def test_lookup_when_the_company_is_down(city_backends):
    city_backends.inject_fault("error", service="utility", status=503)
    _, messages = run_action(ActionQueryBill(), make_tracker({**GZ, "account_number": ONE_MONTH}))
    assert "抱歉" in texts(messages) and "转人工" in texts(messages)


def test_lookup_after_a_stopped_form_says_nothing(city_backends):
    events, messages = run_action(ActionQueryBill(), make_tracker({"city": "广州"}))
    assert events == [] and messages == []


# ------------------------------------------------------------ validation
def test_utility_words_become_canonical_and_others_are_explained():
    events, _ = run_action(ValidateBillForm(), form_turn({"city": "广州"}, {"utility_type": "煤气"}))
    assert slot_events(events)["utility_type"] == "gas"
    assert slot_events(events)["requested_slot"] == "account_number"
    tracker = form_turn({"city": "广州"}, {"utility_type": "话费"}, "utility_type")
    events, messages = run_action(ValidateBillForm(), tracker)
    assert "支持水费、电费和燃气费" in texts(messages)
    assert slot_events(events)["utility_type"] is None
    assert slot_events(events)["validation_failures"] == 1


def test_an_account_number_must_be_8_to_16_digits():
    tracker = form_turn(GZ, {"account_number": "12345"}, "account_number")
    events, messages = run_action(ValidateBillForm(), tracker)
    assert "8到16位数字" in texts(messages)
    assert slot_events(events)["account_number"] is None


def test_an_unknown_account_gets_the_backend_message_and_is_asked_again(city_backends):
    events, messages = run_action(ValidateBillForm(),
                                  form_turn(GZ, {"account_number": "12345678"}, "account_number"))
    assert "未查到户号 12345678" in texts(messages)
    assert slot_events(events)["account_number"] is None
    assert slot_events(events)["requested_slot"] == "account_number"


def test_an_account_of_another_company_is_asked_again(city_backends):
    tracker = form_turn(GZ, {"account_number": WATER}, "account_number")
    events, messages = run_action(ValidateBillForm(), tracker)
    assert "是水费户号" in texts(messages)
    assert slot_events(events)["account_number"] is None


def test_the_account_tells_the_utility_when_not_said(city_backends):
    events, _ = run_action(ValidateBillForm(),
                           form_turn({"city": "广州"}, {"account_number": f" {WATER} "}, "utility_type"))
    assert slot_events(events)["account_number"] == WATER
    assert slot_events(events)["utility_type"] == "water"
    assert slot_events(events)["requested_slot"] is None


def test_a_new_city_rechecks_the_account_given_before(city_backends):
    events, messages = run_action(ValidateBillForm(),
                                  form_turn({**GZ, "account_number": ONE_MONTH}, {"city": "上海"}))
    assert f"未查到户号 {ONE_MONTH}" in texts(messages)
    assert slot_events(events)["city"] == "上海"
    assert slot_events(events)["requested_slot"] == "account_number"


def test_a_new_utility_rechecks_the_account_given_before(city_backends):
    tracker = form_turn({**GZ, "account_number": ONE_MONTH}, {"utility_type": "water"}, "confirmed")
    events, _ = run_action(ValidatePayBillForm(), tracker)
    assert slot_events(events)["utility_type"] == "water"
    assert slot_events(events)["requested_slot"] == "account_number"


def test_an_unserved_city_is_explained_and_the_account_kept(city_backends):
    tracker = form_turn({"account_number": ONE_MONTH}, {"city": "杭州"})
    events, messages = run_action(ValidateBillForm(), tracker)
    assert "杭州暂时还没有接入" in texts(messages)
    assert "account_number" not in slot_events(events)
    assert slot_events(events)["requested_slot"] == "city"


def test_company_down_while_checking_ends_the_form(city_backends):
    city_backends.inject_fault("error", service="utility", status=503)
    events, messages = run_action(ValidateBillForm(),
                                  form_turn(GZ, {"account_number": ONE_MONTH}, "account_number"))
    assert "暂时不可用" in texts(messages)
    assert slot_events(events)["requested_slot"] is None and ended(events)


# --------------------------------------------------------------- payment
def test_nothing_due_ends_the_payment_form(city_backends):
    events, messages = run_action(ValidatePayBillForm(),
                                  form_turn(GZ, {"account_number": NO_ARREARS}, "account_number"))
    assert "目前没有欠费，无需缴费" in texts(messages)
    assert slot_events(events)["requested_slot"] is None and ended(events)


def test_arrears_lead_to_the_confirmation(city_backends):
    tracker = form_turn(GZ, {"account_number": ONE_MONTH}, "account_number")
    events, _ = run_action(ValidatePayBillForm(), tracker)
    assert slot_events(events)["requested_slot"] == "confirmed"


def test_confirmation_shows_company_masked_account_and_amount(city_backends):
    _, messages = run_action(ActionAskPayBillFormConfirmed(),
                             make_tracker({**GZ, "account_number": TWO_MONTHS}))
    text = texts(messages)
    due = yuan(arrears(TWO_MONTHS))
    assert "广州供电局" in text and "******6233" in text and due in text and TWO_MONTHS not in text
    assert [b["title"] for b in messages[0]["buttons"]] == ["确认", "取消"]


def test_confirmation_cannot_be_asked_when_the_company_is_down(city_backends):
    city_backends.inject_fault("error", service="utility", status=503)
    events, messages = run_action(ActionAskPayBillFormConfirmed(),
                                  make_tracker({**GZ, "account_number": TWO_MONTHS}))
    assert "抱歉" in texts(messages) and ended(events)
    assert slot_events(events)["requested_slot"] is None


def confirmed(slots):
    """The tracker after the citizen saw the summary and said yes (the real path)."""
    events, _ = run_action(ActionAskPayBillFormConfirmed(), make_tracker(slots))
    return make_tracker({**slots, **slot_events(events), "confirmed": True})


def test_the_confirmed_amount_is_kept_for_the_payment(city_backends):
    events, _ = run_action(ActionAskPayBillFormConfirmed(),
                           make_tracker({**GZ, "account_number": TWO_MONTHS}))
    assert float(slot_events(events)["confirmed_terms"]["amount"]) == arrears(TWO_MONTHS)


def test_a_bill_that_changed_since_the_confirmation_is_not_paid(city_backends):
    due = arrears(ONE_MONTH)
    tracker = confirmed({**GZ, "account_number": ONE_MONTH})
    tracker.slots["confirmed_terms"]["amount"] = "0.01"  # what the citizen saw, before the bill changed
    events, messages = run_action(ActionPayBill(), tracker)
    assert "缴费金额与账单不符" in texts(messages) and yuan(due) in texts(messages)
    assert "缴费成功" not in texts(messages) and arrears(ONE_MONTH) == due
    assert "确认已作废" in texts(messages) and slot_events(events)["confirmed_terms"] is None


def test_the_confirmed_amount_is_what_is_paid(city_backends):
    due = arrears(ONE_MONTH)
    _, messages = run_action(ActionPayBill(), confirmed({**GZ, "account_number": ONE_MONTH}))
    assert f"{yuan(due)}已缴纳" in texts(messages) and arrears(ONE_MONTH) == 0


def test_a_payment_without_the_confirmed_amount_is_refused(city_backends):
    """Never "pay whatever is due": a yes without the sum it was for pays nothing."""
    tracker = make_tracker({**GZ, "account_number": ONE_MONTH, "confirmed": True})
    events, messages = run_action(ActionPayBill(), tracker)
    assert "没有找到您确认过的缴费信息" in texts(messages) and "缴费成功" not in texts(messages)
    assert slot_events(events)["confirmed"] is None and arrears(ONE_MONTH) > 0


def test_an_amount_confirmed_for_another_account_pays_nothing(city_backends):
    tracker = confirmed({**GZ, "account_number": TWO_MONTHS})
    tracker.slots["account_number"] = ONE_MONTH
    _, messages = run_action(ActionPayBill(), tracker)
    assert "没有找到您确认过的缴费信息" in texts(messages) and arrears(ONE_MONTH) > 0


def test_no_means_nothing_is_paid(city_backends):
    tracker = form_turn({**GZ, "account_number": ONE_MONTH}, {"confirmed": False}, "confirmed")
    events, messages = run_action(ValidatePayBillForm(), tracker)
    assert "已取消" in texts(messages) and ended(events)
    assert arrears(ONE_MONTH) > 0


def test_paying_twice_for_one_confirmation_charges_once(city_backends):
    due = arrears(TWO_MONTHS)
    tracker = confirmed({**GZ, "account_number": TWO_MONTHS})
    _, first = run_action(ActionPayBill(), tracker)
    _, second = run_action(ActionPayBill(), tracker)  # e.g. the action server retried
    assert "缴费成功" in texts(first) and texts(first) == texts(second)
    assert f"{yuan(due)}已缴纳" in texts(first) and "已无欠费" in texts(first)
    assert first[0]["custom"]["title"] == "缴费回执"
    assert arrears(TWO_MONTHS) == 0


def test_nothing_is_paid_without_confirmation(city_backends):
    events, messages = run_action(ActionPayBill(), make_tracker({**GZ, "account_number": ONE_MONTH}))
    assert messages == [] and slot_events(events)["confirmed"] is None
    assert arrears(ONE_MONTH) > 0


def test_payment_when_the_company_is_down(city_backends):
    tracker = confirmed({**GZ, "account_number": ONE_MONTH})
    city_backends.inject_fault("error", service="utility", status=503)
    events, messages = run_action(ActionPayBill(), tracker)
    assert "抱歉" in texts(messages) and "缴费成功" not in texts(messages)
    assert "确认已作废" in texts(messages) and slot_events(events)["confirmed"] is None
    city_backends.clear_faults()
    assert arrears(ONE_MONTH) > 0
