"""Paperwork questions: which faq/<topic> answer, without TensorFlow.

Rasa's ResponseSelector is a DIET network: loading it was 44% of the bot's
start-up time and it was the largest single cost per message (py-spy,
docs/benchmarks.md). This selector does the same job — it picks the
`faq/<topic>` response for the retrieval intent and reports it in exactly
the `response_selector` format Rasa's one does — with logistic regression on
the pipeline's sparse features. On the held-out set it picks the same topics
(docs/benchmarks.md).

Unlike Rasa's, it answers only for messages the intent classifier (earlier in
the pipeline) put in the retrieval intent: no action reads a topic for any
other intent, and working it out was 3% of a bot worker (change 26).
"""
from __future__ import annotations

from typing import Any, Dict, List, Text, Tuple

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.nlu.constants import (
    RESPONSE_SELECTOR_DEFAULT_INTENT,
    RESPONSE_SELECTOR_PREDICTION_KEY,
    RESPONSE_SELECTOR_PROPERTY_NAME,
    RESPONSE_SELECTOR_RANKING_KEY,
    RESPONSE_SELECTOR_RETRIEVAL_INTENTS,
    RESPONSE_SELECTOR_UTTER_ACTION_KEY,
)
from rasa.shared.nlu.constants import INTENT, INTENT_RESPONSE_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from scipy.sparse import csr_matrix

from bot.nlu.classifiers import SparseLogisticRegression

RANKING = 5


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True)
class FaqResponseSelector(SparseLogisticRegression):
    """Logistic regression over faq/<topic> keys of one retrieval intent."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {**SparseLogisticRegression.get_default_config(), "retrieval_intent": "faq"}

    def _create_training_matrix(self, training_data: TrainingData) -> Tuple[csr_matrix, List[str]]:
        examples = [
            e for e in training_data.intent_examples
            if e.get(INTENT) == self.config["retrieval_intent"] and e.get(INTENT_RESPONSE_KEY)
            and e.get(TEXT)
        ]
        return self._create_X(examples), [e.get(INTENT_RESPONSE_KEY) for e in examples]

    def process(self, messages: List[Message]) -> List[Message]:
        """Add Rasa's `response_selector` output (the most likely topic and a ranking)
        to the messages classified as the retrieval intent."""
        retrieval_intent = self.config["retrieval_intent"]
        asked = [m for m in messages if (m.get(INTENT) or {}).get("name") == retrieval_intent]
        if not asked or not hasattr(self.clf, "classes_"):
            return messages
        probabilities = self.clf.predict_proba(self._create_X(asked))
        for message, row in zip(asked, probabilities):
            ranking = sorted(
                ({"intent_response_key": key, "confidence": float(p)}
                 for key, p in zip(self.clf.classes_, row)),
                key=lambda r: -r["confidence"],
            )[:RANKING]
            best = ranking[0]
            prediction = {
                RESPONSE_SELECTOR_PREDICTION_KEY: {
                    "confidence": best["confidence"],
                    "intent_response_key": best["intent_response_key"],
                    RESPONSE_SELECTOR_UTTER_ACTION_KEY: f"utter_{best['intent_response_key']}",
                },
                RESPONSE_SELECTOR_RANKING_KEY: ranking,
            }
            selector = message.get(RESPONSE_SELECTOR_PROPERTY_NAME, {})
            selector[RESPONSE_SELECTOR_RETRIEVAL_INTENTS] = [retrieval_intent]
            selector[retrieval_intent] = prediction
            selector.setdefault(RESPONSE_SELECTOR_DEFAULT_INTENT, prediction)
            message.set(RESPONSE_SELECTOR_PROPERTY_NAME, selector, add_to_output=True)
        return messages
