"""Time the trainers' inbox (`console.training.inbox.groups`) on N distinct citizen messages.

The messages are drawn from a small alphabet, so they share far more character
bigrams than real ones: a worst case for grouping near-duplicates. The first
call decodes, masks and normalises every stored message; the second reuses
them (events never change). For docs/benchmarks.md:

    .venv/bin/python -m tools.bench_inbox --messages 5000
"""
from __future__ import annotations

import argparse
import random
import tempfile
import time
from pathlib import Path

from rasa.shared.core.events import UserUttered

from common.secrets import ROOT
from console import db, seed
from console.training import inbox

WORDS = "我想问一下那个社保公积金怎么交违章停车空调滴水路灯坏了谢谢你好挂号医院明天"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=5000)
    args = parser.parse_args()
    rng = random.Random(1)
    engine = db.init(f"sqlite:///{Path(tempfile.mkdtemp()) / 'tracker.db'}")
    rows = []
    for n in range(args.messages):
        text = "".join(rng.choice(WORDS) for _ in range(rng.randint(4, 16)))
        c = rng.random()
        parse = {"intent": {"name": "help", "confidence": c}, "entities": [], "text": text,
                 "intent_ranking": [{"name": "help", "confidence": c}, {"name": "faq", "confidence": c / 2}]}
        event = UserUttered(text, intent=parse["intent"], parse_data=parse, timestamp=time.time())
        rows += seed.rows(f"web:bench-{n}", [event.as_dict()])
    with engine.begin() as conn:
        conn.execute(db.events.insert(), rows)
    for run in ("first", "second"):
        started = time.perf_counter()
        found = inbox.groups(engine, ROOT, limit=args.messages)
        print(f"{run} call: {len(found)} groups from {args.messages} messages in "
              f"{time.perf_counter() - started:.2f} s")


if __name__ == "__main__":
    main()
