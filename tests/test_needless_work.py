"""bot/patches/log_copies.py and domain_empty.py: what they skip never changed an answer."""

from __future__ import annotations

import ast
import importlib
import inspect
import logging
import textwrap
from pathlib import Path

import pytest

from bot.patches import log_copies
from tests.test_patches import stock  # installs every patch after taking Rasa's


def _debug_call_arguments(tree: ast.AST) -> set:
    """Ids of the nodes inside a `structlogger.debug(...)` call."""
    inside = set()
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "debug"
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id == "structlogger"
        ):
            inside.update(id(child) for child in ast.walk(node))
    return inside


@pytest.mark.parametrize("name", log_copies.MODULES)
def test_every_use_of_copy_in_the_module_is_a_deepcopy_for_a_debug_line(name):
    tree = ast.parse(inspect.getsource(importlib.import_module(name)))
    in_debug = _debug_call_arguments(tree)
    uses = [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id == "copy"
    ]
    assert uses, f"{name} no longer uses copy: drop it from MODULES"
    for node in uses:
        assert node.attr == "deepcopy" and id(node) in in_debug, (name, node.lineno)


def test_the_copy_is_skipped_at_info_and_made_at_debug():
    processor = importlib.import_module("rasa.core.processor")
    assert isinstance(processor.copy, log_copies.LogCopy)
    value = {"events": [{"event": "slot"}]}
    rasa_logger = logging.getLogger("rasa")
    level = rasa_logger.level
    try:
        rasa_logger.setLevel(logging.INFO)
        assert processor.copy.deepcopy(value) is value
        rasa_logger.setLevel(logging.DEBUG)
        copied = processor.copy.deepcopy(value)
        assert copied == value and copied is not value and copied["events"] is not value["events"]
    finally:
        rasa_logger.setLevel(level)


def test_a_domain_says_once_whether_it_is_empty():
    from rasa.shared.core.domain import Domain

    from tests.test_patches import DOMAIN

    assert Domain.empty().is_empty() is True
    assert DOMAIN.is_empty() is False
    assert DOMAIN.__dict__["_citylink_is_empty"] is False  # asked once, then remembered
    assert Domain.is_empty is not stock("rasa.shared.core.domain:Domain.is_empty")


def test_the_states_text_is_only_ever_made_for_a_debug_line():
    import rasa

    callers = []
    for path in Path(rasa.__file__).parent.rglob("*.py"):
        if "format_tracker_states" in path.read_text(encoding="utf-8"):
            callers.append(path.relative_to(Path(rasa.__file__).parent).as_posix())
    assert sorted(callers) == ["core/policies/policy.py", "core/policies/rule_policy.py"]
    from rasa.core.policies.rule_policy import RulePolicy

    source = inspect.getsource(RulePolicy._find_action_from_rules)
    tree = ast.parse(textwrap.dedent(source))
    in_debug = _debug_call_arguments(tree)
    made = [n for n in ast.walk(tree) if isinstance(n, ast.Attribute)
            and n.attr == "format_tracker_states"]
    assert len(made) == 1 and "current_states = self.format_tracker_states(states)" in source
    reads = [n for n in ast.walk(tree) if isinstance(n, ast.Name) and n.id == "current_states"
             and isinstance(n.ctx, ast.Load)]
    assert reads and all(id(n) in in_debug for n in reads)


def test_the_states_text_is_empty_at_info_and_rasas_at_debug():
    from rasa.core.policies.policy import Policy
    from rasa.core.policies.rule_policy import RulePolicy

    states = [{"prev_action": {"action_name": "action_listen"}, "user": {"intent": "greet"}}]
    rasa_logger = logging.getLogger("rasa")
    level = rasa_logger.level
    try:
        rasa_logger.setLevel(logging.INFO)
        assert RulePolicy.format_tracker_states(states) == ""
        rasa_logger.setLevel(logging.DEBUG)
        assert RulePolicy.format_tracker_states(states) == Policy.format_tracker_states(states) != ""
    finally:
        rasa_logger.setLevel(level)
