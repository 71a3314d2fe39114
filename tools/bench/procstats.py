"""CPU and memory of the benchmarked processes and their children (psutil)."""

from __future__ import annotations

import threading
from typing import Callable, Dict, List

import psutil


def _members(root: int) -> List[psutil.Process]:
    """root and its live descendants (none when root is gone)."""
    try:
        process = psutil.Process(root)
        return [process, *process.children(recursive=True)]
    except psutil.Error:
        return []


def process_tree(root: int) -> List[int]:
    """root and all its descendants."""
    return [member.pid for member in _members(root)]


def _sum(members: List[psutil.Process], read: Callable[[psutil.Process], float]) -> float:
    total = 0.0
    for member in members:
        try:
            total += read(member)
        except psutil.Error:  # exited between listing and reading
            pass
    return total


def _rss_mb(members: List[psutil.Process]) -> float:
    return _sum(members, lambda p: p.memory_info().rss) / 2**20


def high_water_mb(pid: int) -> float:
    """The process's own peak resident set (VmHWM; psutil does not expose it), 0 when unknown."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            line = next((line for line in status if line.startswith("VmHWM:")), "VmHWM: 0 kB")
        return int(line.split()[1]) / 1024
    except (OSError, ValueError):
        return 0.0


def cpu_seconds(pid: int, tree: bool = True) -> float:
    """User + system CPU time of a process (and, with `tree`, its live descendants)."""
    members = _members(pid) if tree else _members(pid)[:1]
    return _sum(members, lambda p: p.cpu_times().user + p.cpu_times().system)


def cpu_percent(
    before: Dict[str, float], after: Dict[str, float], seconds: float
) -> Dict[str, float]:
    """Share of one core each process used between two `cpu_seconds` snapshots (200 = 2 cores)."""
    return {
        name: round(100 * (after[name] - before.get(name, 0.0)) / seconds, 1)
        for name in after
        if seconds > 0
    }


class RssSampler(threading.Thread):
    """Samples the tree RSS of named processes; peaks overall and per phase.

    The trees are listed again only every `relist` samples: listing a process's
    children reads /proc/<pid>/stat of every process on the machine, which was
    two thirds of the load generator's own CPU (py-spy) and held the GIL while
    the virtual citizens waited (docs/benchmarks.md, change 27).
    """

    def __init__(self, roots: Dict[str, int], interval: float = 0.2, relist: int = 10) -> None:
        super().__init__(daemon=True)
        self.roots = dict(roots)
        self.interval = interval
        self.relist = relist
        self._trees: Dict[int, List[psutil.Process]] = {}
        self._samples = 0
        self.peaks: Dict[str, float] = {name: 0.0 for name in roots}
        self.phase_peaks: Dict[str, float] = {name: 0.0 for name in roots}
        self._lock = threading.Lock()
        self._stop_event = threading.Event()

    def add(self, name: str, pid: int) -> None:
        with self._lock:
            self.roots[name] = pid
            self.peaks.setdefault(name, 0.0)
            self.phase_peaks.setdefault(name, 0.0)

    def _tree(self, pid: int) -> List[psutil.Process]:
        if pid not in self._trees or self._samples % self.relist == 0:
            self._trees[pid] = _members(pid)
        return self._trees[pid]

    def sample(self) -> None:
        with self._lock:
            roots = dict(self.roots)
        self._samples += 1
        for name, pid in roots.items():
            mb = _rss_mb(self._tree(pid))
            # The process's own high-water mark catches spikes between samples
            # (for the overall peak only: it never goes down).
            hwm = high_water_mb(pid)
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
