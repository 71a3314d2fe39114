"""The fast logistic regression reads the same columns and predicts the same as Rasa's."""
from pathlib import Path

import numpy as np
import pytest
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.nlu.classifiers.logistic_regression_classifier import LogisticRegressionClassifier
from rasa.nlu.featurizers.sparse_featurizer.count_vectors_featurizer import CountVectorsFeaturizer
from rasa.nlu.tokenizers.jieba_tokenizer import JiebaTokenizer
from rasa.shared.nlu.training_data.features import Features
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu.classifiers import IntentClassifier, sentence_feature_matrix

EXAMPLES = {
    "query_violation": ["查违章", "我的车有没有违章", "帮我看看粤A12345的罚单", "违章记录查一下"],
    "query_weather": ["明天天气怎么样", "今天会下雨吗", "广州气温多少", "要不要带伞"],
    "greet": ["你好", "在吗", "哈喽", "早上好"],
}
UNSEEN = ["车子被拍了没有", "后天下不下雨", "您好呀", "粤B违章", "天气"]


@pytest.fixture
def trained(tmp_path: Path):
    storage = LocalModelStorage(tmp_path)
    context = ExecutionContext(GraphSchema({}), "test")
    tokenizer = JiebaTokenizer.create(JiebaTokenizer.get_default_config(), storage,
                                      Resource("tokenizer"), context)
    featurizers = [
        CountVectorsFeaturizer.create(
            {**CountVectorsFeaturizer.get_default_config(), **extra}, storage,
            Resource(f"cv{i}"), context)
        for i, extra in enumerate([{}, {"analyzer": "char", "max_ngram": 3}])
    ]
    data = TrainingData([Message(data={"text": t, "intent": intent})
                         for intent, texts in EXAMPLES.items() for t in texts])
    tokenizer.process_training_data(data)
    for featurizer in featurizers:
        featurizer.train(data)
        featurizer.process_training_data(data)

    def featurise(texts):
        messages = [Message(data={"text": t}) for t in texts]
        tokenizer.process(messages)
        for featurizer in featurizers:
            featurizer.process(messages)
        return messages

    return storage, context, data, featurise


def test_feature_rows_equal_rasas(trained):
    storage, context, data, featurise = trained
    rasa = LogisticRegressionClassifier.create({}, storage, Resource("r"), context)
    messages = data.training_examples + featurise(UNSEEN)
    # A dense sentence feature goes after the sparse ones, as in Rasa.
    messages[0].features.append(Features(np.array([[0.5, 2.0]]), "sentence", "text", "dense"))
    for message in messages[1:]:
        message.features.append(Features(np.array([[1.0, 0.0]]), "sentence", "text", "dense"))

    ours = sentence_feature_matrix(messages)

    expected = rasa._create_X(messages)
    assert ours.shape == expected.shape
    assert (ours != expected).nnz == 0


def test_loaded_classifier_predicts_exactly_like_rasas(trained):
    storage, context, data, featurise = trained
    config = {"max_iter": 200, "random_state": 1}
    IntentClassifier.create(config, storage, Resource("ours"), context).train(data)
    LogisticRegressionClassifier.create(config, storage, Resource("rasa"), context).train(data)
    ours = IntentClassifier.load(config, storage, Resource("ours"), context)
    rasa = LogisticRegressionClassifier.load(config, storage, Resource("rasa"), context)
    assert ours.clf.coef_.flags["F_CONTIGUOUS"]

    for text in UNSEEN:
        a, b = featurise([text])[0], featurise([text])[0]
        ours.process([a])
        rasa.process([b])
        assert a.get("intent") == b.get("intent")
        assert a.get("intent_ranking") == b.get("intent_ranking")


def test_c_setting_reaches_the_classifier_and_survives_loading(trained):
    storage, context, data, featurise = trained
    for name, c in (("default", None), ("strong", 0.05)):
        config = {"max_iter": 200, "random_state": 1, **({"C": c} if c else {})}
        IntentClassifier.create(config, storage, Resource(name), context).train(data)
    default = IntentClassifier.load({}, storage, Resource("default"), context)
    strong = IntentClassifier.load({"C": 0.05}, storage, Resource("strong"), context)
    assert (default.clf.C, strong.clf.C) == (1.0, 0.05)
    rows = sentence_feature_matrix(featurise(UNSEEN))
    # Stronger regularisation: less confident on messages it never saw.
    assert strong.clf.predict_proba(rows).max() < default.clf.predict_proba(rows).max()
