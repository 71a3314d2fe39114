"""The human handoff queue, shared by the action server (which files requests) and the console
(where staff claim, answer and close them).

It is one table, `handoff_requests`, in the tracker database (`TRACKER_URL`), so every action
server, bot worker and console process sees the same queue without another store. A request is
open until staff hand the conversation back (`closed_at`); at most one open request per
conversation. Claiming is one conditional UPDATE (`... WHERE claimed_by IS NULL`), so two staff
members pressing 接入 at once cannot both get it.

Every step is also an event in the conversation (the request's `action_handoff`, the pause, the
staff's messages marked `handoff_agent`, the resume), so transcripts and the dashboard see it;
this table is only the work list.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Dict, List, Optional

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

metadata = sa.MetaData()

requests = sa.Table(
    "handoff_requests", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("sender_id", sa.String(255), nullable=False, index=True),
    sa.Column("channel", sa.String(16), nullable=False),
    sa.Column("city", sa.String(32)),
    sa.Column("service", sa.String(64)),  # the service intent the citizen was in, if any
    sa.Column("reason", sa.String(32), nullable=False),  # REASONS
    sa.Column("requested_at", sa.Float, nullable=False),
    sa.Column("after_hours", sa.Boolean, nullable=False, default=False),
    sa.Column("claimed_by", sa.String(64)),
    sa.Column("claimed_at", sa.Float),
    sa.Column("closed_at", sa.Float),
    sa.Column("closed_by", sa.String(64)),
    sa.Index("ix_handoff_requests_open", "closed_at", "requested_at"),
)

# Why a conversation reached the queue: the 转人工 button (or any payload), typed words, or the
# citizen accepting the bot's own offer (after a fallback or repeated failed answers).
REASONS = {"button": "点击转人工", "words": "文字要求", "bot_offer": "机器人多次未理解后建议"}
CHANNELS = ("web", "wechat", "rest")


def channel_of(sender_id: str) -> str:
    prefix = sender_id.split(":", 1)[0]
    return prefix if prefix in CHANNELS else "other"


def tracker_url() -> str:
    """The tracker database, as the bot's endpoints.yml reads it."""
    url = os.environ.get("TRACKER_URL")
    if not url:
        from common.secrets import ROOT
        url = f"sqlite:///{ROOT / 'var' / 'tracker.db'}"
    return url


@lru_cache(maxsize=None)
def engine(url: str) -> Engine:
    """One engine per database, the queue's table created if missing; SQLite waits for writers."""
    if url.startswith("sqlite"):
        eng = sa.create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})
    else:
        eng = sa.create_engine(url, pool_pre_ping=True, pool_size=2)
    metadata.create_all(eng, checkfirst=True)
    return eng


@dataclass(frozen=True)
class Filed:
    request_id: int
    position: int  # 1 = next to be answered; 0 = a staff member already has it
    claimed_by: Optional[str]


def _position(conn: Connection, requested_at: float, request_id: int) -> int:
    """How many open, unclaimed requests are ahead of this one, plus one."""
    r = requests.c
    ahead = conn.execute(sa.select(sa.func.count()).select_from(requests).where(
        r.closed_at.is_(None), r.claimed_by.is_(None),
        sa.or_(r.requested_at < requested_at,
               sa.and_(r.requested_at == requested_at, r.id < request_id)))).scalar_one()
    return int(ahead) + 1


def file_request(eng: Engine, sender_id: str, reason: str, city: Optional[str],
                 service: Optional[str], after_hours: bool, now: Optional[float] = None) -> Filed:
    """Queue the conversation, or return its open request (asking twice keeps the place)."""
    r = requests.c
    with eng.begin() as conn:
        row = conn.execute(sa.select(r.id, r.requested_at, r.claimed_by).where(
            r.sender_id == sender_id, r.closed_at.is_(None))).first()
        if row is None:
            at = time.time() if now is None else now
            request_id = conn.execute(requests.insert().values(
                sender_id=sender_id, channel=channel_of(sender_id), city=city or None,
                service=service, reason=reason, requested_at=at, after_hours=after_hours)).inserted_primary_key[0]
            row = (request_id, at, None)
        if row[2]:
            return Filed(row[0], 0, row[2])
        return Filed(row[0], _position(conn, row[1], row[0]), None)


def open_requests(eng: Engine) -> List[Dict[str, Any]]:
    """The queue as staff see it: unclaimed first, oldest first."""
    r = requests.c
    with eng.connect() as conn:
        rows = conn.execute(sa.select(requests).where(r.closed_at.is_(None)).order_by(
            r.claimed_by.is_not(None), r.requested_at, r.id)).mappings().all()
    return [dict(row) for row in rows]


def open_request(eng: Engine, sender_id: str) -> Optional[Dict[str, Any]]:
    r = requests.c
    with eng.connect() as conn:
        row = conn.execute(sa.select(requests).where(
            r.sender_id == sender_id, r.closed_at.is_(None))).mappings().first()
    return dict(row) if row else None


def history(eng: Engine, sender_id: str) -> List[Dict[str, Any]]:
    """Every request of the conversation, oldest first (the transcript shows who answered)."""
    r = requests.c
    with eng.connect() as conn:
        rows = conn.execute(sa.select(requests).where(r.sender_id == sender_id)
                            .order_by(r.requested_at, r.id)).mappings().all()
    return [dict(row) for row in rows]


def claim(eng: Engine, sender_id: str, staff: str, takeover_from: Optional[str] = None) -> bool:
    """Give the open request to `staff`: only if nobody has it, or (an admin's reassignment) if
    `takeover_from` still has it. False when someone else got there first."""
    r = requests.c
    holder = r.claimed_by.is_(None) if takeover_from is None else r.claimed_by == takeover_from
    with eng.begin() as conn:
        done = conn.execute(requests.update().where(
            r.sender_id == sender_id, r.closed_at.is_(None), holder).values(
            claimed_by=staff, claimed_at=time.time())).rowcount
    return done == 1


def unclaim(eng: Engine, sender_id: str, staff: str) -> None:
    """Undo `staff`'s claim (the bot could not be paused, so nobody has the conversation)."""
    r = requests.c
    with eng.begin() as conn:
        conn.execute(requests.update().where(
            r.sender_id == sender_id, r.closed_at.is_(None), r.claimed_by == staff).values(
            claimed_by=None, claimed_at=None))


def close(eng: Engine, sender_id: str, staff: str) -> bool:
    """End the open request (handed back to the bot); False if there was none."""
    r = requests.c
    with eng.begin() as conn:
        done = conn.execute(requests.update().where(
            r.sender_id == sender_id, r.closed_at.is_(None)).values(
            closed_at=time.time(), closed_by=staff)).rowcount
    return done == 1
