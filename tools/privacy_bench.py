"""What sealing costs per stored event and masking per log line (docs/benchmarks.md).

    python -m tools.privacy_bench
"""
import json
import os
import timeit

os.environ.setdefault("CITYLINK_DATA_KEY", "bench-key")
from common.privacy import seal_event, reveal_event, mask_text
ranking = [{"name": f"intent_{i}", "confidence": 0.01} for i in range(10)]
plain = {"event": "user", "timestamp": 1.0, "text": "明天上午广州中山一院儿科", "input_channel": "rest",
         "message_id": "0f3c2a", "metadata": {}, "parse_data": {"text": "明天上午广州中山一院儿科",
         "intent": {"name": "book_appointment", "confidence": 0.97}, "intent_ranking": ranking,
         "entities": [{"entity": "city", "value": "广州", "start": 4, "end": 6}]}}
personal = json.loads(json.dumps(plain)); personal["text"] = personal["parse_data"]["text"] = "身份证44030119900101123X 手机13812345678"
personal["parse_data"]["entities"] = [{"entity": "id_number", "value": "44030119900101123X"}, {"entity": "phone_number", "value": "13812345678"}]
n = 2000
for name, event in (("plain user event", plain), ("user event with ID and phone", personal)):
    sealed = seal_event(event)
    s = timeit.timeit(lambda: seal_event(event), number=n) / n * 1e6
    r = timeit.timeit(lambda: reveal_event(sealed), number=n) / n * 1e6
    print(f"{name}: seal {s:.0f} µs, reveal {r:.0f} µs (reveal only runs for rows holding a token)")
line = "2026-12-04 10:00:01 INFO rasa.core.processor - Predicted next action utter_ask_city with confidence 0.98"
print(f"log line mask: {timeit.timeit(lambda: mask_text(line), number=n) / n * 1e6:.0f} µs")
