"""What the bot says, kept out of the code: actions/texts.yml.

A content editor changes wording in one catalogue, grouped by module and
keyed by the action or helper that says it; the actions keep the logic and
fill the `{placeholders}` (str.format syntax, so `{day:%m月%d日}` formats a
date). Loaded once per process. A key or placeholder the code asks for and
the catalogue lacks fails loudly in the tests (tests/actions/test_texts.py),
never in front of a citizen.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any, Dict

import yaml

CATALOGUE = Path(__file__).with_name("texts.yml")


@lru_cache(maxsize=1)
def catalogue() -> Dict[str, Dict[str, str]]:
    return yaml.safe_load(CATALOGUE.read_text(encoding="utf-8"))


def words(key: str, **values: Any) -> str:
    """The text at `module.key`, its placeholders filled from `values`."""
    module, _, name = key.partition(".")
    return catalogue()[module][name].format(**values)
