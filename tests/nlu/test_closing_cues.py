"""The closing-cue features fire on closings and not on codes or requests without one."""
import re
from pathlib import Path
from typing import Dict

import pytest
import yaml

from common.normalizer import normalise

CUES = Path(__file__).resolve().parents[2] / "data" / "nlu" / "closing_cues.yml"


def cues() -> Dict[str, "re.Pattern[str]"]:
    """Each regex as RegexFeaturizer compiles it (case_sensitive: false in config.yml)."""
    data = yaml.safe_load(CUES.read_text(encoding="utf-8"))["nlu"]
    return {block["regex"]: re.compile(block["examples"].strip()[2:], re.IGNORECASE)
            for block in data if "regex" in block}


def fired(text: str) -> set:
    normalised = normalise(text).text
    return {name for name, pattern in cues().items() if pattern.search(normalised)}


@pytest.mark.parametrize("text, expected", [
    ("谢谢 我没有其他问题了", {"thanks_cue", "no_more_cue"}),
    ("唔該晒", {"thanks_cue"}),
    ("好的 88", {"leave_cue"}),
    ("886", {"leave_cue"}),
    ("Bye 谢啦", {"leave_cue", "thanks_cue"}),
    ("不用了 电费我已经交过了", {"no_more_cue"}),
    ("冇嘢喇 拜拜", {"no_more_cue", "leave_cue"}),
])
def test_closings_carry_their_cues(text, expected):
    assert fired(text) == expected


@pytest.mark.parametrize("text", ["查一下粤A88M66的违章", "288路还有多久到", "13888886666",
                                  "帮我交电费", "明天天气怎么样"])
def test_codes_and_requests_carry_none(text):
    assert fired(text) == set()
