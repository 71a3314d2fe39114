import asyncio
from datetime import datetime, timedelta
from typing import Any, Dict, List, Optional, Tuple

import pytest
import requests

from actions.clients.identity import AccessToken
from actions.forms import ServiceForm
from actions.identity import Identity, one_time_code
from actions.social import (
    ActionQueryHousingFund,
    ActionQuerySocialSecurity,
    ValidateHousingFundForm,
    ValidateSocialSecurityForm,
)
from citysim.server import BackgroundServer
from common import dates
from tests.actions.conftest import DOMAIN, make_tracker, run_action, slot_events, texts
from tests.otp_placeholder import resolve

# Seeded citizens (GET /_test/seed?city=guangzhou): one paying, one who stopped.
PAYING = {"city": "广州", "id_number": "42010620020609526X", "phone_number": "19829129321"}
STOPPED = {"city": "广州", "id_number": "440304199708016943", "phone_number": "14636281316"}


def form_turn(form: ServiceForm, slots: Dict[str, Any], given: Dict[str, Any], intent: str = "inform",
              text: str = "") -> Tuple[List[Dict[str, Any]], List[Dict[str, Any]]]:
    """One answer inside the form: `given` are the slot candidates Rasa extracted from it."""
    events = [{"event": "user", "timestamp": 1.0, "text": text}]
    events += [{"event": "slot", "name": k, "value": v} for k, v in given.items()]
    return run_action(form, make_tracker({**slots, **given}, intent=intent, text=text, events=events))


def texted(citizen: Dict[str, str], form: ServiceForm = ValidateSocialSecurityForm()) -> Dict[str, Any]:
    """The slots after the phone was given and the bureau texted a code."""
    slots = {"city": citizen["city"], "id_number": citizen["id_number"], "requested_slot": "phone_number"}
    events, _ = form_turn(form, slots, {"phone_number": citizen["phone_number"]})
    return {**slots, **slot_events(events)}


def verified(backends: BackgroundServer, citizen: Dict[str, str]) -> Dict[str, Any]:
    """The slots once the citizen typed the right code."""
    slots = texted(citizen)
    code = backends.otp(citizen["phone_number"])
    events, _ = form_turn(ValidateSocialSecurityForm(), slots, {"otp_code": code})
    return {**slots, **slot_events(events)}


def identity_for(city: str, id_number: str, minutes: int = 10, phone: str = "19829129321") -> str:
    expires = dates.now_in_china() + timedelta(minutes=minutes)
    return Identity(AccessToken("t0ken", expires), city, id_number, phone).dump()


def custom(messages: List[Dict[str, Any]]) -> Optional[Dict[str, Any]]:
    return next((m["custom"] for m in messages if m.get("custom")), None)


def test_valid_id_and_phone_text_a_code(city_backends):
    slots = texted(PAYING)
    assert slots["verification_id"] and slots["requested_slot"] == "otp_code"
    assert len(city_backends.otp(PAYING["phone_number"])) == 6


def test_the_code_is_announced_with_the_phone_masked(city_backends):
    slots = {"city": "广州", "id_number": PAYING["id_number"], "requested_slot": "phone_number"}
    _, messages = form_turn(ValidateSocialSecurityForm(), slots, {"phone_number": PAYING["phone_number"]})
    assert "验证码已发送至198****9321" in texts(messages)
    assert PAYING["phone_number"] not in texts(messages)


def test_id_and_phone_of_different_people_are_both_asked_again(city_backends):
    slots = {"city": "广州", "id_number": PAYING["id_number"], "requested_slot": "phone_number"}
    events, messages = form_turn(ValidateSocialSecurityForm(), slots,
                                 {"phone_number": STOPPED["phone_number"]})
    assert "身份证号与广州社保登记的手机号不一致" in texts(messages)
    result = slot_events(events)
    assert result["id_number"] is None and result["phone_number"] is None
    assert result["requested_slot"] == "id_number" and result["validation_failures"] == 1


def test_invalid_id_and_phone_are_explained():
    events, messages = form_turn(ValidateSocialSecurityForm(), {"city": "广州", "requested_slot": "id_number"},
                                 {"id_number": "420106200206095261"})
    assert "身份证号码不正确" in texts(messages) and slot_events(events)["id_number"] is None
    events, messages = form_turn(ValidateHousingFundForm(),
                                 {"city": "广州", "id_number": PAYING["id_number"],
                                  "requested_slot": "phone_number"}, {"phone_number": "1982912932"})
    assert "11位数字" in texts(messages) and slot_events(events)["phone_number"] is None


def test_phone_typed_with_dashes_is_kept_as_digits():
    events, _ = form_turn(ValidateSocialSecurityForm(), {"requested_slot": "phone_number"},
                          {"phone_number": "198-2912-9321"})
    assert slot_events(events)["phone_number"] == "19829129321"


def test_the_right_code_verifies_and_ends_the_form(city_backends):
    slots = verified(city_backends, PAYING)
    identity = Identity.load(slots["identity_token"])
    assert identity.city == "广州" and identity.id_number == PAYING["id_number"]
    assert slots["requested_slot"] is None


def test_a_wrong_code_is_explained_and_counted(city_backends):
    slots = texted(PAYING)
    right = city_backends.otp(PAYING["phone_number"])
    wrong = f"{(int(right) + 1) % 10 ** 6:06d}"
    events, messages = form_turn(ValidateSocialSecurityForm(), slots, {"otp_code": wrong}, text=wrong)
    assert "验证码不正确" in texts(messages)
    result = slot_events(events)
    assert result["otp_code"] is None and result["requested_slot"] == "otp_code"
    assert result["validation_failures"] == 1 and "identity_token" not in result


def test_a_code_of_the_wrong_length_is_explained_without_asking_the_bureau(city_backends):
    slots = texted(PAYING)
    events, messages = form_turn(ValidateSocialSecurityForm(), slots, {"otp_code": "12345"}, text="12345")
    assert "6位数字" in texts(messages) and slot_events(events)["otp_code"] is None


def test_an_expired_code_is_replaced_by_a_new_text(city_backends):
    slots = texted(PAYING)
    old = city_backends.otp(PAYING["phone_number"])
    city_backends.pin_clock((dates.now_in_china() + timedelta(minutes=6)).isoformat())
    events, messages = form_turn(ValidateSocialSecurityForm(), slots, {"otp_code": old})
    assert "验证码已过期" in texts(messages) and "验证码已发送至198****9321" in texts(messages)
    assert slot_events(events)["verification_id"] not in (None, slots["verification_id"])
    assert slot_events(events)["requested_slot"] == "otp_code"


def test_a_question_at_the_code_step_is_answered_not_taken_for_a_code(city_backends):
    slots = texted(PAYING)
    events, messages = form_turn(ValidateSocialSecurityForm(), slots, {"otp_code": "你是机器人吗"},
                                 intent="bot_challenge", text="你是机器人吗")
    assert [m.get("response") for m in messages] == ["utter_iamabot"]
    result = slot_events(events)
    assert result["otp_code"] is None and result["requested_slot"] == "otp_code"
    assert result.get("validation_failures", 0) == 0


def test_another_city_at_the_code_step_verifies_there(city_backends):
    slots = texted(PAYING)
    events, messages = form_turn(ValidateSocialSecurityForm(), slots,
                                 {"otp_code": "我在上海", "city": "上海"}, intent="set_city", text="我在上海")
    said = texts(messages)
    assert "验证码" not in said  # neither "wrong code" nor a new text: the ID is not insured there
    assert "改到上海查询" in said and "身份证号与上海社保登记的手机号不一致" in said
    assert slot_events(events)["requested_slot"] == "id_number"


def test_an_unserved_city_said_mid_form_is_explained_and_the_city_asked():
    events, messages = form_turn(ValidateSocialSecurityForm(), {"city": "广州", "requested_slot": "id_number"},
                                 {"city": "杭州"}, intent="set_city", text="我在杭州")
    assert "杭州暂时还没有接入" in texts(messages)
    assert slot_events(events)["city"] is None and slot_events(events)["requested_slot"] == "city"


def test_foshan_explains_and_texts_nothing(city_backends):
    events, messages = form_turn(ValidateHousingFundForm(), {"requested_slot": "city", **PAYING},
                                 {"city": "佛山"})
    assert "佛山暂未开通" in texts(messages)
    assert {"event": "active_loop", "name": None} in [
        {k: e.get(k) for k in ("event", "name")} for e in events if e["event"] == "active_loop"]
    with pytest.raises(requests.HTTPError):  # no SMS to this phone
        city_backends.otp(PAYING["phone_number"])


def test_a_valid_token_skips_the_code_for_the_same_city_and_id():
    form = ValidateHousingFundForm()

    def required(**slots: Any) -> List[str]:
        tracker = make_tracker({**PAYING, **slots})
        return asyncio.run(form.required_slots([], None, tracker, DOMAIN))

    assert "otp_code" not in required(identity_token=identity_for("广州", PAYING["id_number"]))
    assert "otp_code" in required(identity_token=identity_for("上海", PAYING["id_number"]))
    assert "otp_code" in required(identity_token=identity_for("广州", STOPPED["id_number"]))
    assert "otp_code" in required(identity_token=identity_for("广州", PAYING["id_number"], minutes=-1))
    assert "otp_code" in required()


def test_the_second_service_answers_without_a_new_code(city_backends):
    slots = verified(city_backends, PAYING)
    first_code = city_backends.otp(PAYING["phone_number"])
    # housing_fund_form activated: Rasa validates the slots already filled
    carried = {k: slots[k] for k in ("city", "id_number", "phone_number")}
    events, messages = form_turn(ValidateHousingFundForm(), {"identity_token": slots["identity_token"]}, carried)
    assert slot_events(events)["requested_slot"] is None and messages == []
    assert city_backends.otp(PAYING["phone_number"]) == first_code


def test_another_id_after_verification_asks_its_phone():
    slots = {"city": "广州", "identity_token": identity_for("广州", PAYING["id_number"]), **PAYING}
    events, _ = form_turn(ValidateHousingFundForm(), {**slots, "requested_slot": "id_number"},
                          {"id_number": STOPPED["id_number"]})
    assert slot_events(events)["phone_number"] is None
    assert slot_events(events)["requested_slot"] == "phone_number"


def test_social_security_record_with_a_card_and_masked_identity(city_backends):
    slots = verified(city_backends, PAYING)
    events, messages = run_action(ActionQuerySocialSecurity(), make_tracker(slots))
    said = texts(messages)
    assert "陈**（4201**********526X）的社保：正常参保" in said
    assert "缴费基数 6,900 元/月" in said and "医保个人账户余额 13,354.12 元" in said
    assert PAYING["id_number"] not in said and "续缴" not in said
    card = custom(messages)
    assert card["type"] == "card_list" and len(card["items"]) == 1
    fields = dict(card["items"][0]["fields"])
    assert fields["参保状态"] == "正常参保" and fields["手机"] == "198****9321"
    assert slot_events(events) == {"otp_code": None, "verification_id": None}


def test_stopped_contributions_are_pointed_out(city_backends):
    slots = verified(city_backends, STOPPED)
    _, social = run_action(ActionQuerySocialSecurity(), make_tracker(slots))
    _, fund = run_action(ActionQueryHousingFund(), make_tracker(slots))
    assert "暂停参保" in texts(social) and "续缴" in texts(social)
    assert "封存，账户余额 16,568.85 元，2026-06 之后暂停缴存" in texts(fund)
    assert "公积金怎么提取" in texts(fund) and "月缴存额" not in texts(fund)


def test_housing_fund_balance_and_monthly_deposit(city_backends):
    slots = verified(city_backends, PAYING)
    _, messages = run_action(ActionQueryHousingFund(), make_tracker(slots))
    assert "账户余额 184,760.04 元" in texts(messages) and "月缴存额 1,656 元" in texts(messages)
    assert dict(custom(messages)["items"][0]["fields"])["缴存比例"] == "12%"


def test_a_token_the_bureau_rejects_starts_verification_again(city_backends):
    slots = {**PAYING, "identity_token": identity_for("广州", PAYING["id_number"])}
    events, messages = run_action(ActionQueryHousingFund(), make_tracker(slots))
    assert "身份凭证无效，请重新验证" in texts(messages)
    assert slot_events(events)["identity_token"] is None
    assert {"event": "followup", "name": "housing_fund_form"} in [
        {k: e.get(k) for k in ("event", "name")} for e in events]


def test_backend_down_while_texting_the_code_ends_the_form(city_backends):
    city_backends.inject_fault("error", service="social", status=503)
    slots = {"city": "广州", "id_number": PAYING["id_number"], "requested_slot": "phone_number"}
    events, messages = form_turn(ValidateSocialSecurityForm(), slots, {"phone_number": PAYING["phone_number"]})
    assert "抱歉" in texts(messages) and "转人工" in texts(messages)
    assert slot_events(events)["requested_slot"] is None


def test_backend_down_during_the_lookup_apologises(city_backends):
    slots = verified(city_backends, PAYING)
    city_backends.inject_fault("error", service="social", status=503)
    _, messages = run_action(ActionQuerySocialSecurity(), make_tracker(slots))
    assert "抱歉" in texts(messages) and custom(messages) is None


def test_nothing_is_looked_up_when_the_form_was_stopped(city_backends):
    events, messages = run_action(ActionQuerySocialSecurity(), make_tracker(dict(PAYING)))
    assert messages == [] and slot_events(events) == {"otp_code": None, "verification_id": None}


@pytest.mark.parametrize("typed, code", [("123456", "123456"), ("验证码 123 456", "123456"),
                                         ("１２３４５６", "123456"), ("12345", None), ("1234567", None)])
def test_one_time_code_in_what_was_typed(typed, code):
    assert one_time_code(typed) == code


def test_identity_slot_survives_a_round_trip():
    expires = datetime.fromisoformat("2030-01-01T10:00:00+08:00")
    identity = Identity(AccessToken("abc", expires), "深圳", PAYING["id_number"], PAYING["phone_number"])
    assert Identity.load(identity.dump()) == identity and Identity.load("garbage") is None


def test_story_placeholders_become_the_texted_code(city_backends):
    texted(PAYING)
    code = city_backends.otp(PAYING["phone_number"])

    def citysim(path: str) -> Dict[str, Any]:
        return requests.get(city_backends.url + path, timeout=5).json()

    phone = PAYING["phone_number"]
    assert resolve(f"验证码{{otp:{phone}}}", citysim) == f"验证码{code}"
    wrong = resolve(f"{{wrong_otp:{phone}}}", citysim)
    assert len(wrong) == 6 and wrong != code
    assert resolve("没有占位符 123456", citysim) == "没有占位符 123456"
