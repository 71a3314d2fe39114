"""Pieces every simulated service shares: cities, clock, errors, idempotency.

Kept in one place so the nine services answer errors, dates, money and
retried payments the same way a real city platform would.
"""
from __future__ import annotations

import hashlib
import json
import logging
import random
import re
import sqlite3
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any, Callable, Dict, Mapping, Optional, Tuple

import yaml
from aiohttp import web

from common import gazetteer
from common.dates import CHINA
from common.gazetteer import CityGazetteer

logger = logging.getLogger(__name__)
# China has had no daylight saving since 1991, so a fixed offset is exact.
WEEKDAYS = ["周一", "周二", "周三", "周四", "周五", "周六", "周日"]
DB = web.AppKey("db", sqlite3.Connection)


@dataclass(frozen=True)
class City:
    """A served city as the URLs name it (guangzhou) and as people do (广州)."""

    code: str
    name: str
    abbr: str  # GZ: ticket and appointment numbers start with it
    gaz: CityGazetteer


_SYLLABLE = re.compile(r"(?:[zcs]h|[bpmfdtnlgkhjqxrzcsyw])?[aeiouv]+(?:ng|n|r)?(?![aeiouv])")


def _abbreviation(code: str) -> str:
    """Initials of the pinyin syllables: guangzhou -> GZ, shanghai -> SH."""
    return "".join(s[0] for s in _SYLLABLE.findall(code)).upper()


def _load_cities() -> Dict[str, City]:
    """City codes are the gazetteer's file names, so a new file is a new URL prefix."""
    gaz = gazetteer.load()
    cities = {}
    for path in sorted((Path(gazetteer.__file__).parent / "cities").glob("*.yml")):
        name = yaml.safe_load(path.read_text(encoding="utf-8"))["city"]
        cities[path.stem] = City(path.stem, name, _abbreviation(path.stem), gaz.cities[name])
    return cities


CITIES: Dict[str, City] = _load_cities()


class ApiError(Exception):
    """A 4xx/5xx answer with a machine code and a message a citizen can read."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def reply(payload: Any, status: int = 200, headers: Optional[Mapping[str, str]] = None) -> web.Response:
    """JSON with Chinese left readable (json_response would escape it)."""
    return web.json_response(payload, status=status, headers=headers, dumps=_dumps)


def _dumps(payload: Any) -> str:
    return json.dumps(payload, ensure_ascii=False)


def error_response(status: int, code: str, message: str) -> web.Response:
    return reply({"error": {"code": code, "message": message}}, status=status)


_HTTP_MESSAGES = {404: ("not_found", "接口不存在"), 405: ("method_not_allowed", "不支持该请求方法")}


@web.middleware
async def error_middleware(request: web.Request, handler: Callable) -> web.StreamResponse:
    """Every failure leaves as {"error": {"code", "message"}}, never an HTML page."""
    try:
        return await handler(request)
    except ApiError as exc:
        return error_response(exc.status, exc.code, exc.message)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        code, message = _HTTP_MESSAGES.get(exc.status, ("http_error", "请求无法处理"))
        return error_response(exc.status, code, message)
    except Exception:
        logger.exception("%s %s failed", request.method, request.path)
        return error_response(500, "internal_error", "系统内部错误，请稍后再试")


class Clock:
    """Wall clock in Asia/Shanghai that tests can pin to a moment."""

    def __init__(self) -> None:
        self.pinned: Optional[datetime] = None

    def now(self) -> datetime:
        return self.pinned or datetime.now(CHINA)

    def today(self) -> date:
        return self.now().date()


CLOCK = web.AppKey("clock", Clock)


def parse_datetime(text: str) -> datetime:
    """ISO 8601; a naive time is taken as Beijing time."""
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except (TypeError, ValueError):
        raise ApiError(400, "invalid_datetime", f"时间格式不正确：{text}，应为 ISO 8601") from None
    return value.replace(tzinfo=CHINA) if value.tzinfo is None else value.astimezone(CHINA)


def city_of(request: web.Request) -> City:
    code = request.match_info["city"]
    if code not in CITIES:
        served = "、".join(c.name for c in CITIES.values())
        raise ApiError(404, "unknown_city", f"暂不支持该城市（{code}），目前开通：{served}")
    return CITIES[code]


def now(request: web.Request) -> datetime:
    return request.app[CLOCK].now()


def query(request: web.Request, name: str, required: bool = True) -> Optional[str]:
    value = request.query.get(name, "").strip()
    if required and not value:
        raise ApiError(400, "missing_parameter", f"缺少参数：{name}")
    return value or None


def query_date(request: web.Request, name: str = "date") -> date:
    """The date parameter as ISO YYYY-MM-DD, today when absent."""
    text = query(request, name, required=False)
    if text is None:
        return request.app[CLOCK].today()
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ApiError(400, "invalid_date", f"日期格式不正确：{text}，应为 YYYY-MM-DD") from None


async def json_body(request: web.Request) -> Dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        raise ApiError(400, "invalid_json", "请求体不是合法的 JSON") from None
    if not isinstance(body, dict):
        raise ApiError(400, "invalid_json", "请求体应为 JSON 对象")
    return body


def field(body: Mapping[str, Any], name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value.strip():
        raise ApiError(400, "missing_field", f"缺少字段：{name}")
    return value.strip()


def yuan(fen: int) -> float:
    """Money is stored in fen so sums are exact; JSON carries yuan."""
    return round(fen / 100, 2)


def confirmed_fen(body: Mapping[str, Any], name: str = "amount") -> int:
    """The sum the citizen confirmed (yuan) in fen: a payment never charges "whatever is due"."""
    if name not in body:
        raise ApiError(400, f"missing_{name}", f"缺少确认的金额（{name}），无法核对应缴数额，未办理")
    value = body[name]
    invalid = ApiError(400, f"invalid_{name}", f"{name} 应为正的金额数字（元）")
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise invalid
    try:
        fen = round(float(value) * 100)
    except ValueError:
        raise invalid from None
    if fen <= 0:
        raise invalid
    return fen


def money_text(fen: int) -> str:
    """Money in a message as people write it: 236 元, 236.5 元, not 236.0."""
    return f"{fen / 100:.2f}".rstrip("0").rstrip(".")


def stable_rng(*parts: Any) -> random.Random:
    """A Random seeded by its arguments, the same in every process (unlike hash())."""
    digest = hashlib.sha256("|".join(map(str, parts)).encode("utf-8")).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def idempotent(
    request: web.Request,
    body: Mapping[str, Any],
    action: Callable[[sqlite3.Connection], Tuple[int, Dict[str, Any]]],
    required: bool = True,
) -> web.Response:
    """Run a state-changing action at most once per Idempotency-Key.

    The action runs in the same transaction that records its answer, so a
    client that lost the response and retries with the same key gets the
    original answer back instead of a second charge. Failed actions are not
    recorded: they changed nothing, and a retry may legitimately succeed.
    """
    key = request.headers.get("Idempotency-Key", "").strip()
    conn = request.app[DB]
    if not key:
        if required:
            raise ApiError(400, "missing_idempotency_key", "缺少 Idempotency-Key 请求头，无法保证不重复扣款")
        with conn:
            status, payload = action(conn)
        return reply(payload, status=status)
    fingerprint = hashlib.sha256(
        f"{request.method} {request.path} {json.dumps(body, sort_keys=True, ensure_ascii=False)}".encode("utf-8")
    ).hexdigest()
    row = conn.execute(
        "SELECT fingerprint, status, body FROM idempotency WHERE key = ?", (key,)
    ).fetchone()
    if row:
        if row[0] != fingerprint:
            raise ApiError(422, "idempotency_key_reused", "该 Idempotency-Key 已用于另一笔不同的请求")
        return reply(json.loads(row[2]), status=row[1], headers={"Idempotent-Replayed": "true"})
    with conn:
        status, payload = action(conn)
        conn.execute(
            "INSERT INTO idempotency (key, fingerprint, status, body) VALUES (?, ?, ?, ?)",
            (key, fingerprint, status, _dumps(payload)),
        )
    return reply(payload, status=status)


IDEMPOTENCY_SCHEMA = """
CREATE TABLE idempotency (
    key TEXT PRIMARY KEY,
    fingerprint TEXT NOT NULL,
    status INTEGER NOT NULL,
    body TEXT NOT NULL
);
"""
