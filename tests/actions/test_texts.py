"""The reply catalogue (actions/texts.yml) and the code agree: every text the code asks for
exists, gets exactly the placeholders it names, and every text in the catalogue is used."""
from __future__ import annotations

import ast
import string
from pathlib import Path
from typing import List, Set, Tuple

from actions.texts import catalogue, words

ACTIONS = Path(__file__).resolve().parents[2] / "actions"


def calls() -> List[Tuple[str, int, str, Set[str]]]:
    """(file, line, key, keyword names) of every words(...) call in the actions."""
    found = []
    for path in sorted(ACTIONS.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "words":
                key = node.args[0]
                assert isinstance(key, ast.Constant), f"{path.name}:{node.lineno}: the key must be a literal"
                found.append((path.name, node.lineno, key.value, {k.arg for k in node.keywords}))
    return found


def placeholders(template: str) -> Set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def test_every_text_asked_for_exists_with_the_placeholders_given():
    texts = catalogue()
    for file, line, key, given in calls():
        module, _, name = key.partition(".")
        assert name in texts.get(module, {}), f"{file}:{line}: {key} is not in actions/texts.yml"
        assert placeholders(texts[module][name]) == given, f"{file}:{line}: {key} placeholders differ"


def test_every_text_in_the_catalogue_is_used():
    used = {key for _, _, key, _ in calls()}
    listed = {f"{module}.{name}" for module, entries in catalogue().items() for name in entries}
    assert listed - used == set()


def test_placeholders_are_filled_and_formats_apply():
    assert words("replies.yuan", text="200") == "200 元"
