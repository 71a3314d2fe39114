"""Bare answers: the value typed alone for the form's open question (issue 15 item 4)."""
from __future__ import annotations

from actions import bare_answers
from actions.violation import ValidateViolationForm
from tests.actions.conftest import make_tracker, run_action, slot_events


def _asked(slot: str, text: str, intent: str = "inform", **slots: object):
    return make_tracker({"requested_slot": slot, **slots}, intent=intent, text=text,
                        active_loop="violation_form")


def test_digits_alone_answer_the_engine_number_question():
    for said, value in (("123456", "123456"), ("是a12345吧", "A12345"), (" 8zccyu ", "8ZCCYU")):
        assert bare_answers.events(_asked("engine_number", said)) == [
            {"event": "slot", "timestamp": None, "name": "engine_number", "value": value}]


def test_words_are_not_an_engine_number():
    for said in ("不知道", "thanks!", "help", "在哪里看"):
        assert bare_answers.events(_asked("engine_number", said)) == []


def test_an_account_number_typed_in_groups():
    assert bare_answers.account_number("1234 5678-90") == "1234567890"
    assert bare_answers.account_number("户号不知道") is None


def test_a_name_is_taken_only_from_an_answer_not_from_a_request():
    assert slot_events(bare_answers.events(_asked("hospital", "市一医院吧")))["hospital"] == "市一医院"
    assert bare_answers.events(_asked("hospital", "讲个笑话", intent="chitchat")) == []
    assert bare_answers.events(_asked("bus_stop", "2")) == []


def test_nothing_when_no_question_is_open_or_a_button_was_pressed():
    assert bare_answers.events(make_tracker({}, text="123456")) == []
    assert bare_answers.events(_asked("engine_number", '/inform{"engine_number": "1"}')) == []


def test_the_violation_form_accepts_a_bare_engine_number_in_shenzhen(city_backends):
    tracker = _asked("engine_number", "8zccyu", plate_number="粤B55S41", city="深圳")
    events, messages = run_action(ValidateViolationForm(), tracker)
    assert slot_events(events)["engine_number"] == "8ZCCYU"
    assert "发动机号后6位" not in " ".join(m.get("text") or "" for m in messages)
