"""End-to-end conversations over real HTTP: bot, action server, simulator.

The conversations are Rasa test stories (tests/test_*.yml). Each story is
played against the live stack (tests/conftest.py) with a fresh sender id:
every user turn is sent to the REST channel, then the tracker must show the
story's intent, exactly the story's actions, and its slot and loop events in
the same order, and every `bot:` step of the turn (Rasa's end-to-end story
syntax) must be part of what the bot said in that turn. A story's
`metadata.faults` are injected into the simulated backends for that story
only. `{otp:<phone>}` in a user turn is the one-time code the simulator
texted (tests/otp_placeholder.py). Keys the harness does not check (a typo,
or Rasa syntax it does not play, such as `entities` or `or`) are refused
rather than silently ignored.
"""
from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any, Dict, List, Tuple

import pytest
import yaml

from tests.conftest import LiveStack
from tests.otp_placeholder import resolve

STORIES_DIR = Path(__file__).parent
IGNORED_ACTIONS = {"action_listen", "action_extract_slots", "action_session_start"}
STORY_KEYS = {"story", "steps", "metadata"}
METADATA_KEYS = {"faults"}
# Each step is one of these; `intent` only next to `user`.
STEP_KEYS = {"user", "action", "active_loop", "slot_was_set", "bot"}
USER_STEP_KEYS = {"user", "intent"}


def check_keys(story: Dict[str, Any]) -> None:
    """ValueError naming the story and the key the harness would not check."""
    where = f"{story.get('file', '?')} · {story.get('story', '?')}"
    unknown = set(story) - STORY_KEYS - {"file"}
    unknown |= {f"metadata.{k}" for k in set(story.get("metadata") or {}) - METADATA_KEYS}
    for step in story.get("steps") or []:
        allowed = USER_STEP_KEYS if "user" in step else STEP_KEYS
        if len(set(step) & STEP_KEYS) != 1:
            unknown.add(f"step {sorted(step)}")
        unknown |= set(step) - allowed
    if unknown:
        raise ValueError(f"{where}: 测试框架不认识 {sorted(unknown)}")


def load_stories() -> List[Dict[str, Any]]:
    stories = []
    for path in sorted(STORIES_DIR.glob("test_*.yml")):
        for story in yaml.safe_load(path.read_text(encoding="utf-8")).get("stories", []):
            story["file"] = path.name
            check_keys(story)
            stories.append(story)
    return stories


def split_turns(steps: List[Dict[str, Any]]) -> List[Tuple[Dict[str, Any], List[Dict[str, Any]]]]:
    """[(user step, the steps after it up to the next user step)]."""
    turns: List[Tuple[Dict[str, Any], List[Dict[str, Any]]]] = []
    for step in steps:
        if "user" in step:
            turns.append((step, []))
        elif turns:
            turns[-1][1].append(step)
        else:
            raise ValueError(f"故事要以用户的话开头：{step}")
    return turns


def expected_trace(steps: List[Dict[str, Any]]) -> List[Tuple]:
    trace: List[Tuple] = []
    for step in steps:
        if "action" in step:
            trace.append(("action", step["action"]))
        elif "active_loop" in step:
            trace.append(("active_loop", step["active_loop"]))
        elif "slot_was_set" in step:
            for slot in step["slot_was_set"]:
                name, value = next(iter(slot.items())) if isinstance(slot, dict) else (slot, ...)
                trace.append(("slot", name, value))
    return trace


def actual_trace(events: List[Dict[str, Any]]) -> List[Tuple]:
    trace: List[Tuple] = []
    for event in events:
        kind = event.get("event")
        if kind == "action" and event["name"] not in IGNORED_ACTIONS:
            trace.append(("action", event["name"]))
        elif kind == "active_loop":
            trace.append(("active_loop", event.get("name")))
        elif kind == "slot":
            trace.append(("slot", event["name"], event.get("value")))
    return trace


def is_subsequence(expected: List[Tuple], actual: List[Tuple]) -> bool:
    remaining = iter(actual)
    return all(any(_matches(e, a) for a in remaining) for e in expected)


def _matches(expected: Tuple, actual: Tuple) -> bool:
    if expected[0] == "slot" and actual[0] == "slot" and expected[2] is ...:
        return expected[1] == actual[1] and actual[2] is not None
    return expected == actual


def describe(events: List[Dict[str, Any]]) -> str:
    lines = []
    for e in events:
        if e.get("event") == "bot":
            lines.append(f"  bot: {e.get('text')}")
        elif e.get("event") == "user":
            lines.append(f"  user: {e.get('text')} -> {e.get('parse_data', {}).get('intent')}")
        elif e.get("event") in ("action", "slot", "active_loop"):
            lines.append(f"  {e['event']}: {e.get('name')} {e.get('value', '')}")
    return "\n".join(lines)


STORIES = load_stories()


def said_in(events: List[Dict[str, Any]]) -> List[str]:
    return [e.get("text") or "" for e in events if e.get("event") == "bot"]


@pytest.mark.parametrize("story", STORIES, ids=[s["story"] for s in STORIES])
def test_conversation(live_stack: LiveStack, story: Dict[str, Any]) -> None:
    sender = f"test-{uuid.uuid4().hex[:12]}"
    faults = (story.get("metadata") or {}).get("faults", [])
    for fault in faults:
        live_stack.citysim("/_test/faults", fault, "POST")
    try:
        for user, steps in split_turns(story["steps"]):
            before = len(live_stack.events(sender))
            live_stack.send(sender, resolve(str(user["user"]).strip(), live_stack.citysim))
            new = live_stack.events(sender)[before:]
            context = f"{story['file']} · {story['story']} · 用户说“{str(user['user']).strip()}”\n{describe(new)}"
            if "intent" in user:
                parsed = next(e for e in new if e.get("event") == "user")["parse_data"]["intent"]["name"]
                assert parsed == user["intent"], context
            expected, actual = expected_trace(steps), actual_trace(new)
            expected_actions = [t for t in expected if t[0] == "action"]
            assert expected_actions == [t for t in actual if t[0] == "action"], context
            assert is_subsequence(expected, actual), context
            said = said_in(new)
            for text in (str(step["bot"]) for step in steps if "bot" in step):
                assert any(text in line for line in said), f"这一轮没有说“{text}”\n{context}"
    finally:
        if faults:
            live_stack.citysim("/_test/faults", None, "DELETE")


@pytest.mark.parametrize(
    "story",
    [
        {"story": "typo", "steps": [{"user": "查违章", "intnet": "query_violation"}]},
        {"story": "entities", "steps": [{"user": "查违章", "entities": [{"plate_number": "x"}]}]},
        {"story": "or", "steps": [{"user": "hi"}, {"or": [{"intent": "greet"}]}]},
        {"story": "two in one", "steps": [{"user": "hi"}, {"action": "a", "bot": "b"}]},
        {"story": "metadata", "metadata": {"expect_txt": ["x"]}, "steps": [{"user": "hi"}]},
        {"story": "story key", "stpes": [], "steps": [{"user": "hi"}]},
    ],
    ids=lambda s: s["story"],
)
def test_the_harness_refuses_what_it_would_not_check(story: Dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=story["story"]):
        check_keys(story)


def test_the_harness_accepts_the_stories_and_bot_steps_belong_to_their_turn() -> None:
    steps = [{"user": "查违章", "intent": "query_violation"}, {"action": "violation_form"},
             {"bot": "车牌"}, {"user": "粤A288E0"}, {"bot": "共 3 条违章"}]
    check_keys({"story": "ok", "metadata": {"faults": []}, "steps": steps})
    assert [[s.get("bot") for s in turn if "bot" in s] for _, turn in split_turns(steps)] == \
        [["车牌"], ["共 3 条违章"]]
    assert STORIES
