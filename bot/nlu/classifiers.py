"""Rasa's logistic regression, minus the per-message work py-spy found in it.

`LogisticRegressionClassifier` is the right model (docs/benchmarks.md) but, per
message, it spent 2.8 of the 4 ms a parse took on bookkeeping rather than on
the model (`python -m tools.profile_nlu`):

* building the feature row: Rasa deep-copies the message's sequence *and*
  sentence features, hstacks them one featurizer at a time, then hstacks and
  vstacks again — dozens of sparse-matrix constructions for one row. Here the
  sentence features are concatenated once, into the same columns in the same
  order, so training and prediction see identical matrices;
* the matrix product: scikit-learn multiplies by `coef_.T`, a transposed view
  that scipy copies to C order (the whole weight matrix) on every call.
  Storing `coef_` in Fortran order once at load makes that view C-ordered, so
  the copy disappears and the probabilities are bit-for-bit the same.
"""
from __future__ import annotations

from typing import Any, Dict, List

import numpy as np
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.logistic_regression_classifier import LogisticRegressionClassifier
from rasa.shared.nlu.constants import FEATURE_TYPE_SENTENCE, TEXT
from rasa.shared.nlu.training_data.message import Message
from scipy.sparse import coo_matrix, csr_matrix


def sentence_feature_matrix(messages: List[Message]) -> csr_matrix:
    """One row per message: its sparse sentence features, then its dense ones.

    The column order is Rasa's (`Message.get_sparse_features` then
    `get_dense_features`, each in pipeline order), so a model trained by
    `LogisticRegressionClassifier` reads the same columns.
    """
    rows: List[np.ndarray] = []
    cols: List[np.ndarray] = []
    values: List[np.ndarray] = []
    width = 0
    for row, message in enumerate(messages):
        sentence = [f for f in message.features
                    if f.attribute == TEXT and f.type == FEATURE_TYPE_SENTENCE]
        offset = 0
        for feature in sorted(sentence, key=lambda f: not f.is_sparse()):  # stable: sparse first
            block = coo_matrix(feature.features)
            rows.append(np.full(block.nnz, row, dtype=np.int32))
            cols.append(block.col.astype(np.int32) + offset)
            values.append(block.data.astype(np.float64))
            offset += block.shape[1]
        width = max(width, offset)
    if not values:
        return csr_matrix((len(messages), width))
    return csr_matrix(
        (np.concatenate(values), (np.concatenate(rows), np.concatenate(cols))),
        shape=(len(messages), width),
    )


class SparseLogisticRegression(LogisticRegressionClassifier):
    """Base for our logistic-regression components: fast rows, copy-free product."""

    def _create_X(self, messages: List[Message]) -> csr_matrix:
        return sentence_feature_matrix(messages)

    @classmethod
    def load(cls, *args: Any, **kwargs: Any) -> "SparseLogisticRegression":
        component = super().load(*args, **kwargs)
        if hasattr(component.clf, "coef_"):
            component.clf.coef_ = np.asfortranarray(component.clf.coef_)
        return component


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True)
class IntentClassifier(SparseLogisticRegression):
    """Rasa's `LogisticRegressionClassifier`, same config and outputs, faster per message.

    `C` (sklearn's inverse regularisation strength, 1.0 by default as in Rasa)
    is a setting so that it can be measured against the held-out sets
    (docs/benchmarks.md, "Third round").
    """

    @staticmethod
    def get_default_config() -> Dict[str, Any]:
        return {**LogisticRegressionClassifier.get_default_config(), "C": 1.0}

    def __init__(self, config: Dict[str, Any], name: str, model_storage: ModelStorage,
                 resource: Resource) -> None:
        super().__init__(config, name, model_storage, resource)
        self.clf.C = float(self.config["C"])
