import random

from common.normalizer import (
    MIN_CODE_AFTER_PLATE,
    MIN_WHOLE_CODE,
    PLATE_TAIL,
    _is_code_char,
    fold_char,
    normalise,
    original_to_normalised,
)


def test_full_width_and_case_are_folded_one_to_one():
    norm = normalise("粤Ｂ１２３４５？ＯＫ")
    assert norm.text == "粤b12345?ok"
    assert norm.offsets == list(range(11))


def test_spaces_inside_a_plate_are_dropped_and_offsets_point_into_the_original():
    original = "查一下 粤B 12345 有没有违章"
    norm = normalise(original)
    assert norm.text == "查一下 粤b12345 有没有违章"
    start = norm.text.index("粤")
    start_o, end_o = norm.to_original(start, start + 7)
    assert original[start_o:end_o] == "粤B 12345"


def test_spaces_between_digit_groups_of_a_phone_number_are_dropped():
    assert normalise("手机 138 1234 5678").text == "手机 13812345678"


def test_spaces_between_words_are_kept():
    assert normalise("ok ok 好的").text == "ok ok 好的"
    assert normalise("去 市民中心").text == "去 市民中心"


def test_ideographic_space_becomes_a_space():
    assert normalise("你好\u3000世界").text == "你好 世界"


def test_inverse_map_moves_annotations_into_the_normalised_text():
    original = "粤B 12345"
    norm = normalise(original)
    to_norm = original_to_normalised(norm, len(original))
    assert to_norm[0] == 0 and to_norm[len(original)] == len(norm.text)
    assert norm.text[to_norm[3]:to_norm[8]] == "12345"


def test_empty_text():
    norm = normalise("")
    assert norm.text == "" and norm.offsets == [0]


def test_an_id_and_a_phone_typed_together_stay_two_codes():
    assert normalise("42010620020609526x 19829129321").text == "42010620020609526x 19829129321"
    assert normalise("440304 19900101 1234").text == "440304199001011234"


def test_a_whole_plate_and_the_code_after_it_stay_two_codes():
    assert normalise("查违章 粤B12345 123456").text == "查违章 粤b12345 123456"
    assert normalise("粤BD12345 8ZCCYU").text == "粤bd12345 8zccyu"
    assert normalise("粤B12345 13800138000").text == "粤b12345 13800138000"
    assert normalise("粤B 12345 发动机 123456").text == "粤b12345 发动机 123456"
    assert normalise("粤B1234 5").text == "粤b12345"  # a plate typed in two pieces


def test_traditional_characters_become_simplified_one_for_one():
    original = "我想查下廣州嘅違章記錄 車牌粵A 12345"
    norm = normalise(original)
    assert norm.text == "我想查下广州嘅违章记录 车牌粤a12345"
    start = norm.text.index("广州")
    assert original[slice(*norm.to_original(start, start + 2))] == "廣州"
    plate = norm.text.index("粤")
    assert original[slice(*norm.to_original(plate, plate + 7))] == "粵A 12345"


def _reference_normalise(original: str) -> str:
    """The first, quadratic implementation, kept as an oracle for the linear one."""
    folded = [fold_char(c) for c in original]
    kept: list = []
    for i, char in enumerate(folded):
        if char.isspace() and kept and _is_code_char(kept[-1]):
            nxt = next((c for c in folded[i + 1:] if not c.isspace()), "")
            inside = kept[-1].isdigit() or kept[-1] in "粤京" or nxt.isdigit()
            before = len(_run("".join(kept)[::-1]))
            after = len(_run("".join(folded[i:]).lstrip()))
            plate = (before >= PLATE_TAIL and len(kept) > before and kept[-before - 1] in "粤京"
                     and after >= MIN_CODE_AFTER_PLATE)
            two = (before >= MIN_WHOLE_CODE and after >= MIN_WHOLE_CODE) or plate
            if inside and nxt.isascii() and nxt.isalnum() and not two:
                continue
        kept.append(char)
    return "".join(kept)


def _run(text: str) -> str:
    return text[: next((i for i, c in enumerate(text) if not (c.isascii() and c.isalnum())),
                       len(text))]


def test_the_linear_normaliser_agrees_with_the_quadratic_one():
    rng = random.Random(7)
    alphabet = ["1", "2", "9", "a", "B", "粤", "京", "查", " ", "  ", "\u3000", "１", "Ｘ"]
    for _ in range(2000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40)))
        assert normalise(text).text == _reference_normalise(text), text


def test_a_long_message_normalises_like_its_pieces():
    piece = "查一下 粤B 12345 手机 138 1234 5678 "
    norm = normalise(piece * 3000)  # ~90k characters
    assert norm.text == normalise(piece).text * 3000
    assert len(norm.offsets) == len(norm.text) + 1
