"""Plain HTTP calls to the simulator under test (no client library in between)."""
from __future__ import annotations

from typing import Any, Dict, Optional

import requests

from citysim.server import BackgroundServer

TIMEOUT = 10


def get(server: BackgroundServer, path: str, timeout: float = TIMEOUT, headers: Optional[Dict[str, str]] = None,
        **params: Any) -> requests.Response:
    return requests.get(server.url + path, params=params, headers=headers, timeout=timeout)


def post(server: BackgroundServer, path: str, body: Optional[Dict[str, Any]] = None, key: Optional[str] = None,
         headers: Optional[Dict[str, str]] = None) -> requests.Response:
    all_headers = {**(headers or {}), **({"Idempotency-Key": key} if key else {})}
    return requests.post(server.url + path, json=body or {}, headers=all_headers, timeout=TIMEOUT)


def error_code(response: requests.Response) -> str:
    """The error code, after checking the body has the documented shape and a Chinese message."""
    error = response.json()["error"]
    assert any("\u4e00" <= ch <= "\u9fff" for ch in error["message"]), error
    return error["code"]
