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
from cachetools import TTLCache, cached
from sqlalchemy.engine import Connection
from sqlalchemy.sql.elements import ColumnElement

from console import db
from console.summary import CONVERSATION_INTENTS, DAILY

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

    def conditions(self, conn: Connection) -> List[ColumnElement]:
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
            where.append(_member(conn, db.conversation_intents.c.intent, self.intent))
        if self.tag:
            where.append(_member(conn, db.conversation_tags.c.tag, self.tag))
        if self.q:  # a plain substring test: faster than LIKE, and no wildcards to escape
            find = sa.func.strpos if conn.dialect.name == "postgresql" else sa.func.instr
            where.append(find(C.search_text, self.q) > 0)
        return where

    def order(self) -> List[ColumnElement]:
        """Newest first. With a text search the whole table is read anyway, and reading it
        in storage order then sorting beats following the time index row by row (SQLite)."""
        newest = (C.last_ts + 0) if self.q else C.last_ts
        return [newest.desc(), C.sender_id.desc()]


SELECTIVE = 2000  # fewer matching rows than this: look them up, do not scan for them


def _member(conn: Connection, column: sa.Column, value: str) -> ColumnElement:
    """Conversations with `value` in a (sender_id, value) table: looked up when few have it,
    checked row by row along the time index when many do (both plans measured)."""
    table = column.table
    chosen = sa.select(table.c.sender_id).where(column == value)
    few = conn.execute(sa.select(sa.func.count()).select_from(chosen.limit(SELECTIVE).subquery())).scalar()
    if few < SELECTIVE:
        return C.sender_id.in_(chosen)
    return sa.exists().where(table.c.sender_id == C.sender_id).where(column == value)


LIST_COLUMNS = [C.sender_id, C.channel, C.city, C.first_ts, C.last_ts, C.user_messages,
                C.min_confidence, C.fallback, C.handoff, C.backend_error, C.form_abandoned,
                C.completed, C.services, C.reviewed_at, C.reviewed_by]


def list_page(conn: Connection, filters: Filters) -> Tuple[List[Dict[str, Any]], bool]:
    """One page, newest activity first; and whether a next page exists (no COUNT of all rows)."""
    offset = (filters.page - 1) * PAGE_SIZE
    rows = conn.execute(sa.select(*LIST_COLUMNS).where(*filters.conditions(conn))
                        .order_by(*filters.order())
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
    rows = conn.execute(sa.select(*LIST_COLUMNS, C.search_text).where(*filters.conditions(conn))
                        .order_by(*filters.order()).limit(limit)).fetchall()
    items = [dict(r._mapping) for r in rows]
    for start in range(0, len(items), 500):
        attach_tags(conn, items[start:start + 500])
    return items


@cached(TTLCache(maxsize=8, ttl=60), key=lambda conn: str(conn.engine.url))
def _seen(conn: Connection) -> Dict[str, List[str]]:
    """Cities and intents seen: a scan of the summary, so computed once a minute, not per page."""
    i = db.conversation_intents.c
    return {
        "cities": [c for (c,) in conn.execute(sa.select(C.city).where(C.city.isnot(None)).distinct()
                                              .order_by(C.city))],
        "intents": [n for (n,) in conn.execute(sa.select(i.intent).distinct().order_by(i.intent))],
    }


def known_values(conn: Connection) -> Dict[str, List[str]]:
    """Choices for the filter form's selects (tags always current: an admin just added one)."""
    seen = _seen(conn)
    return {**seen, "services": [i for i in seen["intents"] if i not in CONVERSATION_INTENTS],
            "tags": [n for (n,) in conn.execute(sa.select(db.tags.c.name).order_by(db.tags.c.name))]}


def dashboard(conn: Connection, city: str, intent: str, days: int) -> Dict[str, Any]:
    """Per day: conversations and the rates, for one city/service or all; plus a city x service table.

    Read from `console_daily` (a few rows per day and city, kept by the indexer),
    split per service here: a grouped scan of 100,000 summaries took about a
    second on the loaded benchmark machine (docs/benchmarks.md).
    """
    first = today() - dt.timedelta(days=days - 1)
    d = db.daily.c
    epoch = dt.date(1970, 1, 1)
    where: List[ColumnElement] = [d.day >= (first - epoch).days]
    if city:
        where.append(d.city == city)
    empty = dict.fromkeys(DAILY, 0)
    by_day: Dict[int, Dict[str, int]] = {}
    table: Dict[Tuple[str, str], Dict[str, int]] = {}
    for g in conn.execute(sa.select(db.daily).where(*where)):
        services = g.services.split()
        figures = {k: int(getattr(g, k)) for k in DAILY}
        if not intent or intent in services:
            _add(by_day.setdefault(g.day, dict(empty)), figures)
        for service in services:
            _add(table.setdefault((g.city, service), dict(empty)), figures)
    series = [{"date": (first + dt.timedelta(days=n)).isoformat(),
               **by_day.get((first + dt.timedelta(days=n) - epoch).days, empty)} for n in range(days)]
    rows = [{"city": c, "intent": i, **f} for (c, i), f in table.items() if f["total"]]
    rows.sort(key=lambda r: (r["city"], -r["total"]))
    return {"first": first.isoformat(), "last": today().isoformat(), "series": series, "table": rows}


def _add(into: Dict[str, int], figures: Dict[str, int]) -> None:
    for key, value in figures.items():
        into[key] += value


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
