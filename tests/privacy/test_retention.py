"""tools/retention.py: back-dated conversations deleted after their city's period, others kept."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Optional

import pytest
from rasa.shared.core.events import ActionExecuted, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from common import registry
from tests.test_tracker_store import run, stores  # noqa: F401  (the SQLite/PostgreSQL fixture)
from tools import retention

ROOT = Path(__file__).resolve().parents[2]
NOW = 1_800_000_000.0
DAY = 86400.0
# sender: (city, days since the last message, deleted?)
CASES = {
    "web:no-city-31": (None, 31, True),
    "web:no-city-29": (None, 29, False),
    "web:gz-45": ("广州", 45, False),
    "web:gz-61": ("广州", 61, True),
    "web:zh-8": ("珠海", 8, True),
    "web:zh-6": ("珠海", 6, False),
    "web:hz-31": ("杭州", 31, True),  # not served: the default period
}


@pytest.fixture
def cities(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """广州 keeps conversations 60 days, 珠海 7; any other city the default 30."""
    directory = tmp_path / "registry"
    directory.mkdir()
    for name, city, days in (("guangzhou", "广州", 60), ("zhuhai", "珠海", 7)):
        (directory / f"{name}.yml").write_text(
            f"city: {city}\nhotline: '12345'\nretention_days: {days}\nservices: {{}}\n", encoding="utf-8")
    monkeypatch.setenv("CITYLINK_REGISTRY", str(directory))
    registry.load.cache_clear()
    yield directory
    registry.load.cache_clear()


def back_dated(store, sender: str, city: Optional[str], days: float, now: float) -> None:
    start = now - days * DAY - 60
    events = [UserUttered("你好", {"name": "greet", "confidence": 1.0}, timestamp=start)]
    if city:
        events.append(SlotSet("city", city, timestamp=start + 1))
    events.append(ActionExecuted("action_listen", timestamp=start + 2))
    run(store.save(DialogueStateTracker.from_events(sender, events)))


def test_each_conversation_kept_for_its_citys_period(stores, cities):  # noqa: F811
    ours, _ = stores
    for sender, (city, days, _) in CASES.items():
        back_dated(ours, sender, city, days, NOW)
    assert retention.run_once(ours, now=NOW, dry_run=True) == 4
    assert set(ours.last_activity()) == set(CASES)  # a dry run deletes nothing

    assert retention.run_once(ours, now=NOW) == 4
    assert set(ours.last_activity()) == {s for s, (_, _, deleted) in CASES.items() if not deleted}
    assert run(ours.retrieve("web:gz-61")) is None
    assert run(ours.retrieve("web:gz-45")).get_slot("city") == "广州"


def test_the_command_deletes_in_the_bots_database(tmp_path: Path, cities) -> None:
    from bot.tracker_store import SQLTrackerStore

    url = f"sqlite:///{tmp_path / 'tracker.db'}"
    store = SQLTrackerStore(None, dialect="sqlite", host=url)
    now = time.time()
    back_dated(store, "web:old", None, 40, now)
    back_dated(store, "web:new", None, 1, now)
    env = {**os.environ, "TRACKER_DIALECT": "sqlite", "TRACKER_URL": url, "PYTHONPATH": str(ROOT)}
    result = subprocess.run([sys.executable, "-m", "tools.retention"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "删除了 1 个过期会话" in result.stderr
    assert set(store.last_activity()) == {"web:new"}
