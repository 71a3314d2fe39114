"""The webchat channel's HTTP contract, without a browser."""

from __future__ import annotations

import json
import re
import secrets
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any, Dict, Optional, Tuple

import pytest

from bot.channels.webchat import CHAT_ID_HEADER

WEB = Path(__file__).resolve().parents[2] / "web"


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def http(
    url: str,
    payload: Any = None,
    raw: Optional[bytes] = None,
    chat_id: Optional[str] = None,
) -> Tuple[int, Dict[str, str], Any]:
    """GET, or POST ``payload`` as JSON (``raw`` bytes as they are), with
    ``chat_id`` in the chat-id header; redirects are not followed. Returns
    status, headers (lower-case names) and the body (parsed if JSON)."""
    data = (
        raw
        if raw is not None
        else None
        if payload is None
        else json.dumps(payload).encode()
    )
    headers = {"Content-Type": "application/json"}
    if chat_id is not None:
        headers[CHAT_ID_HEADER] = chat_id
    request = urllib.request.Request(url, data=data, headers=headers)
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


def new_chat_id() -> str:
    """Like the page's: 24 random bytes, base64url."""
    return secrets.token_urlsafe(24)


def message(text: str = "你好", **extra: Any) -> Dict[str, Any]:
    """A webhook body with a fresh message id."""
    return {"message": text, "message_id": uuid.uuid4().hex, **extra}


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
    chat_id = new_chat_id()
    status, _, replies = http(
        base_url + "webhook",
        message(metadata={"display_text": "您好呀"}),
        chat_id=chat_id,
    )
    assert status == 200
    # The conversation is the web chat's own namespace.
    assert replies and all(reply["recipient_id"] == "web:" + chat_id for reply in replies)

    status, _, history = http(base_url + "history", chat_id=chat_id)
    assert status == 200
    assert history["messages"][0] == {"from": "user", "text": "您好呀"}
    assert history["messages"][1:] == [{"from": "bot", **reply} for reply in replies]


def test_unknown_chat_has_empty_history(base_url: str) -> None:
    assert http(base_url + "history", chat_id=new_chat_id())[2]["messages"] == []


def test_the_chat_id_in_a_url_is_not_accepted(base_url: str) -> None:
    """The id is a secret: an id in the query string (old page, a leaked link)
    neither reads the history nor posts a message."""
    chat_id = new_chat_id()
    assert http(base_url + "webhook", message(), chat_id=chat_id)[0] == 200
    status, _, body = http(f"{base_url}history?sender={chat_id}")
    assert status == 400 and "messages" not in body
    status, _, body = http(f"{base_url}webhook?sender={chat_id}", message())
    assert status == 400 and has_chinese(body["error"])


@pytest.mark.parametrize(
    "chat_id, payload",
    [
        (None, message()),
        ("short", message()),
        ("../../etc/passwd-xxxxxxxxxxxxxxxxxxxxxxxx", message()),
        ("<script>alert(1)</script>xxxxxxxxxxxxxxxxxxxx", message()),
        ("x" * 65, message()),
        # A UUID has 122 random bits, fewer than the 128 asked for.
        (str(uuid.uuid4()).replace("-", "")[:31], message()),
        (new_chat_id(), message("   ")),
        (new_chat_id(), message("长" * 2001)),
        (new_chat_id(), {"message": "你好"}),
        (new_chat_id(), message(message_id="短")),
        (new_chat_id(), message(metadata=["not", "an", "object"])),
        (new_chat_id(), message(metadata={"display_text": "长" * 101})),
        (new_chat_id(), ["not", "an", "object"]),
    ],
)
def test_bad_webhook_requests_are_refused_in_chinese(
    base_url: str, chat_id: Optional[str], payload: Any
) -> None:
    status, _, body = http(base_url + "webhook", payload, chat_id=chat_id)
    assert status == 400
    assert has_chinese(body["error"])


def test_invalid_json_is_refused(base_url: str) -> None:
    status, _, body = http(base_url + "webhook", raw=b"{not json", chat_id=new_chat_id())
    assert status == 400
    assert has_chinese(body["error"])


@pytest.mark.parametrize("chat_id", [None, "", "short", "a b" + "c" * 40])
def test_bad_history_chat_id_is_refused(base_url: str, chat_id: Optional[str]) -> None:
    status, _, body = http(base_url + "history", chat_id=chat_id)
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
