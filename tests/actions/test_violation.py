from datetime import timedelta

from actions.backends import client_for
from actions.clients.violation import ViolationClient
from actions.violation import (
    ActionAskPayFineFormConfirmed,
    ActionAskViolationId,
    ActionPayFine,
    ActionQueryViolation,
    ValidatePayFineForm,
    ValidateViolationForm,
)
from actions.replies import yuan
from tests.actions.conftest import make_tracker, run_action, slot_events, texts

GZ_PLATE = "粤A288E0"  # seeded: 3 violations, 2 unpaid
SINGLE_UNPAID = ("粤AD79365", "9007172721913974")


def test_lists_violations_with_a_card_and_a_pay_button(city_backends):
    events, messages = run_action(ActionQueryViolation(), make_tracker({"plate_number": GZ_PLATE}))
    assert "共 3 条违章，其中未缴款 2 条" in texts(messages)
    card = messages[0]["custom"]
    assert card["type"] == "card_list" and len(card["items"]) == 3
    assert {"罚款", "扣分"} <= {label for label, _ in card["items"][0]["fields"]}
    assert messages[0]["buttons"][0]["payload"] == "/pay_fine"


def test_a_plate_alone_shows_no_time_or_place_where_the_city_asks_the_engine_number(city_backends):
    _, messages = run_action(ActionQueryViolation(), make_tracker({"plate_number": GZ_PLATE}))
    shown = texts(messages) + str(messages[0]["custom"])
    found = unpaid_of(GZ_PLATE)
    assert "请提供发动机号后6位" in texts(messages)
    assert not any(v.place in shown or v.decision_number in shown for v in found.values())
    engine = next(v["engine_number"] for v in city_backends.seed("guangzhou")["vehicles"] if v["plate"] == GZ_PLATE)
    _, messages = run_action(ActionQueryViolation(),
                             make_tracker({"plate_number": GZ_PLATE, "engine_number": engine[-6:]}))
    shown = str(messages[0]["custom"])
    assert all(v.place in shown and v.decision_number in shown for v in found.values())


def test_paying_by_plate_alone_shows_no_time_or_place_either(city_backends):
    found = unpaid_of(GZ_PLATE)
    _, asked = run_action(ActionAskViolationId(), make_tracker({"plate_number": GZ_PLATE}))
    decision = sorted(found)[0]
    _, confirm = run_action(ActionAskPayFineFormConfirmed(),
                            make_tracker({"plate_number": GZ_PLATE, "violation_id": decision}))
    shown = str(asked) + str(confirm)
    assert "第 1 条未缴违章" in shown and "今日应缴" in shown
    assert not any(v.place in shown for v in found.values())


def test_backend_down_gives_an_apology_and_what_to_try(city_backends):
    city_backends.inject_fault("error", service="violation", status=503)
    _, messages = run_action(ActionQueryViolation(), make_tracker({"plate_number": GZ_PLATE}))
    assert "抱歉" in texts(messages) and "转人工" in texts(messages)


def test_wrong_engine_number_is_explained_and_cleared(city_backends):
    tracker = make_tracker({"plate_number": "粤B55S41", "engine_number": "000000"})
    events, messages = run_action(ActionQueryViolation(), tracker)
    assert "发动机号后六位与登记信息不符" in texts(messages)
    assert slot_events(events)["engine_number"] is None


def test_form_explains_an_invalid_plate():
    tracker = make_tracker({"requested_slot": "plate_number"}, text="粤B123",
                           events=[{"event": "slot", "name": "plate_number", "value": "粤B123"}])
    tracker.slots["plate_number"] = "粤B123"
    events, messages = run_action(ValidateViolationForm(), tracker)
    assert "不是有效的车牌号" in texts(messages)
    assert slot_events(events)["plate_number"] is None
    assert slot_events(events)["validation_failures"] == 1


def test_form_offers_a_person_after_three_failures():
    tracker = make_tracker({"requested_slot": "plate_number", "validation_failures": 2},
                           text="随便", events=[{"event": "user", "text": "随便"}])
    events, messages = run_action(ValidateViolationForm(), tracker)
    assert "转人工" in [b["title"] for m in messages for b in m.get("buttons", [])]
    assert {"event": "active_loop", "name": None} in [
        {k: e.get(k) for k in ("event", "name")} for e in events if e["event"] == "active_loop"
    ]


def test_shenzhen_asks_for_the_engine_number_guangzhou_does_not():
    for plate, expected in (("粤B55S41", "engine_number"), (GZ_PLATE, None)):
        tracker = make_tracker({"requested_slot": "plate_number", "plate_number": plate},
                               events=[{"event": "slot", "name": "plate_number", "value": plate}])
        events, _ = run_action(ValidateViolationForm(), tracker)
        assert slot_events(events)["requested_slot"] == expected


def test_the_only_unpaid_fine_is_chosen_by_itself(city_backends):
    plate, decision = SINGLE_UNPAID
    tracker = make_tracker({"requested_slot": "plate_number", "plate_number": plate},
                           events=[{"event": "slot", "name": "plate_number", "value": plate}])
    events, _ = run_action(ValidatePayFineForm(), tracker)
    assert slot_events(events)["violation_id"] == decision
    assert slot_events(events)["requested_slot"] == "confirmed"


def unpaid_of(plate):
    client = client_for(ViolationClient, "广州", "violation")
    return {v.decision_number: v for v in client.violations(plate).unpaid}


def confirmed(slots):
    """The tracker after the citizen saw the summary and said yes (the real path)."""
    events, messages = run_action(ActionAskPayFineFormConfirmed(), make_tracker(slots))
    return make_tracker({**slots, **slot_events(events), "confirmed": True}), texts(messages)


def test_paying_twice_for_one_confirmation_charges_once(city_backends):
    plate, decision = SINGLE_UNPAID
    due = unpaid_of(plate)[decision].amount_due
    tracker, shown = confirmed({"plate_number": plate, "violation_id": decision})
    assert f"今日应缴 {yuan(due)}" in shown
    _, first = run_action(ActionPayFine(), tracker)
    _, second = run_action(ActionPayFine(), tracker)  # e.g. the action server retried
    assert "缴款成功" in texts(first) and texts(first) == texts(second)
    assert f"罚款 {yuan(due)}已缴纳" in texts(first) and decision not in unpaid_of(plate)


def test_a_sum_that_changed_since_the_confirmation_is_refused_and_the_new_one_told(city_backends):
    plate, decision = SINGLE_UNPAID
    occurred = unpaid_of(plate)[decision].occurred_at
    city_backends.pin_clock((occurred + timedelta(days=20)).isoformat())
    tracker, shown = confirmed({"plate_number": plate, "violation_id": decision})
    assert "滞纳金" in shown
    city_backends.pin_clock((occurred + timedelta(days=21)).isoformat())  # confirmed yesterday, paid today
    today = unpaid_of(plate)[decision].amount_due
    events, messages = run_action(ActionPayFine(), tracker)
    assert "缴款成功" not in texts(messages) and "缴款金额与应缴金额不符" in texts(messages)
    told = f"{today:.2f}".rstrip("0").rstrip(".")
    assert f"今日应缴 {told} 元" in texts(messages) and "确认已作废" in texts(messages)
    assert slot_events(events)["confirmed"] is None and slot_events(events)["confirmed_terms"] is None
    assert decision in unpaid_of(plate)


def test_a_payment_without_the_confirmed_amount_is_refused(city_backends):
    plate, decision = SINGLE_UNPAID
    tracker = make_tracker({"plate_number": plate, "violation_id": decision, "confirmed": True})
    events, messages = run_action(ActionPayFine(), tracker)
    assert "没有找到您确认过的缴款信息" in texts(messages) and "缴款成功" not in texts(messages)
    assert slot_events(events)["confirmed"] is None and decision in unpaid_of(plate)


def test_terms_confirmed_for_another_fine_pay_nothing(city_backends):
    tracker, _ = confirmed({"plate_number": GZ_PLATE, "violation_id": sorted(unpaid_of(GZ_PLATE))[0]})
    tracker.slots["violation_id"] = sorted(unpaid_of(GZ_PLATE))[1]  # switched after the confirmation
    _, messages = run_action(ActionPayFine(), tracker)
    assert "没有找到您确认过的缴款信息" in texts(messages) and len(unpaid_of(GZ_PLATE)) == 2


def test_a_failed_payment_clears_the_confirmation_and_says_so(city_backends):
    plate, decision = SINGLE_UNPAID
    tracker, _ = confirmed({"plate_number": plate, "violation_id": decision})
    city_backends.inject_fault("error", service="violation", status=503)
    events, messages = run_action(ActionPayFine(), tracker)
    city_backends.clear_faults()
    assert "抱歉" in texts(messages) and "确认已作废" in texts(messages)
    assert slot_events(events)["confirmed"] is None and slot_events(events)["confirmed_terms"] is None
    assert decision in unpaid_of(plate)


def test_yes_with_another_plate_at_the_confirmation_asks_again(city_backends):
    plate, decision = SINGLE_UNPAID
    said = {"confirmed": True, "plate_number": GZ_PLATE}  # /affirm{"plate_number": "粤A288E0"}
    events = [{"event": "slot", "name": "plate_number", "value": plate},
              {"event": "user", "timestamp": 1.0, "text": ""},
              *({"event": "slot", "name": k, "value": v} for k, v in said.items())]
    tracker = make_tracker({"plate_number": plate, "violation_id": decision, "requested_slot": "confirmed",
                            **said}, events=events)
    result, messages = run_action(ValidatePayFineForm(), tracker)
    slots = slot_events(result)
    assert slots["confirmed"] is None and slots["plate_number"] == GZ_PLATE
    assert slots["violation_id"] is None and slots["requested_slot"] == "violation_id"
    assert "请核对新的内容后再确认" in texts(messages) and "validation_failures" not in slots


def test_yes_alone_confirms(city_backends):
    plate, decision = SINGLE_UNPAID
    events = [{"event": "slot", "name": "plate_number", "value": plate},
              {"event": "user", "timestamp": 1.0, "text": "确认"},
              {"event": "slot", "name": "confirmed", "value": True}]
    tracker = make_tracker({"plate_number": plate, "violation_id": decision, "requested_slot": "confirmed",
                            "confirmed": True}, events=events)
    result, _ = run_action(ValidatePayFineForm(), tracker)
    assert slot_events(result)["confirmed"] is True and slot_events(result)["requested_slot"] is None


def test_nothing_happens_without_confirmation(city_backends):
    plate, decision = SINGLE_UNPAID
    tracker = make_tracker({"plate_number": plate, "violation_id": decision, "confirmed": None})
    events, messages = run_action(ActionPayFine(), tracker)
    assert messages == [] and slot_events(events)["violation_id"] is None
