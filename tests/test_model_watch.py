"""bot/model_watch.py without a server: which model the record names, and the start-up hook."""
from __future__ import annotations

from pathlib import Path

import pytest

from bot import model_watch


def test_the_record_names_a_model_only_if_its_file_exists(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    record = tmp_path / "active.json"
    monkeypatch.setenv("CITYLINK_ACTIVE_MODEL", str(record))
    assert model_watch.recorded_model() is None  # no record: the model the bot was started with
    record.write_text("{not json", encoding="utf-8")
    assert model_watch.recorded_model() is None
    record.write_text(f'{{"model": "{tmp_path / "gone.tar.gz"}"}}', encoding="utf-8")
    assert model_watch.recorded_model() is None
    (tmp_path / "new.tar.gz").write_bytes(b"model")
    record.write_text(f'{{"model": "{tmp_path / "new.tar.gz"}"}}', encoding="utf-8")
    assert model_watch.recorded_model() == str(tmp_path / "new.tar.gz")


def test_the_start_up_loader_is_wrapped_once_and_can_be_switched_off(monkeypatch: pytest.MonkeyPatch) -> None:
    import rasa.core.run

    original = rasa.core.run.load_agent_on_start
    monkeypatch.setattr(rasa.core.run, "load_agent_on_start", original)
    monkeypatch.setenv("CITYLINK_MODEL_WATCH_S", "0")
    model_watch.apply()
    assert rasa.core.run.load_agent_on_start is original
    monkeypatch.setenv("CITYLINK_MODEL_WATCH_S", "2")
    model_watch.apply()
    wrapped = rasa.core.run.load_agent_on_start
    assert wrapped is not original and getattr(wrapped, "citylink", False)
    model_watch.apply()
    assert rasa.core.run.load_agent_on_start is wrapped
