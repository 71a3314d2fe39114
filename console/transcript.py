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
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from common.privacy import mask_event, reveal_event
from console.pii import known_values, mask_known
from console.queries import clock
from console.summary import is_backend_failure

HIDDEN_ACTIONS = frozenset({"action_listen", "action_session_start"})
# Human handoff (console/handoff.py): the bot paused while a person has the conversation.
HANDOFF_EVENTS = {"pause": "人工接入：机器人暂停", "resume": "人工结束：机器人恢复"}


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


def _personal_values(events: Sequence[Dict[str, Any]]) -> Dict[str, str]:
    """{plain: mask} of every sensitive value the conversation holds in entities or slots."""
    values: Dict[str, str] = {}
    for e in events:
        if e.get("event") == "user":
            values.update(known_values((e.get("parse_data") or {}).get("entities") or [], "entity"))
        elif e.get("event") == "slot":
            values.update(known_values([e], "name"))
    return values


class _Shower:
    """Each stored event as the page shows it: masked, or (an audited reveal) unsealed."""

    def __init__(self, values: Dict[str, str], reveal: bool) -> None:
        self.values = values
        self.reveal = reveal

    def event(self, data: Dict[str, Any]) -> Dict[str, Any]:
        if self.reveal:
            return reveal_event(data)
        return _deep(mask_event(data), lambda text: mask_known(text, self.values))


def _deep(data: Any, on_text: Callable[[str], str]) -> Any:
    if isinstance(data, str):
        return on_text(data)
    if isinstance(data, list):
        return [_deep(x, on_text) for x in data]
    if isinstance(data, dict):
        return {k: v if k in ("event", "name", "entity") else _deep(v, on_text) for k, v in data.items()}
    return data


def shown_events(rows: Sequence[Tuple[int, str]], reveal: bool = False) -> List[Tuple[int, Dict[str, Any]]]:
    """Each stored event with its row id, as staff may see it: masked (or an audited reveal)."""
    stored = [(event_id, json.loads(data)) for event_id, data in rows]
    show = _Shower(_personal_values([data for _, data in stored]), reveal)
    return [(event_id, show.event(data)) for event_id, data in stored]


def turns(rows: Sequence[Tuple[int, str]], reveal: bool = False) -> List[Turn]:
    result: List[Turn] = [Turn()]
    for event_id, e in shown_events(rows, reveal):
        kind, turn = e.get("event"), result[-1]
        if kind == "user":
            parse = e.get("parse_data") or {}
            intent = parse.get("intent") or {}
            turn = Turn(time=_clock(e.get("timestamp")), user={
                "event_id": event_id, "message_id": e.get("message_id") or parse.get("message_id"),
                "text": e.get("text") or "", "intent": intent.get("name"),
                "confidence": intent.get("confidence"),
                "entities": [(ent.get("entity"), ent.get("value")) for ent in parse.get("entities") or []],
                "ranking": [(r.get("name"), r.get("confidence"))
                            for r in (parse.get("intent_ranking") or [])[1:3]],
            })
            result.append(turn)
        elif kind == "action" and e.get("name") not in HIDDEN_ACTIONS:
            turn.actions.append(e.get("name"))
        elif kind == "slot" and e.get("name") != "requested_slot":
            turn.slots.append((e.get("name"), e.get("value")))
        elif kind == "bot":
            payload = e.get("data") or {}
            failed = is_backend_failure(e.get("text") or "")
            turn.backend_error = turn.backend_error or failed
            custom = payload.get("custom") if isinstance(payload.get("custom"), dict) else {}
            turn.bot.append({"text": e.get("text") or "", "buttons": payload.get("buttons") or [],
                             "card": payload.get("custom"), "backend_error": failed,
                             "agent": custom.get("agent") if custom.get("type") == "handoff" else None,
                             "time": _clock(e.get("timestamp"))})
        elif kind == "active_loop":
            turn.actions.append(f"表单：{e.get('name') or '结束'}")
        elif kind in HANDOFF_EVENTS:
            turn.actions.append(HANDOFF_EVENTS[kind])
    if not result[0].bot and not result[0].actions and not result[0].slots:
        result.pop(0)
    return result
