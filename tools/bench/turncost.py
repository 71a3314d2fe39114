"""One long conversation inside this process: what each turn costs, and where.

    python -m tools.bench.turncost --turns 200 [--profile 20,200] [--off all] [--count]

Loads the model with endpoints.yml's stores (a throwaway tracker database)
in this process, starts the simulator and the action server on
`--port-base` (+55, +80), and sends the varied messages as one conversation
(tools/bench/varied.py `long_messages`: the last turns repeat the first
ones). It prints the median CPU time of the first and the last `--window` turns (process CPU time, so other engineers' load on the machine
changes it little) and, with `--profile A,B`, the cProfile of the `--window`
turns ending at turn A and at turn B, side by side, sorted by the growth.
`--off` is CITYLINK_PATCHES_OFF for this run (`all`: stock Rasa behaviour).
`--count` counts work instead (so the machine's load cannot change it): events
applied to trackers (reading, copying and replaying all apply events), dialogue
states derived, bytes of JSON sent to the action server, and the action
server's CPU time (its process, psutil; 10 ms clock ticks), per turn.
`--transcript FILE` writes each turn's replies, to compare two runs' answers.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import os
import pstats
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

from tools.bench.varied import long_messages

ROOT = Path(__file__).resolve().parents[2]


def load_agent(model: str) -> Any:
    """The agent as `bot.server run` builds it: patches, stores of endpoints.yml, and
    logging at INFO as `rasa run` sets it (unconfigured, Rasa's debug lines print every
    dialogue state of the conversation at each prediction: a cost of their own)."""
    import logging

    from rasa.utils.common import configure_logging_and_warnings
    from rasa.utils.log_utils import configure_structlog

    from bot import patches, session, templates

    configure_logging_and_warnings(logging.INFO)
    configure_structlog(logging.INFO)

    patches.apply()
    templates.apply()
    session.apply()
    from rasa.core.agent import load_agent as rasa_load_agent
    from rasa.core.utils import AvailableEndpoints

    endpoints = AvailableEndpoints.read_endpoints(str(ROOT / "endpoints.yml"))
    asyncio.set_event_loop(asyncio.new_event_loop())  # after Rasa set its loop policy
    return asyncio.get_event_loop().run_until_complete(
        rasa_load_agent(model_path=model, endpoints=endpoints)
    )


class Counters:
    """Work per turn, counted by wrapping the functions that do it."""

    NAMES = ("events applied", "states derived", "bytes to actions", "action server CPU µs")

    def __init__(self, actions_pid: Optional[int] = None) -> None:
        import json

        from rasa.core.actions.action import RemoteAction
        from rasa.shared.core.domain import Domain
        from rasa.shared.core.trackers import DialogueStateTracker

        self.now = dict.fromkeys(self.NAMES, 0)
        self.per_turn: List[Dict[str, int]] = []
        self.actions_pid = actions_pid
        self.actions_cpu = self._actions_cpu()
        update, state = DialogueStateTracker.update, Domain.get_active_state
        call_format = RemoteAction._action_call_format

        def counted_update(tracker: Any, *args: Any, **kwargs: Any) -> Any:
            self.now["events applied"] += 1
            return update(tracker, *args, **kwargs)

        def counted_state(domain: Any, *args: Any, **kwargs: Any) -> Any:
            self.now["states derived"] += 1
            return state(domain, *args, **kwargs)

        def counted_format(action: Any, *args: Any, **kwargs: Any) -> Any:
            body = call_format(action, *args, **kwargs)
            self.now["bytes to actions"] += len(json.dumps(body, ensure_ascii=False).encode())
            return body

        DialogueStateTracker.update = counted_update  # type: ignore[method-assign]
        Domain.get_active_state = counted_state  # type: ignore[method-assign]
        RemoteAction._action_call_format = counted_format  # type: ignore[method-assign]

    def _actions_cpu(self) -> float:
        from tools.bench.procstats import cpu_seconds

        return cpu_seconds(self.actions_pid) if self.actions_pid else 0.0

    def take(self) -> Dict[str, int]:
        """The counts since the last call."""
        counts, self.now = self.now, dict.fromkeys(self.NAMES, 0)
        before, self.actions_cpu = self.actions_cpu, self._actions_cpu()
        counts["action server CPU µs"] = round((self.actions_cpu - before) * 1e6)
        return counts


def conversation_costs(
    agent: Any,
    sender: str,
    turns: int,
    profile_at: Tuple[int, ...] = (),
    window: int = 20,
    counters: Optional[Counters] = None,
    replies: Optional[List[List[str]]] = None,
) -> Tuple[List[float], List[float], Dict[int, pstats.Stats]]:
    """CPU and wall seconds of each turn; the profile of the `window` turns ending at each
    of `profile_at`; each turn's counts (into `counters.per_turn`) and replies if asked."""
    from rasa.core.channels.channel import CollectingOutputChannel, UserMessage

    loop = asyncio.get_event_loop()
    cpu: List[float] = []
    wall: List[float] = []
    per_turn: List[Dict[str, int]] = []
    profiles: Dict[int, pstats.Stats] = {}
    profiler: Optional[cProfile.Profile] = None
    texts = long_messages(turns, window)
    for n in range(1, turns + 1):
        text = texts[n - 1]
        if any(end - window < n <= end for end in profile_at) and profiler is None:
            profiler = cProfile.Profile()
        started_cpu, started = time.process_time(), time.perf_counter()
        channel = CollectingOutputChannel()
        message = UserMessage(text, channel, sender)
        if profiler:
            profiler.enable()
        loop.run_until_complete(agent.handle_message(message))
        if profiler:
            profiler.disable()
        cpu.append(time.process_time() - started_cpu)
        wall.append(time.perf_counter() - started)
        if counters:
            per_turn.append(counters.take())
        if replies is not None:
            replies.append([str(m.get("text") or m.get("custom") or "") for m in channel.messages])
        if n in profile_at and profiler is not None:
            profiles[n] = pstats.Stats(profiler)
            profiler = None
    if counters:
        counters.per_turn = per_turn
    return cpu, wall, profiles


def growth_table(early: pstats.Stats, late: pstats.Stats, top: int = 25) -> str:
    """Functions whose cumulative time grew most from the early to the late window."""

    def cumulative(stats: pstats.Stats) -> Dict[str, Tuple[int, float]]:
        return {
            f"{Path(f).name}:{line}({name})": (calls, cum)
            for (f, line, name), (_, calls, _, cum, _) in stats.stats.items()  # type: ignore[attr-defined]
        }

    a, b = cumulative(early), cumulative(late)
    rows = sorted(b, key=lambda k: b[k][1] - a.get(k, (0, 0.0))[1], reverse=True)[:top]
    lines = [
        f"{'cum s early':>11} {'cum s late':>10} {'calls early':>11} {'calls late':>10}  function"
    ]
    for key in rows:
        ca, ta = a.get(key, (0, 0.0))
        cb, tb = b[key]
        lines.append(f"{ta:11.3f} {tb:10.3f} {ca:11d} {cb:10d}  {key}")
    return "\n".join(lines)


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--turns", type=int, default=200)
    parser.add_argument("--window", type=int, default=20)
    parser.add_argument("--profile", default="", help="turn numbers ending the profiled windows")
    parser.add_argument("--off", default=None, help="CITYLINK_PATCHES_OFF for this run")
    parser.add_argument("--count", action="store_true", help="count work per turn (not time)")
    parser.add_argument("--transcript", type=Path, help="write each turn's replies (JSON)")
    parser.add_argument("--model", default="models/citylink.tar.gz")
    parser.add_argument(
        "--port-base", type=int, default=int(os.environ.get("CITYLINK_TEST_PORT_BASE", 26000))
    )
    args = parser.parse_args(argv)
    if args.off is not None:
        os.environ["CITYLINK_PATCHES_OFF"] = args.off
    from tools.stack import Stack, services, stack_environment

    work = Path(tempfile.mkdtemp(prefix="citylink-turncost-"))
    actions_port, citysim_port = args.port_base + 55, args.port_base + 80
    env = stack_environment(actions_port, citysim_port, tracker_db=work / "tracker.db")
    env["CITYLINK_ACTIONS_MODULE"] = ""  # through the action server: its bytes and CPU are counted
    os.environ.update({k: v for k, v in env.items() if k not in ("SANIC_WORKERS",)})
    svc = services(
        actions_port=actions_port,
        citysim_port=citysim_port,
        citysim_db=str(work / "citysim.sqlite"),
    )
    with Stack(env=env, log_dir=work / "log") as stack:
        stack.start(svc["citysim"])
        stack.start(svc["actions"])
        actions_pid = stack.processes[-1].pid
        agent = load_agent(args.model)
        profile_at = tuple(int(x) for x in args.profile.split(",") if x.strip())
        counters = Counters(actions_pid) if args.count else None
        replies: List[List[str]] = []
        cpu, wall, profiles = conversation_costs(
            agent, "rest:turncost", args.turns, profile_at, args.window, counters, replies
        )
    w = args.window
    if args.transcript:
        turns = zip(long_messages(args.turns, w), replies)
        args.transcript.write_text(
            json.dumps(
                [{"turn": n + 1, "text": text, "replies": r} for n, (text, r) in enumerate(turns)],
                ensure_ascii=False,
                indent=1,
            ),
            encoding="utf-8",
        )
    if counters:
        per_turn = counters.per_turn
        for name in Counters.NAMES:  # medians; the mean for CPU in 10 ms ticks
            average = statistics.mean if name.endswith("CPU µs") else statistics.median
            first = average(c[name] for c in per_turn[:w])
            last = average(c[name] for c in per_turn[-w:])
            print(
                f"{name} per turn, {average.__name__} of first {w}: {first:.0f}; last {w}: "
                f"{last:.0f}" + (f"; ratio {last / first:.2f}" if first else "")
            )
    print(f"patches off: {os.environ.get('CITYLINK_PATCHES_OFF') or 'none'}; turns {args.turns}")
    early, late = statistics.median(cpu[:w]), statistics.median(cpu[-w:])
    print(
        f"CPU ms, median of first {w}: {early * 1000:.1f}; last {w}: {late * 1000:.1f}; "
        f"ratio {late / early:.2f}"
    )
    print(
        f"wall ms, median of first {w}: {statistics.median(wall[:w]) * 1000:.1f}; "
        f"last {w}: {statistics.median(wall[-w:]) * 1000:.1f}"
    )
    if len(profiles) >= 2:
        ends = sorted(profiles)
        print(growth_table(profiles[ends[0]], profiles[ends[-1]]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
