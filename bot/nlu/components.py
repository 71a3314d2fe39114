"""The CityLink NLU pipeline components (registered with Rasa's recipe).

Order in config.yml: TextNormalizer first, then tokenizer, featurizers,
classifiers and our extractors, and OriginalTextRestorer last.
"""
from __future__ import annotations

from typing import Any, Dict, Iterable, List, Optional, Text

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import ENTITIES, ENTITY_ATTRIBUTE_END, ENTITY_ATTRIBUTE_START, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from common import gazetteer
from bot.nlu import extractors
from common.normalizer import Normalised, normalise, original_to_normalised

ORIGINAL_TEXT = "original_text"
OFFSETS = "normalised_to_original_offsets"


class _Stateless(GraphComponent):
    """Components without training or configuration."""

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> GraphComponent:
        return cls()


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER, is_trainable=False)
class TextNormalizer(_Stateless):
    """First pipeline component: normalise TEXT, remember the original."""

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        """Normalise examples and move their annotated entities along."""
        for example in training_data.training_examples:
            text = example.get(TEXT)
            if not text:
                continue
            norm = normalise(text)
            to_norm = original_to_normalised(norm, len(text))
            for entity in example.get(ENTITIES) or []:
                entity[ENTITY_ATTRIBUTE_START] = to_norm[entity[ENTITY_ATTRIBUTE_START]]
                entity[ENTITY_ATTRIBUTE_END] = to_norm[entity[ENTITY_ATTRIBUTE_END]]
            example.set(TEXT, norm.text)
        return training_data

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            text = message.get(TEXT)
            if not text or message.get(ORIGINAL_TEXT) is not None:
                continue
            norm = normalise(text)
            message.set(ORIGINAL_TEXT, text)
            message.set(OFFSETS, norm.offsets)
            message.set(TEXT, norm.text)
        return messages


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR, is_trainable=False)
class OriginalTextRestorer(_Stateless):
    """Last pipeline component: original TEXT back, entity spans into it."""

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            original: Optional[str] = message.get(ORIGINAL_TEXT)
            if original is None:
                continue
            norm = Normalised(message.get(TEXT), message.get(OFFSETS))
            for entity in message.get(ENTITIES) or []:
                start, end = norm.to_original(
                    entity[ENTITY_ATTRIBUTE_START], entity[ENTITY_ATTRIBUTE_END]
                )
                entity[ENTITY_ATTRIBUTE_START], entity[ENTITY_ATTRIBUTE_END] = start, end
            message.set(TEXT, original)
            message.data.pop(ORIGINAL_TEXT, None)
            message.data.pop(OFFSETS, None)
        return messages


class _Extractor(_Stateless):
    """Run `find` on each message and append the results to ENTITIES."""

    def find(self, text: str) -> Iterable[extractors.Found]:
        raise NotImplementedError

    def process(self, messages: List[Message]) -> List[Message]:
        """Earlier extractors win overlaps: a plate's 37K15 is not bus line K1."""
        for message in messages:
            text = message.get(TEXT)
            if not text:
                continue
            entities = message.get(ENTITIES) or []
            taken = [(e[ENTITY_ATTRIBUTE_START], e[ENTITY_ATTRIBUTE_END]) for e in entities]
            new = [f.as_rasa(type(self).__name__) for f in self.find(text)
                   if not any(s < f.end and f.start < e for s, e in taken)]
            message.set(ENTITIES, entities + new, add_to_output=True)
        return messages


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR, is_trainable=False)
class CodeEntityExtractor(_Extractor):
    """plate_number, id_number, phone_number, engine_number, account_number, ticket_id."""

    def find(self, text: str) -> Iterable[extractors.Found]:
        return extractors.find_codes(text)


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR, is_trainable=False)
class GazetteerEntityExtractor(_Extractor):
    """city, road, bus_line, bus_stop, origin, destination, hospital, department,
    utility_type, symptom."""

    def __init__(self) -> None:
        self.dictionary = extractors.Dictionary(gazetteer.load())

    def find(self, text: str) -> Iterable[extractors.Found]:
        return extractors.find_gazetteer_entities(text, self.dictionary)


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR, is_trainable=False)
class DateEntityExtractor(_Extractor):
    """date (as said, resolved to ISO in additional_info) and time_period."""

    def __init__(self) -> None:
        self.periods = extractors.TimePeriods(gazetteer.load())

    def find(self, text: str) -> Iterable[extractors.Found]:
        return extractors.find_date_entities(text, self.periods)
