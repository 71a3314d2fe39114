"""Test-only endpoints (/_test/...): faults, the clock, the SMS outbox, seed data.

A simulator, not a city platform: these exist so the bot's tests can drive
time and failures and read what a citizen would have on their phone.
"""
from __future__ import annotations

from aiohttp import web

from citysim import identity, social, utility, violation
from citysim.core import CITIES, CLOCK, DB, ApiError, json_body, parse_datetime, query, reply
from citysim.faults import FAULTS

SAMPLES = (violation.samples, utility.samples, social.samples)

routes = web.RouteTableDef()


@routes.post("/_test/faults")
async def add_fault(request: web.Request) -> web.Response:
    fault = request.app[FAULTS].add(await json_body(request))
    return reply({"added": fault.kind, "faults": request.app[FAULTS].describe()}, 201)


@routes.get("/_test/faults")
async def list_faults(request: web.Request) -> web.Response:
    return reply({"faults": request.app[FAULTS].describe()})


@routes.delete("/_test/faults")
async def clear_faults(request: web.Request) -> web.Response:
    request.app[FAULTS].rules.clear()
    return reply({"faults": []})


@routes.post("/_test/clock")
async def pin_clock(request: web.Request) -> web.Response:
    body = await json_body(request)
    if not isinstance(body.get("now"), str):
        raise ApiError(400, "missing_field", "缺少字段：now（ISO 8601 时间）")
    request.app[CLOCK].pinned = parse_datetime(body["now"])
    return reply({"now": request.app[CLOCK].now().isoformat(), "pinned": True})


@routes.delete("/_test/clock")
async def release_clock(request: web.Request) -> web.Response:
    request.app[CLOCK].pinned = None
    return reply({"now": request.app[CLOCK].now().isoformat(), "pinned": False})


@routes.get("/_test/otp")
async def read_otp(request: web.Request) -> web.Response:
    sms = identity.latest_code(request.app[DB], query(request, "phone"))
    if sms is None:
        raise ApiError(404, "no_sms", "该手机号没有收到验证码")
    return reply(sms)


@routes.get("/_test/seed")
async def seed_data(request: web.Request) -> web.Response:
    """Seeded plates, accounts and citizens per city, for writing tests and stories."""
    wanted = query(request, "city", required=False)
    if wanted is not None and wanted not in CITIES:
        raise ApiError(404, "unknown_city", f"未知城市：{wanted}")
    conn = request.app[DB]
    cities = [c for code, c in CITIES.items() if wanted in (None, code)]
    return reply({c.code: {k: v for sample in SAMPLES for k, v in sample(conn, c).items()} for c in cities})
