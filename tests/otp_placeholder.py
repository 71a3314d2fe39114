"""One-time codes in live conversation stories.

A story cannot know the code the simulator texts at run time, so its user
text names the phone instead: `{otp:19829129321}` is the code last texted to
that phone, `{wrong_otp:19829129321}` a code certain to differ from it. The
runner resolves them through the simulator's test API (GET /_test/otp) just
before sending the message.
"""
from __future__ import annotations

import re
from typing import Any, Callable, Dict
from urllib.parse import urlencode

PLACEHOLDER = re.compile(r"\{(otp|wrong_otp):(1\d{10})\}")


def resolve(text: str, citysim: Callable[[str], Dict[str, Any]]) -> str:
    """`text` with each placeholder replaced; `citysim(path)` GETs from the simulator."""

    def code(match: re.Match) -> str:
        texted = citysim("/_test/otp?" + urlencode({"phone": match.group(2)}))["code"]
        return texted if match.group(1) == "otp" else f"{(int(texted) + 1) % 10 ** 6:06d}"

    return PLACEHOLDER.sub(code, text)
