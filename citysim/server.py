"""Run the simulator on a free loopback port in a background thread.

For tests and tools that need the HTTP interface in-process: synchronous
code (the bot's requests-based clients) can call it while it runs on its
own event loop.
"""
from __future__ import annotations

import asyncio
import socket
import threading
from pathlib import Path
from types import TracebackType
from typing import Any, Dict, Optional, Type, Union

import requests
from aiohttp import web

from citysim.app import create_app

SHUTDOWN_TIMEOUT = 0.5  # seconds given to requests still sleeping in a fault


class BackgroundServer:
    """`with BackgroundServer(db) as server: requests.get(server.url + "/health")`."""

    def __init__(self, db_path: Union[str, Path]) -> None:
        self.db_path = db_path
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.failure: Optional[BaseException] = None
        self.thread = threading.Thread(target=self._run, name="citysim", daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            runner = web.AppRunner(create_app(self.db_path, test_api=True), shutdown_timeout=SHUTDOWN_TIMEOUT)
            self.loop.run_until_complete(runner.setup())
            site = web.SockSite(runner, self.sock)
            self.loop.run_until_complete(site.start())
        except BaseException as exc:  # reported to the starting thread
            self.failure = exc
            self.sock.close()
            self.loop.close()
            self.ready.set()
            return
        self.ready.set()
        self.loop.run_forever()
        self.loop.run_until_complete(runner.cleanup())
        self.loop.close()

    def start(self) -> "BackgroundServer":
        self.thread.start()
        self.ready.wait()
        if self.failure is not None:
            raise RuntimeError("模拟平台启动失败") from self.failure
        return self

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join()

    def _test_api(self, method: str, path: str, **kwargs: Any) -> Dict[str, Any]:
        response = requests.request(method, f"{self.url}/_test/{path}", timeout=5, **kwargs)
        response.raise_for_status()
        return response.json()

    def inject_fault(self, kind: str, **spec: Any) -> None:
        """See POST /_test/faults: service, city, seconds, status, after, times."""
        self._test_api("POST", "faults", json={"kind": kind, **spec})

    def clear_faults(self) -> None:
        self._test_api("DELETE", "faults")

    def pin_clock(self, moment: str) -> None:
        self._test_api("POST", "clock", json={"now": moment})

    def otp(self, phone: str) -> str:
        """The last one-time code texted to `phone`."""
        return self._test_api("GET", "otp", params={"phone": phone})["code"]

    def seed(self, city: str) -> Dict[str, Any]:
        """Seeded vehicles, utility accounts and citizens of one city (by code)."""
        return self._test_api("GET", "seed", params={"city": city})[city]

    def __enter__(self) -> "BackgroundServer":
        return self.start()

    def __exit__(self, exc_type: Optional[Type[BaseException]], exc: Optional[BaseException],
                 tb: Optional[TracebackType]) -> None:
        self.stop()
