"""The latency and throughput plots of a report."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List


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
            ys = [
                (result["levels"].get(str(level)) or {}).get("latency_ms", {}).get(p)
                for level in levels
            ]
            ax.plot(
                levels,
                [y if y is not None else float("nan") for y in ys],
                style,
                marker=markers.get(name, "o"),
                color=colors.get(name),
                label=f"{name} {p}",
            )
    ax.set_xscale("log", base=2)
    ax.set_xticks(levels)
    ax.set_xticklabels([str(level) for level in levels])
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
        ys = [
            (result["levels"].get(str(level)) or {}).get("throughput_msg_s") or 0
            for level in levels
        ]
        xs = [j + (i - (len(configs) - 1) / 2) * width for j in range(len(levels))]
        bars = ax.bar(xs, ys, width, label=name, color=colors.get(name))
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
