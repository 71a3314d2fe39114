from actions.violation import (
    ActionPayFine,
    ActionQueryViolation,
    ValidatePayFineForm,
    ValidateViolationForm,
)
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


def test_paying_twice_for_one_confirmation_charges_once(city_backends):
    plate, decision = SINGLE_UNPAID
    tracker = make_tracker({"plate_number": plate, "violation_id": decision, "confirmed": True})
    _, first = run_action(ActionPayFine(), tracker)
    _, second = run_action(ActionPayFine(), tracker)  # e.g. the action server retried
    assert "缴款成功" in texts(first) and texts(first) == texts(second)


def test_nothing_happens_without_confirmation(city_backends):
    plate, decision = SINGLE_UNPAID
    tracker = make_tracker({"plate_number": plate, "violation_id": decision, "confirmed": None})
    events, messages = run_action(ActionPayFine(), tracker)
    assert messages == [] and slot_events(events)["violation_id"] is None
