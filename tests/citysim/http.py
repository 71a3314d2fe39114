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


def proven(server: BackgroundServer, base: str, phone: str, id_number: Optional[str] = None) -> Dict[str, str]:
    """The bearer header after the SMS check at `base` (/city/service) for this phone and ID."""
    body = {"phone": phone, **({"id_number": id_number} if id_number else {})}
    started = post(server, f"{base}/verify/start", body)
    assert started.status_code == 201, started.text
    confirmed = post(server, f"{base}/verify/confirm",
                     {"verification_id": started.json()["verification_id"], "code": server.otp(phone)})
    assert confirmed.status_code == 200, confirmed.text
    return {"Authorization": f"Bearer {confirmed.json()['token']}"}
