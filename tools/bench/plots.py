"""The latency and throughput plots of a report."""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any, Dict, List, Optional


def plot(report: Dict[str, Any], directory: Path, stem: str) -> List[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    levels = report["settings"]["levels"]
    configs = report["configs"]
    names = {name: label(name, result) for name, result in configs.items()}
    colors = {"ours": "tab:blue", "stock": "tab:orange"}
    markers = {"ours": "o", "stock": "s"}
    styles = {"p50": "-", "p95": "--", "p99": ":"}
    paths = []

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for name, result in configs.items():
        for p, style in styles.items():
            ys = [
                (result["levels"].get(str(level)) or {}).get("latency_ms", {}).get(p)
                for level in levels
            ]
            _line(
                ax,
                levels,
                ys,
                style,
                markers.get(name, "o"),
                colors.get(name),
                f"{names[name]} {p}",
            )
    _concurrency_axis(ax, levels)
    ax.set_yscale("log")
    paths.append(
        _save(
            plt,
            fig,
            directory / f"{stem}_latency.png",
            "concurrent conversations (closed loop)",
            "end-to-end latency per message (ms, log)",
            "CityLink vs stock Rasa pipeline: latency over the REST channel",
            legend={"fontsize": 8, "ncol": 2},
        )
    )

    fig, ax = plt.subplots(figsize=(7, 4.5))
    width = 0.8 / max(len(configs), 1)
    for i, (name, result) in enumerate(configs.items()):
        ys = [
            (result["levels"].get(str(level)) or {}).get("throughput_msg_s") or 0
            for level in levels
        ]
        xs = [j + (i - (len(configs) - 1) / 2) * width for j in range(len(levels))]
        bars = ax.bar(xs, ys, width, label=names[name], color=colors.get(name))
        for bar, y in zip(bars, ys):
            ax.annotate(
                f"{y:.1f}",
                (bar.get_x() + bar.get_width() / 2, y),
                ha="center",
                va="bottom",
                fontsize=8,
            )
    ax.set_xticks(range(len(levels)))
    ax.set_xticklabels([str(level) for level in levels])
    paths.append(
        _save(
            plt,
            fig,
            directory / f"{stem}_throughput.png",
            "concurrent conversations (closed loop)",
            "answered messages per second",
            "CityLink vs stock Rasa pipeline: throughput",
            grid={"axis": "y"},
            legend={},
        )
    )
    if any(result.get("varied") for result in configs.values()):
        paths.append(_varied(plt, configs, directory / f"{stem}_varied.png", colors))
    if any(result.get("long") for result in configs.values()):
        paths.append(_long(plt, configs, directory / f"{stem}_long.png", colors))
    return paths


def _line(
    ax: Any, levels: List[int], ys: List[Any], style: str, marker: str, color: Any, text: str
) -> None:
    """One latency line; a level without a figure is a gap, not a zero."""
    ax.plot(
        levels,
        [y if y is not None else float("nan") for y in ys],
        style,
        marker=marker,
        color=color,
        label=text,
    )


def _save(
    plt: Any,
    fig: Any,
    path: Path,
    xlabel: str,
    ylabel: str,
    title: str,
    grid: Optional[Dict[str, Any]] = None,
    legend: Optional[Dict[str, Any]] = None,
) -> Path:
    """Labels, grid and legend of the figure's axes, then the figure written and closed."""
    ax = fig.axes[0]
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(True, alpha=0.3, **({"which": "both"} if grid is None else grid))
    ax.legend(**({"fontsize": 8} if legend is None else legend))
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def _concurrency_axis(ax: Any, levels: List[int]) -> None:
    """Concurrency on a log-2 axis, ticked at the measured levels."""
    ax.set_xscale("log", base=2)
    ax.set_xticks(levels)
    ax.set_xticklabels([str(level) for level in levels])


def label(name: str, result: Dict[str, Any]) -> str:
    """A configuration's name in the legends ("stock" may be our model unpatched)."""
    return "ours, patches off" if "PATCHES_OFF" in str(result.get("config")) else name


def _varied(plt: Any, configs: Dict[str, Any], path: Path, colors: Dict[str, str]) -> Path:
    """p50 and p95 against concurrency on the varied workload."""
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for name, result in configs.items():
        levels = sorted(int(level) for level in result.get("varied") or {})
        for p, style in (("p50", "-"), ("p95", "--")):
            ys = [result["varied"][str(level)]["latency_ms"].get(p) for level in levels]
            _line(ax, levels, ys, style, "o", colors.get(name), f"{label(name, result)} {p}")
        _concurrency_axis(ax, levels)
    ax.set_yscale("log")
    return _save(
        plt,
        fig,
        path,
        "concurrent citizens (closed loop, varied messages)",
        "latency per message (ms, log)",
        "Varied workload: latency",
    )


def _running_median(values: List[float], n: int) -> List[float]:
    """The median of each value and the n - 1 before it (errors, NaN, left out)."""
    out = []
    for i in range(len(values)):
        window = [v for v in values[max(0, i - n + 1) : i + 1] if v == v]
        out.append(statistics.median(window) if window else float("nan"))
    return out


def _long(plt: Any, configs: Dict[str, Any], path: Path, colors: Dict[str, str]) -> Path:
    """Each turn's latency in one long conversation, and its running median of 10 turns."""
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for name, result in configs.items():
        per_turn = (result.get("long") or {}).get("per_turn_ms") or []
        turns = list(range(1, len(per_turn) + 1))
        ys = [y if y is not None else float("nan") for y in per_turn]
        ax.plot(turns, ys, ".", color=colors.get(name), alpha=0.3, markersize=3)
        ax.plot(
            turns,
            _running_median(ys, 10),
            "-",
            color=colors.get(name),
            label=f"{label(name, result)} (median of 10)",
        )
    ax.set_yscale("log")
    return _save(
        plt,
        fig,
        path,
        "turn of the conversation",
        "latency (ms, log)",
        "One long conversation: cost of a turn by its position",
    )
