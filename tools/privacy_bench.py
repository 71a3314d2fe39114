"""What sealing costs per stored event and masking per log line (docs/benchmarks.md).

    python -m tools.privacy_bench

Uses a throwaway data key unless CITYLINK_DATA_KEY is set, so it never creates
var/secrets/data_key.
"""
from __future__ import annotations

import copy
import os
import timeit
from typing import Any, Callable, Dict

ID, PHONE = "44030119900101123X", "13812345678"
REPEAT = 2000


def user_event(text: str, entities: list) -> Dict[str, Any]:
    """A user event as the tracker store receives it (ten-intent ranking, as the bot sends)."""
    return {"event": "user", "timestamp": 1.0, "text": text, "input_channel": "rest",
            "message_id": "0f3c2a", "metadata": {},
            "parse_data": {"text": text, "intent": {"name": "book_appointment", "confidence": 0.97},
                           "intent_ranking": [{"name": f"intent_{i}", "confidence": 0.01} for i in range(10)],
                           "entities": copy.deepcopy(entities)}}


def microseconds(function: Callable[[], Any]) -> float:
    return timeit.timeit(function, number=REPEAT) / REPEAT * 1e6


def main() -> None:
    os.environ.setdefault("CITYLINK_DATA_KEY", "privacy-bench-throwaway-key")
    from common.privacy import mask_text, reveal_event, seal_event

    events = {
        "user event without personal data": user_event(
            "明天上午广州中山一院儿科", [{"entity": "city", "value": "广州", "start": 4, "end": 6}]),
        "user event with an ID and a phone number": user_event(
            f"身份证{ID} 手机{PHONE}", [{"entity": "id_number", "value": ID},
                                      {"entity": "phone_number", "value": PHONE}]),
    }
    for name, event in events.items():
        sealed = seal_event(event)
        seal_us = microseconds(lambda: seal_event(event))  # noqa: B023 (timed here, in the loop)
        reveal_us = microseconds(lambda: reveal_event(sealed))  # noqa: B023
        print(f"{name}: seal {seal_us:.0f} µs, reveal {reveal_us:.0f} µs (decryptions cached)")
    line = "2026-12-04 10:00:01 INFO rasa.core.processor - Predicted next action utter_ask_city with confidence 0.98"
    print(f"mask one log line: {microseconds(lambda: mask_text(line)):.0f} µs")


if __name__ == "__main__":
    main()
