"""What every launcher (`make run`, `make cluster`) needs to start and stop processes safely.

Measured before this module: one SIGTERM to `make run`'s process group stopped
the bot but orphaned the simulator and the action server. make passes the
signal on to its child, so the launcher got it twice, and the second arrived
while it was stopping the first service, aborting the rest. The next launch
then saw the orphans' health checks answer and took them for its own.

So a launcher here:

* stops everything it started on SIGTERM, SIGINT or SIGHUP, once, with further
  signals held off while it does (`stop_on_signals`, `signals_held`); every
  child leads its own process group, which is stopped as a whole (Sanic's
  worker processes included), and killed if it outlives a grace period; a child
  whose launcher dies without stopping it (SIGKILL) gets SIGTERM from the
  kernel (`die_with_parent`);
* refuses a port another process listens on, naming the port and the holder
  (`check_port_free`);
* counts a service as started only when the socket answering its health check
  belongs to the process it just started (`listening_pids`), not to whatever
  else answers on that port.
"""
from __future__ import annotations

import ctypes
import os
import signal
import socket
import subprocess
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, List, Optional, Set

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
PR_SET_PDEATHSIG = 1
TCP_LISTEN = "0A"


class PortBusy(RuntimeError):
    """A port the launcher needs is held by another process."""


def die_with_parent() -> None:
    """`preexec_fn`: the child gets SIGTERM if the launcher dies (Linux prctl)."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


def _listening_inodes(port: int) -> Set[str]:
    inodes: Set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if fields[3] == TCP_LISTEN and int(fields[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(fields[9])
    return inodes


def listening_pids(port: int) -> Set[int]:
    """The processes holding a listening socket on `port` (any address)."""
    wanted = {f"socket:[{inode}]" for inode in _listening_inodes(port)}
    pids: Set[int] = set()
    if not wanted:
        return pids
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            for fd in (proc / "fd").iterdir():
                if os.readlink(fd) in wanted:
                    pids.add(int(proc.name))
                    break
        except OSError:  # gone, or not ours to read
            continue
    return pids


def describe(pid: int) -> str:
    """`pid 123 (python -m citysim …)`, the command cut short."""
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(
            errors="replace").strip()
    except OSError:
        command = "?"
    return f"pid {pid} ({command[:100]})"


def free_port() -> int:
    """A port nobody listens on now (for tests and the cluster's daemons)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def check_port_free(port: int, name: str, host: str = "127.0.0.1") -> None:
    """Raise PortBusy, naming the port and its holder, if `port` cannot be bound."""
    with socket.socket() as probe:
        # As the servers do: connections in TIME_WAIT don't hold the port, a listener does.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
            return
        except OSError:
            pass
    holders = ", ".join(describe(pid) for pid in sorted(listening_pids(port))) or "未知进程 unknown"
    raise PortBusy(
        f"{name} 的端口 {port} 已被占用：{holders}。请先停止它（或换端口）再启动。\n"
        f"Port {port} for {name} is already in use by {holders}; stop it (or use another port).")


def belongs_to(process: subprocess.Popen, port: int) -> Optional[List[int]]:
    """The listeners on `port` if none is in `process`'s session, else None."""
    holders = listening_pids(port)
    ours = [pid for pid in holders if _session(pid) == process.pid]
    return None if ours else sorted(holders)


def _session(pid: int) -> int:
    try:
        return os.getsid(pid)
    except OSError:
        return -1


@contextmanager
def signals_held() -> Iterator[None]:
    """Stop signals wait (blocked) until the block ends: stopping is not interrupted."""
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def stop_on_signals() -> None:
    """The first SIGTERM/SIGINT/SIGHUP ends the launcher (its `finally` stops the
    children); the signals after it are ignored, so they cannot cut that short."""

    def stop(signum: int, _frame: object) -> None:
        for number in STOP_SIGNALS:
            signal.signal(number, signal.SIG_IGN)
        print(f"收到信号 {signal.Signals(signum).name}，正在停止全部服务…", flush=True)
        raise SystemExit(128 + signum)

    for number in STOP_SIGNALS:
        signal.signal(number, stop)


def stop_groups(processes: List[subprocess.Popen], grace: float = 30.0) -> None:
    """SIGTERM each process group (newest first), SIGKILL what outlives `grace`,
    and kill any member of a group that outlived its leader."""
    with signals_held():
        for process in reversed(processes):
            _signal_group(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        for process in reversed(processes):
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                _signal_group(process.pid, signal.SIGKILL)
                process.wait()
            _signal_group(process.pid, signal.SIGKILL)  # stragglers of the group


def _signal_group(pgid: int, number: int) -> None:
    """Signal the group a child started (it leads its own session), if any member is left:
    a group whose id was reused by a stranger's process is not ours to signal."""
    if not _session_members(pgid):
        return
    try:
        os.killpg(pgid, number)
    except (ProcessLookupError, PermissionError):
        pass


def _session_members(sid: int) -> List[int]:
    """Processes in process group and session `sid` (what start_new_session made)."""
    members = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != "Z" and int(fields[2]) == sid and int(fields[3]) == sid:
            members.append(int(proc.name))
    return members
