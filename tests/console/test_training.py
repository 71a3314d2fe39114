"""The trainers' loop in a real browser, against a running two-worker bot.

A message the model in service gets wrong is in the tracker (with what the bot
made of it); a trainer finds it in the inbox, labels it, writes the batch (a
git commit authored by the trainer), trains a candidate on the small
configuration (`configs/small.yml`, one held-out file, so CI stays fast),
reads the comparison, activates it, and the bot (every worker) now answers the
message right; rolled back, it answers as before.
"""
from __future__ import annotations

import json
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any, Callable, Dict, Iterator

import pytest
from playwright.sync_api import Page, expect

from console import db
from console.training import tables
from tools.stack import ROOT, Stack, api_headers, services, stack_environment

from . import trainer_world
from .conftest import PASSWORD, create_account, free_port, shot

MISUNDERSTOOD = "楼上天天半夜拖椅子"  # a noise complaint the model in service reads as weather
SIMILAR = "楼上邻居天天半夜拖椅子"
PERSONAL = "我电话13812345678 查违章"
KNOWN = "查违章"  # already a training example: never in the inbox
FOR_TESTS = "武汉明天会不会下大暴雨哦"
BASE_MODEL = ROOT / "models" / "citylink.tar.gz"


class World:
    def __init__(self, console_url: str, bot_url: str, root: Path, database_url: str) -> None:
        self.console_url, self.bot_url, self.root, self.database_url = console_url, bot_url, root, database_url

    def parse(self, text: str) -> Dict[str, Any]:
        request = urllib.request.Request(f"{self.bot_url}/model/parse", method="POST",
                                         data=json.dumps({"text": text}).encode(),
                                         headers={**api_headers(), "Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as answer:
            return json.load(answer)

    def intents(self, text: str, times: int = 8) -> set:
        """What the bot answers, asked on fresh connections (they spread over the workers)."""
        return {self.parse(text)["intent"]["name"] for _ in range(times)}


def until(check: Callable[[], bool], timeout: float, step: float = 1.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(step)
    return check()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    assert BASE_MODEL.is_file(), "make train first (models/citylink.tar.gz)"
    tmp = tmp_path_factory.mktemp("training")
    root = trainer_world.training_root(tmp)
    models = tmp / "models"
    models.mkdir()
    (models / "citylink.tar.gz").symlink_to(BASE_MODEL)
    database_url = f"sqlite:///{tmp / 'tracker.db'}"
    db.init(database_url)
    env = stack_environment(free_port(), free_port(), tracker_db=tmp / "tracker.db")
    env.update(CITYLINK_TRAINING_ROOT=str(root), CITYLINK_MODELS_DIR=str(models),
               CITYLINK_ACTIVE_MODEL=str(models / "active.json"), SANIC_WORKERS="2",
               CITYLINK_TRAIN_CONFIG=str(ROOT / "configs" / "small.yml"),
               CITYLINK_HELDOUT="tests/nlu/heldout.yml", CITYLINK_MODEL_WATCH_S="1",
               RASA_CACHE_DIRECTORY=str(tmp / "rasa-cache"))  # every run trains, nothing restored
    for name, role in (("trainer1", "trainer"), ("admin1", "admin"), ("staff1", "staff")):
        made = create_account(env, name, role)
        assert made.returncode == 0, made.stderr
    console_port, bot_port = free_port(), free_port()
    with Stack(env=env, log_dir=tmp / "log") as stack:
        wanted = services(model=str(models / "citylink.tar.gz"), bot_port=bot_port, console_port=console_port)
        stack.start(wanted["bot"], timeout=240)
        stack.start(wanted["console"])
        yield World(f"http://127.0.0.1:{console_port}", f"http://127.0.0.1:{bot_port}", root, database_url)


def citizens_wrote(world: World) -> str:
    """The citizens' messages as the bot stored them; returns what the bot understood the wrong one as."""
    engine = db.engine(world.database_url)
    for n, text in enumerate([MISUNDERSTOOD, MISUNDERSTOOD, SIMILAR, PERSONAL, KNOWN, FOR_TESTS]):
        trainer_world.say(engine, f"web:citizen-{n}", text, world.parse(text))
    return world.parse(MISUNDERSTOOD)["intent"]["name"]


def sign_in(page: Page, world: World, name: str) -> None:
    page.goto(f"{world.console_url}/login")
    page.fill("input[name=name]", name)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")


def select_characters(page: Page, group: Any, start: int, end: int) -> None:
    """What a trainer does with the mouse: select characters of the message."""
    group.locator(".msg").evaluate(
        """(el, [s, e]) => { const r = document.createRange(); r.setStart(el.firstChild, s);
             r.setEnd(el.firstChild, e); const sel = window.getSelection(); sel.removeAllRanges();
             sel.addRange(r); }""", [start, end])


def git_log(root: Path) -> str:
    return subprocess.run(["git", "-C", str(root), "log", "-1", "--format=%an|%s", "--stat"],
                          capture_output=True, text=True, check=True).stdout


def test_label_train_compare_activate_roll_back(world: World, page: Page) -> None:
    before = citizens_wrote(world)
    assert before != "report_issue", f"the model in service already understands {MISUNDERSTOOD}"
    sign_in(page, world, "trainer1")
    page.goto(f"{world.console_url}/inbox")
    content = page.content()
    assert "138****5678" in content and "13812345678" not in content  # personal data masked
    assert page.locator(".msg", has_text=KNOWN).filter(has_not_text="电话").count() == 0
    group = page.locator(".group", has=page.locator(".msg", has_text="拖椅子"))
    expect(group).to_have_count(1)  # three messages, two wordings, one group
    expect(group.locator(".count")).to_have_text("3 条相似")
    expect(group.locator(".predicted")).to_have_text(before)
    shot(page, "trainer-inbox")

    weather = page.locator(".group", has=page.locator(".msg", has_text=FOR_TESTS))
    while weather.locator(".entity button.x").count():  # what the extractors found, cleared
        weather.locator(".entity button.x").first.click()
    select_characters(page, weather, 0, 2)
    weather.locator(".entity-name").select_option("city")
    weather.locator(".mark-entity").click()
    expect(weather.locator(".entity")).to_have_text("city：武汉（0–2）×")
    weather.locator(".intent").select_option("query_weather")
    weather.locator("button.heldout").click()
    expect(page.locator("#done")).to_contain_text("已处理 1 条")

    group.locator(".intent").select_option("report_issue")
    group.locator("button.train").click()
    expect(page.locator("#done")).to_contain_text("已处理 2 条")
    expect(page.locator(".msg", has_text="拖椅子")).to_have_count(0)
    expect(page.locator("#pending")).to_have_text("3")
    page.click("#write")
    expect(page.locator("#done")).to_contain_text("data/nlu/hotline.yml")
    log = git_log(world.root)
    assert log.startswith("trainer1|Trainer trainer1: 3 labelled messages")
    assert "data/nlu/hotline.yml" in log and "tests/nlu/heldout.yml" in log
    hotline = (world.root / "data" / "nlu" / "hotline.yml").read_text(encoding="utf-8")
    assert f"    - {MISUNDERSTOOD}\n" in hotline and f"    - {SIMILAR}\n" in hotline
    assert "    - [武汉](city)明天会不会下大暴雨哦\n" in (world.root / "tests/nlu/heldout.yml").read_text("utf-8")

    page.goto(f"{world.console_url}/training")
    page.click("#train")
    job = page.locator(".job").first
    expect(job.locator(".state")).not_to_have_text("queued", timeout=20_000)
    expect(page.locator(".log").first).to_contain_text("校验训练数据")
    expect(job.locator(".state")).to_have_text("training", timeout=60_000)
    shot(page, "trainer-training")
    expect(page.locator(".job").first.locator(".state")).to_have_text("done", timeout=900_000)  # a bound, not a timing
    expect(page.locator(".log").first).to_contain_text("Finished training component 'IntentClassifier'")
    page.locator(".job").first.locator("a.compare").click()
    expect(page.locator("#metrics rect")).to_have_count(6)
    assert page.locator("#fixed").inner_text().isdigit()
    shot(page, "trainer-compare")
    page.click("#activate")
    expect(page.locator("#done")).to_contain_text("已启用")
    assert until(lambda: world.intents(MISUNDERSTOOD) == {"report_issue"}, 30), world.intents(MISUNDERSTOOD)
    shot(page, "trainer-models")

    page.click("#rollback")
    expect(page.locator("#done")).to_contain_text("已回退到 citylink.tar.gz")
    assert until(lambda: world.intents(MISUNDERSTOOD) == {before}, 30), world.intents(MISUNDERSTOOD)
    expect(page.locator("#serving")).to_have_text("citylink.tar.gz")
    expect(page.locator("#activations tr")).to_have_count(3)  # header, activation, roll-back


def test_a_new_intent_is_checked_and_says_what_else_the_bot_needs(world: World, page: Page) -> None:
    sign_in(page, world, "trainer1")
    page.goto(f"{world.console_url}/intents/new")
    form = page.locator("#intent-form")
    form.locator("[name=name]").fill("Query-Parking")
    form.locator("[name=examples]").fill("\n".join(f"第{n}个停车场还有车位吗" for n in range(10)))
    form.locator("button[type=submit]").click()
    expect(page.locator("#error")).to_contain_text("小写英文单词")
    form.locator("[name=name]").fill("query_parking")
    form.locator("[name=examples]").fill("哪里能停车\n附近停车场\n哪里能停车")
    form.locator("button[type=submit]").click()
    expect(page.locator("#error")).to_contain_text("至少需要 10 个不同的例句（现在 2 个）")
    form.locator("[name=examples]").fill("\n".join(f"第{n}个停车场还有车位吗" for n in range(10)))
    form.locator("button[type=submit]").click()
    expect(page.locator("#needed li")).to_have_count(3)
    expect(page.locator("#needed")).to_contain_text("utter_query_parking")
    assert "  - query_parking\n" in (world.root / "domain.yml").read_text(encoding="utf-8")
    page.goto(f"{world.console_url}/inbox")
    expect(page.locator("#pending")).to_have_text("10")


def test_a_worse_candidate_needs_an_admin_and_a_reason(world: World, page: Page) -> None:
    models = Path(world.root).parent / "models"
    (models / "worse.tar.gz").symlink_to(BASE_MODEL)
    report = {"baseline": str(models / "citylink.tar.gz"), "candidate": str(models / "worse.tar.gz"),
              "examples": 10, "sets": [], "drop": 0.05, "worse": True, "max_drop": 0.01, "fixed": 0,
              "broken": 1, "per_intent": [{"intent": "thank", "before": 1.0, "after": 0.5, "support": 2}],
              "flipped": [{"text": "谢谢", "intent": "thank", "before": "thank", "after": "greet",
                           "fixed": False}],
              "metrics": {"intent_accuracy": [0.9, 0.85], "intent_macro_f1": [0.9, 0.85], "entity_f1": [0.9, 0.9]}}
    with db.engine(world.database_url).begin() as conn:
        model_id = conn.execute(tables.models.insert().values(
            path=str(models / "worse.tar.gz"), trained_by="trainer1", trained_at=time.time(),
            train_seconds=1.0, report=json.dumps(report))).inserted_primary_key[0]
    sign_in(page, world, "trainer1")
    page.goto(f"{world.console_url}/model?id={model_id}")
    expect(page.locator("#blocked")).to_contain_text("超过阈值")
    expect(page.locator("#activate")).to_be_disabled()
    expect(page.locator("#intents rect.bar-worse")).to_have_count(1)
    page.click("#logout")
    sign_in(page, world, "admin1")
    page.goto(f"{world.console_url}/model?id={model_id}")
    page.click("#activate")
    expect(page.locator("#error")).to_contain_text("只有管理员填写理由")
    page.fill("[name=reason]", "节日高峰前先上线，明天补数据")
    page.click("#activate")
    expect(page.locator("#done")).to_contain_text("已启用 worse.tar.gz")
    expect(page.locator("#models")).to_contain_text("节日高峰前先上线，明天补数据")
    page.click("#rollback")
    expect(page.locator("#serving")).to_have_text("citylink.tar.gz")


def test_staff_do_not_label_train_or_activate(world: World, page: Page) -> None:
    sign_in(page, world, "staff1")
    for path in ("/inbox", "/intents/new", "/training", "/model?id=1"):
        page.goto(f"{world.console_url}{path}")
        expect(page.locator("main")).to_contain_text("这个页面需要 trainer 或更高的角色")
    expect(page.locator("header nav")).not_to_contain_text("收件箱")
