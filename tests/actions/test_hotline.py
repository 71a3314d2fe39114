import re
from pathlib import Path

import pytest
import requests

from actions.backends import client_for
from actions.clients.hotline import HotlineClient
from actions.hotline import (
    ActionAskReportFormConfirmed,
    ActionQueryTicket,
    ActionReportIssue,
    ValidateReportForm,
    ValidateTicketForm,
    categorise,
    location_of,
)
from actions.identity import Identity
from tests.actions.conftest import make_tracker, run_action, slot_events, texts

STREETLIGHT = "天河区体育西路12号门口的路灯坏了三天了"
PHONE = "13826471093"
REPORT = {"city": "广州", "issue_description": STREETLIGHT, "phone_number": PHONE, "confirmed": True}
MORNING = "2026-11-27T10:00:00+08:00"


def answer(slots, candidates, intent="inform", text="", **kwargs):
    """The tracker a form validation sees: `candidates` were extracted from the latest message."""
    return make_tracker({**slots, **candidates}, intent=intent, text=text, events=[
        {"event": "user", "timestamp": 1.0, "text": text},
        *[{"event": "slot", "name": k, "value": v} for k, v in candidates.items()],
    ], **kwargs)


def file_ticket(description=STREETLIGHT, phone=PHONE, city="广州"):
    client = client_for(HotlineClient, city, "hotline")
    return client.create_ticket(description, city, phone, categorise(description, city))


def proven(citysim, city="广州", phone=PHONE):
    """Slots of a citizen whose phone passed the SMS check (the real check)."""
    client = client_for(HotlineClient, city, "hotline")
    verification = client.start_verification(None, phone)
    identity = Identity(client.confirm(verification.verification_id, citysim.otp(phone)), city, None, phone)
    return {"city": city, "phone_number": phone, "identity_token": identity.dump()}


def tickets_of(citysim, phone=PHONE):
    return client_for(HotlineClient, "广州", "hotline").tickets(
        Identity.load(proven(citysim, phone=phone)["identity_token"]).access)


# ------------------------------------------------------------- report form
def test_the_opening_complaint_alone_is_not_a_description_and_is_asked_for():
    tracker = answer({"city": "广州"}, {"issue_description": "我要投诉"}, intent="report_issue",
                     active_loop="report_form")
    events, messages = run_action(ValidateReportForm(), tracker)
    assert slot_events(events)["issue_description"] is None
    assert slot_events(events)["requested_slot"] == "issue_description"
    assert messages == []  # the form's question follows


def test_a_vague_answer_is_explained_and_counted():
    tracker = answer({"city": "广州", "requested_slot": "issue_description"}, {"issue_description": "反映个问题"})
    events, messages = run_action(ValidateReportForm(), tracker)
    assert "还不够具体" in texts(messages)
    assert slot_events(events)["validation_failures"] == 1


def test_the_phone_in_a_description_moves_to_the_phone_field():
    said = f"投诉 小区门口占道经营 联系电话{PHONE}"
    tracker = answer({"city": "广州"}, {"issue_description": said, "phone_number": PHONE}, intent="report_issue")
    events, _ = run_action(ValidateReportForm(), tracker)
    assert slot_events(events)["issue_description"] == "投诉 小区门口占道经营"
    assert slot_events(events)["phone_number"] == PHONE
    assert slot_events(events)["requested_slot"] == "confirmed"


def test_a_description_over_the_hotline_limit_is_refused():
    tracker = answer({"city": "广州", "requested_slot": "issue_description"}, {"issue_description": "路灯坏了" * 130})
    events, messages = run_action(ValidateReportForm(), tracker)
    assert "最多受理500字" in texts(messages) and slot_events(events)["issue_description"] is None


def test_a_side_question_where_the_description_is_asked_is_answered_not_filed():
    tracker = answer({"city": "广州", "requested_slot": "issue_description"},
                     {"issue_description": "你今天心情好吗"}, intent="chitchat")
    events, messages = run_action(ValidateReportForm(), tracker)
    assert messages[0]["response"] == "utter_chitchat"
    assert slot_events(events)["issue_description"] is None
    assert slot_events(events)["requested_slot"] == "issue_description"
    assert "validation_failures" not in slot_events(events)


def test_switching_city_where_the_description_is_asked_keeps_asking_for_it():
    tracker = answer({"city": "广州", "requested_slot": "issue_description"},
                     {"city": "上海", "issue_description": "我在上海"}, intent="set_city")
    events, messages = run_action(ValidateReportForm(), tracker)
    assert messages == []  # not "不够具体": the city was said, not a description
    assert slot_events(events)["issue_description"] is None
    assert slot_events(events)["requested_slot"] == "issue_description"
    assert "validation_failures" not in slot_events(events)


@pytest.mark.parametrize("said, expected", [("138-2647-1093", PHONE), ("1382647109", None)])
def test_phone_numbers_are_kept_as_eleven_digits(said, expected):
    tracker = answer({"city": "广州", "issue_description": STREETLIGHT, "requested_slot": "phone_number"},
                     {"phone_number": said})
    events, messages = run_action(ValidateReportForm(), tracker)
    assert slot_events(events)["phone_number"] == expected
    assert ("11位数字" in texts(messages)) is (expected is None)


@pytest.mark.parametrize("description, category", [
    ("小区门口的路灯坏了一个多星期了", "市政设施"),
    ("井盖不见了 就在公交站旁边", "市政设施"),
    ("楼下饭馆油烟太大了", "环境卫生"),
    ("有人在河涌边偷倒建筑垃圾", "环境卫生"),
    ("广场舞噪音太大", "噪音扰民"),
    ("楼上漏水 天花板都泡烂了", "住房物业"),
    ("有辆车堵在小区消防通道", "治安消防"),
    ("共享单车乱停 把盲道全占了", "交通出行"),
    ("小区超市卖过期食品", "消费维权"),
    ("公司拖欠工资三个月了", "社会保障"),
    ("今天心情不好", "其他"),
])
def test_the_category_follows_the_keywords(description, category):
    assert categorise(description, "广州") == category


def test_a_city_with_its_own_table_uses_it(tmp_path: Path):
    table = tmp_path / "categories.yml"
    table.write_text("default:\n  市政设施: [路灯]\n佛山:\n  交通出行: [路灯]\n", encoding="utf-8")
    assert categorise("路灯坏了", "佛山", table) == "交通出行"
    assert categorise("路灯坏了", "广州", table) == "市政设施"


def test_the_location_is_the_city_and_the_places_named():
    assert location_of("福田区科技园公交站旁边井盖丢了，在深南路", "深圳") == "深圳福田区科技园深南路"
    assert location_of("家门口路灯坏了", "武汉") == "武汉"


def test_the_confirmation_shows_category_place_and_a_masked_phone():
    _, messages = run_action(ActionAskReportFormConfirmed(), make_tracker(REPORT))
    text = texts(messages)
    assert "类别：市政设施" in text and "地点：广州天河区体育西路" in text
    assert "138****1093" in text and PHONE not in text
    assert [b["title"] for b in messages[0]["buttons"]] == ["确认", "取消"]


# ------------------------------------------------------------- report action
def test_a_confirmed_report_is_filed_once_with_a_receipt(city_backends):
    city_backends.pin_clock(MORNING)
    events, first = run_action(ActionReportIssue(), make_tracker(REPORT))
    _, second = run_action(ActionReportIssue(), make_tracker(REPORT))  # e.g. the action server retried
    assert re.search(r"诉求已提交，工单号 GZ20261127\d{8}", texts(first)) and texts(first) == texts(second)
    assert "城市管理和综合执法局" in texts(first) and "11月29日 10:00前办结" in texts(first)
    fields = dict(first[0]["custom"]["items"][0]["fields"])
    assert fields["类别"] == "市政设施" and fields["联系电话"] == "138****1093"
    assert slot_events(events) == {"issue_description": None, "confirmed": None}
    assert len(tickets_of(city_backends)) == 1


def test_nothing_is_filed_without_confirmation(city_backends):
    events, messages = run_action(ActionReportIssue(), make_tracker({**REPORT, "confirmed": None}))
    assert messages == [] and slot_events(events)["issue_description"] is None
    assert tickets_of(city_backends) == []


def test_a_refused_report_shows_the_hotline_reason(city_backends):
    _, messages = run_action(ActionReportIssue(), make_tracker({**REPORT, "phone_number": "12345"}))
    assert "诉求没有提交成功：手机号码应为11位数字" in texts(messages)


def test_hotline_down_when_filing(city_backends):
    city_backends.inject_fault("error", service="hotline", status=503)
    _, messages = run_action(ActionReportIssue(), make_tracker(REPORT))
    assert "抱歉，12345热线服务暂时不可用" in texts(messages) and "转人工" in texts(messages)


# ------------------------------------------------------------- tickets
def test_ticket_form_without_a_number_uses_the_phone_left_before_once_proven(city_backends):
    for slots, expected in (({"city": "广州", "phone_number": PHONE}, "otp_code"),
                            (proven(city_backends), None), ({"city": "广州"}, "ticket_id")):
        events, _ = run_action(ValidateTicketForm(), make_tracker(slots, intent="query_ticket"))
        assert slot_events(events)["requested_slot"] == expected


def test_a_phone_number_instead_of_the_ticket_number_texts_a_code(city_backends):
    tracker = answer({"city": "广州", "requested_slot": "ticket_id"}, {"phone_number": PHONE},
                     intent="query_ticket", text=f"工单号忘了 用手机号查 {PHONE}")
    events, messages = run_action(ValidateTicketForm(), tracker)
    assert "验证码已发送至138****1093" in texts(messages)
    assert slot_events(events)["phone_number"] == PHONE and slot_events(events)["requested_slot"] == "otp_code"
    typed = answer({"city": "广州", "requested_slot": "otp_code", "phone_number": PHONE,
                    "verification_id": slot_events(events)["verification_id"]},
                   {"otp_code": city_backends.otp(PHONE)})
    events, _ = run_action(ValidateTicketForm(), typed)
    assert slot_events(events)["identity_token"] and slot_events(events)["requested_slot"] is None


def test_a_phone_number_alone_lists_no_tickets(city_backends):
    file_ticket()
    _, messages = run_action(ActionQueryTicket(), make_tracker({"city": "广州", "phone_number": PHONE}))
    assert "反映的问题共" not in texts(messages) and "工单" not in texts(messages)


def test_ticket_form_explains_a_number_that_is_not_one():
    tracker = answer({"city": "广州", "requested_slot": "ticket_id"}, {"ticket_id": "工单-1"})
    events, messages = run_action(ValidateTicketForm(), tracker)
    assert "不像工单号" in texts(messages) and slot_events(events)["ticket_id"] is None


def test_a_ticket_shows_its_timeline(city_backends):
    city_backends.pin_clock(MORNING)
    ticket = file_ticket()
    city_backends.pin_clock("2026-11-27T13:00:00+08:00")
    events, messages = run_action(ActionQueryTicket(), make_tracker({"city": "广州", "ticket_id": ticket.ticket_id}))
    text = texts(messages)
    assert "处理中，预计11月29日 10:00前办结" in text
    assert "11月27日 12:00 处理中：已派单至城市管理和综合执法局办理" in text
    card = messages[0]["custom"]["items"][0]
    assert card["title"] == "市政设施 · 处理中" and ["预计办结", "11月29日 10:00"] in card["fields"]
    assert slot_events(events)["ticket_id"] is None


def test_a_closed_ticket_says_when(city_backends):
    city_backends.pin_clock(MORNING)
    ticket = file_ticket()
    city_backends.pin_clock("2026-11-30T09:00:00+08:00")
    _, messages = run_action(ActionQueryTicket(), make_tracker({"city": "广州", "ticket_id": ticket.ticket_id}))
    assert "已于11月29日 10:00办结" in texts(messages) and "预计" not in texts(messages)


def test_an_unknown_ticket_gets_the_hotline_answer_and_a_hint_about_the_city(city_backends):
    tracker = make_tracker({"city": "广州", "ticket_id": "SZ20261127001"})
    events, messages = run_action(ActionQueryTicket(), tracker)
    assert "未查到工单 SZ20261127001" in texts(messages)
    assert "这是在广州12345查询的结果" in texts(messages) and "我在深圳" in texts(messages)
    assert slot_events(events)["ticket_id"] is None


def test_the_phone_finds_every_ticket_newest_first(city_backends):
    city_backends.pin_clock(MORNING)
    file_ticket()
    city_backends.pin_clock("2026-11-28T10:00:00+08:00")
    newest = file_ticket("楼下饭馆油烟太大了")
    requests.delete(f"{city_backends.url}/_test/clock", timeout=5)  # the token's expiry is read on today's clock
    _, messages = run_action(ActionQueryTicket(), make_tracker(proven(city_backends)))
    text = texts(messages)
    assert "手机号 138****1093 在广州反映的问题共 2 件" in text and PHONE not in text
    assert text.index(newest.ticket_id) < text.index("GZ20261127")
    assert len(messages[0]["custom"]["items"]) == 2


def test_no_ticket_for_the_phone_in_this_city(city_backends):
    file_ticket(city="深圳")
    _, messages = run_action(ActionQueryTicket(), make_tracker(proven(city_backends)))
    assert "没有查到手机号 138****1093 在广州反映过的问题" in texts(messages)
    assert "查一下工单GZ" in texts(messages)  # how to ask by number when the phone finds nothing


def test_hotline_down_when_looking_up(city_backends):
    city_backends.inject_fault("error", service="hotline", status=503)
    _, messages = run_action(ActionQueryTicket(), make_tracker({"city": "广州", "ticket_id": "GZ20261127001"}))
    assert "抱歉，12345热线服务暂时不可用" in texts(messages)


def test_a_stopped_ticket_form_looks_nothing_up(city_backends):
    events, messages = run_action(ActionQueryTicket(), make_tracker({"city": "广州"}))
    assert messages == [] and slot_events(events) == {"ticket_id": None, "otp_code": None, "verification_id": None}
