"""The PostgreSQL connection pool is sized so that many bot nodes fit the server's limit."""
import pytest
from rasa.shared.core.domain import Domain

from bot.tracker_store import SQLTrackerStore
from tests import postgres


def test_the_pool_is_small_by_default_and_follows_rasas_variables(
        postgres_server: str, monkeypatch: pytest.MonkeyPatch):
    url = postgres.new_database(postgres_server)
    monkeypatch.delenv("SQL_POOL_SIZE", raising=False)
    monkeypatch.delenv("SQL_MAX_OVERFLOW", raising=False)
    store = SQLTrackerStore(Domain.empty(), dialect="postgresql", host=url)
    assert (store.engine.pool.size(), store.engine.pool._max_overflow) == (2, 2)
    monkeypatch.setenv("SQL_POOL_SIZE", "5")
    store = SQLTrackerStore(Domain.empty(), dialect="postgresql", host=url)
    assert store.engine.pool.size() == 5
