"""Start the whole CityLink system: simulated city backends, actions, bot.

`make run` and `make shell` call this; tests and benchmarks use `Stack`
directly so that every run starts the same processes the same way.
"""
from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional

from tools.lifecycle import belongs_to, check_port_free, die_with_parent, stop_groups, stop_on_signals

ROOT = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent


@dataclass(frozen=True)
class Service:
    name: str
    command: List[str]
    health_url: str
    port: int  # the one it listens on: checked free before, and its own after start
    env: Optional[Dict[str, str]] = None  # set over the stack's environment (cluster nodes)
    user: Optional[str] = None  # run as this user (PostgreSQL refuses root)


def services(
    model: str = "models/citylink.tar.gz",
    bot_port: int = 5005,
    actions_port: int = 5055,
    citysim_port: int = 5080,
    citysim_db: str = "var/citysim.sqlite",
    stock_server: bool = False,
) -> Dict[str, Service]:
    """The processes of a full stack; ports overridable so tests don't collide.

    The bot runs through bot.server (Rasa plus measured fixes); `stock_server`
    runs plain `rasa run` instead, for comparisons.
    """
    bot_command = ([str(VENV_BIN / "rasa")] if stock_server
                   else [sys.executable, "-m", "bot.server"])
    return {
        "citysim": Service(
            "citysim",
            [sys.executable, "-m", "citysim", "--host", "127.0.0.1",
             "--port", str(citysim_port), "--db", citysim_db],
            f"http://127.0.0.1:{citysim_port}/health", citysim_port,
        ),
        "actions": Service(
            "actions",
            [sys.executable, "-m", "rasa_sdk", "--actions", "actions", "--port", str(actions_port)],
            f"http://127.0.0.1:{actions_port}/health", actions_port,
        ),
        "bot": Service(
            "bot",
            [*bot_command, "run", "--enable-api", "--model", model,
             "--credentials", "credentials.yml", "--endpoints", "endpoints.yml",
             "--port", str(bot_port), "--cors", "*"],
            f"http://127.0.0.1:{bot_port}/status", bot_port,
        ),
    }


def stack_environment(
    actions_port: int = 5055, citysim_port: int = 5080, tracker_db: Optional[Path] = None
) -> Dict[str, str]:
    """Defaults for everything the processes read from the environment.

    With `tracker_db` (tests) the ports and stores are forced, not defaulted,
    so a test stack never talks to a developer's running one.
    """
    env = dict(os.environ)
    if tracker_db is not None:
        env["ACTION_ENDPOINT_URL"] = f"http://127.0.0.1:{actions_port}/webhook"
        env["TRACKER_DIALECT"] = "sqlite"
        env["TRACKER_URL"] = f"sqlite:///{tracker_db}"
        env["CITYSIM_URL"] = f"http://127.0.0.1:{citysim_port}"
        env["LOCK_STORE_PATH"] = str(tracker_db.parent / "locks.db")
        env["WECHAT_STATE_PATH"] = str(tracker_db.parent / "wechat.db")
    env.setdefault("PYTHONPATH", str(ROOT))
    env.setdefault("RASA_TELEMETRY_ENABLED", "false")
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    env.setdefault("ACTION_ENDPOINT_URL", f"http://127.0.0.1:{actions_port}/webhook")
    env.setdefault("TRACKER_DIALECT", "sqlite")
    env.setdefault("TRACKER_URL", f"sqlite:///{ROOT / 'var' / 'tracker.db'}")
    env.setdefault("CITYSIM_URL", f"http://127.0.0.1:{citysim_port}")
    env.setdefault("LOCK_STORE_PATH", str(ROOT / "var" / "locks.db"))
    env.setdefault("WECHAT_STATE_PATH", str(ROOT / "var" / "wechat.db"))
    # One bot worker process per core: prediction is CPU-bound and Rasa runs it
    # on the event loop (docs/benchmarks.md). The lock store, the tracker store
    # and the WeChat channel's state (WECHAT_STATE_PATH) are shared by all.
    env.setdefault("SANIC_WORKERS", str(os.cpu_count() or 1))
    return env


def wait_healthy(service: Service, process: subprocess.Popen, timeout: float, log: Path) -> None:
    """Poll until the service answers from a socket of `process` itself, failing
    fast (with its log) if it died or something else answers on its port."""
    url = service.health_url
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = log.read_text(encoding="utf-8", errors="replace")[-3000:]
            raise RuntimeError(f"进程已退出（退出码 {process.returncode}）：{url}\n{tail}")
        if answers(url):
            strangers = belongs_to(process, service.port)
            if strangers is None:
                return
            raise RuntimeError(f"端口 {service.port} 上应答的不是刚启动的 {service.name}"
                               f"（监听进程 {strangers}）/ something else answers on port "
                               f"{service.port}, not the {service.name} just started")
        time.sleep(0.3)
    raise TimeoutError(f"{timeout:.0f} 秒内没有启动：{url}")


def answers(url: str) -> bool:
    """An HTTP health URL answers below 500, or a tcp://host:port accepts a connection."""
    try:
        if url.startswith("tcp://"):
            host, port = url[len("tcp://"):].rsplit(":", 1)
            socket.create_connection((host, int(port)), timeout=2).close()
            return True
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status < 500
    except OSError:
        return False


class Stack:
    """Start services in order, wait for each, stop them all on exit."""

    def __init__(self, env: Optional[Dict[str, str]] = None, log_dir: Path = ROOT / "var" / "log"):
        self.env = env or stack_environment()
        self.log_dir = log_dir
        self.processes: List[subprocess.Popen] = []

    def start(self, service: Service, timeout: float = 120) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log_path = self.log_dir / f"{service.name}.log"
        log = open(log_path, "ab")
        check_port_free(service.port, service.name)
        print(f"启动 {service.name} …", flush=True)
        started = time.monotonic()
        # Its own process group (stopped as a whole), stopped by the kernel if we die.
        process = subprocess.Popen(
            service.command, cwd=ROOT, env={**self.env, **(service.env or {})}, stdout=log,
            stderr=subprocess.STDOUT, start_new_session=True, preexec_fn=die_with_parent,
            user=service.user,
        )
        self.processes.append(process)
        wait_healthy(service, process, timeout, log_path)
        print(f"  {service.name} 就绪（{time.monotonic() - started:.1f} 秒）：{service.health_url}",
              flush=True)

    def stop(self) -> None:
        stop_groups(self.processes)
        self.processes.clear()

    def supervise(self) -> None:
        """Return when a service exits by itself (the caller's `with` stops the rest)."""
        while all(p.poll() is None for p in self.processes):
            time.sleep(1)
        print("有服务意外退出，正在停止全部服务（日志在 var/log/）。", flush=True)

    def __enter__(self) -> "Stack":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("mode", choices=["run", "shell"])
    parser.add_argument("--model", default="models/citylink.tar.gz")
    args = parser.parse_args()
    (ROOT / "var").mkdir(exist_ok=True)
    # SIGTERM, SIGINT (Ctrl-C) and SIGHUP stop the children too (tools/lifecycle.py).
    stop_on_signals()
    svc = services(model=args.model)
    with Stack() as stack:
        stack.start(svc["citysim"])
        stack.start(svc["actions"])
        if args.mode == "shell":
            subprocess.run(
                [str(VENV_BIN / "rasa"), "shell", "--model", args.model,
                 "--endpoints", "endpoints.yml"],
                cwd=ROOT, env={**stack.env, "SANIC_WORKERS": "1"}, check=False,  # one terminal, one process
            )
            return
        stack.start(svc["bot"], timeout=300)
        print("CityLink 已启动：网页聊天 http://127.0.0.1:5005/webhooks/webchat/ ，"
              "REST http://127.0.0.1:5005/webhooks/rest/webhook 。按 Ctrl-C 停止。", flush=True)
        stack.supervise()


if __name__ == "__main__":
    main()
