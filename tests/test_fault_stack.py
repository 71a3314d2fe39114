"""32 citizens pay and look up bills through the whole system while the backends
fail and the action server is killed and restarted (issue 11 item 8).

The simulator answers 500 after charging, sends broken JSON, times out and
stalls past the clients' deadline; half-way through the run the action
server's process group is killed and a new one started on its port. Proven
afterwards: the bot never went down, every answered message is stored once and
in order (no event lost or duplicated), in-flight ones at most once, no account
is charged twice (the simulator's ledger), every citizen told 缴费成功 was
charged, and every conversation carries on once the backends are back.
"""
from __future__ import annotations

import json
import os
import signal
import sqlite3
import threading
import time
import urllib.request
from pathlib import Path
from typing import Iterator, List

import pytest

from tests.citizens import Citizen, Stored, check_stored, citizens, converse, post, stored
from tests.conftest import _BASE, MODEL
from tools.stack import Service, Stack, services, stack_environment

CITIZENS = 32
PORTS = {"bot_port": _BASE + 305, "actions_port": _BASE + 355, "citysim_port": _BASE + 380}
FAULTS = [  # utility backend: each kind a few times, in this order of matching
    {"kind": "error", "status": 500, "after": True, "times": 6},
    {"kind": "malformed", "times": 4},
    {"kind": "timeout", "seconds": 0.5, "times": 4},
    {"kind": "latency", "seconds": 9, "times": 2},  # past the 8 s deadline: "busy"
]
PAID = "缴费成功"


class FaultStack:
    def __init__(self, stack: Stack, actions: Service, tmp: Path) -> None:
        self.stack, self.actions, self.tmp = stack, actions, tmp
        self.bot = f"http://127.0.0.1:{PORTS['bot_port']}"
        self.citysim = f"http://127.0.0.1:{PORTS['citysim_port']}"

    def test_api(self, path: str, body: object = None, method: str = "GET") -> object:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(f"{self.citysim}/_test/{path}", data=data, method=method,
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as answer:
            return json.loads(answer.read())

    def restart_actions(self) -> None:
        """SIGKILL the action server's process group, then start a new one on its port."""
        process = next(p for p in self.stack.processes if p.args == self.actions.command)
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
        self.stack.processes.remove(process)
        self.stack.start(self.actions)

    def stored(self, sender: str) -> List[Stored]:
        with sqlite3.connect(self.tmp / "tracker.db") as db:
            return stored(db.execute("SELECT type_name, action_name, data FROM events "
                                     "WHERE sender_id = ? ORDER BY id", (f"rest:{sender}",)))


@pytest.fixture(scope="module")
def fault_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FaultStack]:
    if not MODEL.exists():
        pytest.fail("没有训练好的模型：请用 make test 运行（它会先训练）")
    tmp = tmp_path_factory.mktemp("fault-stack")
    env = stack_environment(PORTS["actions_port"], PORTS["citysim_port"], tracker_db=tmp / "tracker.db")
    env["CITYLINK_RATE_CONVERSATION"] = env["CITYLINK_RATE_ADDRESS"] = "0"
    env["CITYLINK_ACTIONS_MODULE"] = ""  # the action server, as deploy/ runs it: it is killed below
    svc = services(model=str(MODEL), citysim_db=str(tmp / "citysim.sqlite"), citysim_test_api=True,
                   **PORTS)
    with Stack(env=env, log_dir=tmp / "log") as stack:
        stack.start(svc["citysim"])
        stack.start(svc["actions"])
        stack.start(svc["bot"], timeout=300)
        yield FaultStack(stack, svc["actions"], tmp)


def test_failing_backends_and_a_restarted_action_server_lose_and_repeat_nothing(fault_stack):
    everyone: List[Citizen] = citizens(fault_stack.test_api("seed"), CITIZENS, f"fault-{os.getpid()}")
    for fault in FAULTS:
        fault_stack.test_api("faults", {**fault, "service": "utility"}, "POST")
    broken, broken_at, answered = threading.Event(), [0.0], [0]
    talking = threading.Thread(target=converse,
                               args=(fault_stack.bot, everyone, broken, broken_at, answered))
    talking.start()
    while answered[0] < CITIZENS * 2 and talking.is_alive():
        time.sleep(0.1)
    assert talking.is_alive()  # the action server dies mid-run, not after it
    broken_at[0] = time.monotonic()
    broken.set()
    fault_stack.restart_actions()
    talking.join()
    print(f"\nanswered {sum(len(c.answered) for c in everyone)}, unanswered "
          f"{sum(len(c.failed) for c in everyone)}; slowest answer after the kill "
          f"{max(max(c.after_kill_waits, default=0.0) for c in everyone):.1f} s")
    assert fault_stack.test_api("faults")["faults"] == []  # every injected fault fired

    # The backends and the action server are back: every conversation carries on.
    for citizen in everyone:
        assert post(fault_stack.bot, citizen, "谢谢"), citizen.errors
        citizen.answered.append("谢谢")
    for citizen in everyone:
        check_stored(fault_stack.stored(citizen.sender), citizen, citizen.script + ["谢谢"])
    assert sum(len(c.answered) for c in everyone) > CITIZENS * 4  # most turns went through

    ledger = sqlite3.connect(Path(fault_stack.tmp) / "citysim.sqlite")
    paid = dict(ledger.execute("SELECT account_number, COUNT(*) FROM utility_payment "
                               "GROUP BY account_number").fetchall())
    assert max(paid.values(), default=0) <= 1  # nothing charged twice
    told_paid = {c.account for c in everyone if any(PAID in reply for reply in c.replies)}
    assert told_paid <= set(paid)  # every citizen told 缴费成功 was charged
    # How many payers got through depends on which requests the faults and the kill
    # hit (and, on a loaded machine, on the 8 s deadline): reported, not asserted.
    print(f"paid {len(paid)} of {sum(c.pays for c in everyone)} payers")
