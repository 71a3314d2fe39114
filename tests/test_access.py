"""Access control of the running stack (issue 11 item 1), tried as an attacker
on the same network or machine would: without credentials, with forged ones,
from another origin. Uses the session's live stack (tests/conftest.py).
"""
from __future__ import annotations

import json
import socket
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Tuple

import jwt
import pytest
from aiohttp.test_utils import TestClient, TestServer

from citysim.app import create_app as create_citysim
from common.secrets import secret
from tests.conftest import GATEWAY_PORT, TEST_PORTS, LiveStack
from tests.test_gateway import in_thread
from tools.stack import ROOT, Stack, api_headers, services, stack_environment, startup_notice

FORGED_JWT = jwt.encode({"user": {"username": "mallory", "role": "admin"}, "exp": 4102444800},
                        "not-the-secret", algorithm="HS256")
# What an attacker would try on the operator API (never sent with valid credentials:
# DELETE /model would unload the model of the session's stack).
OPERATOR_CALLS = [
    ("GET", "/conversations/{victim}/tracker", None),
    ("POST", "/conversations/{victim}/tracker/events",
     [{"event": "slot", "name": "confirmed", "value": True}]),
    ("POST", "/conversations/{victim}/messages", {"text": "你好", "sender": "user"}),
    ("PUT", "/model", {"model_file": "models/citylink.tar.gz"}),
    ("DELETE", "/model", None),
    ("POST", "/model/train", {}),
    ("POST", "/model/parse", {"text": "查违章"}),
    ("POST", "/webhooks/rest/webhook", {"sender": "victim", "message": "你好"}),
]


def call(url: str, method: str = "GET", body: Any = None,
         headers: Optional[Dict[str, str]] = None) -> Tuple[int, Dict[str, str], bytes]:
    """Status, headers (lower-case names) and body; errors are answers too."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method,
                                     headers={"Content-Type": "application/json",
                                              **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=60) as answer:
            status, raw_headers, raw = answer.status, answer.headers, answer.read()
    except urllib.error.HTTPError as error:
        status, raw_headers, raw = error.code, error.headers, error.read()
    return status, {k.lower(): v for k, v in raw_headers.items()}, raw


@pytest.fixture(scope="module")
def victim(live_stack: LiveStack) -> str:
    """A REST conversation with something in it."""
    live_stack.send("victim", "你好")
    return "rest:victim"


@pytest.mark.parametrize("credentials", [
    {},
    {"Authorization": f"Bearer {FORGED_JWT}"},
    {"Authorization": "Bearer guessed-token"},
], ids=["anonymous", "forged-jwt", "wrong-token"])
@pytest.mark.parametrize("method, path, body", OPERATOR_CALLS,
                         ids=[f"{m} {p}" for m, p, _ in OPERATOR_CALLS])
def test_the_operator_api_refuses_strangers(live_stack: LiveStack, victim: str,
                                            credentials: Dict[str, str], method: str,
                                            path: str, body: Any) -> None:
    url = live_stack.bot_url + path.format(victim=victim)
    status, _, raw = call(url, method, body, credentials)
    assert status == 401, raw
    # Nothing changed in the victim's conversation.
    assert not any(e.get("name") == "confirmed" and e.get("value") is True
                   for e in live_stack.events(victim))


def test_the_api_token_in_the_query_string_still_works(live_stack: LiveStack,
                                                       victim: str) -> None:
    """Rasa's --auth-token, for operators' scripts; only from this machine."""
    status, _, raw = call(f"{live_stack.bot_url}/conversations/{victim}/tracker"
                          f"?token={secret('api_token')}")
    assert status == 200 and json.loads(raw)["sender_id"] == victim


def test_no_origin_is_echoed_back(live_stack: LiveStack) -> None:
    evil = {"Origin": "http://evil.example"}
    for url in (f"{live_stack.bot_url}/status", f"{live_stack.bot_url}/version",
                f"{live_stack.bot_url}/conversations/rest:victim/tracker"):
        _, headers, _ = call(url, headers={**evil, **api_headers("tests")})
        assert "access-control-allow-origin" not in headers, url
    # Through the gateway, citizens' browsers see no CORS header at all.
    for path in ("/webhooks/webchat/", "/webhooks/webchat/history"):
        _, headers, _ = call(live_stack.public_url + path, headers=evil)
        assert not [h for h in headers if h.startswith("access-control-")], path
    _, headers, _ = call(f"{live_stack.bot_url}/model/parse", "OPTIONS", headers={
        **evil, "Access-Control-Request-Method": "POST"})
    assert headers.get("access-control-allow-origin") not in ("*", "http://evil.example")


@pytest.fixture(scope="module")
def action_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The action server as deploy/ and `make cluster` run it (make run needs none)."""
    port = TEST_PORTS["actions_port"]
    env = stack_environment(port, TEST_PORTS["citysim_port"],
                            tracker_db=tmp_path_factory.mktemp("actions") / "tracker.db")
    with Stack(env=env, log_dir=tmp_path_factory.mktemp("actions-log")) as stack:
        stack.start(services(actions_port=port)["actions"])
        yield f"http://127.0.0.1:{port}"


def test_the_action_server_refuses_calls_without_the_secret(action_server: str) -> None:
    forged = {"next_action": "action_pay_fine", "sender_id": "victim",
              "tracker": {"sender_id": "victim", "slots": {"confirmed": True}, "events": [],
                          "latest_message": {}},
              "domain": {}, "version": "3.6.21"}
    for headers in ({}, {"Authorization": "Bearer guessed"}):
        status, _, raw = call(f"{action_server}/webhook", "POST", forged, headers)
        assert status == 401, raw
        assert call(f"{action_server}/actions", headers=headers)[0] == 401
    status, _, raw = call(f"{action_server}/actions",
                          headers={"Authorization": f"Bearer {secret('action_secret')}"})
    assert status == 200 and {"name": "action_pay_fine"} in json.loads(raw)


def _listening_addresses() -> Dict[int, str]:
    """Port -> local address of the IPv4 sockets listening on this machine."""
    listening: Dict[int, str] = {}
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        local, state = line.split()[1], line.split()[3]
        if state == "0A":  # LISTEN
            address, port = local.split(":")
            octets = [str(int(address[i:i + 2], 16)) for i in (6, 4, 2, 0)]
            listening[int(port, 16)] = ".".join(octets)
    return listening


def test_every_service_listens_on_loopback_only(live_stack: LiveStack, action_server: str) -> None:
    listening = _listening_addresses()
    for port in (*TEST_PORTS.values(), GATEWAY_PORT):
        assert listening.get(port) == "127.0.0.1", (port, listening.get(port))


def test_make_run_binds_loopback_and_mounts_no_test_endpoints() -> None:
    commands = {name: service.command for name, service in services().items()}
    assert "--test-api" not in commands["citysim"]
    assert commands["bot"][commands["bot"].index("--interface") + 1] == "127.0.0.1"
    assert "--cors" not in commands["bot"]
    assert commands["gateway"][commands["gateway"].index("--host") + 1] == "127.0.0.1"
    assert commands["actions"][1:3] == ["-m", "actions.server"]  # binds 127.0.0.1


def test_the_simulator_mounts_test_endpoints_only_when_asked(tmp_path: Path) -> None:
    async def statuses(test_api: bool) -> List[int]:
        app = create_citysim(tmp_path / f"citysim-{test_api}.sqlite", test_api=test_api)
        async with TestClient(TestServer(app)) as client:
            return [(await client.get(path)).status for path in ("/_test/seed", "/_test/faults")]

    # An event loop of its own thread: the browser tests' Playwright keeps one
    # running in the main thread.
    assert in_thread(lambda: statuses(False)) == [404, 404]
    assert in_thread(lambda: statuses(True)) == [200, 200]


def test_the_bot_sends_the_action_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    """endpoints.yml takes the secret from the environment the stack sets."""
    from rasa.utils.endpoints import read_endpoint_config

    for name, value in stack_environment().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("CITYLINK_ACTION_SECRET", "from-the-environment")
    endpoint = read_endpoint_config(str(ROOT / "endpoints.yml"), "action_endpoint")
    assert endpoint.headers == {"Authorization": "Bearer from-the-environment"}
    assert "secret" not in endpoint.url and not endpoint.params


def test_bodies_over_the_cap_are_refused(live_stack: LiveStack) -> None:
    """Refused on the announced length, before any body is read: a 3 MB body
    is never sent, the status line is read right after the headers."""
    port = TEST_PORTS["bot_port"]
    for path in ("/model/parse", "/webhooks/rest/webhook"):
        with socket.create_connection(("127.0.0.1", port), timeout=30) as connection:
            connection.sendall(
                f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                f"Authorization: {api_headers('tests')['Authorization']}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {3 * 1024 * 1024}\r\n"
                "\r\n".encode())
            status_line = connection.makefile("rb").readline().decode()
        assert status_line.split()[1] == "413", (path, status_line)


def test_make_run_says_where_the_token_is_never_what(monkeypatch: pytest.MonkeyPatch,
                                                     tmp_path: Path) -> None:
    monkeypatch.setenv("CITYLINK_SECRETS_DIR", str(tmp_path / "secrets"))
    for name in ("api_token", "jwt_secret"):
        monkeypatch.delenv(f"CITYLINK_{name.upper()}", raising=False)
    services()  # what `make run` does first: the bot's command line needs the secrets
    notice = startup_notice()
    for name in ("api_token", "jwt_secret"):
        path = tmp_path / "secrets" / name
        assert str(path) in notice
        assert path.read_text().strip() not in notice
        assert path.stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "secrets").stat().st_mode & 0o777 == 0o700
    assert "http://127.0.0.1:5000/webhooks/webchat/" in notice


def test_the_operator_chooses_the_public_address(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CITYLINK_PUBLIC_HOST", "0.0.0.0")
    monkeypatch.setenv("CITYLINK_PUBLIC_PORT", "8080")
    commands = {name: service.command for name, service in services().items()}
    gateway = commands["gateway"]
    assert gateway[gateway.index("--host") + 1:gateway.index("--port") + 2] == [
        "0.0.0.0", "--port", "8080"]
    # Nothing else follows the public address.
    assert commands["bot"][commands["bot"].index("--interface") + 1] == "127.0.0.1"
    assert "0.0.0.0" not in commands["citysim"] and "0.0.0.0" not in commands["actions"]


def test_make_run_starts_no_action_server_unless_the_actions_are_remote(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from tools.stack import run_services

    monkeypatch.delenv("CITYLINK_ACTIONS_MODULE", raising=False)
    assert run_services(stack_environment()) == ["bot", "gateway", "console"]  # the default
    assert run_services({"CITYLINK_ACTIONS_MODULE": "actions"}) == ["bot", "gateway", "console"]
    assert run_services({"CITYLINK_ACTIONS_MODULE": ""}) == ["actions", "bot", "gateway", "console"]
