"""The loop runner gives the trained model's graph exactly dask's results."""
from pathlib import Path

import pytest
from rasa.core.channels import UserMessage
from rasa.engine.loader import load_predict_graph_runner
from rasa.engine.runner.dask import DaskGraphRunner
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.shared.core.constants import ACTION_LISTEN_NAME
from rasa.shared.core.events import ActionExecuted, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.constants import TEXT

from bot.graph_runner import SequentialGraphRunner

MODEL = Path(__file__).resolve().parents[1] / "models" / "citylink.tar.gz"
TEXTS = ["你好", "查一下粤A288E0的违章", "深圳深南大道现在堵不堵", "护照怎么办理", "明天广州天气",
         "asdfgh", "转人工"]


@pytest.fixture(scope="module")
def runners(tmp_path_factory: pytest.TempPathFactory):
    if not MODEL.exists():
        pytest.fail("没有训练好的模型：请用 make test 运行（它会先训练）")
    return [load_predict_graph_runner(tmp_path_factory.mktemp(cls.__name__), MODEL,
                                      LocalModelStorage, cls)
            for cls in (DaskGraphRunner, SequentialGraphRunner)]


@pytest.mark.parametrize("text", TEXTS)
def test_parse_and_next_action_are_the_same_as_with_dask(runners, text):
    results = []
    for metadata, runner in runners:
        tracker = DialogueStateTracker.from_events("t", [ActionExecuted(ACTION_LISTEN_NAME)],
                                                   metadata.domain.slots)
        parsed = runner.run(inputs={"__message__": [UserMessage(text)], "__tracker__": tracker},
                            targets=[metadata.nlu_target])[metadata.nlu_target][0]
        parse_data = parsed.as_dict(only_output_properties=True)
        tracker.update(UserUttered(text, parse_data["intent"], parse_data.get("entities", []),
                                   parse_data))
        prediction = runner.run(inputs={"__tracker__": tracker},
                                targets=[metadata.core_target])[metadata.core_target]
        results.append((parse_data, prediction.probabilities, prediction.policy_name))
    assert results[0][0][TEXT] == text
    assert results[0] == results[1]


def test_an_unknown_target_fails(runners):
    _, runner = runners[1]
    with pytest.raises(KeyError):
        runner.run(inputs={}, targets=["no_such_node"])
