"""Benchmark the whole stack over HTTP, CityLink against Rasa's stock pipeline (make bench).

For each configuration (ours: config.yml; stock: configs/stock.yml) this
measures, in one run and on one otherwise idle machine:

* training time: `rasa train --force` into a temporary directory (and the
  peak memory of the training process tree);
* cold start: from spawning `rasa run` to the first successful answer to a
  real message ("你好") on the REST channel;
* latency p50/p95/p99 and throughput at 1, 8 and 32 concurrent virtual
  citizens. Each citizen is a closed loop: it replays multi-turn Chinese
  conversations (seeded choice from CONVERSATIONS, a fresh sender id per
  conversation) and sends its next message only when the answer to the
  previous one has arrived. Latency is measured client-side (aiohttp, one
  session with one pooled connection per citizen); throughput is successful
  answers completed inside the measurement window divided by its length.
  A warm-up precedes each window and is not counted;
* CPU: the share of a core each process used during each level (bot,
  action server, simulator, and this load generator), from /proc;
* peak memory: the largest resident set (VmRSS, summed over the process and
  its children) of the bot, sampled from /proc every 0.2 s from spawn to
  stop, or the bot process's own VmHWM if that is larger.

Both bots use the same action server; the simulated backends are restarted
with a fresh database (and the tracker store is fresh) for each
configuration. Only one bot runs at a time, on the same port.

Output: a table (ours, stock, ours/stock), results/bench.json and
results/bench_latency.png, results/bench_throughput.png.

    python -m tools.bench                      # everything (~45 min on 2 cores, mostly stock training)
    python -m tools.bench --skip-train         # reuse models/*.tar.gz
    python -m tools.bench --quick              # smoke run: 3 s per level, ours only
    python -m tools.bench --levels 1,8 --duration 30 --skip-stock
"""
from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import inspect
import json
import os
import platform
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "results"
SCHEMA = "citylink-bench/1"
CONFIGS = {
    "ours": {"config": "config.yml", "model": "models/citylink.tar.gz"},
    "stock": {"config": "configs/stock.yml", "model": "models/stock.tar.gz"},
}
REST_PATH = "/webhooks/rest/webhook"
TRAINING_PROGRESS_SECONDS = 60
COLD_START_MESSAGE = "你好"


# --------------------------------------------------------------------------
# The load: realistic conversations that call the simulated backends but never
# pay or book, so they can be replayed forever. Plates and engine numbers are
# from the simulator's deterministic seed (tests/test_violation.yml).
# --------------------------------------------------------------------------

@dataclass(frozen=True)
class Turn:
    text: str
    kind: str  # what the message exercises; latency is also reported per kind
    expect: Tuple[str, ...] = ()  # every one must appear in the answer


@dataclass(frozen=True)
class Conversation:
    name: str
    turns: Tuple[Turn, ...]


GREET = Turn("你好", "greet", ("您好",))
BYE = Turn("再见", "goodbye", ("再见",))
THANKS = Turn("谢谢", "thank", ("不客气",))

CONVERSATIONS: Tuple[Conversation, ...] = (
    Conversation("violation_guangzhou", (
        GREET,
        Turn("查违章", "violation_ask", ("车牌",)),
        Turn("粤A288E0", "violation_backend", ("粤A288E0 共 3 条违章",)),
        BYE,
    )),
    Conversation("violation_shenzhen_engine", (
        Turn("查一下粤B55S41的违章", "violation_ask", ("发动机号",)),
        Turn("发动机号后六位8ZCCYU", "violation_backend", ("粤B55S41 共 2 条违章",)),
        THANKS,
    )),
    Conversation("violation_one_sentence_then_traffic", (
        Turn("帮我查下粤A288E0有没有违章", "violation_backend", ("粤A288E0 共 3 条违章",)),
        Turn("深圳深南大道现在堵不堵", "traffic_backend", ("深南大道",)),
        BYE,
    )),
    Conversation("set_city_traffic_weather", (
        Turn("我在深圳", "set_city", ("深圳",)),
        Turn("深南大道现在堵不堵", "traffic_backend", ("深南大道",)),
        Turn("天气怎么样", "weather_backend", ("深圳", "℃")),
        BYE,
    )),
    Conversation("weather_guangzhou", (
        Turn("广州今天天气怎么样", "weather_backend", ("广州", "℃")),
        THANKS,
    )),
    Conversation("faq_passport", (
        GREET,
        Turn("护照怎么办理", "faq", ("护照",)),
        THANKS,
    )),
    Conversation("bus_guangzhou", (
        Turn("我在广州", "set_city", ("广州",)),
        Turn("查公交10路", "bus_backend", ("10路",)),
        BYE,
    )),
)


def conversation_schedule(seed: int, user: int) -> Iterator[Conversation]:
    """The endless, reproducible sequence of conversations of one citizen."""
    rng = random.Random(f"{seed}:{user}")
    while True:
        yield rng.choice(CONVERSATIONS)


# --------------------------------------------------------------------------
# Statistics (pure functions; tests/test_bench.py)
# --------------------------------------------------------------------------

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
        "p50": percentile(ms, 50), "p95": percentile(ms, 95), "p99": percentile(ms, 99),
        "mean": sum(ms) / len(ms) if ms else None,
        "min": min(ms) if ms else None, "max": max(ms) if ms else None,
    }


def throughput(completed: int, window_s: float) -> float:
    if window_s <= 0:
        raise ValueError("the measurement window must be longer than zero")
    return completed / window_s


def summarize_level(samples: Sequence[Sample], concurrency: int,
                    window_start: float, window_end: float) -> Dict[str, Any]:
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
        by_kind[kind] = {"messages": len(lat), **latency_summary(lat),
                         "mismatches": sum(s.mismatch for s in answered if s.kind == kind)}
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
        "expected_share": (sum(not s.mismatch for s in answered) / len(answered)) if answered else None,
        "throughput_msg_s": throughput(len(answered), window),
        "latency_ms": latency_summary([s.latency for s in answered]),
        "by_kind": by_kind,
    }


def ratio(ours: Optional[float], stock: Optional[float]) -> Optional[float]:
    if ours is None or stock is None or stock == 0:
        return None
    return ours / stock


@dataclass(frozen=True)
class Figure:
    key: str
    label: str
    unit: str
    better: str  # "lower" or "higher"


def figures(levels: Sequence[int]) -> List[Figure]:
    rows: List[Figure] = []
    for level in levels:
        for p in ("p50", "p95", "p99"):
            rows.append(Figure(f"latency_{p}_c{level}", f"latency {p} @{level}", "ms", "lower"))
    for level in levels:
        rows.append(Figure(f"throughput_c{level}", f"throughput @{level}", "msg/s", "higher"))
    rows += [
        Figure("cold_start", "cold start", "s", "lower"),
        Figure("training_time", "training time", "s", "lower"),
        Figure("peak_memory", "peak memory (bot)", "MB", "lower"),
        Figure("training_peak_memory", "peak memory (training)", "MB", "lower"),
        Figure("expected_answers", "answers as expected", "%", "higher"),
        Figure("errors", "errors (all levels)", "count", "lower"),
    ]
    return rows


def figure_value(result: Optional[Dict[str, Any]], key: str) -> Optional[float]:
    """One figure of one configuration's result (see figures())."""
    if not result:
        return None
    levels = result.get("levels", {})
    if key.startswith("latency_"):
        _, p, level = key.split("_")
        return (levels.get(level[1:]) or {}).get("latency_ms", {}).get(p)
    if key.startswith("throughput_c"):
        return (levels.get(key[len("throughput_c"):]) or {}).get("throughput_msg_s")
    if key == "cold_start":
        return (result.get("cold_start") or {}).get("seconds")
    if key == "training_time":
        return (result.get("training") or {}).get("seconds")
    if key == "training_peak_memory":
        return (result.get("training") or {}).get("peak_rss_mb")
    if key == "peak_memory":
        return (result.get("peak_rss_mb") or {}).get("bot")
    if key == "expected_answers":
        answered = sum(v["answered"] for v in levels.values())
        expected = sum(v["answered"] - v["mismatches"] for v in levels.values())
        return 100 * expected / answered if answered else None
    if key == "errors":
        return float(sum(v["errors"] for v in levels.values())) if levels else None
    raise KeyError(key)


def comparison_table(configs: Dict[str, Dict[str, Any]], levels: Sequence[int]) -> List[Dict[str, Any]]:
    """One row per figure: ours, stock, ours/stock, and where a value came from."""
    rows = []
    for fig in figures(levels):
        ours = figure_value(configs.get("ours"), fig.key)
        stock = figure_value(configs.get("stock"), fig.key)
        notes = []
        if fig.key == "training_time":
            for name in ("ours", "stock"):
                source = ((configs.get(name) or {}).get("training") or {}).get("source")
                if source and source != "measured":
                    notes.append(f"{name}: {source}")
        rows.append({"figure": fig.key, "label": fig.label, "unit": fig.unit, "better": fig.better,
                     "ours": ours, "stock": stock, "ratio": ratio(ours, stock),
                     "note": "; ".join(notes)})
    return rows


def _fmt(value: Optional[float], unit: str = "") -> str:
    if value is None:
        return "n/a"
    if unit == "count":
        return f"{value:.0f}"
    if abs(value) >= 100:
        return f"{value:.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def format_table(rows: Sequence[Dict[str, Any]]) -> str:
    header = f"{'figure':<30} {'ours':>10} {'stock':>10} {'ours/stock':>11}  better"
    lines = [header, "-" * len(header)]
    for row in rows:
        label = f"{row['label']} ({row['unit']})"
        r = "n/a" if row["ratio"] is None else f"{row['ratio']:.2f}"
        line = (f"{label:<30} {_fmt(row['ours'], row['unit']):>10} "
                f"{_fmt(row['stock'], row['unit']):>10} {r:>11}  {row['better']}")
        if row.get("note"):
            line += f"  [{row['note']}]"
        lines.append(line)
    return "\n".join(lines)


def markdown_table(rows: Sequence[Dict[str, Any]]) -> str:
    """The same table for docs/benchmarks.md."""
    lines = ["| figure | ours | stock | ours/stock | better |", "|---|---:|---:|---:|---|"]
    for row in rows:
        r = "n/a" if row["ratio"] is None else f"{row['ratio']:.2f}"
        note = f" ({row['note']})" if row.get("note") else ""
        lines.append(f"| {row['label']} ({row['unit']}){note} | {_fmt(row['ours'], row['unit'])} | "
                     f"{_fmt(row['stock'], row['unit'])} | {r} | {row['better']} |")
    return "\n".join(lines)


REQUIRED = {
    "schema": str, "date": str, "command": list, "git": dict, "machine": dict,
    "settings": dict, "configs": dict, "table": list,
}
REQUIRED_CONFIG = {
    "config": str, "model": str, "training": dict, "cold_start": dict, "peak_rss_mb": dict,
    "sanity": dict, "levels": dict,
}
REQUIRED_LEVEL = {
    "concurrency": int, "window_s": (int, float), "messages": int, "answered": int, "errors": int,
    "error_kinds": dict, "empty": int, "mismatches": int, "throughput_msg_s": (int, float),
    "latency_ms": dict,
}


def validate_report(report: Dict[str, Any]) -> List[str]:
    """Problems with a bench.json document (empty list: valid)."""
    problems = []

    def check(obj: Dict[str, Any], spec: Dict[str, Any], where: str) -> None:
        for key, kind in spec.items():
            if key not in obj:
                problems.append(f"{where}: missing {key}")
            elif not isinstance(obj[key], kind) or isinstance(obj[key], bool) and kind is not bool:
                problems.append(f"{where}.{key}: {type(obj[key]).__name__}")

    check(report, REQUIRED, "report")
    if report.get("schema") != SCHEMA:
        problems.append(f"report.schema: {report.get('schema')!r}, expected {SCHEMA!r}")
    if problems:
        return problems
    levels = report["settings"].get("levels")
    if not isinstance(levels, list) or not levels:
        problems.append("settings.levels: a non-empty list is needed")
        levels = []
    if "ours" not in report["configs"]:
        problems.append("configs: missing ours")
    for name, result in report["configs"].items():
        check(result, REQUIRED_CONFIG, f"configs.{name}")
        for level in levels:
            data = (result.get("levels") or {}).get(str(level))
            if data is None:
                problems.append(f"configs.{name}.levels: missing {level}")
                continue
            check(data, REQUIRED_LEVEL, f"configs.{name}.levels.{level}")
            for p in ("p50", "p95", "p99"):
                if p not in data.get("latency_ms", {}):
                    problems.append(f"configs.{name}.levels.{level}.latency_ms: missing {p}")
    expected_rows = [f.key for f in figures(levels)]
    if [row.get("figure") for row in report["table"]] != expected_rows:
        problems.append("table: rows differ from figures(settings.levels)")
    for row in report["table"]:
        for key in ("ours", "stock", "ratio"):
            if key not in row:
                problems.append(f"table.{row.get('figure')}: missing {key}")
    return problems


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
                    found[name] = {"seconds": training["seconds"],
                                   "peak_rss_mb": training.get("peak_rss_mb"), "source": source}
        elif isinstance(data.get("stock"), dict) and "train_seconds" in data["stock"]:
            if "stock" not in found:
                found["stock"] = {"seconds": data["stock"]["train_seconds"], "peak_rss_mb": None,
                                  "source": f"{path.relative_to(ROOT) if path.is_relative_to(ROOT) else path} (make eval)"}
    return found


# --------------------------------------------------------------------------
# Memory: VmRSS of a process and its descendants, from /proc
# --------------------------------------------------------------------------

def _status_kb(pid: int, field_name: str) -> int:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith(field_name + ":"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


def _stat_fields(pid: int) -> Optional[List[str]]:
    """/proc/<pid>/stat after the command name: state, ppid, …, utime, stime, … (None if gone)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as f:
            stat = f.read()
    except OSError:
        return None
    return stat[stat.rindex(")") + 2:].split()  # the name may contain spaces and parentheses


def process_tree(root: int) -> List[int]:
    """root and all its descendants (by parent pid)."""
    children: Dict[int, List[int]] = {}
    for entry in os.listdir("/proc"):
        fields = _stat_fields(int(entry)) if entry.isdigit() else None
        if fields is not None:
            children.setdefault(int(fields[1]), []).append(int(entry))
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo.extend(children.get(pid, []))
    return tree


def tree_rss_mb(root: int) -> float:
    return sum(_status_kb(pid, "VmRSS") for pid in process_tree(root)) / 1024


def cpu_seconds(pid: int, tree: bool = True) -> float:
    """User + system CPU time of a process (and, with `tree`, its live descendants)."""
    total = 0
    for member in process_tree(pid) if tree else [pid]:
        fields = _stat_fields(member)
        if fields is not None:
            total += int(fields[11]) + int(fields[12])  # utime, stime in clock ticks
    return total / os.sysconf("SC_CLK_TCK")


def cpu_percent(before: Dict[str, float], after: Dict[str, float], seconds: float) -> Dict[str, float]:
    """Share of one core each process used between two `cpu_seconds` snapshots (200 = 2 cores)."""
    return {name: round(100 * (after[name] - before.get(name, 0.0)) / seconds, 1)
            for name in after if seconds > 0}


class RssSampler(threading.Thread):
    """Samples the tree RSS of named processes; peaks overall and per phase."""

    def __init__(self, roots: Dict[str, int], interval: float = 0.2) -> None:
        super().__init__(daemon=True)
        self.roots = dict(roots)
        self.interval = interval
        self.peaks: Dict[str, float] = {name: 0.0 for name in roots}
        self.phase_peaks: Dict[str, float] = {name: 0.0 for name in roots}
        self._lock = threading.Lock()
        self._stop_event = threading.Event()

    def add(self, name: str, pid: int) -> None:
        with self._lock:
            self.roots[name] = pid
            self.peaks.setdefault(name, 0.0)
            self.phase_peaks.setdefault(name, 0.0)

    def sample(self) -> None:
        with self._lock:
            roots = dict(self.roots)
        for name, pid in roots.items():
            mb = tree_rss_mb(pid)
            # The process's own high-water mark catches spikes between samples
            # (for the overall peak only: it never goes down).
            hwm = _status_kb(pid, "VmHWM") / 1024
            with self._lock:
                self.peaks[name] = max(self.peaks[name], mb, hwm)
                self.phase_peaks[name] = max(self.phase_peaks[name], mb)

    def end_phase(self) -> Dict[str, float]:
        """Peaks since the last end_phase(), and start a new phase."""
        self.sample()
        with self._lock:
            peaks = dict(self.phase_peaks)
            self.phase_peaks = {name: 0.0 for name in self.phase_peaks}
        return peaks

    def run(self) -> None:
        while not self._stop_event.is_set():
            self.sample()
            self._stop_event.wait(self.interval)

    def stop(self) -> Dict[str, float]:
        self.sample()
        self._stop_event.set()
        self.join(timeout=5)
        return {name: round(mb, 1) for name, mb in self.peaks.items()}


# --------------------------------------------------------------------------
# Measurements against live processes
# --------------------------------------------------------------------------

def train(config: str, out_dir: Path, name: str, env: Dict[str, str], log: Path) -> Dict[str, Any]:
    """`rasa train --force` into out_dir; seconds and peak memory of the tree."""
    out_dir.mkdir(parents=True, exist_ok=True)
    env = dict(env, RASA_CACHE_DIRECTORY=str(out_dir / "cache"))
    command = [str(Path(sys.executable).parent / "rasa"), "train", "--config", config,
               "--domain", "domain.yml", "--data", "data", "--out", str(out_dir),
               "--fixed-model-name", name, "--force"]
    print(f"[{name}] training: {' '.join(command[1:])} (Rasa's output: {log})", flush=True)
    started = time.monotonic()
    with open(log, "ab") as out:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out,
                                   stderr=subprocess.STDOUT, start_new_session=True)
        sampler = RssSampler({"train": process.pid}, interval=0.5)
        sampler.start()
        while True:  # stock takes a quarter of an hour or more: say it is still going
            try:
                code = process.wait(timeout=TRAINING_PROGRESS_SECONDS)
                break
            except subprocess.TimeoutExpired:
                print(f"[{name}]   still training, {(time.monotonic() - started) / 60:.0f} min",
                      flush=True)
    seconds = time.monotonic() - started
    peaks = sampler.stop()
    if code != 0:
        tail = log.read_text(encoding="utf-8", errors="replace")[-3000:]
        raise RuntimeError(f"rasa train failed ({code}) for {config}:\n{tail}")
    print(f"[{name}] trained in {seconds:.1f} s, peak {peaks['train']:.0f} MB", flush=True)
    return {"seconds": round(seconds, 2), "peak_rss_mb": peaks["train"], "source": "measured",
            "model": str(out_dir / f"{name}.tar.gz")}


def rest_headers() -> Dict[str, str]:
    """The REST channel requires the operator credentials (bot/channels/rest.py);
    the API token, not a JWT, because a run outlasts a JWT's five minutes."""
    from common.secrets import secret

    return {"Authorization": f"Bearer {secret('api_token')}"}


def post_json(url: str, body: Dict[str, Any], timeout: float) -> Tuple[int, Any]:
    req = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json", **rest_headers()})
    with urllib.request.urlopen(req, timeout=timeout) as response:
        raw = response.read()
        return response.status, json.loads(raw) if raw else None


def wait_first_answer(bot_url: str, process: subprocess.Popen, started: float,
                      timeout: float, log: Path) -> Dict[str, float]:
    """Poll with a real message until the bot answers it; times from `started`."""
    deadline = started + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = log.read_text(encoding="utf-8", errors="replace")[-3000:]
            raise RuntimeError(f"rasa run exited ({process.returncode}):\n{tail}")
        sent = time.monotonic()
        try:
            status, answer = post_json(f"{bot_url}{REST_PATH}",
                                       {"sender": f"coldstart-{uuid.uuid4().hex[:8]}",
                                        "message": COLD_START_MESSAGE}, timeout=120)
        except (OSError, ValueError):
            time.sleep(0.1)
            continue
        if status == 200 and answer:
            now = time.monotonic()
            return {"seconds": round(now - started, 3), "first_answer_s": round(now - sent, 3)}
        time.sleep(0.1)
    raise TimeoutError(f"no answer from {bot_url} within {timeout:.0f} s")


async def send_turn(session: Any, url: str, sender: str, turn: Turn) -> Sample:
    import aiohttp

    start = time.monotonic()
    error, empty, mismatch, reply = None, False, False, ""
    try:
        async with session.post(url, json={"sender": sender, "message": turn.text}) as response:
            raw = await response.read()
            status = response.status
        if status != 200:
            error = f"http_{status}"
        else:
            messages = json.loads(raw) if raw else []
            texts = [str(m.get("text") or "") for m in messages]
            empty = not messages
            mismatch = not all(any(e in t for t in texts) for e in turn.expect)
            reply = " / ".join(t for t in texts if t)[:200] if mismatch else ""
    except asyncio.TimeoutError:
        error = "timeout"
    except aiohttp.ClientError as exc:
        error = f"connection: {type(exc).__name__}"
    except ValueError:
        error = "bad_json"
    return Sample(turn.kind, start, time.monotonic(), error, empty, mismatch, reply=reply)


async def virtual_citizen(session: Any, url: str, user: int, seed: int, tag: str,
                          stop: asyncio.Event, samples: List[Sample]) -> None:
    for n, conversation in enumerate(conversation_schedule(seed, user)):
        sender = f"bench-{tag}-u{user}-{n}"
        for turn in conversation.turns:
            if stop.is_set():
                return
            sample = await send_turn(session, url, sender, turn)
            sample.user = user
            samples.append(sample)


async def run_level(bot_url: str, concurrency: int, warmup: float, duration: float,
                    seed: int, timeout: float, tag: str) -> Dict[str, Any]:
    """Closed loop: `concurrency` citizens, warm-up, then the measured window."""
    import aiohttp

    connector = aiohttp.TCPConnector(limit=concurrency)
    samples: List[Sample] = []
    stop = asyncio.Event()
    async with aiohttp.ClientSession(connector=connector, headers=rest_headers(),
                                     timeout=aiohttp.ClientTimeout(total=timeout)) as session:
        tasks = [asyncio.create_task(
            virtual_citizen(session, f"{bot_url}{REST_PATH}", user, seed, tag, stop, samples))
            for user in range(concurrency)]
        # Warm-up: at least `warmup` seconds and until every citizen has had an
        # answer, so that at high concurrency the first burst is not measured.
        started = time.monotonic()
        await asyncio.sleep(warmup)
        while len({s.user for s in samples}) < concurrency and time.monotonic() - started < timeout:
            await asyncio.sleep(0.05)
        window_start = time.monotonic()
        warmed_up = window_start - started
        await asyncio.sleep(duration)
        window_end = time.monotonic()
        stop.set()
        # Let the citizens finish the message in flight (not counted).
        done, pending = await asyncio.wait(tasks, timeout=timeout + 5)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        for task in done:
            if task.exception() is not None:
                raise task.exception()
    summary = summarize_level(samples, concurrency, window_start, window_end)
    summary["warmup_s"] = round(warmed_up, 2)
    return summary


async def sanity_pass(bot_url: str, tag: str, timeout: float) -> Dict[str, Any]:
    """Every conversation once, in order: do the answers contain what they should?"""
    import aiohttp

    failures = []
    turns = 0
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout),
                                     headers=rest_headers()) as session:
        for conversation in CONVERSATIONS:
            sender = f"sanity-{tag}-{conversation.name}"
            for turn in conversation.turns:
                turns += 1
                sample = await send_turn(session, f"{bot_url}{REST_PATH}", sender, turn)
                if sample.error or sample.mismatch:
                    failures.append({"conversation": conversation.name, "text": turn.text,
                                     "expected": list(turn.expect),
                                     "problem": sample.error or ("empty answer" if sample.empty
                                                                 else "unexpected answer"),
                                     "reply": sample.reply})
    return {"turns": turns, "ok": turns - len(failures), "failures": failures}


# --------------------------------------------------------------------------
# One configuration end to end
# --------------------------------------------------------------------------

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


def _server_name(command: List[str]) -> str:
    """`rasa run` or `python -m bot.server run`, as the report shows it."""
    if "-m" in command:
        return "python -m " + command[command.index("-m") + 1] + " run"
    return Path(command[0]).name + " run"


def bench_config(name: str, model: Path, settings: Settings, training: Dict[str, Any],
                 actions_pid: int) -> Dict[str, Any]:
    """Fresh simulator + tracker, spawn the bot, cold start, sanity, the levels."""
    from tools.stack import Stack, services, stack_environment

    p = settings.ports
    run_dir = settings.work / name
    run_dir.mkdir(parents=True, exist_ok=True)
    env = stack_environment(p.actions, p.citysim, tracker_db=run_dir / "tracker.db")
    env["CITYLINK_RATE_CONVERSATION"] = "0"  # virtual citizens send as fast as answered
    kwargs: Dict[str, Any] = {}
    if "stock_server" in inspect.signature(services).parameters:
        # Stock Rasa is served by plain `rasa run`, ours by bot.server (unless --stock-server ours).
        kwargs["stock_server"] = name == "stock" and settings.stock_server == "rasa"
    svc = services(model=str(model), bot_port=p.bot, actions_port=p.actions,
                   citysim_port=p.citysim, citysim_db=str(run_dir / "citysim.sqlite"), **kwargs)
    bot_url = f"http://127.0.0.1:{p.bot}"
    result: Dict[str, Any] = {"config": CONFIGS[name]["config"], "model": _rel(model),
                              "model_mb": round(model.stat().st_size / 2**20, 1),
                              "server": _server_name(svc["bot"].command),
                              "training": training}
    with Stack(env=env, log_dir=run_dir / "log") as stack:
        stack.start(svc["citysim"])
        sampler = RssSampler({"actions": actions_pid, "citysim": stack.processes[-1].pid})
        sampler.start()
        try:
            print(f"[{name}] starting {result['server']} ({_rel(model)}) …", flush=True)
            log_path = run_dir / "log" / "bot.log"
            log = open(log_path, "ab")
            started = time.monotonic()
            process = subprocess.Popen(svc["bot"].command, cwd=ROOT, env=stack.env, stdout=log,
                                       stderr=subprocess.STDOUT, start_new_session=True)
            stack.processes.append(process)
            sampler.add("bot", process.pid)

            def cpu_snapshot() -> Dict[str, float]:
                snapshot = {name: cpu_seconds(pid) for name, pid in sampler.roots.items()}
                snapshot["load generator"] = cpu_seconds(os.getpid(), tree=False)
                return snapshot

            result["cold_start"] = wait_first_answer(bot_url, process, started,
                                                     settings.startup_timeout, log_path)
            print(f"[{name}] first answer {result['cold_start']['seconds']:.1f} s after spawn",
                  flush=True)
            result["sanity"] = asyncio.run(sanity_pass(bot_url, f"{name}-{settings.seed}",
                                                       settings.timeout))
            s = result["sanity"]
            print(f"[{name}] sanity: {s['ok']}/{s['turns']} answers as expected", flush=True)
            for failure in s["failures"]:
                print(f"    {failure['conversation']}: “{failure['text']}” → {failure['problem']}"
                      f" (expected {failure['expected']}): {failure['reply'][:80]!r}", flush=True)
            result["rss_after_start_mb"] = {k: round(v, 1) for k, v in sampler.end_phase().items()}
            result["levels"] = {}
            for level in settings.levels:
                tag = f"{name}-c{level}-{uuid.uuid4().hex[:6]}"
                load_before = os.getloadavg()[0]
                cpu_before, level_started = cpu_snapshot(), time.monotonic()
                summary = asyncio.run(run_level(bot_url, level, settings.warmup, settings.duration,
                                                settings.seed, settings.timeout, tag))
                # Warm-up and window together: where the machine's two cores went.
                summary["cpu_percent"] = cpu_percent(cpu_before, cpu_snapshot(),
                                                     time.monotonic() - level_started)
                summary["peak_rss_mb"] = {k: round(v, 1) for k, v in sampler.end_phase().items()}
                summary["loadavg_1m_before"] = round(load_before, 2)
                result["levels"][str(level)] = summary
                lat = summary["latency_ms"]
                print(f"[{name}] {level:>3} citizens: {summary['throughput_msg_s']:.2f} msg/s, "
                      f"p50 {_fmt(lat['p50'])} p95 {_fmt(lat['p95'])} p99 {_fmt(lat['p99'])} ms, "
                      f"{summary['answered']} answered, {summary['errors']} errors, "
                      f"{summary['mismatches']} unexpected", flush=True)
                print(f"[{name}]     CPU (% of one core): " + ", ".join(
                    f"{k} {v:.0f}" for k, v in summary["cpu_percent"].items()), flush=True)
        finally:
            result["peak_rss_mb"] = sampler.stop()
    print(f"[{name}] peak RSS: " + ", ".join(f"{k} {v:.0f} MB" for k, v in result["peak_rss_mb"].items()),
          flush=True)
    return result


# --------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------

def _rel(path: Path) -> str:
    try:
        return str(Path(path).resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


def _run(command: List[str]) -> str:
    try:
        return subprocess.run(command, cwd=ROOT, capture_output=True, text=True,
                              timeout=20).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def machine_info() -> Dict[str, Any]:
    lscpu = {}
    for line in _run(["lscpu"]).splitlines():
        key, _, value = line.partition(":")
        lscpu[key.strip()] = value.strip()
    meminfo = {}
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            key, _, value = line.partition(":")
            meminfo[key] = value.strip()
    except OSError:
        pass
    try:
        import rasa

        rasa_version = rasa.__version__
    except Exception:  # pragma: no cover - rasa is installed wherever this runs
        rasa_version = None
    return {
        "nproc": _run(["nproc"]) or os.cpu_count(),
        "cpu_model": lscpu.get("Model name"),
        "cpus": lscpu.get("CPU(s)"),
        "threads_per_core": lscpu.get("Thread(s) per core"),
        "hypervisor": lscpu.get("Hypervisor vendor"),
        "l2_cache": lscpu.get("L2 cache"),
        "l3_cache": lscpu.get("L3 cache"),
        "mem_total": meminfo.get("MemTotal"),
        "mem_available_at_start": meminfo.get("MemAvailable"),
        "swap_total": meminfo.get("SwapTotal"),
        "kernel": platform.release(),
        "os": _run(["sh", "-c", ". /etc/os-release && echo $PRETTY_NAME"]),
        "python": platform.python_version(),
        "rasa": rasa_version,
        "loadavg_at_start": [round(x, 2) for x in os.getloadavg()],
    }


def git_info() -> Dict[str, Any]:
    # --no-optional-locks: read-only, never refreshes the index.
    dirty = _run(["git", "--no-optional-locks", "status", "--porcelain", "--untracked-files=no"])
    return {"commit": _run(["git", "rev-parse", "HEAD"]) or None, "dirty": bool(dirty)}


def plot(report: Dict[str, Any], directory: Path, stem: str) -> List[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    levels = report["settings"]["levels"]
    configs = report["configs"]
    colors = {"ours": "tab:blue", "stock": "tab:orange"}
    markers = {"ours": "o", "stock": "s"}
    styles = {"p50": "-", "p95": "--", "p99": ":"}
    paths = []

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for name, result in configs.items():
        for p, style in styles.items():
            ys = [(result["levels"].get(str(l)) or {}).get("latency_ms", {}).get(p) for l in levels]
            ax.plot(levels, [y if y is not None else float("nan") for y in ys], style,
                    marker=markers.get(name, "o"), color=colors.get(name), label=f"{name} {p}")
    ax.set_xscale("log", base=2)
    ax.set_xticks(levels)
    ax.set_xticklabels([str(l) for l in levels])
    ax.set_yscale("log")
    ax.set_xlabel("concurrent conversations (closed loop)")
    ax.set_ylabel("end-to-end latency per message (ms, log)")
    ax.set_title("CityLink vs stock Rasa pipeline: latency over the REST channel")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8, ncol=2)
    fig.tight_layout()
    paths.append(directory / f"{stem}_latency.png")
    fig.savefig(paths[-1], dpi=120)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(7, 4.5))
    width = 0.8 / max(len(configs), 1)
    for i, (name, result) in enumerate(configs.items()):
        ys = [(result["levels"].get(str(l)) or {}).get("throughput_msg_s") or 0 for l in levels]
        xs = [j + (i - (len(configs) - 1) / 2) * width for j in range(len(levels))]
        bars = ax.bar(xs, ys, width, label=name, color=colors.get(name))
        for bar, y in zip(bars, ys):
            ax.annotate(f"{y:.1f}", (bar.get_x() + bar.get_width() / 2, y), ha="center",
                        va="bottom", fontsize=8)
    ax.set_xticks(range(len(levels)))
    ax.set_xticklabels([str(l) for l in levels])
    ax.set_xlabel("concurrent conversations (closed loop)")
    ax.set_ylabel("answered messages per second")
    ax.set_title("CityLink vs stock Rasa pipeline: throughput")
    ax.grid(True, axis="y", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    paths.append(directory / f"{stem}_throughput.png")
    fig.savefig(paths[-1], dpi=120)
    plt.close(fig)
    return paths


def build_report(configs: Dict[str, Dict[str, Any]], settings: Settings, argv: List[str],
                 machine: Dict[str, Any], git: Dict[str, Any], started: str,
                 wall_s: float) -> Dict[str, Any]:
    return {
        "schema": SCHEMA,
        "date": started,
        "wall_time_s": round(wall_s, 1),
        "command": argv,
        "git": git,
        "machine": machine,
        "settings": {
            "levels": settings.levels, "duration_s": settings.duration, "warmup_s": settings.warmup,
            "seed": settings.seed, "request_timeout_s": settings.timeout,
            "ports": {"bot": settings.ports.bot, "actions": settings.ports.actions,
                      "citysim": settings.ports.citysim},
            "conversations": [{"name": c.name, "turns": [t.text for t in c.turns]}
                              for c in CONVERSATIONS],
            **settings.extra,
        },
        "configs": configs,
        "table": comparison_table(configs, settings.levels),
    }


# --------------------------------------------------------------------------

def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--levels", default="1,8,32", help="concurrent conversations (default 1,8,32)")
    parser.add_argument("--duration", type=float, help="measured seconds per level (60; --quick 3)")
    parser.add_argument("--warmup", type=float, help="unmeasured seconds before each level (10; --quick 1)")
    parser.add_argument("--seed", type=int, default=20241127, help="conversation choice seed")
    parser.add_argument("--timeout", type=float, default=60, help="per-message timeout in seconds (60)")
    parser.add_argument("--skip-stock", action="store_true", help="measure ours only")
    parser.add_argument("--stock", action="store_true",
                        help="measure stock as well, even with --quick")
    parser.add_argument("--stock-server", choices=["rasa", "ours"], default="rasa",
                        help="serve the stock model with plain `rasa run` (default) or with "
                             "bot.server like ours")
    parser.add_argument("--skip-train", action="store_true",
                        help="serve models/*.tar.gz; training time from the last recorded run")
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: 3 s per level, 1 s warm-up, --skip-train, --skip-stock unless --stock; "
                             "writes results/bench_quick.*")
    parser.add_argument("--port-base", type=int, default=int(os.environ.get("CITYLINK_BENCH_PORT_BASE", 25000)),
                        help="bot on base+5, actions base+55, simulator base+80 (25000)")
    parser.add_argument("--results", type=Path, default=RESULTS, help="output directory (results/)")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (logs, trackers)")
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
    print(f"CityLink bench {started}: {machine['cpu_model']}, {machine['nproc']} CPUs, "
          f"{machine['mem_total']}, load {machine['loadavg_at_start']}; "
          f"commit {(git['commit'] or '?')[:10]}{' (dirty)' if git['dirty'] else ''}", flush=True)
    work = Path(tempfile.mkdtemp(prefix="citylink-bench-"))
    ports = Ports.from_base(args.port_base)
    settings = Settings(args.level_list, args.duration, args.warmup, args.seed, args.timeout,
                        ports, work, stock_server=args.stock_server,
                        extra={"skip_train": args.skip_train, "quick": args.quick,
                               "stock_server": args.stock_server})
    env = stack_environment(ports.actions, ports.citysim, tracker_db=work / "train-tracker.db")
    previous = previous_training(RESULTS / "bench.json", RESULTS / "comparison.json")
    try:
        # 1. Training, one configuration at a time, nothing else running.
        training: Dict[str, Dict[str, Any]] = {}
        models: Dict[str, Path] = {}
        for name in names:
            stored = ROOT / CONFIGS[name]["model"]
            if args.skip_train and stored.exists():
                models[name] = stored
                training[name] = previous.get(name) or {"seconds": None, "peak_rss_mb": None,
                                                        "source": "not measured (--skip-train)"}
                continue
            result = train(CONFIGS[name]["config"], work / "models", name, env,
                           work / f"train-{name}.log")
            models[name] = Path(result.pop("model"))
            training[name] = result
            if name == "stock" and not stored.exists():
                # make eval and later --skip-train runs reuse it.
                stored.parent.mkdir(exist_ok=True)
                shutil.copy2(models[name], stored)

        # 2. One action server for both bots; simulator and bot per configuration.
        actions_svc = services(actions_port=ports.actions, citysim_port=ports.citysim)["actions"]
        configs: Dict[str, Dict[str, Any]] = {}
        with Stack(env=env, log_dir=work / "log") as actions_stack:
            actions_stack.start(actions_svc)
            actions_pid = actions_stack.processes[-1].pid
            for name in names:
                configs[name] = bench_config(name, models[name], settings, training[name],
                                             actions_pid)
    finally:
        if args.keep:
            print(f"work directory kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)

    command = ["python", "-m", "tools.bench", *(sys.argv[1:] if argv is None else argv)]
    report = build_report(configs, settings, command,
                          machine, git, started, time.monotonic() - wall_started)
    problems = validate_report(report)
    json_path = args.results / f"{stem}.json"
    json_path.write_text(json.dumps(report, ensure_ascii=False, indent=2), encoding="utf-8")
    pngs = plot(report, args.results, stem)
    print()
    print(format_table(report["table"]))
    errors = {name: {lvl: r["error_kinds"] for lvl, r in c["levels"].items() if r["error_kinds"]}
              for name, c in configs.items()}
    for name, by_level in errors.items():
        for level, kinds in by_level.items():
            print(f"errors {name} @{level}: {kinds}")
    print(f"\nratio < 1 is better for 'lower', > 1 for 'higher'. Wall time {report['wall_time_s']:.0f} s.")
    print(f"written: {_rel(json_path)}, " + ", ".join(_rel(p) for p in pngs))
    if problems:
        print("report problems: " + "; ".join(problems), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
