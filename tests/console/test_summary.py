"""The conversation summary: what it reads from Rasa's events, folded incrementally, on SQLite and PostgreSQL."""
from __future__ import annotations

import random
import time
from typing import Any, Dict

import sqlalchemy as sa

from console import db, queries, seed
from console.pii import masked_message
from console.summary import Indexer

FLAGS = ("fallback", "handoff", "backend_error", "form_abandoned", "completed")
EXPECTED = {
    "violation": {"completed"}, "appointment": {"completed"}, "fallback": {"fallback"},
    "handoff": {"handoff"}, "backend_error": {"backend_error"}, "abandoned": {"form_abandoned"},
}


def summaries(url: str) -> Dict[str, Dict[str, Any]]:
    with db.engine(url).connect() as conn:
        return {r.sender_id: dict(r._mapping) for r in conn.execute(sa.select(db.conversations))}


def test_each_kind_of_conversation_sets_exactly_its_flags(database: str) -> None:
    engine = db.init(database)
    for kind in seed.KINDS:
        seed.write(engine, f"wechat:{kind}", seed.conversation(kind, "深圳", time.time(), random.Random(1)))
    Indexer(engine).run_until_current()
    found = summaries(database)
    for kind, flags in EXPECTED.items():
        row = found[f"wechat:{kind}"]
        assert {f for f in FLAGS if row[f]} == flags, kind
        assert (row["channel"], row["city"]) == ("wechat", "深圳")
    assert "440301199001011234" not in found["wechat:appointment"]["search_text"]
    assert "13812345678" not in found["wechat:appointment"]["search_text"]


def test_folding_in_small_batches_gives_the_same_summary_as_at_once(database: str, tmp_path: Any) -> None:
    """Events arriving a few at a time (the live case) end in the same row as one big fold."""
    whole_url = f"sqlite:///{tmp_path / 'whole.db'}"
    piecemeal, whole = db.init(database), db.init(whole_url)
    rng = random.Random(5)
    conversations = {f"web:c{n}": seed.conversation(kind, "武汉", time.time() + n, rng)
                     for n, kind in enumerate(list(seed.KINDS) * 2)}
    for sender, events in conversations.items():
        seed.write(whole, sender, events)
    Indexer(whole).run_until_current()
    indexer = Indexer(piecemeal, batch=7)
    for start in range(0, 100, 3):  # interleave the conversations, three events at a time
        for sender, events in conversations.items():
            if events[start:start + 3]:
                seed.write(piecemeal, sender, events[start:start + 3])
        indexer.run_once()
    indexer.run_until_current()
    skip = {"fold_state"}
    assert ({k: {c: v for c, v in row.items() if c not in skip} for k, row in summaries(database).items()}
            == {k: {c: v for c, v in row.items() if c not in skip} for k, row in summaries(whole_url).items()})
    assert daily(database) == daily(whole_url)  # each conversation counted once, where it ended
    with piecemeal.connect() as conn:
        intents = conn.execute(sa.select(sa.func.count()).select_from(db.conversation_intents)).scalar()
    assert intents == sum(len(seed_intents(events)) for events in conversations.values())


def daily(url: str) -> set:
    with db.engine(url).connect() as conn:
        return {tuple(r) for r in conn.execute(sa.select(db.daily)) if r.total}


def seed_intents(events: list) -> set:
    return {e["parse_data"]["intent"]["name"] for e in events if e["event"] == "user"}


def test_filters_on_the_database_match_the_seeded_facts(database: str) -> None:
    engine = db.init(database)
    rng = random.Random(9)
    lowest = {}
    for n, kind in enumerate(seed.KINDS):
        events = seed.conversation(kind, seed.CITIES[n % 5], time.time() - n * 3600, rng)
        seed.write(engine, f"rest:{kind}", events)
        lowest[f"rest:{kind}"] = min(e["parse_data"]["intent"]["confidence"] for e in events if e["event"] == "user")
    Indexer(engine).run_until_current()

    def ids(**params: str) -> list:
        with engine.connect() as conn:
            return [r["sender_id"] for r in queries.list_page(conn, queries.Filters.from_params(params))[0]]

    assert ids() == [f"rest:{k}" for k in seed.KINDS]  # newest first
    assert ids(intent="human_handoff") == ["rest:handoff"]
    assert ids(q="咋整") == ["rest:fallback"]
    assert ids(q="100%_") == []  # LIKE wildcards typed by staff are matched literally
    assert set(ids(below="0.45")) == {sender for sender, low in lowest.items() if low < 0.45}
    assert "rest:fallback" in ids(below="0.31") and "rest:appointment" not in ids(below="0.45")
    with engine.connect() as conn:
        board = queries.dashboard(conn, "", "", 2)
    assert sum(day["total"] for day in board["series"]) == len(seed.KINDS)
    assert sum(day["fallback"] for day in board["series"]) == 1


def test_masking_covers_what_the_contract_calls_personal_data() -> None:
    text = "身份证44030119900101123X 手机13912345678 车牌粤B12345 户号1234567890 我叫王芳 发动机号A12345"
    masked = masked_message(text, [{"entity": "engine_number", "value": "A12345"}])
    for raw in ("44030119900101123X", "13912345678", "粤B12345", "1234567890", "王芳", "A12345"):
        assert raw not in masked
    assert masked.startswith("身份证4403")


def test_stored_events_are_sealed_and_the_summary_never_holds_the_plain_values(tmp_path: Any) -> None:
    url = f"sqlite:///{tmp_path / 'tracker.db'}"
    engine = db.init(url)
    seed.write(engine, "web:sealed", seed.conversation("appointment", "广州", time.time(), random.Random(2)))
    Indexer(engine).run_until_current()
    with engine.connect() as conn:
        stored = " ".join(d for (d,) in conn.execute(sa.select(db.events.c.data)))
    assert "440301199001011234" not in stored and "sealed" in stored
    assert "4403**********1234" in summaries(url)["web:sealed"]["search_text"]


def test_an_erased_conversation_leaves_every_console_table(database: str) -> None:
    engine = db.init(database)
    for sender in ("web:keep", "web:erase"):
        seed.write(engine, sender, seed.conversation("fallback", "上海", time.time(), random.Random(4)))
    indexer = Indexer(engine)
    indexer.run_until_current()
    with engine.begin() as conn:
        conn.execute(db.conversation_tags.insert().values(sender_id="web:erase", tag="complaint",
                                                          tagged_by="t", tagged_at=0.0))
        conn.execute(db.events.delete().where(db.events.c.sender_id == "web:erase"))  # 删除我的记录
    assert indexer.prune() == 1
    assert set(summaries(database)) == {"web:keep"}
    assert sum(row[3] for row in daily(database)) == 1  # the dashboard forgets it too
    with engine.connect() as conn:
        for table in (db.conversation_intents, db.conversation_tags):
            assert {s for (s,) in conn.execute(sa.select(table.c.sender_id))} <= {"web:keep"}
