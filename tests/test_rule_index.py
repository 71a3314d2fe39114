"""bot/patches/rule_index.py: the rules RulePolicy considers are Rasa's, on the trained model's rules."""

from __future__ import annotations

import json
import random
import tarfile
from pathlib import Path
from typing import Any, Dict, List

import pytest
from rasa.core.policies.rule_policy import RulePolicy

from bot.patches import rule_index
from tests.test_patches import stock

MODEL = Path(__file__).resolve().parents[1] / "models" / "citylink.tar.gz"
STOCK_POSSIBLE_KEYS = stock("rasa.core.policies.rule_policy:RulePolicy._get_possible_keys")


@pytest.fixture(scope="module")
def lookup() -> Dict[str, Dict[str, Any]]:
    if not MODEL.exists():
        pytest.fail("没有训练好的模型：请用 make test 运行（它会先训练）")
    with tarfile.open(MODEL) as archive:
        member = next(m for m in archive.getmembers() if m.name.endswith("rule_policy.json"))
        return json.load(archive.extractfile(member))["lookup"]  # type: ignore[arg-type]


def conversations(rules: List[str], count: int, seed: int = 7) -> List[List[Dict[str, Any]]]:
    """States shaped like a conversation's: rules' own steps, prefixed by other rules'
    steps, with previous actions, intents, slots and loops swapped, dropped or added."""
    rng = random.Random(seed)
    steps = [step for key in rules for step in json.loads(key)]
    actions = sorted(
        {
            s["prev_action"]["action_name"]
            for s in steps
            if s.get("prev_action", {}).get("action_name")
        }
    )
    intents = sorted({s["user"]["intent"] for s in steps if s.get("user", {}).get("intent")})
    made = []
    for _ in range(count):
        states = [json.loads(json.dumps(s)) for s in rng.sample(steps, rng.randint(0, 3))]
        states += json.loads(rng.choice(rules))
        for state in states:
            roll = rng.random()
            if roll < 0.15:
                state["prev_action"] = {"action_name": rng.choice(actions)}
            elif roll < 0.25:
                state.pop("prev_action", None)
            elif roll < 0.3:
                state["prev_action"] = {"action_text": "好的"}
            roll = rng.random()
            if roll < 0.15:
                state["user"] = {"intent": rng.choice(intents)}
            elif roll < 0.25:
                state.pop("user", None)
            if rng.random() < 0.1:
                state.setdefault("slots", {})["city"] = (1.0,)
            if rng.random() < 0.1:
                state.pop("active_loop", None)
        made.append(states)
    return made


@pytest.mark.parametrize("table", ["rules", "rules_for_loop_unhappy_path"])
def test_the_rules_left_to_check_are_rasas(lookup, table):
    rules = lookup[table]
    assert len(rules) > 10, "the model has too few rules for this test to mean anything"
    policy = object.__new__(RulePolicy)  # the filter uses no trained state but the lookup
    matched = 0
    for states in conversations(list(rules), 3000):
        expected = STOCK_POSSIBLE_KEYS(policy, rules, states)
        assert rule_index.possible_keys(policy, rules, states) == expected, states
        matched += bool(expected)
    assert matched > 300  # the comparison covered states that rules match, not only misses


def test_the_index_narrows_the_first_pass(lookup):
    rules = lookup["rules"]
    index = rule_index.RuleIndex(list(rules), RulePolicy._rule_key_to_state)
    state = {"prev_action": {"action_name": "action_listen"}, "user": {"intent": "greet"}}
    assert 0 < len(index.candidates(state)) < len(rules) / 4
    assert RulePolicy._get_possible_keys is rule_index.possible_keys
