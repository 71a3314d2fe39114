"""What staff do to a conversation: tag, note, mark reviewed, flag a message, and the audit log."""
from __future__ import annotations

import json
import re
import time
from typing import Any, List, Optional

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from common.privacy import mask_text
from console import db
from console.pii import masked_message

TAG_NAME = re.compile(r"^[a-z][a-z0-9_]{1,40}$")


class ActError(ValueError):
    """A refused action; the message is shown to staff (Chinese)."""


def write_audit(engine: Engine, user: str, action: str, sender_id: Optional[str], detail: str) -> None:
    with engine.begin() as conn:
        conn.execute(db.audit.insert().values(at=time.time(), user_name=user, action=action,
                                              sender_id=sender_id, detail=detail))


def audit_entries(engine: Engine, user: str = "", action: str = "", limit: int = 500) -> List[Any]:
    a = db.audit.c
    query = sa.select(db.audit).order_by(a.at.desc()).limit(limit)
    if user:
        query = query.where(a.user_name == user)
    if action:
        query = query.where(a.action == action)
    with engine.connect() as conn:
        return conn.execute(query).fetchall()


def _exists(engine: Engine, sender_id: str) -> None:
    with engine.connect() as conn:
        if conn.execute(sa.select(db.conversations.c.sender_id)
                        .where(db.conversations.c.sender_id == sender_id)).first() is None:
            raise ActError("没有这个会话")


def set_tag(engine: Engine, user: str, sender_id: str, tag: str, present: bool) -> None:
    _exists(engine, sender_id)
    t = db.conversation_tags.c
    with engine.begin() as conn:
        if conn.execute(sa.select(db.tags.c.name).where(db.tags.c.name == tag)).first() is None:
            raise ActError(f"没有标签 {tag}（管理员可在“标签”页添加）")
        conn.execute(db.conversation_tags.delete().where(t.sender_id == sender_id).where(t.tag == tag))
        if present:
            conn.execute(db.conversation_tags.insert().values(sender_id=sender_id, tag=tag,
                                                              tagged_by=user, tagged_at=time.time()))


def create_tag(engine: Engine, user: str, name: str) -> None:
    if not TAG_NAME.match(name):
        raise ActError("标签名用小写英文字母、数字和下划线，以字母开头，2 到 41 个字符")
    with engine.begin() as conn:
        if conn.execute(sa.select(db.tags.c.name).where(db.tags.c.name == name)).first():
            raise ActError(f"标签 {name} 已存在")
        conn.execute(db.tags.insert().values(name=name, builtin=False, created_by=user))


def add_note(engine: Engine, user: str, sender_id: str, text: str) -> None:
    text = text.strip()
    if not text or len(text) > 2000:
        raise ActError("备注不能为空，最长 2000 个字符")
    _exists(engine, sender_id)
    with engine.begin() as conn:
        conn.execute(db.notes.insert().values(sender_id=sender_id, author=user,
                                              created_at=time.time(), text=mask_text(text)))


def set_reviewed(engine: Engine, user: str, sender_id: str, reviewed: bool) -> None:
    _exists(engine, sender_id)
    with engine.begin() as conn:
        conn.execute(db.conversations.update().where(db.conversations.c.sender_id == sender_id)
                     .values(reviewed_at=time.time() if reviewed else None,
                             reviewed_by=user if reviewed else None))


def flag_message(engine: Engine, user: str, sender_id: str, event_id: int, reason: str) -> None:
    """Put a citizen's message in the trainers' inbox (masked, with what the bot understood)."""
    e, f = db.events.c, db.flags.c
    with engine.begin() as conn:
        row = conn.execute(sa.select(e.data).where(e.id == event_id).where(e.sender_id == sender_id)
                           .where(e.type_name == "user")).first()
        if row is None:
            raise ActError("这条消息不存在，或不是市民发的消息")
        if conn.execute(sa.select(f.id).where(f.event_id == event_id)).first():
            raise ActError("这条消息已经标记过了")
        event = json.loads(row.data)
        parse = event.get("parse_data") or {}
        intent = parse.get("intent") or {}
        conn.execute(db.flags.insert().values(
            sender_id=sender_id, event_id=event_id,
            message_id=event.get("message_id") or parse.get("message_id"),
            text_masked=masked_message(event.get("text") or "", parse.get("entities") or []),
            intent=intent.get("name"), confidence=intent.get("confidence"),
            reason=mask_text(reason.strip()[:500]), flagged_by=user, flagged_at=time.time(), status="open"))


def open_flags(engine: Engine, limit: int = 200) -> List[Any]:
    f = db.flags.c
    with engine.connect() as conn:
        return conn.execute(sa.select(db.flags).where(f.status == "open")
                            .order_by(f.flagged_at.desc()).limit(limit)).fetchall()
