"""Every bot worker serves the model the trainers activated, within seconds.

Rasa's `PUT /model` swaps the model of the one worker process that takes the
request; with `SANIC_WORKERS` > 1 (and several machines) the others keep the
old one. Instead, activation writes a record (`CITYLINK_ACTIVE_MODEL`, default
`models/active.json`: `{"model": path, ...}`, written by the console or
`python -m tools.trainer activate`), and each worker checks it every
`CITYLINK_MODEL_WATCH_S` seconds (default 2; `0` switches the watcher off).
A changed record is loaded in a thread, off the event loop, and swapped in
whole: a message being handled finishes on the model it started with, the
next one gets the new model, no conversation is dropped (trackers live in the
tracker store, not in the model). A worker that starts later loads the
recorded model directly.
"""
from __future__ import annotations

import asyncio
import json
import logging
import os
from pathlib import Path
from typing import Any, Optional

from bot import heap

log = logging.getLogger(__name__)
ROOT = Path(__file__).resolve().parents[1]


def record_path() -> Path:
    models = Path(os.environ.get("CITYLINK_MODELS_DIR", ROOT / "models"))
    return Path(os.environ.get("CITYLINK_ACTIVE_MODEL", models / "active.json"))


def interval() -> float:
    return float(os.environ.get("CITYLINK_MODEL_WATCH_S", "2"))


def recorded_model() -> Optional[str]:
    """The active model's path if the record names one that exists, else None."""
    try:
        model = json.loads(record_path().read_text(encoding="utf-8")).get("model")
    except (OSError, ValueError, AttributeError):
        return None
    return model if isinstance(model, str) and Path(model).is_file() else None


def _same(a: Optional[Any], b: Optional[str]) -> bool:
    return a is not None and b is not None and Path(str(a)).resolve() == Path(b).resolve()


async def swap(agent: Any, model: str) -> None:
    """Load `model` in a thread, then switch the agent to it in one step on the loop."""
    from rasa.core.nlg import TemplatedNaturalLanguageGenerator
    from rasa.core.processor import MessageProcessor

    def build() -> Any:
        return MessageProcessor(model_path=model, tracker_store=agent.tracker_store,
                                lock_store=agent.lock_store, action_endpoint=agent.action_endpoint,
                                generator=agent.nlg, http_interpreter=agent.http_interpreter)

    processor = await asyncio.get_running_loop().run_in_executor(None, build)
    agent.processor, agent.domain = processor, processor.domain
    heap.settle()  # the old model freed, the new one kept out of full collections
    agent.tracker_store.domain = processor.domain
    if isinstance(agent.nlg, TemplatedNaturalLanguageGenerator):
        agent.nlg.responses = processor.domain.responses if processor.domain else {}
    log.warning("模型已切换：%s（进程 %s）", Path(model).name, os.getpid())


async def watch(app: Any) -> None:
    """Follow the record for as long as the worker runs."""
    while True:
        await asyncio.sleep(interval())
        model = recorded_model()
        agent = getattr(app.ctx, "agent", None)
        current = agent.processor.model_path if agent is not None and agent.processor else None
        if model is None or agent is None or _same(current, model):
            continue
        try:
            await swap(agent, model)
        except Exception:  # a broken file must not stop the worker or the watch
            log.exception("无法加载模型 %s，继续使用当前模型", model)
            await asyncio.sleep(30)


def apply() -> None:
    """Wrap Rasa's start-up loader: load the recorded model if any, then watch; idempotent."""
    if interval() <= 0:
        return
    import rasa.core.run

    original = rasa.core.run.load_agent_on_start
    if getattr(original, "citylink", False):
        return

    async def load_and_watch(model_path: Any, endpoints: Any, remote_storage: Any, app: Any,
                             loop: Any) -> Any:
        agent = await original(recorded_model() or model_path, endpoints, remote_storage, app, loop)
        app.add_task(watch(app))
        return agent

    load_and_watch.citylink = True  # type: ignore[attr-defined]
    rasa.core.run.load_agent_on_start = load_and_watch
