"""The Rasa-facing components: normalised text in, original text and spans out."""
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu.components import (
    CodeEntityExtractor,
    DateEntityExtractor,
    GazetteerEntityExtractor,
    OriginalTextRestorer,
    TextNormalizer,
)

PIPELINE = [TextNormalizer(), CodeEntityExtractor(), GazetteerEntityExtractor(),
            DateEntityExtractor(), OriginalTextRestorer()]


def parse(text: str) -> Message:
    messages = [Message(data={"text": text})]
    for component in PIPELINE:
        messages = component.process(messages)
    return messages[0]


def test_entities_point_into_the_citizens_own_text():
    original = "帮我查下 粤Ｂ １２３４５ 明天 在深南路 能不能走"
    message = parse(original)
    assert message.get("text") == original
    found = {e["entity"]: (e["value"], original[e["start"]:e["end"]]) for e in message.get("entities")}
    assert found["plate_number"] == ("粤B12345", "粤Ｂ １２３４５")
    assert found["road"] == ("深南大道", "深南路")
    assert found["date"] == ("明天", "明天")


def test_components_leave_no_private_keys_behind():
    message = parse("粤B12345")
    assert "original_text" not in message.data
    assert "normalised_to_original_offsets" not in message.data


def test_training_annotations_follow_the_normalised_text():
    text = "查 粤b 12345 的违章"
    example = Message(data={"text": text, "intent": "query_violation", "entities": [
        {"entity": "plate_number", "value": "粤B12345", "start": 2, "end": 10}]})
    data = TextNormalizer().process_training_data(TrainingData([example]))
    processed = data.training_examples[0]
    entity = processed.get("entities")[0]
    assert processed.get("text")[entity["start"]:entity["end"]] == "粤b12345"


def test_an_earlier_extractor_wins_an_overlap():
    entities = parse("帮我看看粤b 37K15有没有违章").get("entities")
    assert [(e["entity"], e["value"]) for e in entities] == [("plate_number", "粤B37K15")]


def test_cantonese_tomorrow_is_a_date():
    entities = parse("听日落唔落雨").get("entities")
    assert [(e["entity"], e["value"]) for e in entities] == [("date", "听日")]


def test_traditional_characters_are_understood_and_spans_stay_on_what_was_typed():
    original = "廣州 聽日去中山一院 車牌粵B12345"
    message = parse(original)
    assert message.get("text") == original
    found = {e["entity"]: (e["value"], original[e["start"]:e["end"]]) for e in message.get("entities")}
    assert found["city"] == ("广州", "廣州")
    assert found["plate_number"] == ("粤B12345", "粵B12345")
    assert found["hospital"][1] == "中山一院"
    assert found["date"][1] == "聽日"
