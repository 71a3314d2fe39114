from typing import Any, Callable

import pytest

from actions.clients.base import BaseClient
from citysim.server import BackgroundServer
from citysim.testing import citysim, citysim_db  # noqa: F401  (fixtures)


@pytest.fixture
def connect(citysim: BackgroundServer) -> Callable[..., Any]:  # noqa: F811
    """connect(ViolationClient, "shenzhen", timeout=...) -> a client of the running simulator.

    The client modules are named after the services, so the module names the URL.
    """
    def make(cls: type, city: str = "shenzhen", **options: Any) -> BaseClient:
        service = cls.__module__.rsplit(".", 1)[-1]
        return cls(f"{citysim.url}/{city}/{service}", **{"backoff": 0.01, **options})
    return make
