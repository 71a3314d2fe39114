"""How long the trained model takes to parse one message, in-process.

The held-out utterances (tests/nlu/heldout.yml) are parsed in a loop through
`Agent.parse_message`, with the bot server's patches (bot/patches/) applied, so the figure is
the NLU share of a message's cost without HTTP, tracker store or policies.
`--profile` adds cProfile's top functions by cumulative time.

    python -m tools.profile_nlu                       # models/citylink.tar.gz
    python -m tools.profile_nlu --model models/stock.tar.gz --rounds 1
    python -m tools.profile_nlu --profile
"""
from __future__ import annotations

import argparse
import asyncio
import cProfile
import pstats
import time
from pathlib import Path
from typing import List, Tuple

from bot import patches
from tools import evaluate


async def parse_all(agent: object, texts: List[str], rounds: int) -> Tuple[float, float]:
    """Wall-clock and CPU seconds to parse every text `rounds` times (CPU time
    is the steadier figure on a machine other processes load)."""
    started, cpu = time.perf_counter(), time.process_time()
    for _ in range(rounds):
        for text in texts:
            await agent.parse_message(text)  # type: ignore[attr-defined]
    return time.perf_counter() - started, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=evaluate.ROOT / "models" / "citylink.tar.gz")
    parser.add_argument("--rounds", type=int, default=3, help="passes over the held-out texts")
    parser.add_argument("--profile", action="store_true", help="print cProfile's top 30")
    args = parser.parse_args()

    patches.apply()
    evaluate.quiet_logs()
    from rasa.core.agent import Agent

    started = time.process_time()
    agent = Agent.load(str(args.model))
    loaded = time.process_time() - started
    texts = [case.text for case in evaluate.load_cases()]
    asyncio.run(parse_all(agent, texts[:50], 1))  # warm-up: lazy imports, caches
    if args.profile:
        profiler = cProfile.Profile()
        profiler.enable()
    seconds, cpu = asyncio.run(parse_all(agent, texts, args.rounds))
    if args.profile:
        profiler.disable()
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(30)
    count = len(texts) * args.rounds
    print(f"{args.model.name}: model loaded in {loaded:.2f} CPU s; {count} parses,"
          f" {seconds / count * 1000:.2f} ms per message ({cpu / count * 1000:.2f} ms CPU)")


if __name__ == "__main__":
    main()
