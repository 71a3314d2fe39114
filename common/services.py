"""The service manifest (common/services.yml): the list of services, written once.

Each service: the intent that starts it, its form and the form's slots, the
action that answers when the form is done, and its key in the city registry.
The domain's `forms:` section and data/rules/services.yml are generated from
it (tools/build_services.py); the action server's forms and the registry read
it here.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Dict, List, Optional

import yaml
from pydantic import BaseModel, validator

MANIFEST = Path(__file__).resolve().with_name("services.yml")


class Service(BaseModel):
    intent: str
    form: str
    slots: List[str]
    submit: str
    registry: Optional[str] = None

    class Config:
        extra = "forbid"
        allow_mutation = False

    @validator("form")
    def _form_name(cls, value: str) -> str:
        if not value.endswith("_form"):
            raise ValueError("表单名要以 _form 结尾")
        return value

    @validator("submit")
    def _action_name(cls, value: str) -> str:
        if not value.startswith("action_"):
            raise ValueError("提交动作名要以 action_ 开头")
        return value


class Manifest(BaseModel):
    services: List[Service]

    class Config:
        extra = "forbid"
        allow_mutation = False

    @validator("services")
    def _unique(cls, services: List[Service]) -> List[Service]:
        for attribute in ("intent", "form"):
            names = [getattr(s, attribute) for s in services]
            repeated = sorted({n for n in names if names.count(n) > 1})
            if repeated:
                raise ValueError(f"{attribute} 重复：{repeated}")
        return services

    def forms_by_intent(self) -> Dict[str, str]:
        """The form each service intent starts."""
        return {s.intent: s.form for s in self.services}

    def intents_by_registry_key(self) -> Dict[str, List[str]]:
        """Registry service key -> the intents it serves (services with a backend)."""
        found: Dict[str, List[str]] = {}
        for s in self.services:
            if s.registry:
                found.setdefault(s.registry, []).append(s.intent)
        return found


@lru_cache(maxsize=None)
def load(path: Path = MANIFEST) -> Manifest:
    return Manifest.parse_obj(yaml.safe_load(path.read_text(encoding="utf-8")))
