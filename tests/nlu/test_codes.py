import pytest

from common import codes


@pytest.mark.parametrize(
    "raw, plate",
    [
        ("粤B12345", "粤B12345"),
        ("粤b12345", "粤B12345"),
        ("粤B 12345", "粤B12345"),
        ("沪A·88888", "沪A88888"),
        ("粤BD12345", "粤BD12345"),  # new-energy, 8 characters
        ("粤B12345F", "粤B12345F"),
        ("京A-12345", "京A12345"),
        ("新A1234学", "新A1234学"),
    ],
)
def test_plates_are_canonicalised(raw, plate):
    assert codes.canonical_plate(raw) == plate


@pytest.mark.parametrize("raw", ["粤12345", "AB12345", "粤B1234", "粤B1234567", "港B12345"])
def test_non_plates_are_rejected(raw):
    assert codes.canonical_plate(raw) is None


def test_plate_pattern_finds_plates_in_sentences():
    found = [m.group() for m in codes.PLATE_PATTERN.finditer("帮我查下粤bd12345和沪A88888")]
    assert found == ["粤bd12345", "沪A88888"]


def test_id_number_checksum():
    first17 = "44030419900101123"
    valid = first17 + codes.id_check_char(first17)
    assert codes.canonical_id_number(valid) == valid
    wrong = first17 + ("0" if valid[-1] != "0" else "1")
    assert codes.canonical_id_number(wrong) is None


def test_id_number_x_is_upper_cased():
    first17 = next(
        f"1101051990010{i:04d}"
        for i in range(10000)
        if codes.id_check_char(f"1101051990010{i:04d}") == "X"
    )
    assert codes.canonical_id_number(first17 + "x") == first17 + "X"


def test_id_number_rejects_wrong_length_and_letters():
    assert codes.canonical_id_number("4403041990010112") is None
    assert codes.canonical_id_number("44030419900101123A") is None


def test_masks():
    assert codes.mask_id_number("440304199001011234") == "4403**********1234"
    assert codes.mask_phone("13812345678") == "138****5678"
