"""The application shell: cities from the gazetteer, errors, OpenAPI, seeding."""
from __future__ import annotations

import asyncio
import os
import re
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Iterator

import requests
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from common import gazetteer
from citysim import create_app, faults, hotline
from citysim.app import SERVICES, openapi_document
from citysim.core import CITIES, DB, error_middleware
from citysim.db import open_db
from citysim.hospital import PERIODS
from tests.citysim.http import error_code, get

GAZETTEER_FILES = sorted(p.stem for p in (Path(gazetteer.__file__).parent / "cities").glob("*.yml"))


def test_health_lists_the_gazetteer_cities_and_every_service(citysim):
    body = get(citysim, "/health").json()
    assert body["status"] == "ok"
    assert body["cities"] == GAZETTEER_FILES
    assert body["services"] == list(SERVICES)


def test_city_codes_map_to_gazetteer_cities_with_distinct_abbreviations():
    assert {c.name for c in CITIES.values()} == set(gazetteer.load().served_cities)
    assert CITIES["guangzhou"].abbr == "GZ" and CITIES["shanghai"].abbr == "SH"
    assert len({c.abbr for c in CITIES.values()}) == len(CITIES)


def test_unknown_city_and_unknown_path_answer_json_in_chinese(citysim):
    response = get(citysim, "/hangzhou/weather/forecast")
    assert response.status_code == 404
    assert error_code(response) == "unknown_city"
    assert "深圳" in response.json()["error"]["message"]
    response = get(citysim, "/shenzhen/weather/nothing")
    assert response.status_code == 404 and error_code(response) == "not_found"


def _documented(document: dict) -> set:
    return {(method.upper(), path) for path, operations in document["paths"].items() for method in operations}


def test_openapi_documents_exactly_the_routes_that_exist(citysim):
    app = create_app(citysim.db_path, test_api=True)
    routed = {(r.method, r.resource.canonical) for r in app.router.routes() if r.method != "HEAD"}
    app[DB].close()
    served = get(citysim, "/openapi.json").json()
    assert served["openapi"].startswith("3.")
    assert _documented(served) == routed


def test_openapi_enums_match_the_code():
    document = openapi_document()
    assert document["components"]["parameters"]["City"]["schema"]["enum"] == list(CITIES)
    hotline_body = document["paths"]["/{city}/hotline/tickets"]["post"]["requestBody"]
    categories = hotline_body["content"]["application/json"]["schema"]["properties"]["category"]["enum"]
    assert categories == list(hotline.CATEGORIES)
    fault_body = document["paths"]["/_test/faults"]["post"]["requestBody"]
    assert fault_body["content"]["application/json"]["schema"]["properties"]["kind"]["enum"] == list(faults.KINDS)
    schemas = document["components"]["schemas"]
    assert schemas["TimePeriod"]["enum"] == list(PERIODS)
    assert schemas["UtilityType"]["enum"] == list(gazetteer.load().utility_types)


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                yield value
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _refs(item)


def test_every_openapi_reference_resolves():
    document = openapi_document()
    refs = set(_refs(document))
    assert refs
    for ref in refs:
        node = document
        for part in re.sub("^#/", "", ref).split("/"):
            node = node[part]


def test_seeding_is_deterministic(tmp_path):
    dumps = []
    for name in ("a.sqlite", "b.sqlite"):
        conn = open_db(tmp_path / name)
        dumps.append(list(conn.iterdump()))
        conn.close()
    assert dumps[0] == dumps[1]
    assert any("INSERT INTO \"vehicle\"" in line for line in dumps[0])


def test_an_existing_database_is_reused_not_reseeded(tmp_path):
    path = tmp_path / "db.sqlite"
    conn = open_db(path)
    with conn:
        conn.execute("INSERT INTO meta VALUES ('marker', 'kept')")
    conn.close()
    conn = open_db(path)
    assert conn.execute("SELECT value FROM meta WHERE key = 'marker'").fetchone()[0] == "kept"
    conn.close()
    assert not list(tmp_path.glob("*.building"))


def test_seed_covers_every_city_with_gazetteer_plate_prefixes(citysim):
    prefixes = gazetteer.load().plate_prefixes
    for code, city in CITIES.items():
        seed = citysim.seed(code)
        plates = [v["plate"] for v in seed["vehicles"]]
        assert all(gazetteer.load().city_of_plate(p) == city.name for p in plates)
        assert any(len(p) == 8 for p in plates), "new-energy plates are seeded"
        assert {v["violations"] for v in seed["vehicles"]} == {0, 1, 2, 3, 4}
        assert {prefixes[p] for p in prefixes if any(x.startswith(p) for x in plates)} == {city.name}
        assert len(seed["citizens"]) == 3
        assert {a["utility_type"] for a in seed["utility_accounts"]} == set(city.gaz.utility_companies)


def test_seeded_sqlite_is_readable_with_stdlib(citysim_db):
    conn = sqlite3.connect(citysim_db)
    assert conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() == ("2",)
    conn.close()


def test_runs_as_a_module_and_creates_its_database(tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    db = tmp_path / "var" / "citysim.sqlite"
    root = Path(__file__).resolve().parents[2]
    process = subprocess.Popen(
        [sys.executable, "-m", "citysim", "--host", "127.0.0.1", "--port", str(port), "--db", str(db)],
        cwd=root, env={**os.environ, "PYTHONPATH": str(root)}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        body = None
        for _ in range(200):  # wait for it to listen; a dead process ends the wait at once
            assert process.poll() is None, process.stderr.read().decode()
            try:
                body = requests.get(f"http://127.0.0.1:{port}/health", timeout=1).json()
                break
            except requests.ConnectionError:
                time.sleep(0.05)
        assert body is not None and body["status"] == "ok"
        assert db.exists()
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_an_unexpected_failure_is_still_a_json_error():
    async def broken(request: web.Request) -> web.Response:
        raise RuntimeError("bug")

    async def scenario() -> tuple:
        app = web.Application(middlewares=[error_middleware])
        app.router.add_get("/broken", broken)
        async with TestClient(TestServer(app)) as client:
            response = await client.get("/broken")
            return response.status, await response.json()

    status, body = asyncio.run(scenario())
    assert status == 500 and body["error"]["code"] == "internal_error"
