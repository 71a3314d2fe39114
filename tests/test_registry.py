"""The per-city registry: a city is data, not code."""
from pathlib import Path

import pytest

from actions.conversation import ActionAnswerFaq, ActionSetCity
from actions.forms import ServiceForm
from common import registry
from tests.actions.conftest import make_tracker, run_action, slot_events, texts

FIXTURE = Path(__file__).parent / "fixtures" / "registry"


@pytest.fixture
def sixth_city(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("CITYLINK_REGISTRY", str(FIXTURE))
    registry.load.cache_clear()
    yield registry.load()
    registry.load.cache_clear()


def test_the_five_cities_are_served_in_contract_order():
    assert registry.load(str(Path(registry.DEFAULT_DIR))).served_cities == [
        "广州", "深圳", "佛山", "武汉", "上海"]


def test_every_city_file_names_known_services_with_urls():
    reg = registry.load(str(Path(registry.DEFAULT_DIR)))
    for city in reg.cities.values():
        assert city.services, city.city
        for name, service in city.services.items():
            assert name in registry.SERVICE_INTENTS
            assert service.base_url.startswith("http")


def test_environment_overrides_a_backend_url(monkeypatch):
    monkeypatch.setenv("CITYSIM_URL", "http://backend.test:9000")
    assert registry.expand("${CITYSIM_URL:-http://x}/a") == "http://backend.test:9000/a"
    monkeypatch.delenv("CITYSIM_URL")
    assert registry.expand("${CITYSIM_URL:-http://x}/a") == "http://x/a"
    with pytest.raises(KeyError):
        registry.expand("${CITYLINK_UNSET_VARIABLE}")


def test_unknown_service_in_a_city_file_is_rejected(tmp_path):
    (tmp_path / "x.yml").write_text("city: X\nservices:\n  teleport:\n    base_url: http://x\n",
                                    encoding="utf-8")
    with pytest.raises(ValueError, match="teleport"):
        registry.load(str(tmp_path))


def test_a_sixth_city_is_a_new_file(sixth_city):
    assert sixth_city.served_cities == ["广州", "珠海"]
    zhuhai = sixth_city.city("珠海")
    assert zhuhai.service("violation").required == ["plate_number", "engine_number"]
    assert zhuhai.service("hospital") is None
    _, messages = run_action(ActionSetCity(), make_tracker(
        {"city": "珠海"}, intent="set_city", entities=[{"entity": "city", "value": "珠海"}]))
    assert "已切换到珠海" in texts(messages)


def test_the_sixth_city_overrides_a_faq_answer(sixth_city):
    tracker = make_tracker({"city": "珠海"}, intent="faq")
    tracker.latest_message["response_selector"] = {
        "faq": {"response": {"intent_response_key": "faq/passport"}}}
    _, messages = run_action(ActionAnswerFaq(), tracker)
    assert "珠海市公安局出入境" in texts(messages)


class ValidateCityForm(ServiceForm):
    """A form that only needs the city, like traffic_form."""

    form = "traffic_form"
    service = "traffic"


def test_a_service_the_city_lacks_is_explained_with_its_hotline(sixth_city):
    tracker = make_tracker({"requested_slot": "city", "city": "珠海"},
                           events=[{"event": "slot", "name": "city", "value": "珠海"}])
    events, messages = run_action(ValidateCityForm(), tracker)
    assert "珠海暂未开通这项线上服务" in texts(messages) and "0756-12345" in texts(messages)
    assert slot_events(events)["requested_slot"] is None


def test_an_unserved_city_gets_the_served_list(sixth_city):
    tracker = make_tracker({"requested_slot": "city", "city": "杭州"},
                           events=[{"event": "slot", "name": "city", "value": "杭州"}])
    events, messages = run_action(ValidateCityForm(), tracker)
    assert "杭州暂时还没有接入" in texts(messages) and "广州、珠海" in texts(messages)
    assert slot_events(events)["city"] is None


def test_a_misspelt_key_in_a_city_file_is_rejected_with_the_file_name(tmp_path):
    (tmp_path / "x.yml").write_text("city: X\nservices:\n  traffic:\n    base_ulr: http://x\n",
                                    encoding="utf-8")
    with pytest.raises(ValueError, match="(?s)x.yml.*base_ulr"):
        registry.load(str(tmp_path))
