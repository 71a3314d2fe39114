"""The faq selector trains, persists, loads and answers in Rasa's format, for faq messages."""
from pathlib import Path

from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.nlu.featurizers.sparse_featurizer.count_vectors_featurizer import CountVectorsFeaturizer
from rasa.nlu.tokenizers.jieba_tokenizer import JiebaTokenizer
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu.faq_selector import FaqResponseSelector

EXAMPLES = {
    "faq/passport": ["护照怎么办", "办护照要带什么", "护照过期了怎么换", "出国护照去哪办"],
    "faq/id_card": ["身份证丢了怎么补办", "身份证到期换证", "补办身份证要多久", "身份证去哪办"],
}


def pipeline(tmp_path: Path):
    storage = LocalModelStorage(tmp_path)
    context = ExecutionContext(GraphSchema({}), "test")
    tokenizer = JiebaTokenizer.create(JiebaTokenizer.get_default_config(), storage,
                                      Resource("tokenizer"), context)
    featurizer = CountVectorsFeaturizer.create(
        {**CountVectorsFeaturizer.get_default_config(), "analyzer": "char", "max_ngram": 2},
        storage, Resource("featurizer"), context)
    return storage, context, tokenizer, featurizer


def featurise(messages, tokenizer, featurizer):
    tokenizer.process(messages)
    featurizer.process(messages)
    return messages


def test_trained_selector_answers_like_rasas_response_selector(tmp_path: Path):
    storage, context, tokenizer, featurizer = pipeline(tmp_path)
    examples = [Message(data={"text": t, "intent": "faq", "intent_response_key": key})
                for key, texts in EXAMPLES.items() for t in texts]
    examples.append(Message(data={"text": "你好", "intent": "greet"}))
    data = TrainingData(examples)
    tokenizer.process_training_data(data)
    featurizer.train(data)
    featurizer.process_training_data(data)
    resource = Resource("faq")
    FaqResponseSelector.create({}, storage, resource, context).train(data)

    selector = FaqResponseSelector.load({}, storage, resource, context)
    message, other = featurise([Message(data={"text": "护照丢了怎么办"}),
                                Message(data={"text": "护照丢了怎么办"})], tokenizer, featurizer)
    message.set("intent", {"name": "faq", "confidence": 0.9})
    other.set("intent", {"name": "greet", "confidence": 0.9})
    selector.process([message, other])
    assert other.get("response_selector") is None  # only the retrieval intent's messages
    faq = message.get("response_selector")["faq"]
    assert faq["response"]["intent_response_key"] == "faq/passport"
    assert faq["response"]["utter_action"] == "utter_faq/passport"
    assert [r["intent_response_key"] for r in faq["ranking"]] == ["faq/passport", "faq/id_card"]
    assert message.get("response_selector")["all_retrieval_intents"] == ["faq"]
