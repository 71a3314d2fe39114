"""The service manifest (common/services.yml) and what is generated from it."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from actions.forms import SERVICE_FORMS
from common import registry, services
from tools import build_services

ROOT = Path(__file__).resolve().parents[1]
MANIFEST = services.load()


def test_generated_domain_forms_and_service_rules_are_up_to_date():
    assert build_services.stale(MANIFEST) == [], "run: python -m tools.build_services"


def test_the_generator_notices_a_manifest_change(tmp_path):
    changed = MANIFEST.copy(update={"services": MANIFEST.services[:-1]})
    assert set(build_services.stale(changed)) == {build_services.DOMAIN, build_services.RULES}


def test_every_name_in_the_manifest_exists_in_the_domain():
    domain = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))
    nlu_intents = set(domain["intents"])
    for s in MANIFEST.services:
        assert s.intent in nlu_intents, s.intent
        assert s.submit in domain["actions"] and f"validate_{s.form}" in domain["actions"], s.form
        assert set(s.slots) <= set(domain["slots"]), s.form


def test_forms_and_registry_read_the_manifest():
    assert SERVICE_FORMS == {s.intent: s.form for s in MANIFEST.services}
    served = {i for intents in registry.SERVICE_INTENTS.values() for i in intents}
    assert served == {s.intent for s in MANIFEST.services if s.registry}
    for path in (ROOT / "registry").glob("*.yml"):
        keys = set(yaml.safe_load(path.read_text(encoding="utf-8")).get("services") or {})
        assert keys <= set(registry.SERVICE_INTENTS), path.name


@pytest.mark.parametrize(
    "broken",
    [
        {"services": [{"intent": "a", "form": "a_form", "slots": [], "submit": "action_a"}] * 2},
        {"services": [{"intent": "a", "form": "a", "slots": [], "submit": "action_a"}]},
        {"services": [{"intent": "a", "form": "a_form", "slots": [], "submit": "utter_a"}]},
        {
            "services": [
                {"intent": "a", "form": "a_form", "slots": [], "submit": "action_a", "x": 1}
            ]
        },
    ],
)
def test_a_broken_manifest_is_refused(broken):
    with pytest.raises(ValidationError):
        services.Manifest.parse_obj(broken)
