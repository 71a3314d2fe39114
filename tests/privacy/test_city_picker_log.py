"""Showing the city picker logs no ERROR (bot/templates.py), and its payloads stay intact."""
from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, Dict, List, Tuple

import pytest
from rasa.core.nlg import interpolator
from rasa.core.nlg.response import TemplatedNaturalLanguageGenerator
from rasa.shared.core.domain import Domain
from rasa.shared.core.trackers import DialogueStateTracker
from structlog.testing import capture_logs

from bot import templates

DOMAIN = Domain.load(str(Path(__file__).resolve().parents[2] / "domain.yml"))


def show_picker() -> Tuple[Dict[str, Any], List[Dict[str, Any]]]:
    nlg = TemplatedNaturalLanguageGenerator(DOMAIN.responses)
    tracker = DialogueStateTracker.from_events("web:picker", [], DOMAIN.slots)
    with capture_logs() as logs:
        message = asyncio.run(nlg.generate("utter_ask_city", tracker, "rest"))
    return message, logs


def test_the_picker_without_the_fix_logs_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """Today's Rasa: proves the next test can fail."""
    rasas = getattr(interpolator.interpolate_text, "rasa", interpolator.interpolate_text)
    monkeypatch.setattr(interpolator, "interpolate_text", rasas)
    _, logs = show_picker()
    assert any(log["log_level"] == "error" for log in logs)


def test_showing_the_picker_logs_no_error_and_keeps_the_payloads() -> None:
    templates.apply()
    message, logs = show_picker()
    assert not [log for log in logs if log["log_level"] in ("error", "critical")]
    assert message["buttons"][0] == {"title": "广州", "payload": '/set_city{"city": "广州"}'}


def test_slot_placeholders_are_still_filled_and_a_missing_slot_still_errors() -> None:
    templates.apply()
    assert interpolator.interpolate_text("您在{city}", {"city": "深圳"}) == "您在深圳"
    assert (interpolator.interpolate_text('/set_city{"city": "{city}"}', {"city": "深圳"})
            == '/set_city{"city": "深圳"}')
    with capture_logs() as logs:
        interpolator.interpolate_text("您在{no_such_slot}", {"city": "深圳"})
    assert any(log["log_level"] == "error" for log in logs)
