"""Slow and failing backends: a deadline per call, and one backend's slowness kept to itself."""
from __future__ import annotations

import asyncio
from typing import List

from actions import backends
from actions.clients.hospital import HospitalClient
from actions.clients.traffic import TrafficClient
from actions.violation import ActionQueryViolation
from tests.actions.conftest import make_tracker, run_action, texts


def test_a_slow_backend_leaves_the_other_backends_threads_free(citysim, monkeypatch):
    """As many slow hospital calls as its pool has threads, then a road lookup: the road answers first."""
    monkeypatch.setattr(backends, "_pools", {})
    citysim.inject_fault("latency", service="hospital", seconds=1.5)
    hospital = HospitalClient(f"{citysim.url}/shenzhen/hospital")
    traffic = TrafficClient(f"{citysim.url}/shenzhen/traffic")
    finished: List[str] = []

    async def lookup(name: str, fn, *args) -> None:
        await backends.call(fn, *args)
        finished.append(name)

    async def main() -> None:
        slow = [lookup("hospital", hospital.hospitals) for _ in range(backends.WORKERS_PER_BACKEND + 2)]
        await asyncio.gather(*slow, lookup("traffic", traffic.road, "深南大道"))

    asyncio.run(main())
    assert finished[0] == "traffic" and finished.count("hospital") == backends.WORKERS_PER_BACKEND + 2


def test_past_the_deadline_the_citizen_hears_at_once_the_service_is_busy(city_backends, monkeypatch):
    monkeypatch.setattr(backends, "CALL_DEADLINE", 0.5)
    city_backends.inject_fault("latency", service="violation", seconds=3)
    _, messages = run_action(ActionQueryViolation(), make_tracker({"plate_number": "粤A288E0"}))
    assert "交通违法查询服务繁忙" in texts(messages) and "请稍后再试" in texts(messages)
