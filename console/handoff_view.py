"""What the handoff pages show, read from the queue (common/handoff.py) and the events table.

Everything shown is masked like the rest of the console (console/transcript.py `shown_events`).
For a WeChat conversation it also works out what WeChat allows: customer-service messages only
within 48 hours of the citizen's last message (errcode 45015 beyond), and at most
`WECHAT_QUOTA` of them after each citizen message (45047); the console refuses to send what
WeChat would refuse.
"""
from __future__ import annotations

import time
from functools import lru_cache
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import yaml

from common import handoff, services
from console import queries
from console.transcript import shown_events

WECHAT_WINDOW_S = 48 * 3600
WECHAT_QUOTA = 20
CANNED = Path(__file__).resolve().with_name("canned_replies.yml")
HIDDEN_SLOTS = frozenset({"requested_slot", "handoff", "validation_failures"})


@lru_cache(maxsize=1)
def _registry_key_of() -> Dict[str, str]:
    return {intent: key for key, intents in services.load().intents_by_registry_key().items()
            for intent in intents}


def canned_replies(service: Optional[str]) -> List[str]:
    """The service's canned replies, then those for every conversation (console/canned_replies.yml,
    read at each page so an edit shows at once)."""
    table = yaml.safe_load(CANNED.read_text(encoding="utf-8")) or {}
    key = _registry_key_of().get(service or "", "")
    return [str(t) for t in (table.get(key) or []) + (table.get("all") or [])]


def waited(row: Dict[str, Any], now: float) -> int:
    """Seconds the citizen has waited: until claimed, or until now."""
    return int((row.get("claimed_at") or now) - row["requested_at"])


def queue_rows(engine: Any, now: Optional[float] = None) -> List[Dict[str, Any]]:
    """The open requests as the queue page lists them (JSON-ready)."""
    now = time.time() if now is None else now
    return [{
        "sender_id": r["sender_id"], "channel": r["channel"], "city": r["city"] or "",
        "service": r["service"] or "", "reason": handoff.REASONS.get(r["reason"], r["reason"]),
        "requested": queries.clock(r["requested_at"], "%m-%d %H:%M:%S"), "waited_s": waited(r, now),
        "claimed_by": r["claimed_by"] or "", "after_hours": bool(r["after_hours"]),
    } for r in handoff.open_requests(engine)]


def _custom(event: Dict[str, Any]) -> Dict[str, Any]:
    custom = (event.get("data") or {}).get("custom")
    return custom if isinstance(custom, dict) and custom.get("type") == "handoff" else {}


def bubbles(events: List[Tuple[int, Dict[str, Any]]]) -> List[Dict[str, Any]]:
    """Citizen, bot and staff messages in order (row id, who, name, text, time)."""
    shown = []
    for event_id, e in events:
        if e.get("event") == "user":
            text = (e.get("metadata") or {}).get("display_text") or e.get("text") or ""
            shown.append({"id": event_id, "who": "citizen", "name": "市民", "text": text})
        elif e.get("event") == "bot" and e.get("text"):
            agent = _custom(e).get("agent") if _custom(e).get("state") in ("joined", "agent") else None
            shown.append({"id": event_id, "who": "agent" if agent else "bot",
                          "name": f"人工客服 · {agent}" if agent else "机器人", "text": e["text"]})
        else:
            continue
        shown[-1]["time"] = queries.clock(e.get("timestamp"), "%H:%M:%S")
    return shown


def understanding(events: List[Tuple[int, Dict[str, Any]]]) -> Dict[str, Any]:
    """The bot's last reading of the problem: the latest intent the NLU gave (not the handoff
    request itself), the form it was in, and the slots it holds (masked)."""
    intent: Dict[str, Any] = {}
    form, slots = None, {}
    for _, e in events:
        kind = e.get("event")
        parsed = ((e.get("parse_data") or {}).get("intent") or {}) if kind == "user" else {}
        if parsed.get("name") and parsed["name"] != "human_handoff":
            intent = parsed
        elif kind == "active_loop":
            form = e.get("name") or form
        elif kind == "slot" and e.get("name") not in HIDDEN_SLOTS and e.get("value") not in (None, ""):
            slots[e["name"]] = e["value"]
    return {"intent": intent.get("name"), "confidence": intent.get("confidence"), "form": form,
            "slots": sorted(slots.items())}


def wechat_allowance(events: List[Tuple[int, Dict[str, Any]]], now: float) -> Dict[str, Any]:
    """How long WeChat still takes messages for this citizen, and how many more."""
    last_user = max((e.get("timestamp") or 0 for _, e in events if e.get("event") == "user"),
                    default=0.0)
    sent = sum(1 for _, e in events if e.get("event") == "bot" and _custom(e).get("agent")
               and (e.get("timestamp") or 0) > last_user)
    ends = last_user + WECHAT_WINDOW_S
    return {"window_ends": queries.clock(ends, "%m-%d %H:%M"), "open": now < ends,
            "hours_left": max(0, int((ends - now) // 3600)), "sent": sent,
            "left": max(0, WECHAT_QUOTA - sent), "quota": WECHAT_QUOTA}


def wechat_refusal(allowance: Dict[str, Any]) -> Optional[str]:
    if not allowance["open"]:
        return "市民最后一条消息已超过 48 小时，微信不再允许发送客服消息（45015）。请改用电话或等待市民再次留言。"
    if allowance["left"] <= 0:
        return (f"市民上次留言后已发送 {allowance['quota']} 条客服消息，达到微信上限（45047）。"
                "请等待市民回复后再发送。")
    return None


def chat(engine: Any, sender_id: str, now: Optional[float] = None) -> Optional[Dict[str, Any]]:
    """The handoff view of one conversation, or None if it has no events and no request."""
    now = time.time() if now is None else now
    request = handoff.open_request(engine, sender_id)
    with engine.connect() as conn:
        events = shown_events(queries.conversation_events(conn, sender_id))
    if request is None and not events:
        return None
    item: Dict[str, Any] = {
        "sender_id": sender_id, "channel": handoff.channel_of(sender_id), "request": request,
        "reason": handoff.REASONS.get((request or {}).get("reason", ""), ""),
        "waited_s": waited(request, now) if request else 0,
        "bubbles": bubbles(events), "understanding": understanding(events),
        "canned": canned_replies((request or {}).get("service")),
    }
    if item["channel"] == "wechat":
        item["wechat"] = wechat_allowance(events, now)
        item["wechat_refusal"] = wechat_refusal(item["wechat"])
    return item
