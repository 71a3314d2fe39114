"""Trainers' decisions on inbox groups, new intents, and writing a batch into the data.

A decision covers every distinct wording of its group: `train` (into
`data/nlu/`), `heldout` (into `tests/nlu/heldout.yml`, scored, never trained
on) or `discard`. Entities marked on the group's message are carried to the
other wordings that contain the same characters. Decisions wait in
`console_inbox_decisions` until the trainer writes the batch: one edit of the
YAML files and one git commit authored by that trainer.
"""
from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import sqlalchemy as sa
import yaml
from sqlalchemy.engine import Engine

from console import db
from console.training import tables, writer
from console.training.inbox import Group

ACTIONS = ("train", "heldout", "discard")
MIN_EXAMPLES = 10
INTENT_NAME = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$")
FAQ_NAME = re.compile(r"^faq/[a-z][a-z0-9]*(_[a-z0-9]+)*$")
RESERVED = {"nlu_fallback", "faq", "restart", "back", "out_of_scope", "session_start"}


class LabelError(ValueError):
    """A refused label; the message is shown to the trainer (Chinese)."""


def domain_intents(root: Path) -> List[str]:
    domain = yaml.safe_load((root / "domain.yml").read_text(encoding="utf-8"))
    return [i if isinstance(i, str) else next(iter(i)) for i in domain.get("intents", [])]


def known_intents(root: Path) -> List[str]:
    """The intents a message can be labelled with: the domain's, and `faq/<topic>` for each topic."""
    topics = set()
    for path in writer.nlu_files(root):
        topics |= {f"faq/{t}" for t in re.findall(r"^- intent: *faq/(\S+)", path.read_text(encoding="utf-8"),
                                                  re.M)}
    return sorted(set(domain_intents(root)) - {"faq"} | topics)


def _carry(text: str, marked: str, entities: Sequence[writer.Entity]) -> str:
    """`text` with the marked spans of the group's message wherever the same characters occur."""
    carried: List[writer.Entity] = []
    for e in entities:
        at = text.find(marked[e.start:e.end])
        if at >= 0 and all(at >= c.end or at + e.end - e.start <= c.start for c in carried):
            carried.append(writer.Entity(at, at + e.end - e.start, e.entity, e.value))
    return writer.markup(text, carried)


def decide(engine: Engine, root: Path, user: str, group: Group, action: str, intent: str,
           entities: Sequence[writer.Entity] = ()) -> int:
    """Record one decision for the group; returns how many wordings it labelled."""
    if action not in ACTIONS:
        raise LabelError("未知操作")
    if action != "discard" and intent not in known_intents(root):
        raise LabelError(f"没有意图 {intent}：请从列表中选择，或先新建意图")
    if any("*" in group.text[e.start:e.end] for e in entities):
        raise LabelError("脱敏的字符（*）不能标为实体")
    texts: Dict[str, Tuple[str, Optional[str]]] = {}
    for m in group.messages:
        texts.setdefault(m.key, (m.text, m.intent))
    now, flag_ids = time.time(), [m.event_id for m in group.messages]
    with engine.begin() as conn:
        for key, (text, predicted) in texts.items():
            try:
                labelled = _carry(text, group.text, entities) if text != group.text else \
                    writer.markup(text, entities)
            except ValueError as bad:
                raise LabelError(str(bad)) from bad
            conn.execute(tables.decisions.delete().where(tables.decisions.c.key == key))
            conn.execute(tables.decisions.insert().values(
                key=key, text=labelled, action=action, intent=None if action == "discard" else intent,
                predicted=predicted, decided_by=user, decided_at=now))
        conn.execute(db.flags.update().where(db.flags.c.event_id.in_(flag_ids))
                     .values(status="discarded" if action == "discard" else "labelled"))
    return len(texts)


def pending(engine: Engine, user: Optional[str] = None) -> List[Any]:
    d = tables.decisions.c
    query = sa.select(tables.decisions).where(d.written_at.is_(None)).where(d.action != "discard")
    if user:
        query = query.where(d.decided_by == user)
    with engine.connect() as conn:
        return conn.execute(query.order_by(d.decided_at)).fetchall()


def write_batch(engine: Engine, root: Path, user: str) -> Tuple[List[Path], Optional[str], int]:
    """The trainer's pending decisions into the YAML files, one commit; (files, commit, examples)."""
    rows = pending(engine, user)
    files: List[Path] = []
    for heldout in (False, True):
        chosen = [(r.intent, r.text) for r in rows if (r.action == "heldout") == heldout]
        if chosen:
            files += writer.write(root, chosen, heldout)
    intents = sorted({r.intent for r in rows})
    message = (f"Trainer {user}: {len(rows)} labelled messages from the inbox ({', '.join(intents)})"
               if rows else "")
    sha = writer.commit(root, files, user, message) if files else None
    with engine.begin() as conn:
        conn.execute(tables.decisions.update().where(tables.decisions.c.key.in_([r.key for r in rows]))
                     .values(written_at=time.time(), commit=sha))
    return files, sha, len(rows)


def check_new_intent(root: Path, name: str) -> None:
    if not (INTENT_NAME.match(name) or FAQ_NAME.match(name)) or len(name) > 64:
        raise LabelError("意图名用小写英文单词加下划线（如 query_parking），faq 主题写 faq/<主题>")
    if name in RESERVED or name in known_intents(root):
        raise LabelError(f"意图 {name} 已存在或是保留名")


def add_to_domain(root: Path, name: str) -> None:
    """Append the intent to domain.yml's `intents:` list, as text (comments and order kept)."""
    if name.startswith("faq/"):
        return  # topics live under the retrieval intent faq
    path = root / "domain.yml"
    lines = path.read_text(encoding="utf-8").splitlines()
    start = lines.index("intents:")
    end = start + 1
    while end < len(lines) and lines[end].startswith("  - "):
        end += 1
    lines.insert(end, f"  - {name}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def new_intent(engine: Engine, root: Path, user: str, name: str, description: str,
               examples: Sequence[str]) -> int:
    """An intent the contract does not have yet: into the domain, its examples pending for the batch."""
    name = name.strip()
    check_new_intent(root, name)
    texts = list(dict.fromkeys(" ".join(t.split()) for t in examples if t.strip()))
    if len(texts) < MIN_EXAMPLES:
        raise LabelError(f"新意图至少需要 {MIN_EXAMPLES} 个不同的例句（现在 {len(texts)} 个）")
    add_to_domain(root, name)
    now = time.time()
    with engine.begin() as conn:
        for text in texts:
            conn.execute(tables.decisions.delete().where(tables.decisions.c.key == writer.key(text)))
            conn.execute(tables.decisions.insert().values(
                key=writer.key(text), text=text, action="train", intent=name, predicted=None,
                decided_by=user, decided_at=now))
    return len(texts)


def still_needed(root: Path, name: str) -> List[Tuple[str, bool]]:
    """What the bot needs besides examples to answer a new intent, and whether it is there."""
    domain = (root / "domain.yml").read_text(encoding="utf-8")
    rules = "".join(p.read_text(encoding="utf-8") for p in sorted((root / "data").rglob("*.yml"))
                    if "nlu" not in p.parts)
    response = f"utter_{name}"
    return [
        (f"domain.yml 里的回复 {response}（或一个自定义动作）", f"  {response}:" in domain),
        (f"data/rules/ 里的规则：intent {name} → 回复或表单", f"intent: {name}" in rules),
        ("要收集信息（车牌、日期…）时：common/services.yml 里的表单和槽位", False),
    ]


def example_counts(root: Path) -> Dict[str, int]:
    counts: Dict[str, int] = {}
    for path in writer.nlu_files(root):
        lines = path.read_text(encoding="utf-8").splitlines()
        for intent, (start, end) in writer._blocks(lines).items():
            counts[intent] = counts.get(intent, 0) + sum(1 for line in lines[start:end]
                                                         if line.startswith("    - "))
    return counts


def too_few(root: Path) -> Dict[str, int]:
    """Intents with fewer than MIN_EXAMPLES training examples: training refuses them."""
    return {i: n for i, n in example_counts(root).items() if n < MIN_EXAMPLES and not i.startswith("faq/")}
