"""Personal data as the console shows it, on top of `common/privacy.py`.

The bot's tracker store seals personal values at rest and `common.privacy`
masks sealed and plain values alike (its detectors: ID numbers, phones, plates,
account numbers, names after 我叫, house numbers). The console adds one rule:
a value the NLU put in a sensitive entity or slot (a short engine number no
pattern can find) is masked wherever the conversation's texts show it again.
"""
from __future__ import annotations

from typing import Any, Dict, Iterable, Mapping

from common.privacy import SENSITIVE_SLOTS, mask_text, mask_value, reveal_value


def known_values(items: Iterable[Mapping[str, Any]], key: str) -> Dict[str, str]:
    """{plain value: its mask} of the sensitive entities (key="entity") or slot events (key="name")."""
    found: Dict[str, str] = {}
    for item in items:
        name, value = item.get(key), item.get("value")
        if name in SENSITIVE_SLOTS and isinstance(value, str) and value:
            plain = reveal_value(value)
            found[plain] = mask_value(name, plain)
    return found


def mask_known(text: str, values: Mapping[str, str]) -> str:
    """`text` (already masked by common.privacy) with the known values masked too."""
    for plain in sorted(values, key=len, reverse=True):
        text = text.replace(plain, values[plain])
    return text


def masked_message(text: str, entities: Iterable[Mapping[str, Any]]) -> str:
    """A citizen's message for display or storage by the console: masked."""
    return mask_known(mask_text(text or ""), known_values(entities, "entity"))
