"""The aiohttp application: every service mounted under /{city}/{service}/.

Each city's platforms are separate systems in real life, so every service
gets its own URL prefix per city and the bot's per-city registry can point
any of them elsewhere.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any, Dict, Union

import yaml
from aiohttp import web

from citysim import (hospital, hotline, restriction, social, testapi, traffic, transit, utility, violation,
                         weather)
from citysim.core import CITIES, CLOCK, DB, Clock, error_middleware, reply
from citysim.db import open_db
from citysim.faults import FAULTS, Faults, fault_middleware

SERVICES: Dict[str, web.RouteTableDef] = {
    "violation": violation.routes,
    "traffic": traffic.routes,
    "restriction": restriction.routes,
    "transit": transit.routes,
    "utility": utility.routes,
    "hospital": hospital.routes,
    "weather": weather.routes,
    "social": social.routes,
    "hotline": hotline.routes,
}
OPENAPI_FILE = Path(__file__).with_name("openapi.yaml")


@lru_cache(maxsize=None)
def openapi_document() -> Dict[str, Any]:
    """openapi.yaml with the city codes filled in from the gazetteer."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # the C loader is ten times faster
    document = yaml.load(OPENAPI_FILE.read_text(encoding="utf-8"), Loader=loader)
    document["components"]["parameters"]["City"]["schema"]["enum"] = list(CITIES)
    return document


async def health(request: web.Request) -> web.Response:
    return reply({"status": "ok", "cities": list(CITIES), "services": list(SERVICES),
                  "now": request.app[CLOCK].now().isoformat()})


async def openapi(request: web.Request) -> web.Response:
    return reply(openapi_document())


async def _close_db(app: web.Application) -> None:
    app[DB].close()


def create_app(db_path: Union[str, Path], test_api: bool = False) -> web.Application:
    """Opens (creating and seeding on first use) the database at db_path.

    The /_test/ endpoints (faults, clock, SMS codes, seed data with ID numbers)
    are mounted only with `test_api`: tests ask for them, `make run` never does."""
    app = web.Application(middlewares=[fault_middleware, error_middleware])
    app[DB] = open_db(db_path)
    app[CLOCK] = Clock()
    app[FAULTS] = Faults(SERVICES)
    for name, table in SERVICES.items():
        for route in table:
            app.router.add_route(route.method, f"/{{city}}/{name}{route.path}", route.handler)
    if test_api:
        app.router.add_routes(testapi.routes)
    app.router.add_get("/health", health)
    app.router.add_get("/openapi.json", openapi)
    app.on_cleanup.append(_close_db)
    return app
