"""Fault injection: make one service (in one city, or all) slow, failing or garbled.

One middleware serves every service, so the bot's clients can be tested
against each way a real city backend misbehaves without touching handlers.
"""
from __future__ import annotations

import asyncio
from dataclasses import asdict, dataclass
from typing import Any, Callable, Collection, Dict, List, Mapping, Optional

from aiohttp import web

from citysim.core import CITIES, ApiError, error_response

KINDS = ("latency", "error", "timeout", "malformed")
MALFORMED_BODY = b'{"data": [{"status": "\xe5\xa4'  # cut off mid-document and mid-character


@dataclass
class Fault:
    """One rule. `after` lets the request run and then loses its answer,
    the case idempotency keys exist for; `times` limits how often it fires."""

    kind: str
    service: Optional[str] = None
    city: Optional[str] = None
    seconds: float = 0.0
    status: int = 503
    after: bool = False
    times: Optional[int] = None

    def matches(self, city: str, service: str) -> bool:
        return self.service in (None, service) and self.city in (None, city)


class Faults:
    """The rules in force; the first matching one fires."""

    def __init__(self, services: Collection[str]) -> None:
        self.services = services
        self.rules: List[Fault] = []

    def add(self, spec: Mapping[str, Any]) -> Fault:
        fault = self._validate(spec)
        self.rules.append(fault)
        return fault

    def _validate(self, spec: Mapping[str, Any]) -> Fault:
        try:
            fault = Fault(**spec)
            fault.seconds = float(fault.seconds)
            fault.status = int(fault.status)
        except (TypeError, ValueError) as exc:
            raise ApiError(400, "invalid_fault", f"故障参数不正确：{exc}") from None
        if fault.kind not in KINDS:
            raise ApiError(400, "invalid_fault", f"kind 应为 {'/'.join(KINDS)} 之一")
        if fault.service is not None and fault.service not in self.services:
            raise ApiError(400, "invalid_fault", f"未知服务：{fault.service}")
        if fault.city is not None and fault.city not in CITIES:
            raise ApiError(400, "invalid_fault", f"未知城市：{fault.city}")
        if not 400 <= fault.status <= 599 or fault.seconds < 0 or (fault.times is not None and fault.times < 1):
            raise ApiError(400, "invalid_fault", "status 应在 400-599 之间，seconds 不能为负，times 至少为 1")
        return fault

    def take(self, city: str, service: str) -> Optional[Fault]:
        for fault in self.rules:
            if fault.matches(city, service):
                if fault.times is not None:
                    fault.times -= 1
                    if fault.times <= 0:
                        self.rules.remove(fault)
                return fault
        return None

    def describe(self) -> List[Dict[str, Any]]:
        return [asdict(f) for f in self.rules]


FAULTS = web.AppKey("faults", Faults)


@web.middleware
async def fault_middleware(request: web.Request, handler: Callable) -> web.StreamResponse:
    """Applies to /{city}/{service}/... only: health, OpenAPI and the test API stay up."""
    parts = request.path.split("/")
    in_service = len(parts) > 2 and parts[1] in CITIES
    fault = request.app[FAULTS].take(parts[1], parts[2]) if in_service else None
    if fault is None:
        return await handler(request)
    await asyncio.sleep(fault.seconds)
    if fault.kind == "latency":
        return await handler(request)
    if fault.kind == "timeout":
        return error_response(504, "upstream_timeout", "后端处理超时")
    if fault.after:
        await handler(request)
    if fault.kind == "error":
        return error_response(fault.status, "service_unavailable", "服务暂时不可用，请稍后再试")
    return web.Response(body=MALFORMED_BODY, content_type="application/json")
