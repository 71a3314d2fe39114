"""The per-city registry: which services a city offers and where they live.

One YAML file per city under registry/ (outside data/, which Rasa reads as
training data). A sixth city is a new file and a backend URL: no code. The
directory can be moved with CITYLINK_REGISTRY (tests use a fixture city).
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Dict, List, Optional

import yaml

DEFAULT_DIR = Path(__file__).resolve().parents[1] / "registry"
DEFAULT_RETENTION_DAYS = 30
_VAR = re.compile(r"\$\{([A-Z0-9_]+)(?::-([^}]*))?\}")

# Registry service -> the intents it serves.
SERVICE_INTENTS: Dict[str, List[str]] = {
    "violation": ["query_violation", "pay_fine"],
    "traffic": ["query_traffic"],
    "restriction": ["query_restriction"],
    "transit": ["query_bus", "query_route"],
    "utility": ["query_bill", "pay_bill"],
    "hospital": ["book_appointment", "query_appointment", "cancel_appointment"],
    "weather": ["query_weather"],
    "social": ["query_social_security", "query_housing_fund"],
    "hotline": ["report_issue", "query_ticket"],
}


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


@dataclass(frozen=True)
class ServiceConfig:
    base_url: str
    required: List[str] = field(default_factory=list)


@dataclass(frozen=True)
class CityConfig:
    city: str
    hotline: str
    services: Dict[str, ServiceConfig]
    faq_overrides: Dict[str, str]
    order: int = 99  # position in the list of served cities shown to users
    # Days a conversation is kept after its last message (tools/retention.py).
    retention_days: int = DEFAULT_RETENTION_DAYS

    def service(self, name: str) -> Optional[ServiceConfig]:
        return self.services.get(name)


@dataclass(frozen=True)
class Registry:
    cities: Dict[str, CityConfig]

    @property
    def served_cities(self) -> List[str]:
        return list(self.cities)

    def city(self, name: Optional[str]) -> Optional[CityConfig]:
        return self.cities.get(name or "")

    def served_list(self) -> str:
        return "、".join(self.served_cities)


def _load_city(path: Path) -> CityConfig:
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    services = {
        name: ServiceConfig(base_url=expand(cfg["base_url"]).rstrip("/"),
                            required=list(cfg.get("required") or []))
        for name, cfg in (raw.get("services") or {}).items()
    }
    unknown = set(services) - set(SERVICE_INTENTS)
    if unknown:
        raise ValueError(f"{path.name}: 未知服务 {sorted(unknown)}")
    return CityConfig(
        city=raw["city"],
        hotline=str(raw.get("hotline", "12345")),
        services=services,
        faq_overrides=dict(raw.get("faq_overrides") or {}),
        order=int(raw.get("order", 99)),
        retention_days=int(raw.get("retention_days", DEFAULT_RETENTION_DAYS)),
    )


@lru_cache(maxsize=None)
def load(directory: Optional[str] = None) -> Registry:
    """Every city file in the registry directory, keyed by city name."""
    root = Path(directory or os.environ.get("CITYLINK_REGISTRY") or DEFAULT_DIR)
    cities = sorted((_load_city(p) for p in root.glob("*.yml")), key=lambda c: c.order)
    return Registry({c.city: c for c in cities})
