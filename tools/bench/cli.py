"""The command line: arguments, the whole run, and what it prints and writes."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

import tools.bench
from tools.bench.load import CONVERSATIONS
from tools.bench.plots import plot
from tools.bench.report import (
    SCHEMA,
    _rel,
    comparison_table,
    format_table,
    git_info,
    machine_info,
    validate_report,
)
from tools.bench.run import (
    CONFIGS,
    RESULTS,
    ROOT,
    Ports,
    Settings,
    bench_config,
    previous_training,
    train,
)
from tools.bench.varied import VARIED_MESSAGES


def build_report(
    configs: Dict[str, Dict[str, Any]],
    settings: Settings,
    argv: List[str],
    machine: Dict[str, Any],
    git: Dict[str, Any],
    started: str,
    wall_s: float,
) -> Dict[str, Any]:
    return {
        "schema": SCHEMA,
        "date": started,
        "wall_time_s": round(wall_s, 1),
        "command": argv,
        "git": git,
        "machine": machine,
        "settings": {
            "levels": settings.levels,
            "duration_s": settings.duration,
            "warmup_s": settings.warmup,
            "seed": settings.seed,
            "request_timeout_s": settings.timeout,
            "ports": {
                "bot": settings.ports.bot,
                "actions": settings.ports.actions,
                "citysim": settings.ports.citysim,
            },
            "conversations": [
                {"name": c.name, "turns": [t.text for t in c.turns]} for c in CONVERSATIONS
            ],
            "varied_levels": settings.varied_levels,
            "varied_messages": len(VARIED_MESSAGES),
            "long_turns": settings.long_turns,
            "baseline": settings.baseline,
            **settings.extra,
        },
        "configs": configs,
        "table": comparison_table(
            configs, settings.levels, settings.varied_levels, bool(settings.long_turns)
        ),
    }


# --------------------------------------------------------------------------


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=(tools.bench.__doc__ or "").split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--levels", default="1,8,32", help="concurrent conversations (default 1,8,32)"
    )
    parser.add_argument("--duration", type=float, help="measured seconds per level (60; --quick 3)")
    parser.add_argument(
        "--warmup", type=float, help="unmeasured seconds before each level (10; --quick 1)"
    )
    parser.add_argument(
        "--varied-levels",
        help="concurrent citizens on the varied workload (default: --levels; 'none' to skip)",
    )
    parser.add_argument(
        "--long-turns",
        type=int,
        help="turns of the one long conversation (200; --quick 40; 0 to skip)",
    )
    parser.add_argument(
        "--baseline",
        choices=["stock", "unpatched"],
        default="stock",
        help="the 'stock' column: Rasa's default pipeline (models/stock.tar.gz, trained if "
        "missing) or 'unpatched': our model with CITYLINK_PATCHES_OFF=all (no training)",
    )
    parser.add_argument("--seed", type=int, default=20241127, help="conversation choice seed")
    parser.add_argument(
        "--timeout", type=float, default=60, help="per-message timeout in seconds (60)"
    )
    parser.add_argument("--skip-stock", action="store_true", help="measure ours only")
    parser.add_argument(
        "--stock", action="store_true", help="measure stock as well, even with --quick"
    )
    parser.add_argument(
        "--stock-server",
        choices=["rasa", "ours"],
        default="rasa",
        help="serve the stock model with plain `rasa run` (default) or with "
        "bot.server like ours",
    )
    parser.add_argument(
        "--skip-train",
        action="store_true",
        help="serve models/*.tar.gz; training time from the last recorded run",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="smoke run: 3 s per level, 1 s warm-up, --skip-train, --skip-stock unless --stock; "
        "writes results/bench_quick.*",
    )
    parser.add_argument(
        "--port-base",
        type=int,
        default=int(os.environ.get("CITYLINK_BENCH_PORT_BASE", 25000)),
        help="bot on base+5, actions base+55, simulator base+80 (25000)",
    )
    parser.add_argument("--results", type=Path, default=RESULTS, help="output directory (results/)")
    parser.add_argument(
        "--keep", action="store_true", help="keep the work directory (logs, trackers)"
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.skip_train = True
        args.skip_stock = not args.stock
    if args.duration is None:
        args.duration = 3.0 if args.quick else 60.0
    if args.warmup is None:
        args.warmup = 1.0 if args.quick else 10.0
    if args.duration <= 0 or args.warmup < 0:
        parser.error("--duration must be positive and --warmup not negative")
    args.level_list = [int(x) for x in args.levels.split(",") if x.strip()]
    if not args.level_list or min(args.level_list) < 1:
        parser.error("--levels: positive integers, e.g. 1,8,32")
    varied = args.levels if args.varied_levels is None else args.varied_levels
    args.varied_list = [] if varied == "none" else [int(x) for x in varied.split(",") if x.strip()]
    if args.varied_list and min(args.varied_list) < 1:
        parser.error("--varied-levels: positive integers, e.g. 1,8,32, or none")
    if args.long_turns is None:
        args.long_turns = 40 if args.quick else 200
    if args.long_turns < 0:
        parser.error("--long-turns must not be negative")
    return args


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    from tools.stack import Stack, services, stack_environment

    wall_started = time.monotonic()
    started = dt.datetime.now(dt.timezone.utc).astimezone().isoformat(timespec="seconds")
    stem = "bench_quick" if args.quick else "bench"
    args.results.mkdir(parents=True, exist_ok=True)
    names = ["ours"] if args.skip_stock else ["ours", "stock"]
    machine, git = machine_info(), git_info()
    print(
        f"CityLink bench {started}: {machine['cpu_model']}, {machine['nproc']} CPUs, "
        f"{machine['mem_total']}, load {machine['loadavg_at_start']}; "
        f"commit {(git['commit'] or '?')[:10]}{' (dirty)' if git['dirty'] else ''}",
        flush=True,
    )
    work = Path(tempfile.mkdtemp(prefix="citylink-bench-"))
    ports = Ports.from_base(args.port_base)
    settings = Settings(
        args.level_list,
        args.duration,
        args.warmup,
        args.seed,
        args.timeout,
        ports,
        work,
        stock_server=args.stock_server,
        varied_levels=args.varied_list,
        long_turns=args.long_turns,
        baseline=args.baseline,
        extra={
            "skip_train": args.skip_train,
            "quick": args.quick,
            "stock_server": args.stock_server,
        },
    )
    env = stack_environment(ports.actions, ports.citysim, tracker_db=work / "train-tracker.db")
    previous = previous_training(RESULTS / "bench.json", RESULTS / "comparison.json")
    try:
        # 1. Training, one configuration at a time, nothing else running.
        training: Dict[str, Dict[str, Any]] = {}
        models: Dict[str, Path] = {}
        for name in names:
            stored = ROOT / CONFIGS[name]["model"]
            if name == "stock" and args.baseline == "unpatched":
                models[name] = models["ours"]
                training[name] = {
                    "seconds": None,
                    "peak_rss_mb": None,
                    "source": "ours's model (--baseline unpatched)",
                }
                continue
            if args.skip_train and stored.exists():
                models[name] = stored
                training[name] = previous.get(name) or {
                    "seconds": None,
                    "peak_rss_mb": None,
                    "source": "not measured (--skip-train)",
                }
                continue
            result = train(
                CONFIGS[name]["config"], work / "models", name, env, work / f"train-{name}.log"
            )
            models[name] = Path(result.pop("model"))
            training[name] = result
            if name == "stock" and not stored.exists():
                # make eval and later --skip-train runs reuse it.
                stored.parent.mkdir(exist_ok=True)
                shutil.copy2(models[name], stored)

        # 2. One action server (stock Rasa calls it; ours runs the actions in its workers,
        #    as `make run` does); simulator and bot per configuration.
        actions_svc = services(actions_port=ports.actions, citysim_port=ports.citysim)["actions"]
        configs: Dict[str, Dict[str, Any]] = {}
        with Stack(env=env, log_dir=work / "log") as actions_stack:
            actions_stack.start(actions_svc)
            actions_pid = actions_stack.processes[-1].pid
            for name in names:
                configs[name] = bench_config(
                    name, models[name], settings, training[name], actions_pid
                )
    finally:
        if args.keep:
            print(f"work directory kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)

    command = ["python", "-m", "tools.bench", *(sys.argv[1:] if argv is None else argv)]
    report = build_report(
        configs, settings, command, machine, git, started, time.monotonic() - wall_started
    )
    problems = validate_report(report)
    json_path = args.results / f"{stem}.json"
    json_path.write_text(json.dumps(report, ensure_ascii=False, indent=2), encoding="utf-8")
    pngs = plot(report, args.results, stem)
    print()
    print(format_table(report["table"]))
    errors = {
        name: {lvl: r["error_kinds"] for lvl, r in c["levels"].items() if r["error_kinds"]}
        for name, c in configs.items()
    }
    for name, by_level in errors.items():
        for level, kinds in by_level.items():
            print(f"errors {name} @{level}: {kinds}")
    print(
        f"\nratio < 1 is better for 'lower', > 1 for 'higher'. Wall time {report['wall_time_s']:.0f} s."
    )
    print(f"written: {_rel(json_path)}, " + ", ".join(_rel(p) for p in pngs))
    if problems:
        print("report problems: " + "; ".join(problems), file=sys.stderr)
        return 1
    return 0
