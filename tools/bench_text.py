"""Time the normaliser and the date finder on messages of 1k to 100k characters.

Issue 11 item 5: both must be linear in the length of a message, so a long
message costs one worker milliseconds, not seconds. Each shape repeats a unit
to the length: ordinary text with codes and dates, a message that is all
dates (the date finder's worst case before), and one long run of spaces (a
regex that starts with an optional prefix and then \\s* is quadratic on it).
Prints a Markdown table for docs/benchmarks.md:

    .venv/bin/python -m tools.bench_text
"""
from __future__ import annotations

import argparse
import time
from datetime import datetime
from typing import Callable, Dict, List

from common.dates import CHINA, find_dates
from common.normalizer import normalise

SHAPES: Dict[str, str] = {
    "codes and words": "查一下 粤B 12345 手机 138 1234 5678 廣州違章記錄 ",
    "all dates": "明天下午3点 周五 12月3号 ",
    "spaces": " ",
}
LENGTHS = [1_000, 10_000, 32_000, 100_000]
NOW = datetime(2026, 12, 4, 10, tzinfo=CHINA)


def best_of(repeats: int, work: Callable[[], object]) -> float:
    """Fastest of `repeats` runs in ms: the least disturbed by other processes."""
    times: List[float] = []
    for _ in range(repeats):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return min(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--lengths", type=int, nargs="+", default=LENGTHS)
    args = parser.parse_args()
    normalise("预热")  # load OpenCC's dictionaries outside the timing
    print("| input | characters | normalise (ms) | find_dates (ms) | µs per character (both) |")
    print("|---|---:|---:|---:|---:|")
    for shape, unit in SHAPES.items():
        for length in args.lengths:
            text = (unit * (length // len(unit) + 1))[:length]
            norm = best_of(args.repeats, lambda text=text: normalise(text))
            dates = best_of(args.repeats, lambda text=text: find_dates(text, NOW))
            print(f"| {shape} | {length:,} | {norm:.1f} | {dates:.1f} |"
                  f" {(norm + dates) * 1000 / length:.2f} |")


if __name__ == "__main__":
    main()
