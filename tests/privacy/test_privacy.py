"""common/privacy.py: what is masked, sealed and revealed."""
from __future__ import annotations

import pytest

from common import privacy

ID = "44030119900101123X"
PHONE = "13812345678"
TEXT = (f"我叫张三，身份证{ID}，电话138-1234-5678，车牌粤B·12345，户号3012345678，"
        "住深南大道100号3栋1201室")
RAW_VALUES = [ID, "1234-5678", "12345", "3012345678", "张三", "100号", "1201"]


def test_mask_text_hides_every_kind_of_personal_value() -> None:
    masked = privacy.mask_text(TEXT)
    for raw in RAW_VALUES:
        assert raw not in masked
    assert "4403**********123X" in masked and "138****5678" in masked and "粤B***45" in masked
    assert "******5678" in masked and "张*" in masked


@pytest.mark.parametrize("text", [
    "坐3号线到市民中心", "12月3号上午", "10路公交还有多久", "工单GZ20261204001进度",
    "timestamp 1733300000.123", "金额 125.50 元",
])
def test_mask_text_leaves_ordinary_numbers_alone(text: str) -> None:
    assert privacy.mask_text(text) == text


def test_full_width_digits_are_found_and_kept_as_typed() -> None:
    text = "手机１３８１２３４５６７８"
    assert privacy.mask_text(text) == "手机138****5678"
    sealed = privacy.seal_text(text)
    assert "１２３４" not in sealed and privacy.reveal_text(sealed) == text


def test_seal_is_lossless_idempotent_and_shows_only_the_mask() -> None:
    sealed = privacy.seal_text(TEXT)
    for raw in RAW_VALUES:
        assert raw not in sealed
    assert privacy.seal_text(sealed) == sealed
    assert privacy.reveal_text(sealed) == TEXT
    assert privacy.mask_text(sealed) == privacy.mask_text(TEXT)


def test_a_token_sealed_under_another_key_reveals_only_its_mask(
        monkeypatch: pytest.MonkeyPatch) -> None:
    sealed = privacy.seal_text(f"身份证{ID}")
    monkeypatch.setenv("CITYLINK_DATA_KEY", "another key")
    privacy.reset_key_cache()
    assert privacy.reveal_text(sealed) == "身份证4403**********123X"


@pytest.mark.parametrize("slot, value, mask", [
    ("id_number", ID, "4403**********123X"),
    ("phone_number", PHONE, "138****5678"),
    ("plate_number", "粤B12345", "粤B***45"),
    ("account_number", "3012345678", "******5678"),
    ("engine_number", "A12345", "****45"),
    ("identity_token", "tok-abc", "******"),
    ("otp_code", "123456", "******"),
])
def test_sensitive_slot_values(slot: str, value: str, mask: str) -> None:
    sealed = privacy.seal_value(slot, value)
    assert value not in sealed
    assert privacy.seal_value(slot, sealed) == sealed
    assert privacy.reveal_value(sealed) == value
    assert privacy.mask_value(slot, sealed) == mask == privacy.mask_value(slot, value)


def test_other_slots_are_sealed_only_where_text_holds_personal_data() -> None:
    assert privacy.seal_value("city", "深圳") == "深圳"
    assert privacy.seal_value("confirmed", True) is True
    report = privacy.seal_value("issue_description", f"路灯坏了，打我电话{PHONE}")
    assert PHONE not in report and privacy.reveal_value(report).endswith(PHONE)
    assert privacy.mask_value("issue_description", report) == "路灯坏了，打我电话138****5678"


def test_events_sealed_in_texts_entities_and_slots() -> None:
    user = {"event": "user", "text": f"身份证{ID}", "timestamp": 1.0,
            "parse_data": {"text": f"身份证{ID}", "intent": {"name": "inform", "confidence": 0.9},
                           "entities": [{"entity": "id_number", "value": ID, "start": 3, "end": 21}]}}
    token = {"event": "slot", "name": "identity_token", "value": "tok-abc", "timestamp": 2.0}
    for event, raws in ((user, [ID]), (token, ["tok-abc"])):
        sealed = privacy.seal_event(event)
        assert not any(raw in str(sealed) for raw in raws)
        assert sealed["event"] == event["event"] and sealed["timestamp"] == event["timestamp"]
        assert privacy.reveal_event(sealed) == event
        assert not any(raw in str(privacy.mask_event(sealed)) for raw in raws)
    assert privacy.seal_event(user)["parse_data"]["intent"]["name"] == "inform"
