"""The staff console under test: a seeded tracker database, the console process, accounts, a browser.

Conversations are written into a fresh SQLite tracker database with Rasa's
own event classes (console/seed.py) at known days relative to today, so the
tests know exactly which conversations each filter must return. The console
runs as `make run` starts it (tools/stack.py's `console` service), on a free
port; accounts are made with the documented
command, `python -m console.admin create`.
"""
from __future__ import annotations

import datetime as dt
import random
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterator, List

import pytest
from playwright.sync_api import Browser, Page

from console import db, queries, seed
from console.summary import Indexer
from tests import postgres
from tests.webchat.conftest import browser, playwright  # noqa: F401  (shared Chromium fixtures)
from tools.stack import ROOT, Stack, services, stack_environment

PASSWORD = "correct-horse-battery"
ACCOUNTS = {"admin1": "admin", "staff1": "staff", "trainer1": "trainer", "locked1": "staff"}
SCREENSHOTS = ROOT / "screenshots"


@dataclass(frozen=True)
class Seeded:
    sender_id: str
    kind: str
    city: str
    days_ago: int

    @property
    def channel(self) -> str:
        return self.sender_id.split(":", 1)[0]

    @property
    def day(self) -> str:
        return (queries.today() - dt.timedelta(days=self.days_ago)).isoformat()


SEEDED: List[Seeded] = [
    Seeded("wechat:oSZfallback1", "fallback", "深圳", 1),
    Seeded("web:sz-fallback-2", "fallback", "深圳", 1),
    Seeded("web:sz-fallback-old", "fallback", "深圳", 5),
    Seeded("web:gz-fallback", "fallback", "广州", 1),
    Seeded("rest:sz-violation", "violation", "深圳", 1),
    Seeded("web:sh-handoff", "handoff", "上海", 0),
    Seeded("web:wh-backend", "backend_error", "武汉", 2),
    Seeded("wechat:oFSabandoned", "abandoned", "佛山", 3),
    Seeded("web:sz-appointment", "appointment", "深圳", 1),
    Seeded("web:gz-violation", "violation", "广州", 0),
] + [Seeded(f"rest:bulk-{n:02d}", "violation", "上海", 10 + n % 3) for n in range(55)]


@pytest.fixture(scope="package")
def pg_server() -> Iterator[str]:
    """One throwaway PostgreSQL server for the console's database tests."""
    with postgres.server() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh database URL on each engine the tracker store supports."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'tracker.db'}"
    return postgres.new_database(request.getfixturevalue("pg_server"))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def write_seeded(url: str) -> None:
    engine = db.init(url)
    rng = random.Random(12)
    for n, item in enumerate(SEEDED):
        day = queries.today() - dt.timedelta(days=item.days_ago)
        start = queries.day_start(day) + 9 * 3600 + n * 600  # 09:00 onwards, 10 minutes apart, Beijing time
        seed.write(engine, item.sender_id, seed.conversation(item.kind, item.city, start, rng))


def create_account(env: Dict[str, str], name: str, role: str, password: str = PASSWORD) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "console.admin", "create", name, "--role", role],
                          input=password + "\n", text=True, capture_output=True, env=env, cwd=ROOT)


class Console:
    def __init__(self, url: str, database_url: str, env: Dict[str, str]) -> None:
        self.url = url
        self.database_url = database_url
        self.env = env


@pytest.fixture(scope="session")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    tmp = tmp_path_factory.mktemp("console")
    database_url = f"sqlite:///{tmp / 'tracker.db'}"
    write_seeded(database_url)
    Indexer(db.engine(database_url)).run_until_current()
    env = stack_environment(tracker_db=tmp / "tracker.db")
    # The same secrets as this process: the console must unseal what write_seeded sealed.
    for name, role in ACCOUNTS.items():
        made = create_account(env, name, role)
        assert made.returncode == 0, made.stderr
    port = free_port()
    with Stack(env=env, log_dir=tmp / "log") as stack:
        stack.start(services(console_port=port)["console"])
        yield Console(f"http://127.0.0.1:{port}", database_url, env)


@pytest.fixture()
def page(browser: Browser) -> Iterator[Page]:  # noqa: F811
    context = browser.new_context(viewport={"width": 1360, "height": 900}, locale="zh-CN",
                                  accept_downloads=True)
    yield context.new_page()
    context.close()


def sign_in(page: Page, console: Console, name: str, password: str = PASSWORD) -> None:
    page.goto(f"{console.url}/login")
    page.fill("input[name=name]", name)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")


@pytest.fixture()
def staff(page: Page, console: Console) -> Page:
    sign_in(page, console, "staff1")
    assert page.url.endswith("/conversations")
    return page


@pytest.fixture()
def admin(page: Page, console: Console) -> Page:
    sign_in(page, console, "admin1")
    assert page.url.endswith("/conversations")
    return page


def shot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"console-{name}.png"), full_page=True)


def listed(page: Page) -> List[str]:
    """Sender ids in the list as shown, in order."""
    return page.locator("#conversations a.open").all_inner_texts()
