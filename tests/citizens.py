"""Virtual citizens for the tests that break something under load (a bot node in
tests/test_cluster.py, the backends and the action server in tests/test_fault_stack.py).

Each citizen talks through the REST channel and never resends a message that
got no answer (a resend would be a new message), so afterwards every text it
sent must be in its stored conversation at most once, each answered one
exactly once, in order, with `action_listen` closing every user turn.
"""
from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, List, Optional, Tuple

from common.privacy import reveal_event
from tools.bench.load import rest_headers

CITY_NAMES = {"guangzhou": "广州", "shenzhen": "深圳", "foshan": "佛山", "wuhan": "武汉",
              "shanghai": "上海"}
UTILITY_NAMES = {"water": "水", "electricity": "电", "gas": "燃气"}
# (type, action name, user text) of one stored event.
Stored = Tuple[str, Optional[str], Optional[str]]


@dataclass
class Citizen:
    sender: str
    script: List[str]
    account: str
    pays: bool
    answered: List[str] = field(default_factory=list)
    failed: List[str] = field(default_factory=list)
    after_kill_waits: List[float] = field(default_factory=list)
    errors: List[str] = field(default_factory=list)  # why a message got no answer
    replies: List[str] = field(default_factory=list)  # the bot's texts, all turns


def post(url: str, citizen: Citizen, text: str) -> bool:
    """Send one message; True if the bot answered (HTTP 200). Rasa's REST channel also
    answers 200, with nothing, when the turn failed (a LockError): every answered
    message must therefore be in the stored conversation (`check_stored`)."""
    body = json.dumps({"sender": citizen.sender, "message": text}).encode()
    request = urllib.request.Request(f"{url}/webhooks/rest/webhook", data=body, method="POST",
                                     headers={"Content-Type": "application/json", **rest_headers()})
    try:
        with urllib.request.urlopen(request, timeout=300) as response:
            citizen.replies += [m.get("text", "") for m in json.loads(response.read() or b"[]")]
            return response.status == 200
    except (urllib.error.URLError, OSError) as error:
        citizen.errors.append(f"{text}: {error}")
        return False


def citizens(seed: Any, count: int, prefix: str) -> List[Citizen]:
    """From the simulator's seed (GET /_test/seed): every account with bills due pays
    once; the other citizens look bills up."""
    accounts = [(code, a) for code, data in seed.items() for a in data["utility_accounts"]]
    due = [(code, a) for code, a in accounts if a["arrears_months"] > 0]
    made = []
    for index in range(count):
        pays = index < len(due)
        code, account = due[index] if pays else accounts[index % len(accounts)]
        city, utility = CITY_NAMES[code], UTILITY_NAMES[account["utility_type"]]
        number = account["account_number"]
        script = ([f"帮我交{utility}费", city, f"户号{number}", "确认", f"{city}天气怎么样"] if pays
                  else [f"查一下{utility}费", city, f"户号{number}", f"{city}天气怎么样", "好的"])
        made.append(Citizen(f"{prefix}-{index}", script, number, pays))
    return made


def stored(rows: Iterable[Tuple[str, Optional[str], str]]) -> List[Stored]:
    """`events` rows (type_name, action_name, data) as (type, action, user text),
    personal values unsealed."""
    return [(kind, action, reveal_event(json.loads(data)).get("text") if kind == "user" else None)
            for kind, action, data in rows]


def check_stored(events: List[Stored], citizen: Citizen, sequential: List[str]) -> None:
    texts = [text for kind, _, text in events if kind == "user"]
    for text in citizen.answered:
        assert texts.count(text) == 1, (citizen.sender, text, texts)
    for text in citizen.failed:  # in flight when something died
        assert texts.count(text) <= 1, (citizen.sender, text, texts)
    assert set(texts) <= set(citizen.answered) | set(citizen.failed), texts
    in_order = [text for text in texts if text in citizen.answered and text in sequential]
    assert in_order == [text for text in citizen.answered if text in sequential]
    turn_ended = True  # every user turn ends with action_listen before the next one
    for kind, action, _ in events:
        if kind == "user":
            assert turn_ended, (citizen.sender, events)
            turn_ended = False
        elif kind == "action" and action == "action_listen":
            turn_ended = True
    assert turn_ended


def converse(url: str, everyone: List[Citizen], broken: threading.Event,
             broken_at: List[float], answered_total: List[int],
             before_each: Callable[[], None] = lambda: None) -> None:
    """Every citizen's script at once, one thread each; answers after `broken` is set
    record how long they waited past the break."""
    lock = threading.Lock()

    def talk(citizen: Citizen) -> None:
        for text in citizen.script:
            before_each()
            sent_at = time.monotonic()
            was_broken = broken.is_set()
            if post(url, citizen, text):
                citizen.answered.append(text)
                if was_broken:
                    citizen.after_kill_waits.append(time.monotonic() - max(sent_at, broken_at[0]))
                with lock:
                    answered_total[0] += 1
            else:
                citizen.failed.append(text)

    threads = [threading.Thread(target=talk, args=(c,)) for c in everyone]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
