"""One bot node against two behind HAProxy, on the cluster's shared stores (docs/benchmarks.md).

Starts the cluster of `make cluster` on free ports (tools/cluster.py) plus one
more bot node with two worker processes (the one-machine default, kept equally
busy by bot/worker_balance.py), then runs tools/bench.py's closed-loop load
against:

* `1 node x 1 worker`: bot-1 directly;
* `1 node x 2 workers`: the extra node directly (worker balance on);
* `2 nodes x 1 worker, HAProxy`: the balancer (least connections).

All three use Redis for locks and PostgreSQL for trackers, so only the way
messages are spread differs. Usage:
    .venv/bin/python -m tools.cluster_bench --levels 8,32 --duration 30
    .venv/bin/python -m tools.cluster_bench --storage   # against a running `make cluster`

`--storage` plays every bench conversation once through a running `make cluster`
and reports the events, JSON and table bytes PostgreSQL stores per message.
"""
from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import tempfile
from pathlib import Path
from typing import Any, Dict

from tools.bench import run_level
from tools.cluster import Cluster, Ports
from tools.lifecycle import free_port, stop_on_signals
from tools.stack import ROOT, Stack, stack_environment


def storage() -> None:
    """Events and bytes stored per citizen message (the sizing in docs/benchmarks.md)."""
    import psycopg2

    from tools.bench import sanity_pass

    info = json.loads((ROOT / "var" / "cluster" / "cluster.json").read_text())
    played = asyncio.run(sanity_pass(info["url"], "storage", 60))
    connection = psycopg2.connect(f"postgresql://citylink@127.0.0.1:{info['postgres']}/citylink")
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FILTER (WHERE type_name = 'user'), count(*), "
                       "sum(length(data)) FROM events WHERE sender_id LIKE 'sanity-storage-%'")
        messages, events, json_bytes = cursor.fetchone()
        cursor.execute("SELECT pg_total_relation_size('events'), "
                       "count(*) FILTER (WHERE type_name = 'user') FROM events")
        table_bytes, all_messages = cursor.fetchone()
    connection.close()
    print(f"{played['ok']}/{played['turns']} turns as expected; {events / messages:.1f} events "
          f"and {json_bytes / messages:.0f} bytes of JSON per message; the events table with "
          f"its indexes: {table_bytes / all_messages:.0f} bytes per message")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--levels", default="8,32")
    parser.add_argument("--duration", type=float, default=30)
    parser.add_argument("--warmup", type=float, default=5)
    parser.add_argument("--seed", type=int, default=20241127)
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "cluster_bench.json")
    parser.add_argument("--storage", action="store_true", help="bytes per message (running cluster)")
    args = parser.parse_args()
    if args.storage:
        storage()
        return
    stop_on_signals()
    directory = Path(tempfile.mkdtemp(prefix="citylink-cluster-bench-"))
    directory.chmod(0o755)
    cluster = Cluster(directory, Ports.choose(free_port()))
    port = free_port()
    node = cluster.bot(0)
    command = list(node.command)
    command[command.index("--port") + 1] = str(port)
    two_workers = dataclasses.replace(
        node, name="bot-2-workers", command=command, port=port,
        health_url=node.health_url.replace(f":{node.port}/", f":{port}/"),
        env={**(node.env or {}), "SANIC_WORKERS": "2"})
    targets = {"1 node x 1 worker": f"http://127.0.0.1:{cluster.ports.bots[0]}",
               "1 node x 2 workers": f"http://127.0.0.1:{two_workers.port}",
               "2 nodes x 1 worker, HAProxy": cluster.url}
    results: Dict[str, Any] = {}
    with Stack(env=stack_environment(), log_dir=directory / "log") as stack:
        cluster.start(stack)
        cluster.launch(stack, two_workers, timeout=600)
        for level in map(int, args.levels.split(",")):
            for name, url in targets.items():
                tag = f"{name.split()[0]}{name.split()[3]}-{level}".replace(",", "")
                summary = asyncio.run(run_level(url, level, args.warmup, args.duration, args.seed,
                                                60, tag))
                results[f"{name} @{level}"] = summary
                print(f"{name} @{level}: {summary['throughput_msg_s']:.1f} msg/s, "
                      f"p50 {summary['latency_ms']['p50']:.0f} ms, "
                      f"p95 {summary['latency_ms']['p95']:.0f} ms, errors {summary['errors']}",
                      flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
