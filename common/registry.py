"""The per-city registry: which services a city offers and where they live.

One YAML file per city under registry/ (outside data/, which Rasa reads as
training data), checked by pydantic models: a misspelt key or an unknown
service stops the action server at start-up with the file's name. A sixth city is a new file and a backend URL: no code. The
directory can be moved with CITYLINK_REGISTRY (tests use a fixture city).
"""

from __future__ import annotations

import datetime as dt
import os
import re
import time
from functools import lru_cache
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import yaml
from pydantic import BaseModel, ValidationError, validator

from common import services
from common.dates import CHINA

DEFAULT_DIR = Path(__file__).resolve().parents[1] / "registry"
DEFAULT_RETENTION_DAYS = 30
_VAR = re.compile(r"\$\{([A-Z0-9_]+)(?::-([^}]*))?\}")

# Registry service -> the intents it serves (common/services.yml).
SERVICE_INTENTS: Dict[str, List[str]] = services.load().intents_by_registry_key()


def expand(value: str) -> str:
    """${VAR} and ${VAR:-default} from the environment."""

    def substitute(match: re.Match) -> str:
        found = os.environ.get(match.group(1))
        if found:
            return found
        if match.group(2) is not None:
            return match.group(2)
        raise KeyError(f"环境变量 {match.group(1)} 未设置")

    return _VAR.sub(substitute, value)


HOURS = re.compile(r"([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-4]):([0-5]\d)")


def _minutes(hours: str) -> Tuple[int, int]:
    """Minutes since midnight (start, end) of "HH:MM-HH:MM", or ValueError."""
    match = HOURS.fullmatch(hours)
    if match is None:
        raise ValueError(f"人工服务时间应写成 HH:MM-HH:MM（如 08:00-22:00）：{hours}")
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    if h1 * 60 + m1 >= h2 * 60 + m2:
        raise ValueError(f"人工服务时间须开始早于结束：{hours}")
    return h1 * 60 + m1, h2 * 60 + m2


class _Frozen(BaseModel):
    class Config:
        extra = "forbid"
        allow_mutation = False


class ServiceConfig(_Frozen):
    base_url: str
    required: List[str] = []
    # Slots without which a lookup shows only a summary (the city's privacy rule).
    details_require: List[str] = []

    @validator("base_url")
    def _expanded(cls, value: str) -> str:
        return expand(value).rstrip("/")


class CityConfig(_Frozen):
    city: str
    hotline: str = "12345"
    services: Dict[str, ServiceConfig] = {}
    faq_overrides: Dict[str, str] = {}
    order: int = 99  # position in the list of served cities shown to users
    # Days a conversation is kept after its last message (tools/retention.py).
    retention_days: int = DEFAULT_RETENTION_DAYS
    # When support staff answer 转人工 ("HH:MM-HH:MM", Beijing time, every day; none: always).
    # Outside them the citizen is offered a 12345 ticket and the request waits for the next shift.
    handoff_hours: Optional[str] = None

    @validator("hotline", pre=True)
    def _text(cls, value: object) -> str:
        return str(value)

    @validator("services", "faq_overrides", pre=True)
    def _empty(cls, value: object) -> object:
        return value or {}

    @validator("services")
    def _known(cls, services: Dict[str, ServiceConfig]) -> Dict[str, ServiceConfig]:
        unknown = set(services) - set(SERVICE_INTENTS)
        if unknown:
            raise ValueError(f"未知服务 {sorted(unknown)}")
        return services

    @validator("handoff_hours")
    def _hours(cls, value: Optional[str]) -> Optional[str]:
        if value is not None:
            _minutes(value)  # raises on a malformed range
        return value

    def staffed(self, now: Optional[float] = None) -> bool:
        """Whether `now` (default: this moment) is inside the city's handoff hours."""
        if not self.handoff_hours:
            return True
        start, end = _minutes(self.handoff_hours)
        moment = dt.datetime.fromtimestamp(time.time() if now is None else now, CHINA)
        return start <= moment.hour * 60 + moment.minute < end

    def service(self, name: str) -> Optional[ServiceConfig]:
        return self.services.get(name)


class Registry(_Frozen):
    cities: Dict[str, CityConfig]

    @property
    def served_cities(self) -> List[str]:
        return list(self.cities)

    def city(self, name: Optional[str]) -> Optional[CityConfig]:
        return self.cities.get(name or "")

    def served_list(self) -> str:
        return "、".join(self.served_cities)


def _load_city(path: Path) -> CityConfig:
    try:
        return CityConfig.parse_obj(yaml.safe_load(path.read_text(encoding="utf-8")))
    except ValidationError as error:
        raise ValueError(f"{path.name}: {error}") from error


@lru_cache(maxsize=None)
def load(directory: Optional[str] = None) -> Registry:
    """Every city file in the registry directory, keyed by city name."""
    root = Path(directory or os.environ.get("CITYLINK_REGISTRY") or DEFAULT_DIR)
    cities = sorted((_load_city(p) for p in root.glob("*.yml")), key=lambda c: c.order)
    return Registry(cities={c.city: c for c in cities})
