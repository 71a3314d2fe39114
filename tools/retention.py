"""Delete conversations whose last message is older than their city's retention period.

    python -m tools.retention              # once, what `make retention` runs
    python -m tools.retention --dry-run    # count only
    python -m tools.retention --every 3600 # `make run` starts this: now, then hourly

A conversation's city is the latest `city` slot it stored; its period is
`retention_days` in registry/<city>.yml, or DEFAULT_RETENTION_DAYS (30) for a
conversation that never named a served city. Deleting removes every stored
event of the conversation (bot/tracker_store.py `erase`), as a citizen's own
"删除我的记录" does. The tracker database is the bot's (TRACKER_DIALECT,
TRACKER_URL, as in endpoints.yml).
"""
from __future__ import annotations

import argparse
import logging
import os
import time
from typing import List, Optional

from bot.tracker_store import SQLTrackerStore
from common import logsafe, registry

logger = logging.getLogger("citylink.retention")
DAY = 86400.0


def open_store() -> SQLTrackerStore:
    """The bot's tracker store, from the same environment endpoints.yml reads."""
    url = os.environ.get("TRACKER_URL") or f"sqlite:///{registry.DEFAULT_DIR.parent / 'var' / 'tracker.db'}"
    return SQLTrackerStore(None, dialect=os.environ.get("TRACKER_DIALECT", "sqlite"), host=url)


def expired(store: SQLTrackerStore, now: float) -> List[str]:
    """The conversations past their city's retention period at `now`."""
    cities = registry.load()
    shortest = min([registry.DEFAULT_RETENTION_DAYS, *(c.retention_days for c in cities.cities.values())])
    found = []
    for sender, latest in store.last_activity().items():
        if latest > now - shortest * DAY:
            continue  # young enough for every city
        city = cities.city(store.latest_slot_value(sender, "city"))
        days = city.retention_days if city else registry.DEFAULT_RETENTION_DAYS
        if latest <= now - days * DAY:
            found.append(sender)
    return found


def run_once(store: SQLTrackerStore, now: Optional[float] = None, dry_run: bool = False) -> int:
    """Delete (or with dry_run only count) the expired conversations; how many."""
    senders = expired(store, time.time() if now is None else now)
    if not dry_run:
        for sender in senders:
            store.erase(sender)
    logger.info("保留期清理：%s %d 个过期会话", "发现" if dry_run else "删除了", len(senders))
    return len(senders)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dry-run", action="store_true", help="count, delete nothing")
    parser.add_argument("--every", type=float, default=0, help="repeat every N seconds (0: once)")
    args = parser.parse_args()
    logsafe.configure("retention")
    store = open_store()
    while True:
        try:
            run_once(store, dry_run=args.dry_run)
        except Exception:  # the next round may succeed (database restarting); never die silently
            if not args.every:
                raise
            logger.exception("保留期清理失败，%s 秒后重试", args.every)
        if not args.every:
            return
        time.sleep(args.every)


if __name__ == "__main__":
    main()
