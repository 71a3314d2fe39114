"""Responses: JSON in a button payload is not a template placeholder.

Rasa fills `{slot}` placeholders in every string of a response, buttons
included, with the regex `{([^\\n{}]+?)}`. The city picker's payloads
(`/set_city{"city": "广州"}`) match it, `str.format` raises KeyError, and Rasa
logs an ERROR with a full stack trace and sends the payload unchanged: every
time the picker is shown (33,684 of 33,877 lines of bot.log after an hour of
load). Only slot-name placeholders are templates: strings with any other
brace (JSON) get their `{name}` placeholders filled and nothing else, and no
error is logged. Strings whose braces are all `{name}` go through Rasa
unchanged, so a response naming a slot that does not exist still logs
Rasa's error: that one is real.
"""
from __future__ import annotations

import re
from typing import Any, Dict, Text

_NAMED = re.compile(r"{([A-Za-z_][A-Za-z0-9_]*)}")


def apply() -> None:
    """Install the narrower interpolation; idempotent."""
    from rasa.core.nlg import interpolator

    original = interpolator.interpolate_text
    if getattr(original, "citylink", False):
        return

    def interpolate_text(response: Text, values: Dict[Text, Any]) -> Text:
        if not re.search("[{}]", _NAMED.sub("", response)):
            return original(response, values)
        return _NAMED.sub(lambda m: str(values[m.group(1)]) if m.group(1) in values
                          else m.group(0), response)

    interpolate_text.citylink = True  # type: ignore[attr-defined]
    interpolate_text.rasa = original  # type: ignore[attr-defined]
    interpolator.interpolate_text = interpolate_text
