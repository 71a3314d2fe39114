"""A data key of the test's own, so no test reads or creates var/secrets."""
from __future__ import annotations

from typing import Iterator

import pytest

from common import privacy


@pytest.fixture(autouse=True)
def data_key(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    key = "test-data-key-not-a-secret"
    monkeypatch.setenv("CITYLINK_DATA_KEY", key)
    privacy.reset_key_cache()
    yield key
    privacy.reset_key_cache()
