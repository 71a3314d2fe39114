"""pytest fixtures for suites that talk to the simulator over HTTP.

Import them into a conftest.py (`from citysim.testing import citysim, citysim_db`).
Each test gets a fresh server on a free loopback port, over a copy of a
database seeded once per session, so tests never see each other's payments.
"""
from __future__ import annotations

import shutil
from pathlib import Path
from typing import Iterator

import pytest

from citysim.db import open_db
from citysim.server import BackgroundServer


@pytest.fixture(scope="session")
def citysim_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("citysim") / "seeded.sqlite"
    open_db(path).close()
    return path


@pytest.fixture
def citysim(citysim_db: Path, tmp_path: Path) -> Iterator[BackgroundServer]:
    db = tmp_path / "citysim.sqlite"
    shutil.copyfile(citysim_db, db)
    with BackgroundServer(db) as server:
        yield server
