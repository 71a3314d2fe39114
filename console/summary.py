"""The per-conversation summary, kept up to date from new events only.

The list and the dashboard never scan `events`: a background task reads the
events with an id above the last one it folded (`console_state.last_event_id`)
and folds them into one `console_conversations` row per conversation (plus its
intents in `console_conversation_intents`). Where the fold stopped inside a
conversation (failures counted, a service action awaiting its answer) is kept in
the row's `fold_state`, so a conversation's next events continue it exactly.

How the flags are read from Rasa's events:
* fallback: the NLU said `nlu_fallback`, or the policies ran `action_default_fallback`;
* handoff asked: intent `human_handoff`, `action_handoff`, or the `handoff` slot set;
* backend error: the apology `actions.replies.backend_failure` sends (抱歉，… 热线 …);
* form abandoned: a form ended right after repeated invalid answers
  (`validation_failures` at MAX_FAILURES - 1 reset with the loop), not by 算了;
* completed: a service action ran and answered without a backend error.

A conversation erased from `events` (the citizen's 删除我的记录, the retention
job) is dropped from every console table by `prune`, which the console runs
every minute.
"""
from __future__ import annotations

import json
import logging
import time
from collections import defaultdict
from typing import Any, Dict, Iterable, List, Sequence, Set, Tuple

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from common import handoff
from console import db
from console.pii import masked_message

log = logging.getLogger(__name__)

MAX_FAILURES = 3  # actions/forms.py MAX_FAILURES: the console does not import the action server
CHANNELS = ("web", "wechat", "rest")
SEARCH_TEXT_LIMIT = 4000
CONVERSATION_INTENTS = frozenset({
    "greet", "goodbye", "thank", "affirm", "deny", "stop", "help", "bot_challenge", "inform",
    "chitchat", "out_of_scope", "set_city", "nlu_fallback", "human_handoff",
})
NOT_SERVICE_ACTIONS = frozenset({
    "action_listen", "action_session_start", "action_restart", "action_default_fallback",
    "action_suggest_intents", "action_handoff", "action_set_city", "action_answer_faq",
    "action_validate_slot_mappings", "action_extract_slots", "action_unlikely_intent",
    "action_back", "action_two_stage_fallback", "action_deactivate_loop",
    "action_revert_fallback_events", "action_default_ask_affirmation", "action_default_ask_rephrase",
})


def channel_of(sender_id: str) -> str:
    prefix = sender_id.split(":", 1)[0] if ":" in sender_id else ""
    return prefix if prefix in CHANNELS else "other"


def is_backend_failure(text: str) -> bool:
    return text.startswith("抱歉，") and "热线" in text


def is_service_action(name: str) -> bool:
    return name.startswith("action_") and not name.startswith("action_ask_") \
        and name not in NOT_SERVICE_ACTIONS


DAILY = db.DAILY_FIGURES
Contribution = Tuple[Tuple[int, str, str], Tuple[int, ...]]


def day_number(ts: float) -> int:
    """Days since 1970-01-01 in Asia/Shanghai (UTC+8, no daylight saving)."""
    return int((ts + 8 * 3600) // 86400)


def contribution(summary: Dict[str, Any]) -> Contribution:
    """Where a conversation counts in `console_daily`, and what it adds there."""
    key = (day_number(summary["last_ts"]), summary["city"] or "", summary["services"])
    return key, tuple(1 if name == "total" else int(bool(summary[name])) for name in DAILY)


def new_summary(sender_id: str, ts: float) -> Dict[str, Any]:
    return {
        "sender_id": sender_id, "channel": channel_of(sender_id), "city": None,
        "first_ts": ts, "last_ts": ts, "user_messages": 0, "min_confidence": None,
        "fallback": False, "handoff": False, "backend_error": False, "form_abandoned": False,
        "completed": False, "services": "", "search_text": "",
        "fold_state": {"failures": 0, "before_reset": 0, "pending": False,
                       "last_intent": None, "intents": []},
    }


def fold(summary: Dict[str, Any], event: Dict[str, Any]) -> None:
    """Apply one Rasa event (its `data` dict) to a conversation summary, in place."""
    st = summary["fold_state"]
    kind = event.get("event")
    ts = event.get("timestamp") or summary["last_ts"]
    summary["first_ts"] = min(summary["first_ts"], ts)
    summary["last_ts"] = max(summary["last_ts"], ts)
    if kind == "user":
        _fold_user(summary, st, event)
    elif kind == "slot":
        name, value = event.get("name"), event.get("value")
        if name == "city" and value:
            summary["city"] = str(value)
        elif name == "handoff" and value:
            summary["handoff"] = True
        elif name == "validation_failures":
            st["before_reset"], st["failures"] = st["failures"], int(value or 0)
    elif kind == "active_loop" and event.get("name") is None:
        if st["before_reset"] >= MAX_FAILURES - 1 and st["last_intent"] != "stop":
            summary["form_abandoned"] = True
        st["before_reset"] = 0
    elif kind == "action":
        name = event.get("name") or ""
        if name == "action_default_fallback":
            summary["fallback"] = True
        elif name == "action_handoff":
            summary["handoff"] = True
        elif is_service_action(name):
            st["pending"] = True
    elif kind == "bot":
        if is_backend_failure(event.get("text") or ""):
            summary["backend_error"] = True
            st["pending"] = False
        elif st["pending"]:
            summary["completed"] = True
            st["pending"] = False


def _fold_user(summary: Dict[str, Any], st: Dict[str, Any], event: Dict[str, Any]) -> None:
    parse = event.get("parse_data") or {}
    intent = (parse.get("intent") or {}).get("name")
    confidence = (parse.get("intent") or {}).get("confidence")
    summary["user_messages"] += 1
    st["last_intent"], st["before_reset"] = intent, 0
    if confidence is not None and intent:
        low = summary["min_confidence"]
        summary["min_confidence"] = confidence if low is None else min(low, confidence)
    if intent == "nlu_fallback":
        summary["fallback"] = True
    elif intent == "human_handoff":
        summary["handoff"] = True
    if intent and intent not in st["intents"]:
        st["intents"].append(intent)
        services = [i for i in st["intents"] if i not in CONVERSATION_INTENTS]
        summary["services"] = " ".join(services)
    text = masked_message(event.get("text") or "", parse.get("entities") or [])
    if text and len(summary["search_text"]) < SEARCH_TEXT_LIMIT:
        joined = f"{summary['search_text']}\n{text}" if summary["search_text"] else text
        summary["search_text"] = joined[:SEARCH_TEXT_LIMIT]


class Indexer:
    """Folds events above the last folded id into the summary tables."""

    def __init__(self, engine: Engine, batch: int = 20000) -> None:
        self.engine = engine
        self.batch = batch

    def last_event_id(self, conn: Connection) -> int:
        value = conn.execute(sa.select(db.state.c.value)
                             .where(db.state.c.key == "last_event_id")).scalar()
        return int(value or 0)

    def run_once(self) -> int:
        """Fold one batch; returns how many events it folded (0: up to date)."""
        with self.engine.begin() as conn:
            last = self.last_event_id(conn)
            rows = conn.execute(
                sa.select(db.events.c.id, db.events.c.sender_id, db.events.c.data)
                .where(db.events.c.id > last).order_by(db.events.c.id).limit(self.batch)
            ).fetchall()
            if not rows:
                return 0
            by_sender: Dict[str, List[Dict[str, Any]]] = defaultdict(list)
            for row in rows:
                by_sender[row.sender_id].append(json.loads(row.data))
            self._apply(conn, by_sender)
            self._set_last(conn, last, rows[-1].id)
        return len(rows)

    def run_until_current(self) -> int:
        total = 0
        while True:
            done = self.run_once()
            total += done
            if done < self.batch:
                return total

    def _apply(self, conn: Connection, by_sender: Dict[str, List[Dict[str, Any]]]) -> None:
        existing = self._load(conn, list(by_sender))
        inserts, updates, new_intents = [], [], []
        moved: List[Tuple[Contribution, int]] = []
        for sender_id, evs in by_sender.items():
            summary = existing.get(sender_id)
            before: Set[str] = set(summary["fold_state"]["intents"]) if summary else set()
            if summary is None:
                summary = new_summary(sender_id, evs[0].get("timestamp") or time.time())
            else:
                moved.append((contribution(summary), -1))
            for event in evs:
                fold(summary, event)
            moved.append((contribution(summary), 1))
            new_intents += [{"sender_id": sender_id, "intent": i}
                            for i in summary["fold_state"]["intents"] if i not in before]
            row = dict(summary, fold_state=json.dumps(summary["fold_state"], ensure_ascii=False))
            (updates if sender_id in existing else inserts).append(row)
        if inserts:
            conn.execute(db.conversations.insert(), inserts)
        if updates:
            cols = [c for c in updates[0] if c != "sender_id"]
            stmt = (db.conversations.update()
                    .where(db.conversations.c.sender_id == sa.bindparam("b_sender_id"))
                    .values({c: sa.bindparam("b_" + c) for c in cols}))
            conn.execute(stmt, [{"b_" + k: v for k, v in row.items()} for row in updates])
        if new_intents:
            conn.execute(db.conversation_intents.insert(), new_intents)
        move_daily(conn, moved)

    @staticmethod
    def _load(conn: Connection, senders: Sequence[str]) -> Dict[str, Dict[str, Any]]:
        found: Dict[str, Dict[str, Any]] = {}
        columns = [c for c in db.conversations.c if c.name not in ("reviewed_at", "reviewed_by")]
        for start in range(0, len(senders), 500):
            chunk = senders[start:start + 500]
            for row in conn.execute(sa.select(*columns)
                                    .where(db.conversations.c.sender_id.in_(chunk))):
                summary = dict(row._mapping)
                summary["fold_state"] = json.loads(summary["fold_state"])
                found[summary["sender_id"]] = summary
        return found

    def prune(self) -> int:
        """Forget conversations whose events are gone (删除我的记录, retention): summary,
        intents, tags, notes, flags and handoff requests. The audit log keeps its entries."""
        c, e = db.conversations.c, db.events.c
        with self.engine.begin() as conn:
            gone_rows = conn.execute(sa.select(*[c[n] for n in ("sender_id", "last_ts", "city", "services",
                                                                *DAILY[1:])])
                                     .where(~sa.exists().where(e.sender_id == c.sender_id))).fetchall()
            move_daily(conn, [(contribution(dict(r._mapping)), -1) for r in gone_rows])
            gone = [r.sender_id for r in gone_rows]
            for start in range(0, len(gone), 500):
                chunk = gone[start:start + 500]
                for table in (db.conversation_intents, db.conversation_tags, db.notes, db.flags,
                              handoff.requests, db.conversations):
                    conn.execute(table.delete().where(table.c.sender_id.in_(chunk)))
        return len(gone)

    @staticmethod
    def _set_last(conn: Connection, old: int, new: int) -> None:
        if old == 0 and conn.execute(sa.select(db.state.c.key)
                                     .where(db.state.c.key == "last_event_id")).first() is None:
            conn.execute(db.state.insert().values(key="last_event_id", value=str(new)))
        else:
            conn.execute(db.state.update().where(db.state.c.key == "last_event_id")
                         .values(value=str(new)))


def move_daily(conn: Connection, moves: Iterable[Tuple[Contribution, int]]) -> None:
    """Add (sign 1) or take away (sign -1) conversations' contributions to `console_daily`."""
    totals: Dict[Tuple[int, str, str], List[int]] = {}
    for (key, figures), sign in moves:
        into = totals.setdefault(key, [0] * len(DAILY))
        for n, value in enumerate(figures):
            into[n] += sign * value
    d = db.daily.c
    for (day, city, services), delta in totals.items():
        if not any(delta):
            continue
        match = (d.day == day) & (d.city == city) & (d.services == services)
        done = conn.execute(db.daily.update().where(match)
                            .values({name: d[name] + delta[n] for n, name in enumerate(DAILY)}))
        if done.rowcount == 0:
            conn.execute(db.daily.insert().values(day=day, city=city, services=services,
                                                  **dict(zip(DAILY, delta))))
