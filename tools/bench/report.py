"""The comparison table, the bench.json schema and the machine it ran on."""

from __future__ import annotations

import os
import platform
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

from tabulate import tabulate

from tools.bench.stats import ratio

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = "citylink-bench/1"


@dataclass(frozen=True)
class Figure:
    key: str
    label: str
    unit: str
    better: str  # "lower" or "higher"


def figures(
    levels: Sequence[int], varied_levels: Sequence[int] = (), long: bool = False
) -> List[Figure]:
    rows: List[Figure] = []
    for level in levels:
        for p in ("p50", "p95", "p99"):
            rows.append(Figure(f"latency_{p}_c{level}", f"latency {p} @{level}", "ms", "lower"))
    for level in levels:
        rows.append(Figure(f"throughput_c{level}", f"throughput @{level}", "msg/s", "higher"))
    for level in varied_levels:
        for p in ("p50", "p95"):
            rows.append(
                Figure(f"varied_{p}_c{level}", f"varied: latency {p} @{level}", "ms", "lower")
            )
        rows.append(
            Figure(f"varied_throughput_c{level}", f"varied: throughput @{level}", "msg/s", "higher")
        )
    if long:
        rows += [
            Figure("long_first_p50", "long conversation: p50 of the first 20 turns", "ms", "lower"),
            Figure("long_last_p50", "long conversation: p50 of the last 20 turns", "ms", "lower"),
            Figure("long_ratio", "long conversation: last / first", "x", "lower"),
        ]
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
    if key.startswith("varied_"):
        _, p, level = key.split("_")
        varied = (result.get("varied") or {}).get(level[1:]) or {}
        return (
            varied.get("throughput_msg_s")
            if p == "throughput"
            else (varied.get("latency_ms", {}).get(p))
        )
    if key.startswith("long_"):
        field = {
            "long_first_p50": "first_p50_ms",
            "long_last_p50": "last_p50_ms",
            "long_ratio": "last_over_first",
        }[key]
        return (result.get("long") or {}).get(field)
    if key.startswith("latency_"):
        _, p, level = key.split("_")
        return (levels.get(level[1:]) or {}).get("latency_ms", {}).get(p)
    if key.startswith("throughput_c"):
        return (levels.get(key[len("throughput_c") :]) or {}).get("throughput_msg_s")
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


def comparison_table(
    configs: Dict[str, Dict[str, Any]],
    levels: Sequence[int],
    varied_levels: Sequence[int] = (),
    long: bool = False,
) -> List[Dict[str, Any]]:
    """One row per figure: ours, stock, ours/stock, and where a value came from."""
    rows = []
    for fig in figures(levels, varied_levels, long):
        ours = figure_value(configs.get("ours"), fig.key)
        stock = figure_value(configs.get("stock"), fig.key)
        notes = []
        if fig.key == "training_time":
            for name in ("ours", "stock"):
                source = ((configs.get(name) or {}).get("training") or {}).get("source")
                if source and source != "measured":
                    notes.append(f"{name}: {source}")
        rows.append(
            {
                "figure": fig.key,
                "label": fig.label,
                "unit": fig.unit,
                "better": fig.better,
                "ours": ours,
                "stock": stock,
                "ratio": ratio(ours, stock),
                "note": "; ".join(notes),
            }
        )
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


def _cells(row: Dict[str, Any]) -> List[str]:
    r = "n/a" if row["ratio"] is None else f"{row['ratio']:.2f}"
    return [_fmt(row["ours"], row["unit"]), _fmt(row["stock"], row["unit"]), r, row["better"]]


def format_table(rows: Sequence[Dict[str, Any]]) -> str:
    """The comparison table for the terminal; a figure's note in brackets after it."""
    notes = any(row.get("note") for row in rows)
    body = [
        [f"{row['label']} ({row['unit']})", *_cells(row)]
        + ([f"[{row['note']}]" if row.get("note") else ""] if notes else [])
        for row in rows
    ]
    headers = ["figure", "ours", "stock", "ours/stock", "better"] + (["note"] if notes else [])
    return tabulate(
        body,
        headers=headers,
        tablefmt="simple",
        disable_numparse=True,
        colalign=("left", "right", "right", "right"),
    )


def markdown_table(rows: Sequence[Dict[str, Any]]) -> str:
    """The same table for docs/benchmarks.md."""
    body = [
        [
            f"{row['label']} ({row['unit']})" + (f" ({row['note']})" if row.get("note") else ""),
            *_cells(row),
        ]
        for row in rows
    ]
    return tabulate(
        body,
        headers=["figure", "ours", "stock", "ours/stock", "better"],
        tablefmt="github",
        disable_numparse=True,
        colalign=("left", "right", "right", "right", "left"),
    )


REQUIRED = {
    "schema": str,
    "date": str,
    "command": list,
    "git": dict,
    "machine": dict,
    "settings": dict,
    "configs": dict,
    "table": list,
}
REQUIRED_CONFIG = {
    "config": str,
    "model": str,
    "training": dict,
    "cold_start": dict,
    "peak_rss_mb": dict,
    "sanity": dict,
    "levels": dict,
}
REQUIRED_LEVEL = {
    "concurrency": int,
    "window_s": (int, float),
    "messages": int,
    "answered": int,
    "errors": int,
    "error_kinds": dict,
    "empty": int,
    "mismatches": int,
    "throughput_msg_s": (int, float),
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
    settings = report.get("settings") or {}
    varied_levels = settings.get("varied_levels") or []
    for name, result in report["configs"].items():
        for level in varied_levels:
            data = (result.get("varied") or {}).get(str(level))
            if data is None:
                problems.append(f"configs.{name}.varied: missing {level}")
            else:
                check(data, REQUIRED_LEVEL, f"configs.{name}.varied.{level}")
        if settings.get("long_turns") and not isinstance(result.get("long"), dict):
            problems.append(f"configs.{name}: missing long")
    expected_rows = [
        f.key for f in figures(levels, varied_levels, bool(settings.get("long_turns")))
    ]
    if [row.get("figure") for row in report["table"]] != expected_rows:
        problems.append("table: rows differ from figures(settings)")
    for row in report["table"]:
        for key in ("ours", "stock", "ratio"):
            if key not in row:
                problems.append(f"table.{row.get('figure')}: missing {key}")
    return problems


def _rel(path: Path) -> str:
    try:
        return str(Path(path).resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


def _run(command: List[str]) -> str:
    try:
        return subprocess.run(
            command, cwd=ROOT, capture_output=True, text=True, timeout=20
        ).stdout.strip()
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
