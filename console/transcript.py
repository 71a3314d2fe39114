"""A conversation's events turned into what the citizen saw, with the bot's reasoning beside it.

A turn starts at each citizen message: the message with the predicted intent,
its confidence and the entities; then the actions the bot ran, the slots they
changed, and the bot's answers (text, buttons, cards), with backend failures
marked. Personal data is masked everywhere unless `reveal` is set; a value
the citizen gave once (an ID number in a slot) is masked wherever it is echoed.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Set, Tuple

from console.pii import SENSITIVE, mask_text, mask_value, reveal_text
from console.queries import clock
from console.summary import is_backend_failure

HIDDEN_ACTIONS = frozenset({"action_listen", "action_session_start"})


@dataclass
class Turn:
    time: str = ""
    user: Optional[Dict[str, Any]] = None
    actions: List[str] = field(default_factory=list)
    slots: List[Tuple[str, Any]] = field(default_factory=list)
    bot: List[Dict[str, Any]] = field(default_factory=list)
    backend_error: bool = False


def _clock(ts: Optional[float]) -> str:
    return clock(ts, "%m-%d %H:%M:%S")


def _personal_values(events: Sequence[Dict[str, Any]]) -> Set[str]:
    found: Set[str] = set()
    for e in events:
        if e.get("event") == "user":
            for ent in (e.get("parse_data") or {}).get("entities") or []:
                if ent.get("entity") in SENSITIVE and ent.get("value"):
                    found.add(str(ent["value"]))
        elif e.get("event") == "slot" and e.get("name") in SENSITIVE and e.get("value"):
            found.add(str(e["value"]))
    return found


class _Shower:
    """Masks (or, when revealed, unseals) every text and value the page shows."""

    def __init__(self, values: Set[str], reveal: bool) -> None:
        self.values = values
        self.reveal = reveal

    def text(self, text: Optional[str]) -> str:
        if not text:
            return ""
        return reveal_text(text) if self.reveal else mask_text(text, self.values)

    def value(self, name: str, value: Any) -> Any:
        if self.reveal:
            return reveal_text(value) if isinstance(value, str) else value
        return mask_value(name, value)

    def deep(self, data: Any) -> Any:
        """Cards and buttons: every string inside masked."""
        if isinstance(data, str):
            return self.text(data)
        if isinstance(data, list):
            return [self.deep(x) for x in data]
        if isinstance(data, dict):
            return {k: self.deep(v) for k, v in data.items()}
        return data


def turns(rows: Sequence[Tuple[int, str]], reveal: bool = False) -> List[Turn]:
    events = [dict(json.loads(data), _id=event_id) for event_id, data in rows]
    show = _Shower(_personal_values(events), reveal)
    result: List[Turn] = [Turn()]
    for e in events:
        kind, turn = e.get("event"), result[-1]
        if kind == "user":
            parse = e.get("parse_data") or {}
            intent = parse.get("intent") or {}
            turn = Turn(time=_clock(e.get("timestamp")), user={
                "event_id": e["_id"], "message_id": e.get("message_id") or parse.get("message_id"),
                "text": show.text(e.get("text")), "intent": intent.get("name"),
                "confidence": intent.get("confidence"),
                "entities": [(ent.get("entity"), show.value(ent.get("entity", ""), ent.get("value")))
                             for ent in parse.get("entities") or []],
                "ranking": [(r.get("name"), r.get("confidence"))
                            for r in (parse.get("intent_ranking") or [])[1:3]],
            })
            result.append(turn)
        elif kind == "action" and e.get("name") not in HIDDEN_ACTIONS:
            turn.actions.append(e.get("name"))
        elif kind == "slot" and e.get("name") != "requested_slot":
            turn.slots.append((e.get("name"), show.value(e.get("name", ""), e.get("value"))))
        elif kind == "bot":
            data = e.get("data") or {}
            failed = is_backend_failure(e.get("text") or "")
            turn.backend_error = turn.backend_error or failed
            turn.bot.append({"text": show.text(e.get("text")), "buttons": show.deep(data.get("buttons") or []),
                             "card": show.deep(data.get("custom")), "backend_error": failed,
                             "time": _clock(e.get("timestamp"))})
        elif kind in ("active_loop",):
            turn.actions.append(f"表单：{e.get('name') or '结束'}")
    if not result[0].bot and not result[0].actions and not result[0].slots:
        result.pop(0)
    return result
