"""Training, and one configuration end to end (simulator, bot, cold start, levels)."""

from __future__ import annotations

import asyncio
import inspect
import json
import os
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List

from tools.bench.load import long_conversation, run_level, sanity_pass, wait_first_answer
from tools.bench.procstats import RssSampler, cpu_percent, cpu_seconds
from tools.bench.report import ROOT, SCHEMA, _fmt, _rel

RESULTS = ROOT / "results"
CONFIGS = {
    "ours": {"config": "config.yml", "model": "models/citylink.tar.gz"},
    "stock": {"config": "configs/stock.yml", "model": "models/stock.tar.gz"},
}
TRAINING_PROGRESS_SECONDS = 60


def previous_training(*paths: Path) -> Dict[str, Dict[str, Any]]:
    """Training times recorded by an earlier run, for --skip-train.

    results/bench.json (an earlier `make bench`) first, then
    results/comparison.json (`make eval` times the stock training)."""
    found: Dict[str, Dict[str, Any]] = {}
    for path in paths:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if data.get("schema") == SCHEMA:
            for name, result in data.get("configs", {}).items():
                training = result.get("training") or {}
                if name not in found and training.get("seconds") is not None:
                    source = training.get("source")
                    if source == "measured":
                        source = f"previous run {data.get('date', '?')}"
                    found[name] = {
                        "seconds": training["seconds"],
                        "peak_rss_mb": training.get("peak_rss_mb"),
                        "source": source,
                    }
        elif isinstance(data.get("stock"), dict) and "train_seconds" in data["stock"]:
            if "stock" not in found:
                found["stock"] = {
                    "seconds": data["stock"]["train_seconds"],
                    "peak_rss_mb": None,
                    "source": f"{path.relative_to(ROOT) if path.is_relative_to(ROOT) else path} (make eval)",
                }
    return found


def train(config: str, out_dir: Path, name: str, env: Dict[str, str], log: Path) -> Dict[str, Any]:
    """`rasa train --force` into out_dir; seconds and peak memory of the tree."""
    out_dir.mkdir(parents=True, exist_ok=True)
    env = dict(env, RASA_CACHE_DIRECTORY=str(out_dir / "cache"))
    command = [
        str(Path(sys.executable).parent / "rasa"),
        "train",
        "--config",
        config,
        "--domain",
        "domain.yml",
        "--data",
        "data",
        "--out",
        str(out_dir),
        "--fixed-model-name",
        name,
        "--force",
    ]
    print(f"[{name}] training: {' '.join(command[1:])} (Rasa's output: {log})", flush=True)
    started = time.monotonic()
    with open(log, "ab") as out:
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
        sampler = RssSampler({"train": process.pid}, interval=0.5)
        sampler.start()
        while True:  # stock takes a quarter of an hour or more: say it is still going
            try:
                code = process.wait(timeout=TRAINING_PROGRESS_SECONDS)
                break
            except subprocess.TimeoutExpired:
                print(
                    f"[{name}]   still training, {(time.monotonic() - started) / 60:.0f} min",
                    flush=True,
                )
    seconds = time.monotonic() - started
    peaks = sampler.stop()
    if code != 0:
        tail = log.read_text(encoding="utf-8", errors="replace")[-3000:]
        raise RuntimeError(f"rasa train failed ({code}) for {config}:\n{tail}")
    print(f"[{name}] trained in {seconds:.1f} s, peak {peaks['train']:.0f} MB", flush=True)
    return {
        "seconds": round(seconds, 2),
        "peak_rss_mb": peaks["train"],
        "source": "measured",
        "model": str(out_dir / f"{name}.tar.gz"),
    }


@dataclass
class Ports:
    bot: int
    actions: int
    citysim: int

    @classmethod
    def from_base(cls, base: int) -> "Ports":
        return cls(base + 5, base + 55, base + 80)


@dataclass
class Settings:
    levels: List[int]
    duration: float
    warmup: float
    seed: int
    timeout: float
    ports: Ports
    work: Path
    startup_timeout: float = 300
    stock_server: str = "rasa"
    extra: Dict[str, Any] = field(default_factory=dict)
    varied_levels: List[int] = field(default_factory=list)  # the varied workload's levels
    long_turns: int = 0  # the long conversation's turns (0: none)
    baseline: str = "stock"  # or "unpatched": our model with CITYLINK_PATCHES_OFF=all


UNPATCHED = "config.yml served with CITYLINK_PATCHES_OFF=all (Rasa's own code paths)"


def _server_name(command: List[str]) -> str:
    """`rasa run` or `python -m bot.server run`, as the report shows it."""
    if "-m" in command:
        return "python -m " + command[command.index("-m") + 1] + " run"
    return Path(command[0]).name + " run"


def bench_config(
    name: str, model: Path, settings: Settings, training: Dict[str, Any], actions_pid: int
) -> Dict[str, Any]:
    """Fresh simulator + tracker, spawn the bot, cold start, sanity, the levels."""
    from tools.stack import Stack, services, stack_environment

    p = settings.ports
    run_dir = settings.work / name
    run_dir.mkdir(parents=True, exist_ok=True)
    env = stack_environment(p.actions, p.citysim, tracker_db=run_dir / "tracker.db")
    env["CITYLINK_RATE_CONVERSATION"] = "0"  # virtual citizens send as fast as answered
    unpatched = name == "stock" and settings.baseline == "unpatched"
    if unpatched:
        env["CITYLINK_PATCHES_OFF"] = "all"
    kwargs: Dict[str, Any] = {}
    if "stock_server" in inspect.signature(services).parameters:
        # Stock Rasa is served by plain `rasa run`, ours by bot.server (unless --stock-server ours).
        kwargs["stock_server"] = (
            name == "stock" and settings.stock_server == "rasa" and not unpatched
        )
    svc = services(
        model=str(model),
        bot_port=p.bot,
        actions_port=p.actions,
        citysim_port=p.citysim,
        citysim_db=str(run_dir / "citysim.sqlite"),
        **kwargs,
    )
    bot_url = f"http://127.0.0.1:{p.bot}"
    result: Dict[str, Any] = {
        "config": UNPATCHED if unpatched else CONFIGS[name]["config"],
        "model": _rel(model),
        "model_mb": round(model.stat().st_size / 2**20, 1),
        "server": _server_name(svc["bot"].command),
        "training": training,
    }
    with Stack(env=env, log_dir=run_dir / "log") as stack:
        stack.start(svc["citysim"])
        sampler = RssSampler({"actions": actions_pid, "citysim": stack.processes[-1].pid})
        sampler.start()
        try:
            print(f"[{name}] starting {result['server']} ({_rel(model)}) …", flush=True)
            log_path = run_dir / "log" / "bot.log"
            log = open(log_path, "ab")
            started = time.monotonic()
            process = subprocess.Popen(
                svc["bot"].command,
                cwd=ROOT,
                env=stack.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            stack.processes.append(process)
            sampler.add("bot", process.pid)

            def cpu_snapshot() -> Dict[str, float]:
                snapshot = {name: cpu_seconds(pid) for name, pid in sampler.roots.items()}
                snapshot["load generator"] = cpu_seconds(os.getpid(), tree=False)
                return snapshot

            result["cold_start"] = wait_first_answer(
                bot_url, process, started, settings.startup_timeout, log_path
            )
            print(
                f"[{name}] first answer {result['cold_start']['seconds']:.1f} s after spawn",
                flush=True,
            )
            result["sanity"] = asyncio.run(
                sanity_pass(bot_url, f"{name}-{settings.seed}", settings.timeout)
            )
            s = result["sanity"]
            print(f"[{name}] sanity: {s['ok']}/{s['turns']} answers as expected", flush=True)
            for failure in s["failures"]:
                print(
                    f"    {failure['conversation']}: “{failure['text']}” → {failure['problem']}"
                    f" (expected {failure['expected']}): {failure['reply'][:80]!r}",
                    flush=True,
                )
            result["rss_after_start_mb"] = {k: round(v, 1) for k, v in sampler.end_phase().items()}

            def measure(level: int, workload: str) -> Dict[str, Any]:
                tag = f"{name}-{workload[0]}{level}-{uuid.uuid4().hex[:6]}"
                load_before = os.getloadavg()[0]
                cpu_before, level_started = cpu_snapshot(), time.monotonic()
                summary = asyncio.run(
                    run_level(
                        bot_url,
                        level,
                        settings.warmup,
                        settings.duration,
                        settings.seed,
                        settings.timeout,
                        tag,
                        workload,
                    )
                )
                # Warm-up and window together: where the machine's two cores went.
                summary["cpu_percent"] = cpu_percent(
                    cpu_before, cpu_snapshot(), time.monotonic() - level_started
                )
                summary["peak_rss_mb"] = {k: round(v, 1) for k, v in sampler.end_phase().items()}
                summary["loadavg_1m_before"] = round(load_before, 2)
                lat = summary["latency_ms"]
                print(
                    f"[{name}] {workload} {level:>3} citizens: "
                    f"{summary['throughput_msg_s']:.2f} msg/s, "
                    f"p50 {_fmt(lat['p50'])} p95 {_fmt(lat['p95'])} p99 {_fmt(lat['p99'])} ms, "
                    f"{summary['answered']} answered, {summary['errors']} errors, "
                    f"{summary['mismatches']} unexpected",
                    flush=True,
                )
                print(
                    f"[{name}]     CPU (% of one core): "
                    + ", ".join(f"{k} {v:.0f}" for k, v in summary["cpu_percent"].items()),
                    flush=True,
                )
                return summary

            result["levels"] = {str(level): measure(level, "scripted") for level in settings.levels}
            result["varied"] = {
                str(level): measure(level, "varied") for level in settings.varied_levels
            }
            if settings.long_turns:
                long = asyncio.run(
                    long_conversation(
                        bot_url,
                        settings.long_turns,
                        settings.timeout,
                        f"{name}-{uuid.uuid4().hex[:6]}",
                    )
                )
                result["long"] = long
                print(
                    f"[{name}] one conversation of {long['turns']} turns: p50 of the first "
                    f"{long['window']} {_fmt(long['first_p50_ms'])} ms, of the last "
                    f"{_fmt(long['last_p50_ms'])} ms (x{_fmt(long['last_over_first'])}), "
                    f"{long['errors']} errors",
                    flush=True,
                )
        finally:
            result["peak_rss_mb"] = sampler.stop()
    print(
        f"[{name}] peak RSS: "
        + ", ".join(f"{k} {v:.0f} MB" for k, v in result["peak_rss_mb"].items()),
        flush=True,
    )
    return result


# --------------------------------------------------------------------------
