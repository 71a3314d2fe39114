"""Statistics of a level (pure functions; tests/test_bench.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, Optional, Sequence


@dataclass
class Sample:
    """One message: when it was sent and answered (monotonic seconds)."""

    kind: str
    start: float
    end: float
    error: Optional[str] = None  # "http_500", "timeout", "connection: …"; None if answered
    empty: bool = False  # answered with no message at all
    mismatch: bool = False  # answered, but without an expected text
    user: int = 0  # which virtual citizen sent it
    reply: str = ""  # the answer's text, kept only when it was unexpected (diagnostics)

    @property
    def latency(self) -> float:
        return self.end - self.start


def percentile(values: Sequence[float], q: float) -> Optional[float]:
    """q-th percentile (0..100), linear interpolation between closest ranks
    (numpy's default); None for no values."""
    if not values:
        return None
    if not 0 <= q <= 100:
        raise ValueError(f"percentile out of range: {q}")
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def latency_summary(latencies_s: Sequence[float]) -> Dict[str, Optional[float]]:
    """Milliseconds."""
    ms = [x * 1000 for x in latencies_s]
    return {
        "p50": percentile(ms, 50),
        "p95": percentile(ms, 95),
        "p99": percentile(ms, 99),
        "mean": sum(ms) / len(ms) if ms else None,
        "min": min(ms) if ms else None,
        "max": max(ms) if ms else None,
    }


def throughput(completed: int, window_s: float) -> float:
    if window_s <= 0:
        raise ValueError("the measurement window must be longer than zero")
    return completed / window_s


def summarize_level(
    samples: Sequence[Sample], concurrency: int, window_start: float, window_end: float
) -> Dict[str, Any]:
    """Messages that completed inside [window_start, window_end]: latency of the
    answered ones, throughput of answered ones, errors, empty and unexpected answers."""
    inside = [s for s in samples if window_start <= s.end <= window_end]
    answered = [s for s in inside if s.error is None]
    errors: Dict[str, int] = {}
    for s in inside:
        if s.error is not None:
            errors[s.error] = errors.get(s.error, 0) + 1
    by_kind: Dict[str, Dict[str, Any]] = {}
    for kind in sorted({s.kind for s in answered}):
        lat = [s.latency for s in answered if s.kind == kind]
        by_kind[kind] = {
            "messages": len(lat),
            **latency_summary(lat),
            "mismatches": sum(s.mismatch for s in answered if s.kind == kind),
        }
    window = window_end - window_start
    return {
        "concurrency": concurrency,
        "window_s": window,
        "messages": len(inside),
        "answered": len(answered),
        "errors": sum(errors.values()),
        "error_kinds": errors,
        "empty": sum(s.empty for s in answered),
        "mismatches": sum(s.mismatch for s in answered),
        "expected_share": (sum(not s.mismatch for s in answered) / len(answered))
        if answered
        else None,
        "throughput_msg_s": throughput(len(answered), window),
        "latency_ms": latency_summary([s.latency for s in answered]),
        "by_kind": by_kind,
    }


def ratio(ours: Optional[float], stock: Optional[float]) -> Optional[float]:
    if ours is None or stock is None or stock == 0:
        return None
    return ours / stock


def long_summary(samples: Sequence[Sample], window: int) -> Dict[str, Any]:
    """A long conversation: every turn's latency (ms, None for an error) and the p50 of
    its first and last `window` answered turns, with their ratio (last / first)."""
    per_turn = [None if s.error else round(s.latency * 1000, 2) for s in samples]
    answered = [ms for ms in per_turn if ms is not None]
    first = percentile(answered[:window], 50)
    last = percentile(answered[-window:], 50)
    return {
        "turns": len(samples),
        "window": window,
        "errors": sum(1 for s in samples if s.error),
        "empty": sum(1 for s in samples if s.empty and not s.error),
        "first_p50_ms": first,
        "last_p50_ms": last,
        "last_over_first": ratio(last, first),
        "per_turn_ms": per_turn,
    }
