"""What the pages ask of the database: the filtered list, the dashboard, one conversation.

Every query reads the summary tables (console/summary.py), never all of
`events`; only the transcript of one conversation reads its own events through
Rasa's `sender_id` index. Days are Asia/Shanghai days, and a conversation
belongs to the day of its latest activity.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, fields
from typing import Any, Dict, List, Mapping, Optional, Tuple
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.sql.elements import ColumnElement

from console import db
from console.summary import CONVERSATION_INTENTS

TZ = ZoneInfo("Asia/Shanghai")
PAGE_SIZE = 50
FLAGS = ("fallback", "handoff", "backend_error", "form_abandoned")
C = db.conversations.c


def day_start(day: dt.date) -> float:
    return dt.datetime.combine(day, dt.time(), TZ).timestamp()


def today() -> dt.date:
    return dt.datetime.now(TZ).date()


def clock(ts: Optional[float], fmt: str = "%Y-%m-%d %H:%M") -> str:
    """A timestamp as staff read it, in Asia/Shanghai."""
    return dt.datetime.fromtimestamp(ts, TZ).strftime(fmt) if ts else ""


def iso(ts: Optional[float]) -> str:
    return dt.datetime.fromtimestamp(ts, TZ).isoformat(timespec="seconds") if ts else ""


def _date(text: str) -> Optional[dt.date]:
    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        return None


def _float(text: str) -> Optional[float]:
    try:
        return float(text)
    except ValueError:
        return None


@dataclass
class Filters:
    """The list's filters, as typed in the form and carried in links (no personal data)."""
    city: str = ""
    channel: str = ""
    intent: str = ""
    date_from: str = ""
    date_to: str = ""
    below: str = ""
    fallback: str = ""
    handoff: str = ""
    backend_error: str = ""
    form_abandoned: str = ""
    completed: str = ""
    tag: str = ""
    reviewed: str = ""
    q: str = ""
    page: int = 1
    errors: List[str] = field(default_factory=list)

    @classmethod
    def from_params(cls, params: Mapping[str, str]) -> "Filters":
        values: Dict[str, Any] = {f.name: str(params.get(f.name, "")).strip()[:100]
                                  for f in fields(cls) if f.name not in ("page", "errors")}
        page = str(params.get("page", "1"))
        values["page"] = max(1, min(int(page), 10000)) if page.isdigit() else 1
        found = cls(**values)
        if found.date_from and _date(found.date_from) is None:
            found.errors.append("开始日期格式应为 YYYY-MM-DD")
        if found.date_to and _date(found.date_to) is None:
            found.errors.append("结束日期格式应为 YYYY-MM-DD")
        if found.below and _float(found.below) is None:
            found.errors.append("置信度阈值应为 0 到 1 之间的数字")
        return found

    def query(self, **override: Any) -> str:
        """The query string of these filters (page dropped unless overridden)."""
        values = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in ("page", "errors")}
        values.update(override)
        if values.get("page") == 1:
            del values["page"]
        return urlencode({k: v for k, v in values.items() if v not in ("", None)})

    def conditions(self) -> List[ColumnElement]:
        where: List[ColumnElement] = []
        for name in ("city", "channel"):
            if getattr(self, name):
                where.append(C[name] == getattr(self, name))
        start, end = _date(self.date_from), _date(self.date_to)
        if start:
            where.append(C.last_ts >= day_start(start))
        if end:
            where.append(C.last_ts < day_start(end + dt.timedelta(days=1)))
        below = _float(self.below) if self.below else None
        if below is not None:
            where.append(C.min_confidence < below)
        for name in FLAGS:
            if getattr(self, name) in ("1", "0"):
                where.append(C[name] == (getattr(self, name) == "1"))
        if self.completed in ("1", "0"):
            where.append(C.completed == (self.completed == "1"))
        if self.reviewed == "yes":
            where.append(C.reviewed_at.isnot(None))
        elif self.reviewed == "no":
            where.append(C.reviewed_at.is_(None))
        if self.intent:
            i = db.conversation_intents.c
            where.append(sa.exists().where(i.sender_id == C.sender_id).where(i.intent == self.intent))
        if self.tag:
            t = db.conversation_tags.c
            where.append(sa.exists().where(t.sender_id == C.sender_id).where(t.tag == self.tag))
        if self.q:
            escaped = self.q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            where.append(C.search_text.like(f"%{escaped}%", escape="\\"))
        return where


LIST_COLUMNS = [C.sender_id, C.channel, C.city, C.first_ts, C.last_ts, C.user_messages,
                C.min_confidence, C.fallback, C.handoff, C.backend_error, C.form_abandoned,
                C.completed, C.services, C.reviewed_at, C.reviewed_by]


def list_page(conn: Connection, filters: Filters) -> Tuple[List[Dict[str, Any]], bool]:
    """One page, newest activity first; and whether a next page exists (no COUNT of all rows)."""
    offset = (filters.page - 1) * PAGE_SIZE
    rows = conn.execute(sa.select(*LIST_COLUMNS).where(*filters.conditions())
                        .order_by(C.last_ts.desc(), C.sender_id.desc())
                        .limit(PAGE_SIZE + 1).offset(offset)).fetchall()
    items = [dict(r._mapping) for r in rows[:PAGE_SIZE]]
    attach_tags(conn, items)
    return items, len(rows) > PAGE_SIZE


def attach_tags(conn: Connection, items: List[Dict[str, Any]]) -> None:
    by_id = {item["sender_id"]: item for item in items}
    for item in items:
        item["tags"] = []
    if not by_id:
        return
    t = db.conversation_tags.c
    for sender_id, tag in conn.execute(sa.select(t.sender_id, t.tag).where(t.sender_id.in_(list(by_id)))
                                       .order_by(t.tag)):
        by_id[sender_id]["tags"].append(tag)


def export_rows(conn: Connection, filters: Filters, limit: int = 100000) -> List[Dict[str, Any]]:
    """Every matching conversation (masked summary columns), newest first."""
    rows = conn.execute(sa.select(*LIST_COLUMNS, C.search_text).where(*filters.conditions())
                        .order_by(C.last_ts.desc()).limit(limit)).fetchall()
    items = [dict(r._mapping) for r in rows]
    for start in range(0, len(items), 500):
        attach_tags(conn, items[start:start + 500])
    return items


def known_values(conn: Connection) -> Dict[str, List[str]]:
    """Choices for the filter form's selects."""
    i = db.conversation_intents.c
    return {
        "cities": [c for (c,) in conn.execute(sa.select(C.city).where(C.city.isnot(None)).distinct()
                                              .order_by(C.city))],
        "intents": [n for (n,) in conn.execute(sa.select(i.intent).distinct().order_by(i.intent))],
        "tags": [n for (n,) in conn.execute(sa.select(db.tags.c.name).order_by(db.tags.c.name))],
    }


def _count(condition: ColumnElement) -> ColumnElement:
    return sa.func.sum(sa.case((condition, 1), else_=0))


def _day_number(conn: Connection) -> ColumnElement:
    """Days since the epoch in Asia/Shanghai (UTC+8, no daylight saving)."""
    shifted = (C.last_ts + 8 * 3600) / 86400
    if conn.dialect.name == "postgresql":
        return sa.cast(sa.func.floor(shifted), sa.Integer)
    return sa.cast(shifted, sa.Integer)  # SQLite's CAST truncates, and timestamps are positive


RATES = ("completed", "fallback", "handoff", "backend_error")


def dashboard(conn: Connection, city: str, intent: str, days: int) -> Dict[str, Any]:
    """Per day: conversations and the rates, for one city/service or all; plus a city x service table."""
    first = today() - dt.timedelta(days=days - 1)
    where: List[ColumnElement] = [C.last_ts >= day_start(first)]
    if city:
        where.append(C.city == city)
    i = db.conversation_intents.c
    if intent:
        where.append(sa.exists().where(i.sender_id == C.sender_id).where(i.intent == intent))
    day = _day_number(conn).label("day")
    counts = [sa.func.count().label("total")] + [_count(C[r]).label(r) for r in RATES]
    by_day = {row.day: row for row in conn.execute(sa.select(day, *counts).where(*where).group_by(day))}
    epoch = dt.date(1970, 1, 1)
    series = []
    for n in range(days):
        date = first + dt.timedelta(days=n)
        row = by_day.get((date - epoch).days)
        series.append({"date": date.isoformat(), "total": row.total if row else 0,
                       **{r: (getattr(row, r) or 0) if row else 0 for r in RATES}})
    table_where = [C.last_ts >= day_start(first), i.sender_id == C.sender_id,
                   i.intent.notin_(sorted(CONVERSATION_INTENTS))]
    if city:
        table_where.append(C.city == city)
    table = conn.execute(sa.select(C.city, i.intent, *counts).where(*table_where)
                         .group_by(C.city, i.intent).order_by(C.city, sa.desc("total"))).fetchall()
    return {"first": first.isoformat(), "last": today().isoformat(), "series": series,
            "table": [dict(r._mapping) for r in table]}


def conversation(conn: Connection, sender_id: str) -> Optional[Dict[str, Any]]:
    row = conn.execute(sa.select(*LIST_COLUMNS).where(C.sender_id == sender_id)).first()
    if row is None:
        return None
    item = dict(row._mapping)
    attach_tags(conn, [item])
    n, f = db.notes.c, db.flags.c
    item["notes"] = conn.execute(sa.select(db.notes).where(n.sender_id == sender_id)
                                 .order_by(n.created_at)).fetchall()
    item["flags"] = {r.event_id: r for r in conn.execute(sa.select(db.flags)
                                                          .where(f.sender_id == sender_id))}
    return item


def conversation_events(conn: Connection, sender_id: str) -> List[Tuple[int, str]]:
    e = db.events.c
    return conn.execute(sa.select(e.id, e.data).where(e.sender_id == sender_id).order_by(e.id)).fetchall()
