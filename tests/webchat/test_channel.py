"""The webchat channel's HTTP contract, without a browser."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any, Dict, Optional, Tuple

import pytest

WEB = Path(__file__).resolve().parents[2] / "web"


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def http(
    url: str, payload: Any = None, raw: Optional[bytes] = None
) -> Tuple[int, Dict[str, str], Any]:
    """GET, or POST ``payload`` as JSON (``raw`` bytes as they are); redirects
    are not followed. Returns status, headers (lower-case names) and the body
    (parsed if JSON)."""
    data = (
        raw
        if raw is not None
        else None
        if payload is None
        else json.dumps(payload).encode()
    )
    request = urllib.request.Request(
        url, data=data, headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.build_opener(_NoRedirect).open(
            request, timeout=10
        ) as answer:
            status, raw_headers, body = answer.status, answer.headers, answer.read()
    except urllib.error.HTTPError as error:
        status, raw_headers, body = error.code, error.headers, error.read()
    headers = {name.lower(): value for name, value in raw_headers.items()}
    if headers.get("content-type", "").startswith("application/json"):
        return status, headers, json.loads(body)
    return status, headers, body.decode("utf-8")


def new_sender() -> str:
    return str(uuid.uuid4())


def has_chinese(text: str) -> bool:
    return bool(re.search(r"[\u4e00-\u9fff]", text))


def test_page_is_served_with_a_strict_policy(base_url: str) -> None:
    status, headers, body = http(base_url)
    assert status == 200
    assert '<html lang="zh-CN">' in body
    assert "script-src 'self'" in headers["content-security-policy"]
    for asset in ("app.js", "style.css", "icon.svg"):
        assert http(base_url + asset)[0] == 200


def test_prefix_without_slash_redirects(base_url: str) -> None:
    status, headers, _ = http(base_url.rstrip("/"))
    assert status in (301, 302, 307, 308)
    assert headers["location"].endswith("/webhooks/webchat/")


@pytest.mark.parametrize(
    "name", ["../bot/channels/webchat.py", "%2e%2e/README.md", "nope.js"]
)
def test_only_files_of_web_are_served(base_url: str, name: str) -> None:
    assert http(base_url + name)[0] == 404


def test_webhook_answers_like_rest_and_history_replays(base_url: str) -> None:
    sender = new_sender()
    status, _, replies = http(
        base_url + "webhook",
        {"sender": sender, "message": "你好", "metadata": {"display_text": "您好呀"}},
    )
    assert status == 200
    assert replies and all(reply["recipient_id"] == sender for reply in replies)

    status, _, history = http(f"{base_url}history?sender={sender}")
    assert status == 200
    assert history["sender"] == sender
    assert history["messages"][0] == {"from": "user", "text": "您好呀"}
    assert history["messages"][1:] == [{"from": "bot", **reply} for reply in replies]


def test_unknown_sender_has_empty_history(base_url: str) -> None:
    assert http(f"{base_url}history?sender={new_sender()}")[2]["messages"] == []


@pytest.mark.parametrize(
    "payload",
    [
        {"message": "你好"},
        {"sender": "short", "message": "你好"},
        {"sender": "../../etc/passwd-xxxxxxxx", "message": "你好"},
        {"sender": "<script>alert(1)</script>", "message": "你好"},
        {"sender": "x" * 65, "message": "你好"},
        {"sender": 12345678901234567890, "message": "你好"},
        {"sender": new_sender(), "message": "   "},
        {"sender": new_sender(), "message": "长" * 2001},
        {
            "sender": new_sender(),
            "message": "你好",
            "metadata": ["not", "an", "object"],
        },
        ["not", "an", "object"],
    ],
)
def test_bad_webhook_requests_are_refused_in_chinese(
    base_url: str, payload: Any
) -> None:
    status, _, body = http(base_url + "webhook", payload)
    assert status == 400
    assert has_chinese(body["error"])


def test_invalid_json_is_refused(base_url: str) -> None:
    status, _, body = http(base_url + "webhook", raw=b"{not json")
    assert status == 400
    assert has_chinese(body["error"])


@pytest.mark.parametrize(
    "query", ["", "?sender=", "?sender=short", "?sender=a%20b" + "c" * 20]
)
def test_bad_history_sender_is_refused(base_url: str, query: str) -> None:
    status, _, body = http(base_url + "history" + query)
    assert status == 400
    assert has_chinese(body["error"])


def test_page_script_never_parses_markup() -> None:
    script = (WEB / "app.js").read_text(encoding="utf-8")
    for sink in (
        "innerHTML",
        "outerHTML",
        "insertAdjacentHTML",
        "document.write",
        "eval(",
    ):
        assert sink not in script
