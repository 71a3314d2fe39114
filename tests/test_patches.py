"""Each patch of bot/patches/ against Rasa's stock behaviour, and the start-up guard.

The stock functions are taken before any patch is installed (this module is
imported at collection, before any test installs one), so every comparison is
with what Rasa itself does.
"""

from __future__ import annotations

import asyncio
import copy
import importlib
import inspect
import json
import pkgutil
from pathlib import Path
from typing import Any, Dict, List

import jsonschema
import pytest
from jsonschema import Draft202012Validator
from rasa.core.actions.action import ActionExtractSlots, RemoteAction
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, Event, SlotSet, UserUttered
from rasa.shared.core.slots import Slot
from rasa.shared.core.trackers import DialogueStateTracker
from rasa_sdk import FormValidationAction, ValidationAction

import actions
from bot import patches, server
from bot.patches import action_session, fair_queue, guard, slot_validation_skip

ROOT = Path(__file__).resolve().parents[1]
assert not patches.installed(), "a patch was installed before the stock behaviour was taken"
STOCK = {
    target.path: guard.resolve(target.path)
    for patch in patches.PATCHES.values()
    for target in patch.TARGETS
}
patches.apply(list(patches.PATCHES))
DOMAIN = Domain.load(str(ROOT / "domain.yml"))


def stock(path: str) -> Any:
    return STOCK[path]


# -- reply_validation -------------------------------------------------------

REPLIES: List[Dict[str, Any]] = [
    {
        "events": [
            {"event": "slot", "name": "city", "value": "广州", "timestamp": None},
            {"event": "active_loop", "name": None},
        ],
        "responses": [
            {"text": "您好", "buttons": [{"title": "查违章", "payload": "/query_violation"}]}
        ],
    },
    {"events": [{"event": "followup", "name": "action_listen"}], "responses": []},
    {"events": [{"event": "bot", "text": "好的", "data": {}}]},
    {"events": [], "responses": [{"text": "只有回复"}]},
    # invalid: unknown event, missing `event`, wrong types, not a list
    {"events": [{"event": "nope"}]},
    {"events": [{"name": "city"}]},
    {"events": [{"event": "slot", "name": 1}]},
    {"events": [{"event": "slot", "name": "a", "value": None, "timestamp": "now"}]},
    {
        "events": [
            {
                "event": "user",
                "text": "hi",
                "parse_data": {"intent": {"name": "x", "confidence": "high"}},
            }
        ]
    },
    {"events": "slot"},
]


@pytest.mark.parametrize("reply", REPLIES, ids=[json.dumps(r)[:40] for r in REPLIES])
def test_reply_validation_gives_rasas_verdict_and_valid_replies_take_the_fast_path(
    reply, monkeypatch
):
    schema_checks: List[Any] = []
    full_validate = jsonschema.validate

    def counted(*args: Any, **kwargs: Any) -> None:
        schema_checks.append(args)
        full_validate(*args, **kwargs)

    monkeypatch.setattr(jsonschema, "validate", counted)  # what Rasa's own method calls
    action = RemoteAction("action_x", None)
    validate_stock = stock("rasa.core.actions.action:RemoteAction._validate_action_result")
    try:
        stock_verdict = validate_stock(action, reply)
    except jsonschema.ValidationError as error:
        stock_verdict, stock_message = False, error.message
    schema_checks.clear()
    assert RemoteAction._validate_action_result.fast_check(reply) is stock_verdict
    if stock_verdict:
        assert action._validate_action_result(reply) is True
        assert schema_checks == []  # the fast path decided; Rasa's full schema check never ran
    else:
        with pytest.raises(jsonschema.ValidationError) as raised:
            action._validate_action_result(reply)
        assert raised.value.message == stock_message  # Rasa's own exception and message
    assert (
        Draft202012Validator(RemoteAction.action_response_format_spec()).is_valid(reply)
        is stock_verdict
    )


# -- slot_validation_skip ---------------------------------------------------


def _tracker() -> DialogueStateTracker:
    return DialogueStateTracker.from_events(
        "t", [ActionExecuted("action_listen"), UserUttered("你好", {"name": "greet"})], DOMAIN.slots
    )


def _run_extraction(
    method: Any,
    events: List[Event],
    action_server_reply: List[Event],
    monkeypatch: pytest.MonkeyPatch,
) -> tuple:
    calls: List[str] = []

    async def action_server(self: Any, name: str, *args: Any) -> List[Event]:
        calls.append(name)
        return list(action_server_reply)

    monkeypatch.setattr(ActionExtractSlots, "_run_custom_action", action_server)
    action = ActionExtractSlots(None)
    result = asyncio.run(method(action, events, None, None, _tracker(), DOMAIN))
    return result, calls


STOCK_EXECUTE = "rasa.core.actions.action:ActionExtractSlots._execute_validation_action"


@pytest.mark.parametrize("events", [[], [SlotSet("city", "广州")]])
def test_slot_validation_gives_stocks_events_when_the_action_server_extracts_nothing(
    events, monkeypatch
):
    """An action server without extract_ methods answers nothing to a message that set no slot."""
    reply = [SlotSet("city", "广州")] if events else []
    stock_result, stock_calls = _run_extraction(stock(STOCK_EXECUTE), events, reply, monkeypatch)
    result, calls = _run_extraction(
        ActionExtractSlots._execute_validation_action, events, reply, monkeypatch
    )
    assert result == stock_result
    assert stock_calls == ["action_validate_slot_mappings"]
    assert calls == ([] if not events else stock_calls)  # skipped only when nothing was set


def test_slot_validation_still_calls_the_action_server_for_a_slot_extract_methods_fill(monkeypatch):
    """With an extract_<slot> method on the action server, a message setting no slot still
    reaches it, and its SlotSet comes back as in stock Rasa."""
    monkeypatch.setattr(slot_validation_skip, "EXTRACTED_SLOTS", frozenset({"handoff"}))
    reply = [SlotSet("handoff", True)]
    stock_result, _ = _run_extraction(stock(STOCK_EXECUTE), [], reply, monkeypatch)
    result, calls = _run_extraction(
        ActionExtractSlots._execute_validation_action, [], reply, monkeypatch
    )
    assert calls == ["action_validate_slot_mappings"]
    assert result == stock_result == reply


def extract_methods_in(package: Any) -> Dict[str, List[str]]:
    """{`action_validate_slot_mappings` class: [slots its extract_<slot> methods fill]}."""
    found: Dict[str, List[str]] = {}
    for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
        module = importlib.import_module(info.name)
        for name, cls in inspect.getmembers(module, inspect.isclass):
            if (
                issubclass(cls, ValidationAction)
                and not issubclass(cls, FormValidationAction)
                and cls.__module__ == module.__name__
            ):  # forms run their own extract_
                slots = [m[len("extract_") :] for m in dir(cls) if m.startswith("extract_")]
                found[f"{module.__name__}.{name}"] = slots
    return found


def test_every_extract_method_of_action_validate_slot_mappings_is_known_to_the_skip():
    extracted = {slot for slots in extract_methods_in(actions).values() for slot in slots}
    assert "actions.conversation.ValidateSlotMappings" in extract_methods_in(actions)
    missing = extracted - slot_validation_skip.EXTRACTED_SLOTS
    assert not missing, (
        f"extract_ methods for {missing} would never run on a message that sets "
        "no slot: add them to slot_validation_skip.EXTRACTED_SLOTS"
    )


def test_the_extract_method_scan_sees_an_extract_method(monkeypatch):
    from actions.conversation import ValidateSlotMappings

    monkeypatch.setattr(ValidateSlotMappings, "extract_handoff", lambda *a: {}, raising=False)
    assert "handoff" in extract_methods_in(actions)["actions.conversation.ValidateSlotMappings"]


# -- sqlite_tracker ---------------------------------------------------------


def test_sqlite_keeps_one_connection_per_thread_in_wal_and_other_databases_are_untouched(tmp_path):
    import rasa.core.tracker_store as tracker_store
    from sqlalchemy import create_engine
    from sqlalchemy.pool import SingletonThreadPool

    stock_kwargs = stock("rasa.core.tracker_store:create_engine_kwargs")
    url = "postgresql://u@localhost/db"
    assert tracker_store.create_engine_kwargs(url) == stock_kwargs(url)
    assert tracker_store.create_engine_kwargs(f"sqlite:///{tmp_path}/t.db") == {
        "poolclass": SingletonThreadPool
    }
    engine = create_engine(f"sqlite:///{tmp_path}/t.db")
    with engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL


# -- action_session ---------------------------------------------------------


def test_action_server_session_is_kept_per_loop_and_configured_as_rasas():
    from rasa.utils.endpoints import EndpointConfig

    config = EndpointConfig(
        "http://127.0.0.1:1/webhook",
        headers={"X-A": "1"},
        basic_auth={"username": "u", "password": "p"},
    )

    async def sessions() -> tuple:
        async with config.session() as first, config.session() as second:
            mine = first
            same = first is second
        theirs = stock("rasa.utils.endpoints:EndpointConfig.session")(config)
        result = (
            same,
            mine.closed,
            dict(mine.headers) == dict(theirs.headers),
            mine._default_auth == theirs._default_auth,
            mine.timeout == theirs.timeout,
        )
        await mine.close()
        await theirs.close()
        return result

    assert asyncio.run(sessions()) == (True, False, True, True, True)


def test_action_server_json_encoder_falls_back_for_what_ujson_cannot_encode():
    assert json.loads(action_session.json_dumps({"城市": "广州", "n": 1.5})) == {
        "城市": "广州",
        "n": 1.5,
    }
    assert json.loads(action_session.json_dumps({"big": 2**70})) == {"big": 2**70}


# -- event_class_cache ------------------------------------------------------


def test_event_types_resolve_to_rasas_classes_and_unknown_ones_still_fail():
    resolve_stock = stock("rasa.shared.core.events:Event.resolve_by_type")
    names = {cls.type_name for cls in rasa_event_classes()}
    assert {"slot", "user", "action", "bot"} <= names
    for name in names:
        assert Event.resolve_by_type(name) is resolve_stock(name)
        assert Event.resolve_by_type(name) is resolve_stock(name)  # cached the second time
    assert Event.resolve_by_type("no_such_event", default=SlotSet) is SlotSet
    with pytest.raises(ValueError):
        Event.resolve_by_type("no_such_event")


def rasa_event_classes() -> List[type]:
    from rasa.shared.utils.common import all_subclasses

    return [cls for cls in all_subclasses(Event) if getattr(cls, "type_name", None)]


# -- slot_copy --------------------------------------------------------------


def test_a_copied_slot_is_what_rasas_unpatched_copy_makes(monkeypatch):
    patched = {slot.name: copy.copy(slot) for slot in _shared_slots()}
    monkeypatch.delattr(Slot, "__copy__")  # stock Rasa: copy.copy's reduce protocol
    for slot in _shared_slots():
        theirs, mine = copy.copy(slot), patched[slot.name]
        assert type(mine) is type(theirs) is type(slot)
        assert mine.__dict__ == theirs.__dict__
        assert (mine.value is slot.value) == (theirs.value is slot.value)  # both shallow


_SLOTS = DOMAIN.slots
for _slot in _SLOTS:
    _slot.value = ["shared"]


def _shared_slots() -> List[Slot]:
    return _SLOTS


# -- fair_queue -------------------------------------------------------------


def test_each_worker_works_on_at_most_two_messages_and_queues_the_rest_in_order():
    from rasa.core.processor import MessageProcessor

    assert MessageProcessor.handle_message.__wrapped__ is stock(
        "rasa.core.processor:MessageProcessor.handle_message"
    )
    started: List[int] = []
    running = {"now": 0, "max": 0}

    async def work(self: Any, message: int) -> int:
        started.append(message)
        running["now"] += 1
        running["max"] = max(running["max"], running["now"])
        await asyncio.sleep(0)
        await asyncio.sleep(0)  # a message awaits more than once (action server, store)
        running["now"] -= 1
        return message

    handle = fair_queue.fair_queue(work, 2)

    async def burst() -> List[int]:
        return await asyncio.gather(*(handle(None, i) for i in range(10)))

    assert asyncio.run(burst()) == list(range(10))  # same results as the unwrapped handler
    assert running["max"] == 2
    assert started == list(range(10))


# -- graph_runner (same results as dask: tests/test_graph_runner.py) -------


def test_the_processor_loads_models_with_the_loop_runner():
    import rasa.core.processor

    from bot.graph_runner import SequentialGraphRunner

    assert stock("rasa.core.processor:DaskGraphRunner").__name__ == "DaskGraphRunner"
    assert rasa.core.processor.DaskGraphRunner is SequentialGraphRunner


# -- switches and the start-up guard ----------------------------------------


def test_patches_switch_off_by_name_or_all_and_unknown_names_are_refused():
    every = list(patches.PATCHES)
    assert patches.enabled({}) == every
    assert patches.enabled({"CITYLINK_PATCHES_OFF": "slot_copy, fair_queue"}) == [
        n for n in every if n not in ("slot_copy", "fair_queue")
    ]
    assert patches.enabled({"CITYLINK_PATCHES_OFF": "all"}) == []
    with pytest.raises(patches.PatchError, match="slot_cpy"):
        patches.enabled({"CITYLINK_PATCHES_OFF": "slot_cpy"})


def test_every_patch_says_what_why_and_gain():
    for name, module in patches.PATCHES.items():
        doc = module.__doc__ or ""
        assert "What:" in doc and "Why:" in doc and "Gain" in doc, name
        assert module.TARGETS, name


def test_guard_refuses_a_changed_signature_a_missing_name_and_another_version(monkeypatch):
    fake = type(inspect)("bot.patches.fake")
    fake.TARGETS = (
        guard.Target(
            "rasa.core.actions.action:RemoteAction._validate_action_result",
            ("self", "result", "extra"),
        ),
        guard.Target("rasa.core.actions.action:RemoteAction.gone"),
    )
    with pytest.raises(patches.PatchError) as refused:
        guard.check([fake])
    assert "(self, result)" in str(refused.value) and "RemoteAction.gone" in str(refused.value)
    monkeypatch.setattr(guard, "versions", lambda: ("3.7.0", "21.12.2"))
    with pytest.raises(patches.PatchError, match="Rasa 3.7.0"):
        guard.check([patches.PATCHES["graph_runner"]])
    guard.check([])  # every patch off: stock Rasa of any version


def test_guard_accepts_the_installed_rasa_before_patching():
    # TARGETS as they were before installation (STOCK holds the same objects).
    for patch in patches.PATCHES.values():
        for target in patch.TARGETS:
            if target.parameters is not None:
                assert tuple(inspect.signature(STOCK[target.path]).parameters) == target.parameters


def test_server_refuses_to_start_with_a_clear_message(monkeypatch):
    def mismatch() -> None:
        raise patches.PatchError("Rasa 补丁与安装的版本不符，拒绝启动：Rasa 9.9")

    monkeypatch.setattr(patches, "apply", mismatch)
    with pytest.raises(SystemExit) as exited:
        server.main()
    assert "拒绝启动" in str(exited.value.code)
