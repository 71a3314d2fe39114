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
from typing import Dict, List, Optional, Tuple

from common import logsafe
from common.logsafe import LogSink
from common.secrets import rasa_api_jwt, secret, secret_path
from tools.lifecycle import (
    belongs_to,
    check_port_free,
    die_with_parent,
    stop_groups,
    stop_on_signals,
)

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


def public_address() -> Tuple[str, int]:
    """Where the citizen channels (the gateway) listen: `CITYLINK_PUBLIC_HOST`
    (default 127.0.0.1, so nothing faces the network until the operator says so)
    and `CITYLINK_PUBLIC_PORT` (default 5000)."""
    return (os.environ.get("CITYLINK_PUBLIC_HOST", "127.0.0.1"),
            int(os.environ.get("CITYLINK_PUBLIC_PORT", "5000")))


def services(
    model: str = "models/citylink.tar.gz",
    bot_port: int = 5005,
    actions_port: int = 5055,
    citysim_port: int = 5080,
    citysim_db: str = "var/citysim.sqlite",
    stock_server: bool = False,
    public: Optional[Tuple[str, int]] = None,
    citysim_test_api: bool = False,
    console_port: int = int(os.environ.get("CONSOLE_PORT", "5090")),
) -> Dict[str, Service]:
    """The processes of a full stack; ports overridable so tests don't collide.

    The bot runs through bot.server (Rasa plus measured fixes); `stock_server`
    runs plain `rasa run` instead, for comparisons. Every process binds
    127.0.0.1; only the gateway listens on `public` (default `public_address()`)
    and forwards the citizen channels to the bot. The simulator's /_test/
    endpoints exist only with `citysim_test_api` (tests; never `make run`).
    """
    bot_command = ([str(VENV_BIN / "rasa")] if stock_server
                   else [sys.executable, "-m", "bot.server"])
    public_host, public_port = public or public_address()
    return {
        "citysim": Service(
            "citysim",
            [sys.executable, "-m", "citysim", "--host", "127.0.0.1",
             "--port", str(citysim_port), "--db", citysim_db,
             *(["--test-api"] if citysim_test_api else [])],
            f"http://127.0.0.1:{citysim_port}/health", citysim_port,
        ),
        "actions": Service(
            "actions",
            [sys.executable, "-m", "actions.server", "--port", str(actions_port)],
            f"http://127.0.0.1:{actions_port}/health", actions_port,
        ),
        "bot": Service(
            "bot",
            [*bot_command, "run", "--enable-api", "--model", model,
             "--credentials", "credentials.yml", "--endpoints", "endpoints.yml",
             "--interface", "127.0.0.1", "--port", str(bot_port),
             "--auth-token", secret("api_token"),
             "--jwt-secret", secret("jwt_secret"), "--jwt-method", "HS256"],
            # /status needs the API token; /version does not, and the server
            # answers only once the model is loaded (before_server_start).
            f"http://127.0.0.1:{bot_port}/version", bot_port,
        ),
        "gateway": Service(
            "gateway",
            [sys.executable, "-m", "gateway", "--host", public_host, "--port", str(public_port),
             "--upstream", f"http://127.0.0.1:{bot_port}"],
            f"http://{_loopback_for(public_host)}:{public_port}/health", public_port,
        ),
        # The staff console reads the same tracker database (TRACKER_URL) and acts on
        # conversations (handoff) through the bot's API.
        "console": Service(
            "console",
            [sys.executable, "-m", "console", "--port", str(console_port)],
            f"http://127.0.0.1:{console_port}/health", console_port,
            env={"CITYLINK_BOT_URL": f"http://127.0.0.1:{bot_port}"},
        ),
    }


def _loopback_for(host: str) -> str:
    """The address to health-check a server bound to `host` from this machine."""
    return "127.0.0.1" if host in ("0.0.0.0", "") else "[::1]" if host == "::" else host


def api_headers(username: str = "citylink-tools") -> Dict[str, str]:
    """Headers for a call to the bot's operator API (and the REST channel):
    a short-lived admin JWT signed with `jwt_secret`."""
    return {"Authorization": f"Bearer {rasa_api_jwt(username)}"}


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
        env["CHANNEL_STATE_PATH"] = str(tracker_db.parent / "channels.db")
    env.setdefault("PYTHONPATH", str(ROOT))
    env.setdefault("RASA_TELEMETRY_ENABLED", "false")
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    env.setdefault("ACTION_ENDPOINT_URL", f"http://127.0.0.1:{actions_port}/webhook")
    # The bot runs the custom actions itself (endpoints.yml); empty: the action server's URL.
    env.setdefault("CITYLINK_ACTIONS_MODULE", "actions")
    env.setdefault("TRACKER_DIALECT", "sqlite")
    env.setdefault("TRACKER_URL", f"sqlite:///{ROOT / 'var' / 'tracker.db'}")
    env.setdefault("CITYSIM_URL", f"http://127.0.0.1:{citysim_port}")
    env.setdefault("LOCK_STORE_PATH", str(ROOT / "var" / "locks.db"))
    env.setdefault("WECHAT_STATE_PATH", str(ROOT / "var" / "wechat.db"))
    # One bot worker process per core: prediction is CPU-bound and Rasa runs it
    # on the event loop (docs/benchmarks.md). The lock store, the tracker store
    # and the WeChat channel's state (WECHAT_STATE_PATH) are shared by all.
    env.setdefault("SANIC_WORKERS", str(os.cpu_count() or 1))
    env.setdefault("CHANNEL_STATE_PATH", str(Path(env["LOCK_STORE_PATH"]).parent / "channels.db"))
    # Sanic's body cap (bot and action server), 100 MB by default: 2 MB holds a
    # whole training data set for /model/train; citizens' messages are far smaller
    # and the gateway caps them lower still.
    env.setdefault("SANIC_REQUEST_MAX_SIZE", str(2 * 1024 * 1024))
    # endpoints.yml sends it to the action server, which refuses calls without it.
    env["CITYLINK_ACTION_SECRET"] = secret("action_secret")
    return env


def wait_healthy(service: Service, process: subprocess.Popen, timeout: float, log: LogSink) -> None:
    """Poll until the service answers from a socket of `process` itself, failing
    fast (with its log) if it died or something else answers on its port."""
    url = service.health_url
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            log.close()  # all it wrote, before reading the tail
            tail = log.path.read_text(encoding="utf-8", errors="replace")[-3000:]
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
        self.sinks: List[LogSink] = []

    def start(self, service: Service, timeout: float = 120) -> None:
        """Start one service, its output masked into a rotating `<log_dir>/<name>.log` (0600)."""
        check_port_free(service.port, service.name)
        log = LogSink(self.log_dir / f"{service.name}.log")
        self.sinks.append(log)
        print(f"启动 {service.name} …", flush=True)
        started = time.monotonic()
        # Its own process group (stopped as a whole), stopped by the kernel if we die.
        process = subprocess.Popen(
            service.command, cwd=ROOT, env={**self.env, **(service.env or {})}, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, start_new_session=True, preexec_fn=die_with_parent,
            user=service.user,
        )
        self.processes.append(process)
        log.drain(process.stdout)  # type: ignore[arg-type]
        wait_healthy(service, process, timeout, log)
        print(f"  {service.name} 就绪（{time.monotonic() - started:.1f} 秒）：{service.health_url}",
              flush=True)

    def start_job(self, name: str, command: List[str]) -> None:
        """A background process with no health endpoint (the retention job), logged like a service."""
        log = LogSink(self.log_dir / f"{name}.log")
        self.sinks.append(log)
        process = subprocess.Popen(command, cwd=ROOT, env=self.env, stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, start_new_session=True,
                                   preexec_fn=die_with_parent)
        self.processes.append(process)
        log.drain(process.stdout)  # type: ignore[arg-type]

    def stop(self) -> None:
        stop_groups(self.processes)
        self.processes.clear()
        for sink in self.sinks:
            sink.close()
        self.sinks.clear()

    def supervise(self) -> None:
        """Return when a service exits by itself (the caller's `with` stops the rest)."""
        while all(p.poll() is None for p in self.processes):
            time.sleep(1)
        print("有服务意外退出，正在停止全部服务（日志在 var/log/）。", flush=True)

    def __enter__(self) -> "Stack":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def startup_notice(bot_port: int = 5005, console_url: str = "") -> str:
    """What `make run` tells the operator: where citizens connect, and where the
    API credentials are (the file names, never the secrets themselves)."""
    host, port = public_address()
    shown = f"[{host}]" if ":" in host else host
    where = {name: (f"环境变量 CITYLINK_{name.upper()}" if os.environ.get(f"CITYLINK_{name.upper()}")
                    else str(secret_path(name)))
             for name in ("api_token", "jwt_secret")}
    return (f"CityLink 已启动。\n"
            f"  市民入口（网关 {shown}:{port}，由 CITYLINK_PUBLIC_HOST/CITYLINK_PUBLIC_PORT 设定）：\n"
            f"    网页聊天 http://{shown}:{port}/webhooks/webchat/\n"
            f"    微信回调 http://{shown}:{port}/webhooks/wechat/webhook\n"
            f"  运维 API（仅本机）：http://127.0.0.1:{bot_port}/ ，需要认证：\n"
            f"    令牌（?token=）在 {where['api_token']}\n"
            f"    或 Authorization: Bearer <用 {where['jwt_secret']} 签名的 HS256 JWT>\n"
            + (f"  客服后台（仅本机）：{console_url}/ （首个管理员：make admin NAME=…）\n" if console_url else "")
            + "按 Ctrl-C 停止。")


def run_services(env: Dict[str, str]) -> List[str]:
    """What `make run` starts after the simulator, in order: the action server only
    when the bot does not run the actions itself (`CITYLINK_ACTIONS_MODULE` empty)."""
    return [*([] if env.get("CITYLINK_ACTIONS_MODULE") else ["actions"]),
            "bot", "gateway", "console"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("mode", choices=["run", "shell"])
    parser.add_argument("--model", default="models/citylink.tar.gz")
    args = parser.parse_args()
    logsafe.configure("stack")
    (ROOT / "var").mkdir(exist_ok=True)
    # SIGTERM, SIGINT (Ctrl-C) and SIGHUP stop the children too (tools/lifecycle.py).
    stop_on_signals()
    svc = services(model=args.model)
    with Stack() as stack:
        stack.start(svc["citysim"])
        if args.mode == "shell":  # plain `rasa shell`: its actions only through the server
            stack.start(svc["actions"])
            subprocess.run(
                [str(VENV_BIN / "rasa"), "shell", "--model", args.model,
                 "--endpoints", "endpoints.yml"],
                cwd=ROOT, check=False,  # one terminal, one process
                env={**stack.env, "SANIC_WORKERS": "1", "CITYLINK_ACTIONS_MODULE": ""},
            )
            return
        for name in run_services(stack.env):
            stack.start(svc[name], timeout=300 if name == "bot" else 120)
        # Conversations past their city's retention period: deleted now, then hourly.
        stack.start_job("retention", [sys.executable, "-m", "tools.retention", "--every", "3600"])
        print(startup_notice(console_url=svc["console"].health_url.rsplit("/", 1)[0]), flush=True)
        stack.supervise()


if __name__ == "__main__":
    main()
