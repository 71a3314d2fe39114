"""`make cluster`: CityLink as several nodes on one machine, loopback only.

What a province deployment runs, with Debian's daemons started by the project
on free ports under var/cluster/ (Debian's own services do not start here):

* Redis: conversation locks (bot/lock_store.py) and the WeChat state;
* PostgreSQL: the conversations (tracker store);
* the simulated city backends, one action server per bot node, two bot nodes
  (one worker process each, separate process groups and ports);
* HAProxy on one address (127.0.0.1:5100, CLUSTER_PORT): least connections,
  health checks on each node, a request retried on the other node only when the
  connection failed (never a POST that may have reached a node).

The staff console is not started: it is not on main yet (issue 12).

`python -m tools.cluster up` starts the launcher in the background and returns
when the balancer answers; `down` stops it (SIGTERM: the launcher stops every
process group it started, tools/lifecycle.py); `run` is the launcher itself.
"""
from __future__ import annotations

import argparse
import dataclasses
import glob
import json
import os
import pwd
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional

from tools.lifecycle import check_port_free, free_port, stop_on_signals
from tools.stack import ROOT, Service, Stack, services, stack_environment

DIR = ROOT / "var" / "cluster"
NODES = 2
# Rasa's TICKET_LOCK_LIFETIME: how long a dead node's turn holds its conversation
# (bot/lock_store.py says why 15 s).
TICKET_LIFETIME = "15"
READY = "CityLink 集群已启动"
# Requests one bot node is given at once (it works on 2 at a time: CITYLINK_MAX_INFLIGHT).
NODE_MAXCONN = 16


@dataclasses.dataclass
class Ports:
    balancer: int
    redis: int
    postgres: int
    citysim: int
    bots: List[int]
    actions: List[int]

    @classmethod
    def choose(cls, balancer: int, nodes: int = NODES) -> "Ports":
        return cls(balancer, free_port(), free_port(), free_port(),
                   [free_port() for _ in range(nodes)], [free_port() for _ in range(nodes)])


def _postgres_bin() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"))
    if not found:
        raise SystemExit("没有找到 PostgreSQL：请用 make cluster 运行（它会安装 postgresql）")
    return Path(found[-1]).parent


class Cluster:
    """The services of a cluster under `directory`, and how to start them."""

    def __init__(self, directory: Path, ports: Ports, model: str = "models/citylink.tar.gz",
                 citysim_db: Optional[Path] = None, citysim_test_api: bool = False) -> None:
        self.dir = directory
        self.ports = ports
        self.model = model
        self.citysim_db = citysim_db or directory / "citysim.sqlite"
        self.citysim_test_api = citysim_test_api  # the failure test reads the seed
        self.pg_user = "postgres" if os.geteuid() == 0 else None  # PostgreSQL refuses root
        self.processes: Dict[str, subprocess.Popen] = {}  # the latest process of each service

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.ports.balancer}"

    @property
    def tracker_url(self) -> str:
        return f"postgresql://citylink@127.0.0.1:{self.ports.postgres}/citylink"

    @property
    def redis_url(self) -> str:
        return f"redis://127.0.0.1:{self.ports.redis}/0"

    # ----------------------------------------------------------- daemons
    def redis(self) -> Service:
        data = self.dir / "redis"
        data.mkdir(parents=True, exist_ok=True)
        return Service("redis", [shutil.which("redis-server") or "redis-server",
                                 "--port", str(self.ports.redis), "--bind", "127.0.0.1",
                                 "--dir", str(data), "--save", "", "--appendonly", "no"],
                       f"tcp://127.0.0.1:{self.ports.redis}", self.ports.redis)

    def postgres(self) -> Service:
        bindir, data = _postgres_bin(), self.dir / "postgres"
        if not (data / "PG_VERSION").exists():
            data.mkdir(parents=True, exist_ok=True)
            if self.pg_user:
                owner = pwd.getpwnam(self.pg_user)
                os.chown(data, owner.pw_uid, owner.pw_gid)
            done = subprocess.run([str(bindir / "initdb"), "-D", str(data), "-U", "citylink",
                                   "-A", "trust", "-E", "UTF8"], capture_output=True, text=True,
                                  user=self.pg_user)
            if done.returncode != 0:
                raise RuntimeError(f"initdb 失败（{data}）：{done.stderr.strip()}")
        return Service("postgres", [str(bindir / "postgres"), "-D", str(data),
                                    "-p", str(self.ports.postgres), "-k", str(data),
                                    "-c", "listen_addresses=127.0.0.1", "-c", "max_connections=100"],
                       f"tcp://127.0.0.1:{self.ports.postgres}", self.ports.postgres,
                       user=self.pg_user)

    def create_database(self) -> None:
        import psycopg2

        connection = psycopg2.connect(self.tracker_url.rsplit("/", 1)[0] + "/postgres")
        connection.autocommit = True
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_database WHERE datname = 'citylink'")
            if cursor.fetchone() is None:
                cursor.execute("CREATE DATABASE citylink")
        connection.close()

    def balancer(self) -> Service:
        config = self.dir / "haproxy.cfg"
        config.write_text(haproxy_config(self.ports, self.dir), encoding="utf-8")
        return Service("haproxy", ["haproxy", "-db", "-f", str(config)],
                       f"http://127.0.0.1:{self.ports.balancer}/haproxy/health", self.ports.balancer)

    # ------------------------------------------------------------- nodes
    def citysim(self) -> Service:
        return services(citysim_port=self.ports.citysim, citysim_db=str(self.citysim_db),
                        citysim_test_api=self.citysim_test_api)["citysim"]

    def actions(self, node: int) -> Service:
        port = self.ports.actions[node]
        service = services(actions_port=port, citysim_port=self.ports.citysim)["actions"]
        return dataclasses.replace(service, name=f"actions-{node + 1}",
                                   env={"CITYSIM_URL": f"http://127.0.0.1:{self.ports.citysim}"})

    def bot(self, node: int) -> Service:
        """Bot node `node` (from 0): one worker process, its own action server."""
        port = self.ports.bots[node]
        service = services(model=self.model, bot_port=port)["bot"]
        return dataclasses.replace(service, name=f"bot-{node + 1}", env={
            "ACTION_ENDPOINT_URL": f"http://127.0.0.1:{self.ports.actions[node]}/webhook",
            "CITYLINK_ACTIONS_MODULE": "",  # through its action server, as deploy/ runs it
            "CITYSIM_URL": f"http://127.0.0.1:{self.ports.citysim}",
            "TRACKER_DIALECT": "postgresql",
            "TRACKER_URL": self.tracker_url,
            "REDIS_URL": self.redis_url,
            "TICKET_LOCK_LIFETIME": TICKET_LIFETIME,
            "SANIC_WORKERS": "1",
        })

    def console(self, port: int) -> Service:
        """The staff console on the cluster's PostgreSQL (its tables beside the trackers)."""
        service = services(console_port=port)["console"]
        return dataclasses.replace(service, env={"TRACKER_DIALECT": "postgresql",
                                                 "TRACKER_URL": self.tracker_url,
                                                 # handoff: any node, through the balancer
                                                 "CITYLINK_BOT_URL": self.url})

    def balancer_state(self) -> Dict[str, Dict[str, str]]:
        """HAProxy's `show stat` per bot node: status (UP/DOWN), stot (requests sent), ..."""
        import socket

        with socket.socket(socket.AF_UNIX) as client:
            client.connect(str(self.dir / "haproxy.sock"))
            client.sendall(b"show stat\n")
            raw = b"".join(iter(lambda: client.recv(65536), b"")).decode()
        header, *rows = [line for line in raw.splitlines() if line]
        names = header.lstrip("# ").split(",")
        table = [dict(zip(names, row.split(","))) for row in rows]
        return {row["svname"]: row for row in table if row["svname"].startswith("bot-")}

    def launch(self, stack: Stack, service: Service, timeout: float = 120) -> None:
        stack.start(service, timeout)
        self.processes[service.name] = stack.processes[-1]

    def start(self, stack: Stack) -> None:
        """Everything, in dependency order; the balancer last."""
        self.launch(stack, self.redis())
        self.launch(stack, self.postgres(), timeout=60)
        self.create_database()
        self.launch(stack, self.citysim())
        for node in range(len(self.ports.bots)):
            self.launch(stack, self.actions(node))
        for node in range(len(self.ports.bots)):
            self.launch(stack, self.bot(node), timeout=600)
        self.launch(stack, self.balancer())


def haproxy_config(ports: Ports, directory: Path) -> str:
    """Least connections over the nodes; a request is resent to another node only
    when its connection failed (`retry-on conn-failure`), so a POST a node may
    have processed is never sent twice; a node failing two checks a second
    apart, or refusing one connection (`on-error mark-down`: otherwise least
    connections keeps choosing the dead node, which holds none, for every retry
    until the checks notice), gets no new requests until it passes two checks. A node is given at most
    NODE_MAXCONN requests at once, the rest wait in HAProxy's queue: measured in
    the failure test, 192 messages at once on one node overflowed its listen
    backlog and connections timed out; and fewer requests are lost with a node."""
    servers = "\n".join(f"    server bot-{i + 1} 127.0.0.1:{port} check maxconn {NODE_MAXCONN}"
                        for i, port in enumerate(ports.bots))
    return f"""# Generated by tools/cluster.py: do not edit.
global
    maxconn 4096
    # Operators' view (show stat), a socket only root can open: no HTTP stats page.
    stats socket {directory / "haproxy.sock"} mode 600 level user

defaults
    mode http
    timeout connect 5s
    timeout client 150s
    timeout server 150s
    timeout queue 120s
    retries 3
    retry-on conn-failure
    option redispatch 1

frontend citylink
    bind 127.0.0.1:{ports.balancer}
    monitor-uri /haproxy/health
    default_backend bots

backend bots
    balance leastconn
    option httpchk GET /
    http-check expect status 200
    default-server inter 1s fall 2 rise 2 observe layer4 error-limit 1 on-error mark-down
{servers}
"""


def run(balancer_port: int, model: str) -> None:
    """The launcher: start everything, write var/cluster/cluster.json, supervise."""
    stop_on_signals()
    check_port_free(balancer_port, "haproxy")
    cluster = Cluster(DIR, Ports.choose(balancer_port), model)
    env = stack_environment()
    console_port = int(os.environ.get("CLUSTER_CONSOLE_PORT", "5091"))
    with Stack(env=env, log_dir=DIR / "log") as stack:
        cluster.start(stack)
        cluster.launch(stack, cluster.console(console_port))
        (DIR / "cluster.json").write_text(json.dumps(
            {"url": cluster.url, "pid": os.getpid(), **dataclasses.asdict(cluster.ports)}, indent=2))
        print(f"{READY}：{cluster.url}/webhooks/rest/webhook （网页聊天 {cluster.url}/webhooks/webchat/），"
              f"客服后台 http://127.0.0.1:{console_port}/ ，"
              f"各进程日志在 var/cluster/log/。停止：make cluster-down", flush=True)
        stack.supervise()


def up(balancer_port: int, model: str) -> None:
    """Start the launcher in the background; return once it is ready (or say why not)."""
    DIR.mkdir(parents=True, exist_ok=True)
    check_port_free(balancer_port, "haproxy")
    log_path = DIR / "launcher.log"
    with open(log_path, "wb") as log:
        launcher = subprocess.Popen(
            [sys.executable, "-m", "tools.cluster", "run", "--port", str(balancer_port),
             "--model", model], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True)
    (DIR / "launcher.pid").write_text(str(launcher.pid))
    while launcher.poll() is None:
        text = log_path.read_text(encoding="utf-8", errors="replace")
        if READY in text:
            print(text.strip().splitlines()[-1])
            return
        time.sleep(1)
    print(log_path.read_text(encoding="utf-8", errors="replace")[-3000:])
    raise SystemExit(f"集群没有启动（启动进程退出码 {launcher.returncode}），日志：{log_path}")


def down() -> None:
    """SIGTERM to the launcher, which stops everything it started; wait for it."""
    pid_file = DIR / "launcher.pid"
    try:
        pid = int(pid_file.read_text())
        os.kill(pid, signal.SIGTERM)
    except (OSError, ValueError):
        print("没有正在运行的集群。")
        return
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and Path(f"/proc/{pid}").exists():
        time.sleep(0.5)
    pid_file.unlink(missing_ok=True)
    print("集群已停止。")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("mode", choices=["up", "down", "run"])
    parser.add_argument("--port", type=int, default=int(os.environ.get("CLUSTER_PORT", "5100")))
    parser.add_argument("--model", default="models/citylink.tar.gz")
    args = parser.parse_args()
    if args.mode == "down":
        down()
    elif args.mode == "up":
        up(args.port, args.model)
    else:
        run(args.port, args.model)


if __name__ == "__main__":
    main()
