"""Console at scale: 100,000 generated conversations (~2 million events), SQLite and PostgreSQL.

    python -m tools.console_bench [--conversations 100000] [--dialect sqlite|postgresql|both]

Writes the events as the bot stores them (console/seed.py), folds them into the
summary the way the running console does (console/summary.py Indexer), then
times every filtered list page the console serves (the same function the page
calls: the page of rows, its tags and the filter choices) and the dashboard,
then the same pages whole, over HTTP from a running console (rendering included).
Prints a Markdown table for docs/benchmarks.md.
"""
from __future__ import annotations

import argparse
import datetime as dt
import random
import re
import socket
import statistics
import tempfile
import threading
import time
import urllib.request
from contextlib import ExitStack
from pathlib import Path
from typing import Callable, Dict, List, Tuple
from urllib.parse import urlencode

import sqlalchemy as sa
import uvicorn

from console import auth, db, queries, seed
from console.app import create_app
from console.dashboard import board_data as dashboard_data
from console.pages import listing
from console.summary import Indexer

KINDS = [("violation", 30), ("appointment", 20), ("fallback", 15), ("handoff", 10),
         ("backend_error", 10), ("abandoned", 15)]
CHANNELS = ("web", "wechat", "rest")


def generate(url: str, conversations: int, days: int = 30, chunk: int = 2000) -> int:
    """Write `conversations` conversations spread over the last `days` days; returns events written."""
    engine = db.init(url)
    rng = random.Random(2026)
    kinds = [k for k, weight in KINDS for _ in range(weight)]
    now, written, rows = time.time(), 0, []
    for n in range(conversations):
        kind, city = rng.choice(kinds), rng.choice(seed.CITIES)
        sender = f"{rng.choice(CHANNELS)}:bench{n:07d}"
        events = seed.conversation(kind, city, now - rng.uniform(0, days * 86400), rng)
        rows += seed.rows(sender, events)
        if (n + 1) % chunk == 0 or n + 1 == conversations:
            with engine.begin() as conn:
                conn.execute(db.events.insert(), rows)
            written += len(rows)
            rows = []
    return written


def copy_events(source: str, target: str, chunk: int = 20000) -> int:
    """The generated events into another database (PostgreSQL gets exactly SQLite's conversations;
    not the late arrivals, which `measure` adds itself)."""
    into, copied, last = db.init(target), 0, 0
    e = db.events.c
    with db.engine(source).connect() as src:
        while True:
            rows = src.execute(sa.select(e.sender_id, e.type_name, e.timestamp, e.intent_name,
                                         e.action_name, e.data, e.id).where(e.id > last)
                               .where(~e.sender_id.like("web:late%"))
                               .order_by(e.id).limit(chunk)).fetchall()
            if not rows:
                return copied
            with into.begin() as conn:
                conn.execute(db.events.insert(), [{k: v for k, v in r._mapping.items() if k != "id"}
                                                  for r in rows])
            copied, last = copied + len(rows), rows[-1].id


def cases() -> List[Tuple[str, Dict[str, str]]]:
    yesterday = (queries.today() - dt.timedelta(days=1)).isoformat()
    week_ago = (queries.today() - dt.timedelta(days=7)).isoformat()
    return [
        ("no filter, page 1", {}),
        ("no filter, page 200", {"page": "200"}),
        ("city", {"city": "深圳"}),
        ("channel", {"channel": "wechat"}),
        ("service (intent)", {"intent": "book_appointment"}),
        ("date range (7 days)", {"date_from": week_ago, "date_to": yesterday}),
        ("confidence below 0.35", {"below": "0.35"}),
        ("fallback", {"fallback": "1"}),
        ("handoff", {"handoff": "1"}),
        ("backend error", {"backend_error": "1"}),
        ("form abandoned", {"form_abandoned": "1"}),
        ("tag (rare)", {"tag": "complaint"}),
        ("not reviewed", {"reviewed": "no"}),
        ("text search, common (挂号)", {"q": "挂号"}),
        ("text search, absent (护照)", {"q": "护照"}),
        ("深圳 + fallback + yesterday", {"city": "深圳", "fallback": "1", "date_from": yesterday,
                                        "date_to": yesterday}),
        ("all filters combined", {"city": "广州", "channel": "web", "intent": "query_bill", "handoff": "1",
                                  "date_from": week_ago, "date_to": yesterday, "below": "0.9",
                                  "reviewed": "no", "q": "电费"}),
    ]


def timed(fn: Callable[[], object], runs: int) -> Tuple[float, float]:
    fn()  # warm the cache, as a page viewed twice would
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples), max(samples)


def measure(url: str, fill: Callable[[], int], runs: int) -> None:
    started = time.perf_counter()
    events = fill()
    generated = time.perf_counter() - started
    engine = db.engine(url)
    started = time.perf_counter()
    Indexer(engine).run_until_current()
    folded = time.perf_counter() - started
    with engine.begin() as conn:  # a few tagged conversations, as staff would leave them
        senders = [s for (s,) in conn.execute(sa.select(db.conversations.c.sender_id))]
        conn.execute(db.conversation_tags.insert(), [
            {"sender_id": s, "tag": "complaint", "tagged_by": "bench", "tagged_at": 0.0}
            for s in senders[::997]])
        conversations = len(senders)
    late = generate_late(url)
    started = time.perf_counter()
    Indexer(engine).run_until_current()
    incremental = time.perf_counter() - started
    print(f"\n### {engine.dialect.name}: {conversations} conversations, {events} events\n")
    print(f"- writing (or copying) the events: {generated:.0f} s; first fold of all events into the summary: "
          f"{folded:.0f} s ({events / folded:.0f} events/s)")
    print(f"- folding {late} new events into the existing summary: {incremental * 1000:.0f} ms\n")
    print("| page | median ms | max ms | rows |\n|---|---|---|---|")
    for name, params in cases():
        filters = queries.Filters.from_params(params)
        median, worst = timed(lambda filters=filters: listing(engine, filters), runs)
        rows = len(listing(engine, filters)["items"])
        print(f"| list: {name} | {median:.0f} | {worst:.0f} | {rows} |")
    for city in ("", "深圳"):
        median, worst = timed(lambda city=city: dashboard_data(engine, city, "", 30), runs)
        print(f"| dashboard, 30 days, {city or 'all cities'} | {median:.0f} | {worst:.0f} | – |")
    http_timings(url, runs)


def http_timings(url: str, runs: int) -> None:
    """Whole pages over HTTP from a running console (sign-in, session, rendering included)."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(url), host="127.0.0.1", port=port, ws="none",
                                           log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.1)
    try:
        auth.create_user(db.engine(url), f"bench{port}", "staff", "bench-password-1")
        browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor())
        base = f"http://127.0.0.1:{port}"
        token = re.search(r'name="csrf" value="([^"]+)"', browser.open(f"{base}/login").read().decode())
        browser.open(f"{base}/login", urlencode({"csrf": token.group(1) if token else "",
                                                 "name": f"bench{port}", "password": "bench-password-1"}).encode())
        print("\n| whole page over HTTP | median ms | max ms |\n|---|---|---|")
        pages = [(f"list: {name}", "/conversations?" + urlencode(params)) for name, params in cases()]
        pages += [("dashboard, 30 days", "/dashboard?days=30"), ("transcript", "/conversation?id=web:late0")]
        for name, path in pages:
            median, worst = timed(lambda path=path: browser.open(base + path).read(), runs)
            print(f"| {name} | {median:.0f} | {worst:.0f} |")
    finally:
        server.should_exit = True
        thread.join()


def generate_late(url: str) -> int:
    """A minute of traffic arriving after the first fold (what the background task keeps up with)."""
    engine, rng, count = db.engine(url), random.Random(7), 0
    for n in range(50):
        events = seed.conversation("violation", "深圳", time.time(), rng)
        seed.write(engine, f"web:late{n}", events)
        count += len(events)
    return count


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--conversations", type=int, default=100000)
    parser.add_argument("--dialect", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="console-bench-")))
        source = f"sqlite:///{tmp / 'tracker.db'}"
        if args.dialect in ("sqlite", "both"):
            measure(source, lambda: generate(source, args.conversations), args.runs)
        if args.dialect in ("postgresql", "both"):
            from tests import postgres
            server = stack.enter_context(postgres.server())
            target = postgres.new_database(server)
            fill = ((lambda: copy_events(source, target)) if args.dialect == "both"
                    else (lambda: generate(target, args.conversations)))
            measure(target, fill, args.runs)


if __name__ == "__main__":
    main()
