"""What every backend client shares: one HTTP session, timeouts, safe retries,
typed errors and JSON-to-dataclass decoding.

Retries are limited to requests that cannot do harm twice: GETs, and POSTs
carrying an Idempotency-Key (the backend answers a repeated key with the
original result). Any other POST is sent once, because a lost answer may
hide an effect that already happened.

Every call has a total deadline (`DEFAULT_DEADLINE`, attempts and pauses
included), well under the 60 s conversation lock, so an action never
outlives the lock that keeps a second message of the same conversation
from running beside it (docs/services.md, "Slow and failing backends").
"""
from __future__ import annotations

import dataclasses
import logging
import time
import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Dict, List, Mapping, Optional, Tuple, Union, get_args, get_origin, get_type_hints
from urllib.parse import quote

import requests
from requests.adapters import HTTPAdapter

logger = logging.getLogger(__name__)

Timeout = Union[float, Tuple[float, float]]
DEFAULT_TIMEOUT: Timeout = (2.0, 5.0)  # connect, read
DEFAULT_RETRIES = 2
DEFAULT_BACKOFF = 0.3  # seconds before the first retry, doubled each time
DEFAULT_DEADLINE = 8.0  # seconds for one call, every attempt included


class BackendError(Exception):
    """The backend could not answer: `user_message` is fit to show the citizen;
    `retryable` says whether trying again later may help."""

    def __init__(self, user_message: str, retryable: bool, status: Optional[int] = None,
                 code: Optional[str] = None) -> None:
        super().__init__(user_message)
        self.user_message = user_message
        self.retryable = retryable
        self.status = status
        self.code = code


class RequestRejected(BackendError):
    """The backend answered 4xx: the request itself is wrong (unknown plate,
    wrong code, slot full). `code` is the backend's, `user_message` its text."""

    def __init__(self, user_message: str, status: int, code: str) -> None:
        super().__init__(user_message, retryable=False, status=status, code=code)


_session: Optional[requests.Session] = None


def shared_session() -> requests.Session:
    """One session for every client, so connections to a backend are reused."""
    global _session
    if _session is None:
        _session = requests.Session()
        adapter = HTTPAdapter(pool_connections=16, pool_maxsize=32)
        _session.mount("http://", adapter)
        _session.mount("https://", adapter)
    return _session


def new_idempotency_key() -> str:
    return uuid.uuid4().hex


def segment(value: str) -> str:
    """A value placed in a URL path, escaped (plates and names are Chinese)."""
    return quote(value, safe="")


def decode(kind: Any, value: Any) -> Any:
    """JSON value -> `kind` (a dataclass, List[...], Optional[...], Decimal, date, ...).

    A dataclass field may name its JSON key with metadata {"json": "from"}.
    Wrong shapes raise TypeError, KeyError or ValueError.
    """
    origin = get_origin(kind)
    if origin is Union:
        inner = [arg for arg in get_args(kind) if arg is not type(None)]
        return None if value is None else decode(inner[0], value)
    if origin in (list, List):
        if not isinstance(value, list):
            raise TypeError(f"expected a list, got {value!r}")
        return [decode(get_args(kind)[0], item) for item in value]
    if dataclasses.is_dataclass(kind):
        if not isinstance(value, Mapping):
            raise TypeError(f"expected an object for {kind.__name__}, got {value!r}")
        hints = get_type_hints(kind)
        arguments = {}
        for spec in dataclasses.fields(kind):
            key = spec.metadata.get("json", spec.name)
            required = spec.default is dataclasses.MISSING and spec.default_factory is dataclasses.MISSING
            if key in value or required:
                arguments[spec.name] = decode(hints[spec.name], value[key])
        return kind(**arguments)
    if kind is Decimal:
        return Decimal(str(value))
    if kind is datetime:
        return datetime.fromisoformat(value)
    if kind is date:
        return date.fromisoformat(value)
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if kind in (str, int, float, bool) and type(value) is kind:
        return value
    raise TypeError(f"expected {kind}, got {value!r}")


class BaseClient:
    """A client of one service of one city, rooted at that service's base URL."""

    service_name = "城市服务"  # how the citizen hears the service named in errors

    def __init__(self, base_url: str, timeout: Timeout = DEFAULT_TIMEOUT, retries: int = DEFAULT_RETRIES,
                 backoff: float = DEFAULT_BACKOFF, session: Optional[requests.Session] = None,
                 deadline: float = DEFAULT_DEADLINE) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.deadline = deadline
        self.session = session or shared_session()

    def busy(self) -> BackendError:
        """The deadline passed: the citizen hears at once that the service is busy."""
        return BackendError(f"{self.service_name}繁忙，暂时没有响应", retryable=True)

    def _attempt_timeout(self, remaining: float) -> Timeout:
        """This attempt's (connect, read) timeouts, cut to what is left of the deadline."""
        connect, read = self.timeout if isinstance(self.timeout, tuple) else (self.timeout, self.timeout)
        return min(connect, remaining), min(read, remaining)

    def _get(self, path: str, into: Any, params: Optional[Mapping[str, Any]] = None,
             unwrap: Optional[str] = None, headers: Optional[Mapping[str, str]] = None) -> Any:
        return self._request("GET", path, into, params=params, unwrap=unwrap, headers=headers)

    def _post(self, path: str, into: Any, body: Mapping[str, Any], idempotency_key: Optional[str] = None) -> Any:
        return self._request("POST", path, into, body=body, idempotency_key=idempotency_key)

    def _lookup(self, path: str, into: Any, body: Mapping[str, Any]) -> Any:
        """A read that carries personal data (plate, account number): POSTed in the body, so it
        stays out of URLs and access logs, and retried like a GET since it changes nothing."""
        return self._request("POST", path, into, body=body, read_only=True)

    def _request(self, method: str, path: str, into: Any, params: Optional[Mapping[str, Any]] = None,
                 body: Optional[Mapping[str, Any]] = None, idempotency_key: Optional[str] = None,
                 headers: Optional[Mapping[str, str]] = None, unwrap: Optional[str] = None,
                 read_only: bool = False) -> Any:
        """Send, retrying transient failures when that is safe; decode into `into`."""
        all_headers: Dict[str, str] = dict(headers or {})
        if idempotency_key:
            all_headers["Idempotency-Key"] = idempotency_key
        safe_to_repeat = method == "GET" or read_only or idempotency_key is not None
        attempts = 1 + (self.retries if safe_to_repeat else 0)
        clean_params = {k: v for k, v in (params or {}).items() if v is not None}
        url = self.base_url + path
        ends = time.monotonic() + self.deadline
        failure: BackendError = self.busy()
        for attempt in range(attempts):
            pause = self.backoff * 2 ** (attempt - 1) if attempt else 0.0
            if time.monotonic() + pause >= ends:
                break  # no time left for another attempt
            time.sleep(pause)
            try:
                response = self.session.request(method, url, params=clean_params, json=body, headers=all_headers,
                                                timeout=self._attempt_timeout(ends - time.monotonic()))
                return self._decode(response, into, unwrap)
            except BackendError as error:
                if not error.retryable:
                    raise
                failure = error
            except requests.Timeout:
                failure = BackendError(f"{self.service_name}响应超时", retryable=True)
            except requests.ConnectionError:
                failure = BackendError(f"暂时连接不上{self.service_name}", retryable=True)
            logger.warning("%s %s failed (attempt %d/%d): %s %s", method, self.base_url, attempt + 1, attempts,
                           failure, failure.__cause__ or "")
        if time.monotonic() >= ends:
            raise self.busy() from failure
        raise failure

    def _decode(self, response: requests.Response, into: Any, unwrap: Optional[str]) -> Any:
        if response.status_code >= 500:
            raise BackendError(f"{self.service_name}暂时不可用", retryable=True, status=response.status_code)
        try:
            payload = response.json()
        except ValueError:
            raise BackendError(f"{self.service_name}返回的数据无法识别", retryable=True,
                               status=response.status_code) from None
        if response.status_code >= 400:
            error = payload.get("error") if isinstance(payload, dict) else None
            if not isinstance(error, dict) or not isinstance(error.get("message"), str):
                raise BackendError(f"{self.service_name}拒绝了请求", retryable=False, status=response.status_code)
            raise RequestRejected(error["message"], response.status_code, str(error.get("code", "")))
        try:
            return decode(into, payload[unwrap] if unwrap else payload)
        except (KeyError, TypeError, ValueError) as exc:
            raise BackendError(f"{self.service_name}返回的数据无法识别", retryable=True,
                               status=response.status_code) from exc
