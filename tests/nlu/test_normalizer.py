from common.normalizer import normalise, original_to_normalised


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
