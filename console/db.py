"""The console's tables, kept in the tracker database next to Rasa's `events`.

One database for both means one backup, one retention rule and one
connection string (`TRACKER_URL`, SQLite by default, PostgreSQL by
configuration). Every console table is prefixed `console_` so it never clashes
with Rasa's. `events` is described here exactly as Rasa creates it, so tests
and the benchmark can write a tracker database without a running bot; the
console itself only reads it.
"""
from __future__ import annotations

from functools import lru_cache

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from common import handoff
from common.handoff import tracker_url  # noqa: F401  (the one definition, shared with the actions)

metadata = sa.MetaData()

# Rasa's SQLTrackerStore table (rasa/core/tracker_store.py), read-only for the console.
events = sa.Table(
    "events", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("sender_id", sa.String(255), nullable=False, index=True),
    sa.Column("type_name", sa.String(255), nullable=False),
    sa.Column("timestamp", sa.Float),
    sa.Column("intent_name", sa.String(255)),
    sa.Column("action_name", sa.String(255)),
    sa.Column("data", sa.Text),
)

users = sa.Table(
    "console_users", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(64), nullable=False, unique=True),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("password_hash", sa.String(255), nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("disabled", sa.Boolean, nullable=False, default=False),
)

# One row per conversation, folded incrementally from new events (console/summary.py).
conversations = sa.Table(
    "console_conversations", metadata,
    sa.Column("sender_id", sa.String(255), primary_key=True),
    sa.Column("channel", sa.String(16), nullable=False),
    sa.Column("city", sa.String(32)),
    sa.Column("first_ts", sa.Float, nullable=False),
    sa.Column("last_ts", sa.Float, nullable=False),
    sa.Column("user_messages", sa.Integer, nullable=False, default=0),
    sa.Column("min_confidence", sa.Float),
    sa.Column("fallback", sa.Boolean, nullable=False, default=False),
    sa.Column("handoff", sa.Boolean, nullable=False, default=False),
    sa.Column("backend_error", sa.Boolean, nullable=False, default=False),
    sa.Column("form_abandoned", sa.Boolean, nullable=False, default=False),
    sa.Column("completed", sa.Boolean, nullable=False, default=False),
    sa.Column("services", sa.Text, nullable=False, default=""),  # display only; filters use intents
    sa.Column("search_text", sa.Text, nullable=False, default=""),  # masked citizen messages
    sa.Column("fold_state", sa.Text, nullable=False, default="{}"),  # where the fold stopped
    sa.Column("reviewed_at", sa.Float),
    sa.Column("reviewed_by", sa.String(64)),
    sa.Index("ix_console_conversations_last_ts", "last_ts"),
    sa.Index("ix_console_conversations_city_last_ts", "city", "last_ts"),
)

conversation_intents = sa.Table(
    "console_conversation_intents", metadata,
    sa.Column("sender_id", sa.String(255), primary_key=True),
    sa.Column("intent", sa.String(64), primary_key=True),
    sa.Index("ix_console_conversation_intents_intent", "intent", "sender_id"),
)

DAILY_FIGURES = ("total", "completed", "fallback", "handoff", "backend_error")
# Conversations per (Asia/Shanghai day of latest activity, city, set of services), with how many
# completed, fell back, asked for a person, met a backend error: the dashboard reads only this.
# The indexer moves each conversation's contribution as its summary changes (console/summary.py).
daily = sa.Table(
    "console_daily", metadata,
    sa.Column("day", sa.Integer, primary_key=True),  # days since 1970-01-01, Beijing time
    sa.Column("city", sa.String(32), primary_key=True),  # "" when unknown
    sa.Column("services", sa.Text, primary_key=True),
    *(sa.Column(name, sa.Integer, nullable=False, default=0) for name in DAILY_FIGURES),
)

tags = sa.Table(
    "console_tags", metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("builtin", sa.Boolean, nullable=False, default=False),
    sa.Column("created_by", sa.String(64)),
)

conversation_tags = sa.Table(
    "console_conversation_tags", metadata,
    sa.Column("sender_id", sa.String(255), primary_key=True),
    sa.Column("tag", sa.String(64), primary_key=True),
    sa.Column("tagged_by", sa.String(64), nullable=False),
    sa.Column("tagged_at", sa.Float, nullable=False),
    sa.Index("ix_console_conversation_tags_tag", "tag", "sender_id"),
)

notes = sa.Table(
    "console_notes", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("sender_id", sa.String(255), nullable=False, index=True),
    sa.Column("author", sa.String(64), nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("text", sa.Text, nullable=False),
)

# Messages staff flagged for trainers: the trainers' inbox (issue 14) reads this table.
flags = sa.Table(
    "console_flags", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("sender_id", sa.String(255), nullable=False, index=True),
    sa.Column("event_id", sa.Integer, nullable=False),  # events.id of the citizen's message
    sa.Column("message_id", sa.String(64)),
    sa.Column("text_masked", sa.Text, nullable=False),
    sa.Column("intent", sa.String(64)),
    sa.Column("confidence", sa.Float),
    sa.Column("reason", sa.Text, nullable=False, default=""),
    sa.Column("flagged_by", sa.String(64), nullable=False),
    sa.Column("flagged_at", sa.Float, nullable=False),
    sa.Column("status", sa.String(16), nullable=False, default="open"),
)

audit = sa.Table(
    "console_audit", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("at", sa.Float, nullable=False, index=True),
    sa.Column("user_name", sa.String(64), nullable=False),
    sa.Column("action", sa.String(32), nullable=False),
    sa.Column("sender_id", sa.String(255)),
    sa.Column("detail", sa.Text, nullable=False, default=""),
)

state = sa.Table(
    "console_state", metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("value", sa.String(255), nullable=False),
)

DEFAULT_TAGS = ("bot_misunderstood", "backend_error", "needs_followup", "complaint", "good_example")


@lru_cache(maxsize=None)
def engine(url: str) -> Engine:
    """One engine per database; SQLite waits for the bot's writes instead of failing."""
    if url.startswith("sqlite"):
        return sa.create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})
    return sa.create_engine(url, pool_pre_ping=True, pool_size=5)


def init(url: str) -> Engine:
    """Create missing tables and the contract's default tags; returns the engine."""
    eng = engine(url)
    metadata.create_all(eng, checkfirst=True)
    handoff.metadata.create_all(eng, checkfirst=True)  # the handoff queue (common/handoff.py)
    with eng.begin() as conn:
        known = {name for (name,) in conn.execute(sa.select(tags.c.name))}
        missing = [{"name": n, "builtin": True, "created_by": None} for n in DEFAULT_TAGS if n not in known]
        if missing:
            conn.execute(tags.insert(), missing)
    return eng
