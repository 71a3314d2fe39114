"""Launchers stop all they started, refuse busy ports, and trust only their own children.

The launcher under test is tests/lifecycle/launcher.py: tools/stack.py's Stack
and signal handling (what `make run` runs) over stand-in services that, like
Sanic, fork a worker process.
"""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from threading import Thread
from typing import Iterator, List, Tuple

import pytest

from common.logsafe import LogSink
from tools.lifecycle import free_port
from tools.stack import ROOT, Service, wait_healthy


def _alive(pid: int) -> bool:
    """Running (a zombie waiting to be reaped counts as gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _launch(tmp_path: Path, ports: List[int]) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.lifecycle.launcher", str(tmp_path), *map(str, ports)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)})


@pytest.fixture
def running(tmp_path: Path) -> Iterator[Tuple[subprocess.Popen, List[int]]]:
    """A launcher with three services up, and the pids of their processes."""
    ports = [free_port() for _ in range(3)]
    launcher = _launch(tmp_path, ports)
    assert launcher.stdout is not None
    for line in launcher.stdout:
        if line.strip() == "READY":
            break
    else:
        pytest.fail(f"launcher ended: {launcher.wait()}")
    pids = []
    for port in ports:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=10) as response:
            pids += json.loads(response.read()).values()
    yield launcher, pids
    for pid in pids:  # nothing left behind even when the test failed
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)
    launcher.kill()


def _gone_within(pids: List[int], seconds: float) -> List[int]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and any(map(_alive, pids)):
        time.sleep(0.1)
    return [pid for pid in pids if _alive(pid)]


@pytest.mark.parametrize("signals", [
    [signal.SIGTERM], [signal.SIGINT], [signal.SIGHUP],
    [signal.SIGTERM, signal.SIGTERM],  # what `make` adds: it passes the signal on
], ids=["SIGTERM", "SIGINT", "SIGHUP", "SIGTERM-twice"])
def test_a_signal_to_the_launcher_stops_every_process_it_started(running, signals):
    launcher, pids = running
    for number in signals:
        launcher.send_signal(number)
        time.sleep(0.05)
    launcher.wait(timeout=60)
    assert _gone_within(pids, 10) == []
    assert launcher.returncode != 0


def test_a_killed_launcher_takes_its_children_with_it(running):
    launcher, pids = running
    launcher.kill()  # no chance to clean up: the kernel's parent-death signal does it
    launcher.wait()
    parents = pids[0::2]  # (parent, worker) per service; the parent stops its own workers
    assert _gone_within(parents, 10) == []


def test_the_launcher_refuses_a_port_another_process_holds(tmp_path: Path):
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        launcher = _launch(tmp_path, [port])
        output, _ = launcher.communicate(timeout=60)
    assert launcher.returncode != 0
    assert f"端口 {port} 已被占用" in output and f"Port {port}" in output
    assert f"pid {os.getpid()}" in output  # the holder, named
    assert "READY" not in output


class _Stranger(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def test_a_health_check_answered_by_another_process_does_not_count(tmp_path: Path):
    stranger = HTTPServer(("127.0.0.1", 0), _Stranger)
    Thread(target=stranger.serve_forever, daemon=True).start()
    port = stranger.server_address[1]
    child = subprocess.Popen(["sleep", "60"], start_new_session=True)  # alive, never listens
    try:
        service = Service("actions", ["sleep"], f"http://127.0.0.1:{port}/health", port)
        with pytest.raises(RuntimeError, match=f"端口 {port} 上应答的不是刚启动的 actions"):
            wait_healthy(service, child, timeout=10, log=LogSink(tmp_path / "log"))
    finally:
        child.kill()
        stranger.shutdown()


def test_a_child_that_died_fails_its_health_check_at_once(tmp_path: Path):
    log = tmp_path / "log"
    log.write_text("bind failed\n")
    child = subprocess.Popen(["false"], start_new_session=True)
    child.wait()
    service = Service("citysim", ["false"], f"http://127.0.0.1:{free_port()}/health", 1)
    with pytest.raises(RuntimeError, match="进程已退出（退出码 1）"):
        wait_healthy(service, child, timeout=10, log=LogSink(log))
