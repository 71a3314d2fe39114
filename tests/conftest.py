"""Fixtures shared by the test suites."""
from __future__ import annotations

import json
import os
import urllib.request
from pathlib import Path
from typing import Any, Dict, Iterator, Optional

import pytest

from tools.stack import ROOT, Stack, api_headers, services, stack_environment

# CITYLINK_TEST_PORT_BASE lets two test runs on one machine use different ports.
_BASE = int(os.environ.get("CITYLINK_TEST_PORT_BASE", "15000"))
TEST_PORTS = {"bot_port": _BASE + 5, "actions_port": _BASE + 55, "citysim_port": _BASE + 80}
GATEWAY_PORT = _BASE + 8
MODEL = ROOT / "models" / "citylink.tar.gz"


class LiveStack:
    """A running bot (custom actions in its workers, as `make run`) + simulator + gateway,
    reached over HTTP.

    Calls to the bot carry the operator credentials (`api_headers()`: an admin
    JWT signed with `jwt_secret`); citizens' calls go through `public_url`.
    """

    def __init__(self, bot_url: str, citysim_url: str, public_url: str = "",
                 tracker_db: Optional[Path] = None,
                 log_dir: Optional[Path] = None) -> None:
        self.bot_url = bot_url
        self.citysim_url = citysim_url
        self.public_url = public_url
        self.tracker_db = tracker_db  # the raw rows, for tests of what is stored
        self.log_dir = log_dir  # each service's log file

    def request(self, url: str, body: Optional[Dict[str, Any]] = None, method: str = "GET") -> Any:
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Content-Type": "application/json"}
        if url.startswith(self.bot_url):
            headers.update(api_headers("tests"))
        req = urllib.request.Request(url, data=data, method=method, headers=headers)
        with urllib.request.urlopen(req, timeout=60) as response:
            raw = response.read()
        return json.loads(raw) if raw else None

    def send(self, sender: str, text: str) -> Any:
        """A message in the REST conversation `rest:<sender>`."""
        return self.request(f"{self.bot_url}/webhooks/rest/webhook",
                            {"sender": sender, "message": text}, "POST")

    def events(self, conversation: str) -> list:
        """The tracker's events; a bare sender means its REST conversation."""
        if ":" not in conversation:
            conversation = "rest:" + conversation
        return self.request(f"{self.bot_url}/conversations/{conversation}/tracker")["events"]

    def citysim(self, path: str, body: Optional[Dict[str, Any]] = None, method: str = "GET") -> Any:
        return self.request(f"{self.citysim_url}{path}", body, method)


@pytest.fixture(scope="session")
def live_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveStack]:
    """The whole system on test ports, with a fresh simulator and tracker store.

    The simulator's /_test/ endpoints are on (`make run` never mounts them);
    rate limits are off so stories may send as fast as they like."""
    if not MODEL.exists():
        pytest.fail("没有训练好的模型：请用 make test 运行（它会先训练）")
    tmp = tmp_path_factory.mktemp("stack")
    env = stack_environment(TEST_PORTS["actions_port"], TEST_PORTS["citysim_port"],
                            tracker_db=tmp / "tracker.db")
    env["CITYLINK_RATE_CONVERSATION"] = "0"
    env["CITYLINK_RATE_ADDRESS"] = "0"
    svc = services(model=str(MODEL), citysim_db=str(tmp / "citysim.sqlite"),
                   public=("127.0.0.1", GATEWAY_PORT), citysim_test_api=True, **TEST_PORTS)
    with Stack(env=env, log_dir=tmp / "log") as stack:
        stack.start(svc["citysim"])
        stack.start(svc["bot"], timeout=300)  # no action server: an action it needed would fail
        stack.start(svc["gateway"])
        yield LiveStack(f"http://127.0.0.1:{TEST_PORTS['bot_port']}",
                        f"http://127.0.0.1:{TEST_PORTS['citysim_port']}",
                        f"http://127.0.0.1:{GATEWAY_PORT}",
                        tracker_db=tmp / "tracker.db", log_dir=tmp / "log")


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """A throwaway PostgreSQL server (tests/postgres.py); yields its URL."""
    from tests import postgres

    try:
        with postgres.server() as url:
            yield url
    except RuntimeError as missing:
        pytest.fail(str(missing))


@pytest.fixture(scope="session")
def redis_server() -> Iterator[str]:
    """A throwaway Redis server (tests/redis_server.py); yields its URL."""
    from tests import redis_server

    try:
        with redis_server.server() as url:
            yield url
    except RuntimeError as missing:
        pytest.fail(str(missing))
