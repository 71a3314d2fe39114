"""The trainers' inbox: real citizens' messages not yet in the data, the most useful first.

Read from the tracker's `events` (the latest `SCAN` citizen messages), masked
(`console.pii.masked_message`), and dropped when their normalised text is
already a training or held-out example or a trainer already decided on it.
Usefulness adds up what the bot's own parse says: it fell back, its confidence
was low, the two likeliest intents were close, staff flagged the message, or
its two likeliest intents are a pair that keeps being confused. Messages with
the same normalised text, or nearly the same characters (bigram Jaccard
similarity >= `SIMILAR`), form one group, labelled by one decision.
"""
from __future__ import annotations

import json
import math
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Dict, List, Optional, Set, Tuple

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from console import db
from console.pii import masked_message
from console.training import paths, tables, writer

SCAN = 5000
SIMILAR = 0.6
LOW_CONFIDENCE = 0.6
CLOSE_MARGIN = 0.2
CONFUSED_PAIR = 3  # a pair of close intents seen this often "keeps being confused"


@dataclass
class Message:
    event_id: int
    sender_id: str
    at: float
    text: str  # masked
    key: str
    intent: str
    confidence: float
    margin: float
    pair: Tuple[str, str]
    entities: List[Dict[str, Any]]
    fallback: bool = False  # the bot fell back (intent is then the classifier's best guess)
    flagged: bool = False


@dataclass
class Group:
    key: str
    text: str
    intent: str
    confidence: float
    margin: float
    score: float
    reasons: List[str]
    messages: List[Message] = field(default_factory=list)
    entities: List[Dict[str, Any]] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.messages)


def _top_two(parse: Dict[str, Any]) -> Tuple[str, float, str, float]:
    ranking = [r for r in parse.get("intent_ranking") or [] if r.get("name") != "nlu_fallback"]
    first = ranking[0] if ranking else {"name": "", "confidence": 0.0}
    second = ranking[1] if len(ranking) > 1 else {"name": "", "confidence": 0.0}
    return first["name"], float(first["confidence"] or 0), second["name"], float(second["confidence"] or 0)


@lru_cache(maxsize=2 * SCAN)  # events never change: each is decoded, masked and normalised once
def message_of(event_id: int, sender_id: str, data: str) -> Optional[Message]:
    event = json.loads(data)
    text = (event.get("text") or "").strip()
    if not text or text.startswith("/"):  # buttons send intents, not words
        return None
    parse = event.get("parse_data") or {}
    entities = [e for e in parse.get("entities") or [] if isinstance(e.get("start"), int)]
    masked = masked_message(text, entities)
    said = (parse.get("intent") or {}).get("name") or ""
    first, p1, second, p2 = _top_two(parse)
    shown_entities = [{"start": e["start"], "end": e["end"], "entity": e["entity"],
                       "value": str(e.get("value", ""))} for e in entities
                      if masked[e["start"]:e["end"]] == text[e["start"]:e["end"]]]  # unmasked spans only
    return Message(event_id, sender_id, float(event.get("timestamp") or 0), masked, writer.key(masked),
                   first, p1, p1 - p2, (first, second), shown_entities, fallback=said == "nlu_fallback")


def _known_keys(root: Path) -> Set[str]:
    files = writer.nlu_files(root) + sorted((root / "tests" / "nlu").rglob("*.yml"))
    stamp = tuple((str(p), p.stat().st_mtime) for p in files)
    return _keys_cached(stamp)


@lru_cache(maxsize=4)
def _keys_cached(stamp: Tuple[Tuple[str, float], ...]) -> Set[str]:
    return writer.existing_keys(Path(name) for name, _ in stamp)


def _bigrams(text: str) -> Set[str]:
    return {text[i:i + 2] for i in range(len(text) - 1)} or {text}


def similar(a: str, b: str) -> float:
    x, y = _bigrams(a), _bigrams(b)
    return len(x & y) / len(x | y)


def _merge_similar(ranked: List[Group]) -> List[Group]:
    """Each group joins the first (most useful) earlier group at least SIMILAR alike, found through
    an index of character bigrams: only groups sharing a bigram are compared."""
    merged: List[Group] = []
    grams: List[Set[str]] = []
    index: Dict[str, List[int]] = {}
    for g in ranked:
        mine = _bigrams(g.key)
        shared = Counter(i for gram in mine for i in index.get(gram, ()))
        home = min((i for i, n in shared.items() if n / (len(mine) + len(grams[i]) - n) >= SIMILAR),
                   default=None)
        if home is None:
            for gram in mine:
                index.setdefault(gram, []).append(len(merged))
            merged.append(g)
            grams.append(mine)
        else:
            merged[home].messages += g.messages
            merged[home].reasons += [r for r in g.reasons if r not in merged[home].reasons]
    return merged


def usefulness(m: Message, confused: Set[Tuple[str, ...]]) -> Tuple[float, List[str]]:
    score, reasons = 0.0, []  # type: float, List[str]
    if m.fallback:
        score, reasons = score + 3, reasons + ["兜底"]
    if m.confidence < LOW_CONFIDENCE:
        score, reasons = score + 2 * (1 - m.confidence), reasons + ["置信度低"]
    if m.margin < CLOSE_MARGIN:
        score, reasons = score + 1.5 * (1 - m.margin / CLOSE_MARGIN), reasons + ["前两名接近"]
    if m.flagged:
        score, reasons = score + 3, reasons + ["客服标记"]
    if tuple(sorted(m.pair)) in confused:
        score, reasons = score + 1, reasons + ["常混淆"]
    return score, reasons


def _scan(engine: Engine, limit: int) -> Tuple[List[Message], Set[str], Set[int]]:
    e, d, f = db.events.c, tables.decisions.c, db.flags.c
    with engine.connect() as conn:
        rows = conn.execute(sa.select(e.id, e.sender_id, e.data).where(e.type_name == "user")
                            .order_by(e.id.desc()).limit(limit)).fetchall()
        decided = {k for (k,) in conn.execute(sa.select(d.key))}
        flagged = {i for (i,) in conn.execute(sa.select(f.event_id).where(f.status == "open"))}
    found = [m for m in (message_of(r.id, r.sender_id, r.data) for r in rows) if m is not None]
    return found, decided, flagged


def groups(engine: Engine, root: Optional[Path] = None, limit: int = SCAN) -> List[Group]:
    """The inbox, most useful group first."""
    messages, decided, flagged = _scan(engine, limit)
    known = _known_keys(root or paths.training_root()) | decided
    messages = [m for m in messages if m.key and m.key not in known]
    pairs = Counter(tuple(sorted(m.pair)) for m in messages if m.margin < CLOSE_MARGIN and m.pair[1])
    confused = {p for p, n in pairs.items() if n >= CONFUSED_PAIR}
    by_key: Dict[str, Group] = {}
    for m in messages:  # newest first: the newest wording represents its group
        m.flagged = m.event_id in flagged
        score, reasons = usefulness(m, confused)
        g = by_key.get(m.key)
        if g is None:
            g = by_key[m.key] = Group(m.key, m.text, m.intent, m.confidence, m.margin, 0.0, [],
                                      entities=m.entities)
        g.messages.append(m)
        g.score = max(g.score, score)
        g.reasons += [r for r in reasons if r not in g.reasons]
    merged = _merge_similar(sorted(by_key.values(), key=lambda g: -g.score))
    for g in merged:
        g.score += math.log2(len({m.sender_id for m in g.messages}))
        g.confidence = min(m.confidence for m in g.messages)
    return sorted(merged, key=lambda g: (-g.score, g.key))


def find(engine: Engine, key: str, root: Optional[Path] = None) -> Optional[Group]:
    return next((g for g in groups(engine, root) if g.key == key), None)
