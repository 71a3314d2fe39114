import pytest

from common import gazetteer
from common import codes
from bot.nlu.extractors import (
    Dictionary,
    canonical_bus_line,
    chinese_number,
    find_codes,
    find_gazetteer_entities,
)
from common.normalizer import normalise


@pytest.fixture(scope="module")
def dictionary() -> Dictionary:
    return Dictionary(gazetteer.load())


def pairs(found):
    return [(f.entity, f.value) for f in found]


def codes_in(text):
    return pairs(find_codes(normalise(text).text))


def test_plates_lower_case_spaced_and_new_energy():
    assert codes_in("查一下粤b 12345有没有违章") == [("plate_number", "粤B12345")]
    assert codes_in("粤BD12345") == [("plate_number", "粤BD12345")]
    assert codes_in("沪ａ８８８８８") == [("plate_number", "沪A88888")]


def test_a_plate_and_the_code_after_it_are_two_values():
    assert codes_in("查违章 粤B12345 123456") == [("plate_number", "粤B12345"),
                                                 ("engine_number", "123456")]
    assert codes_in("粤B55S41，8ZCCYU") == [("plate_number", "粤B55S41"),
                                           ("engine_number", "8ZCCYU")]
    assert codes_in("京Q5R7M2 613047的违章") == [("plate_number", "京Q5R7M2"),
                                                ("engine_number", "613047")]
    # a phone number after a plate stays a phone number; words after it are no code
    assert codes_in("粤B12345 13800138000") == [("plate_number", "粤B12345"),
                                                ("phone_number", "13800138000")]
    assert codes_in("粤B12345 有没有违章") == [("plate_number", "粤B12345")]


def test_id_number_needs_a_valid_checksum():
    first17 = "44030419900101123"
    valid = first17 + codes.id_check_char(first17)
    invalid = first17 + ("1" if valid[-1] == "0" else "0")
    assert codes_in(f"身份证{valid}") == [("id_number", valid)]
    assert ("id_number", invalid) not in codes_in(f"身份证{invalid}")


def test_phone_engine_account_and_ticket():
    assert codes_in("手机138 1234 5678") == [("phone_number", "13812345678")]
    assert codes_in("发动机号后六位是a23456") == [("engine_number", "A23456")]
    assert codes_in("户号是 3100123456") == [("account_number", "3100123456")]
    assert codes_in("工单号gz20261127001到哪了") == [("ticket_id", "GZ20261127001")]


def test_short_verification_code_is_not_an_account():
    assert codes_in("验证码482913") == []


@pytest.mark.parametrize(
    "raw, line",
    [("10", "10路"), ("十", "10路"), ("二十三", "23路"), ("b1", "B1路"), ("夜20", "夜20路"),
     ("m375", "M375路"), ("三七五", "375路"), ("一百零五", "105路")],
)
def test_bus_lines_are_canonical(raw, line):
    assert canonical_bus_line(raw) == line


def test_chinese_numbers():
    assert chinese_number("十二") == 12
    assert chinese_number("两") == 2
    assert chinese_number("x") is None


def gaz(text, dictionary):
    return pairs(find_gazetteer_entities(normalise(text).text, dictionary))


def test_hospital_alias_maps_to_full_name_and_department_alias_to_canonical(dictionary):
    assert gaz("我想挂中山一院的小儿科", dictionary) == [
        ("hospital", "中山大学附属第一医院"),
        ("department", "儿科"),
    ]


def test_road_alias_and_city(dictionary):
    assert gaz("深圳深南路现在堵不堵", dictionary) == [("city", "深圳"), ("road", "深南大道")]


def test_longest_match_prefers_road_over_city(dictionary):
    assert ("city", "北京") not in gaz("北京路堵车吗", dictionary)


def test_unserved_city_is_still_recognised(dictionary):
    assert gaz("我在杭州市", dictionary) == [("city", "杭州")]


def test_route_pattern_takes_unknown_places(dictionary):
    assert gaz("从火车站到市民中心怎么坐地铁", dictionary) == [
        ("origin", "火车站"),
        ("destination", "市民中心"),
    ]
    assert gaz("从我家小区到白云山怎么走", dictionary) == [
        ("origin", "我家小区"),
        ("destination", "白云山"),
    ]


def test_destination_alone_by_cue_word(dictionary):
    assert gaz("去广州塔怎么走", dictionary) == [("destination", "广州塔")]


def test_bus_line_with_stop(dictionary):
    assert gaz("10路到北京路还要多久", dictionary) == [("bus_line", "10路"), ("bus_stop", "北京路")]


def test_utility_and_symptom(dictionary):
    assert gaz("查下电费", dictionary) == [("utility_type", "electricity")]
    assert gaz("头疼发烧挂什么科", dictionary) == [("symptom", "头疼"), ("symptom", "发烧")]
    assert gaz("打电话", dictionary) == []


def test_city_span_leaves_out_shi(dictionary):
    found = find_gazetteer_entities("我在上海市", dictionary)
    assert [(f.entity, f.text) for f in found] == [("city", "上海")]


def test_bus_lines_typed_without_lu(dictionary):
    assert gaz("m375还有多久到", dictionary) == [("bus_line", "M375路")]
    assert gaz("隧道三线首班车几点", dictionary) == [("bus_line", "隧道三线")]


def test_route_pattern_does_not_swallow_sentences(dictionary):
    assert gaz("把户口从老家迁过来要回老家开证明吗", dictionary) == []
    assert ("city", "广州") in gaz("刚从外地回广州", dictionary)


def test_engine_number_cues_and_hyphenated_phone():
    assert codes_in("机号K0Q318") == [("engine_number", "K0Q318")]
    assert codes_in("引擎号最后几位是H71562") == [("engine_number", "H71562")]
    assert codes_in("电话186-2003-1457") == [("phone_number", "18620031457")]


def test_date_and_period_are_separate_entities():
    from datetime import datetime

    from common.dates import CHINA
    from bot.nlu.extractors import TimePeriods, find_date_entities

    now = datetime(2026, 11, 27, 10, 0, tzinfo=CHINA)
    found = find_date_entities("我想挂明天上午中山一院的儿科", TimePeriods(gazetteer.load()), now)
    assert [(f.entity, f.value, f.text) for f in found] == [
        ("date", "明天", "明天"),
        ("time_period", "morning", "上午"),
    ]
    assert found[0].additional_info["iso"] == "2026-11-28"


def test_place_before_dao_starts_the_trip(dictionary):
    assert gaz("北站到欢乐谷咋坐车", dictionary) == [("origin", "北站"), ("destination", "欢乐谷")]
    assert gaz("春熙路到宽窄巷子坐地铁咋走", dictionary) == [
        ("origin", "春熙路"), ("destination", "宽窄巷子")]


def test_direction_is_not_a_destination(dictionary):
    assert ("destination", "梅林") not in gaz("北环往梅林方向堵吗", dictionary)


def test_stop_rather_than_road_when_a_line_is_named(dictionary):
    assert gaz("m375还有多久到梅林关", dictionary) == [("bus_line", "M375路"), ("bus_stop", "梅林关")]


def test_phone_after_shouji_hao_is_not_an_engine_number():
    assert codes_in("手机号15013572468") == [("phone_number", "15013572468")]
