"""The trainers' data handling without a browser: YAML writing, new intents, the inbox's ranking, activation rules."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict

import pytest
import sqlalchemy as sa

from console import db
from console.training import activation, inbox, jobs, labels, tables, writer
from tools.stack import ROOT

from . import trainer_world


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return trainer_world.training_root(tmp_path_factory.mktemp("data"))


@pytest.fixture()
def engine(tmp_path: Path) -> Any:
    return db.init(f"sqlite:///{tmp_path / 'tracker.db'}")


def parse(intent: str, confidence: float, second: str = "out_of_scope", other: float = 0.05,
          fallback: bool = False) -> Dict[str, Any]:
    return {"intent": {"name": "nlu_fallback" if fallback else intent, "confidence": confidence},
            "intent_ranking": [{"name": intent, "confidence": confidence}, {"name": second, "confidence": other}],
            "entities": []}


def test_markup_is_rasa_inline_with_values_only_when_they_differ() -> None:
    text = "明天去中山一院"
    marked = writer.markup(text, [writer.Entity(0, 2, "date"),
                                  writer.Entity(3, 7, "hospital", "中山大学附属第一医院")])
    assert marked == '[明天](date)去[中山一院]{"entity": "hospital", "value": "中山大学附属第一医院"}'
    assert writer.plain(marked) == text
    with pytest.raises(ValueError):
        writer.markup(text, [writer.Entity(0, 3, "date"), writer.Entity(2, 4, "city")])


def test_examples_go_to_the_end_of_their_intents_block_once(root: Path) -> None:
    files = writer.write(root, [("report_issue", "井盖没了好危险"), ("report_issue", "井盖 没了 好危险"),
                                ("query_parking", "哪里能停车")], heldout=False)
    assert files == [root / "data/nlu/hotline.yml", root / "data/nlu/trainer.yml"]
    hotline = (root / "data/nlu/hotline.yml").read_text(encoding="utf-8")
    block = hotline.split("- intent: report_issue")[1].split("- intent:")[0]
    assert block.rstrip().endswith("    - 井盖 没了 好危险") and "- 井盖没了好危险" not in hotline  # one wording of two
    assert (root / "data/nlu/trainer.yml").read_text(encoding="utf-8").endswith(
        "- intent: query_parking\n  examples: |\n    - 哪里能停车\n")
    assert writer.write(root, [("report_issue", "井盖没了好危险！")], heldout=False) == []  # already there


def test_a_batch_is_one_commit_authored_by_the_trainer(root: Path) -> None:
    files = writer.write(root, [("thank", "真系多谢晒你哋喂")], heldout=True)
    sha = writer.commit(root, files, "alice", "Trainer alice: 1 labelled message")
    shown = subprocess.run(["git", "-C", str(root), "show", "-s", "--format=%H %an <%ae>", "HEAD"],
                           capture_output=True, text=True, check=True).stdout.strip()
    assert shown == f"{sha} alice <alice@citylink.local>"


def test_new_intent_names_follow_the_contract_and_need_enough_examples(root: Path, engine: Any) -> None:
    for bad in ("QueryParking", "query-parking", "查询停车", "query_violation", "nlu_fallback", "_x"):
        with pytest.raises(labels.LabelError):
            labels.check_new_intent(root, bad)
    with pytest.raises(labels.LabelError, match="至少需要 10 个"):
        labels.new_intent(engine, root, "alice", "query_parking_fee", "停车费", ["停车费多少"] * 12)
    examples = [f"第{n}个停车场怎么收费" for n in range(10)]
    assert labels.new_intent(engine, root, "alice", "query_parking_fee", "停车费", examples) == 10
    assert "  - query_parking_fee" in (root / "domain.yml").read_text(encoding="utf-8")
    assert "query_parking_fee" in labels.known_intents(root)
    needed = labels.still_needed(root, "query_parking_fee")
    assert [there for _, there in needed] == [False, False, False]
    assert "utter_query_parking_fee" in needed[0][0]


def test_training_is_refused_for_intents_with_too_few_examples(root: Path) -> None:
    writer.write(root, [("query_fishing", "哪里能钓鱼")], heldout=False)
    few = labels.too_few(root)
    assert few["query_fishing"] == 1 and not set(few) & set(labels.domain_intents(root))


def test_inbox_ranks_groups_and_masks(root: Path, engine: Any) -> None:
    trainer_world.say(engine, "web:a", "电梯困人了快来", parse("report_issue", 0.95, other=0.01))
    trainer_world.say(engine, "web:b", "空调滴水到我家", parse("out_of_scope", 0.35, "report_issue", 0.3))
    trainer_world.say(engine, "web:c", "空调滴水到我家了", parse("out_of_scope", 0.36, "report_issue", 0.3))
    trainer_world.say(engine, "web:d", "我手机13812345678咋整", parse("help", 0.2, fallback=True))
    trainer_world.say(engine, "web:e", "查违章", parse("query_violation", 0.99))
    found = inbox.groups(engine, root)
    assert [g.text for g in found] == ["我手机138****5678咋整", "空调滴水到我家", "电梯困人了快来"]
    assert found[0].reasons == ["兜底", "置信度低", "前两名接近"] and found[0].intent == "help"
    assert found[1].count == 2 and "前两名接近" in found[1].reasons
    labels.decide(engine, root, "alice", found[1], "train", "report_issue")
    assert [g.text for g in inbox.groups(engine, root)] == ["我手机138****5678咋整", "电梯困人了快来"]
    assert {r.text for r in labels.pending(engine, "alice")} == {"空调滴水到我家", "空调滴水到我家了"}


def test_activation_is_blocked_when_worse_unless_an_admin_gives_a_reason(
        tmp_path: Path, engine: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CITYLINK_MODELS_DIR", str(tmp_path))
    (tmp_path / "citylink.tar.gz").write_bytes(b"base")
    (tmp_path / "worse.tar.gz").write_bytes(b"candidate")
    report = {"worse": True, "metrics": {}}
    with engine.begin() as conn:
        model_id = conn.execute(tables.models.insert().values(
            path=str(tmp_path / "worse.tar.gz"), trained_by="alice", trained_at=0.0,
            report=json.dumps(report))).inserted_primary_key[0]
    with pytest.raises(activation.ActivationError):
        activation.activate(engine, "alice", False, model_id, "我觉得可以")
    with pytest.raises(activation.ActivationError):
        activation.activate(engine, "root", True, model_id, "")
    activation.activate(engine, "root", True, model_id, "修复紧急问题")
    assert activation.serving() == tmp_path / "worse.tar.gz"
    assert json.loads((tmp_path / "active.json").read_text())["previous"] == str(tmp_path / "citylink.tar.gz")
    assert activation.model_row(engine, model_id).override_reason == "修复紧急问题"
    assert activation.rollback(engine, "root") == tmp_path / "citylink.tar.gz"
    assert activation.serving() == tmp_path / "citylink.tar.gz"


def test_a_staff_flag_raises_a_message_and_is_closed_by_the_decision(root: Path, engine: Any) -> None:
    trainer_world.say(engine, "web:f1", "井盖被偷了好吓人", parse("report_issue", 0.9, other=0.02))
    trainer_world.say(engine, "web:f2", "我想问下那个东西", parse("help", 0.5, other=0.1))
    with engine.begin() as conn:
        event_id = conn.execute(sa.select(db.events.c.id).where(db.events.c.sender_id == "web:f1")).scalar()
        conn.execute(db.flags.insert().values(sender_id="web:f1", event_id=event_id, text_masked="井盖被偷了好吓人",
                                              flagged_by="staff1", flagged_at=0.0, status="open", reason=""))
    first = inbox.groups(engine, root)[0]
    assert first.text == "井盖被偷了好吓人" and first.reasons == ["客服标记"]
    labels.decide(engine, root, "alice", first, "discard", "")
    with engine.connect() as conn:
        assert conn.execute(sa.select(db.flags.c.status)).scalar() == "discarded"


def test_the_command_line_exports_the_inbox_and_imports_labels_as_one_commit(
        root: Path, engine: Any, tmp_path: Path) -> None:
    trainer_world.say(engine, "web:c1", "小区门口的垃圾三天没人收", parse("out_of_scope", 0.4, "report_issue", 0.3))
    env = {**os.environ, "TRACKER_URL": str(engine.url), "CITYLINK_TRAINING_ROOT": str(root)}

    def trainer(*args: str) -> str:
        done = subprocess.run([sys.executable, "-m", "tools.trainer", *args], env=env, cwd=ROOT,
                              capture_output=True, text=True)
        assert done.returncode == 0, done.stderr[-2000:]
        return done.stdout

    exported = [json.loads(line) for line in trainer("inbox-export").splitlines()]
    assert [e["text"] for e in exported] == ["小区门口的垃圾三天没人收"] and exported[0]["predicted"] == "out_of_scope"
    labels_file = tmp_path / "labels.jsonl"
    labels_file.write_text(json.dumps({"key": exported[0]["key"], "action": "train", "intent": "report_issue"},
                                      ensure_ascii=False) + "\n", encoding="utf-8")
    assert "写入 1 条到 data/nlu/hotline.yml" in trainer("label-import", str(labels_file), "--user", "carol")
    author = subprocess.run(["git", "-C", str(root), "log", "-1", "--format=%an"], capture_output=True, text=True)
    assert author.stdout.strip() == "carol"
    assert trainer("inbox-export") == ""


def test_one_training_job_at_a_time(engine: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CITYLINK_MODELS_DIR", str(tmp_path))
    starter = jobs.Starter()
    with engine.begin() as conn:
        conn.execute(tables.jobs.insert().values(requested_by="bob", requested_at=0.0, state="training"))
    waiting = jobs.queue(engine, "alice")
    with jobs.exclusive() as mine:  # a job (here: this test) holds the lock
        assert mine
        with jobs.exclusive() as other:
            assert not other
        assert starter.tick(engine) is None
        assert jobs.job(engine, waiting).state == "queued"
        assert [j.state for j in jobs.recent(engine)] == ["queued", "training"]  # a running job is left alone
    with engine.begin() as conn:  # nothing queued: the tick only notices the dead job
        conn.execute(tables.jobs.delete().where(tables.jobs.c.id == waiting))
    assert starter.tick(engine) is None
    assert [j.state for j in jobs.recent(engine)] == ["failed"]  # its process is gone: no one holds the lock


def test_the_command_line_does_not_train_beside_a_running_job(
        engine: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CITYLINK_MODELS_DIR", str(tmp_path))
    env = {**os.environ, "TRACKER_URL": str(engine.url)}
    with jobs.exclusive() as mine:
        assert mine
        done = subprocess.run([sys.executable, "-m", "tools.trainer", "train", "--user", "carol"], env=env,
                              cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 1 and "另一个训练任务正在进行" in done.stderr
    assert jobs.recent(engine) == []
