"""Training jobs: validation, `rasa train` into a candidate, scoring against the model in service.

A job is a row in `console_training_jobs`. It runs in its own process
(`python -m tools.trainer run-job <id>`), at low CPU priority (`nice`), so
citizens' messages keep their CPU; the console only starts it and shows its
row, which the job keeps current (state, progress, the last log lines). One
job at a time: the process holds an exclusive lock on
`<models>/candidates/.training.lock`, and the console starts a queued job only
while nobody holds it. The CLI's `train` takes the lock, then records and runs its job at once.
"""
from __future__ import annotations

import fcntl
import json
import os
import re
import secrets
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, List, Optional

import sqlalchemy as sa
import yaml
from sqlalchemy.engine import Engine

from common.privacy import mask_text
from common.secrets import ROOT
from console.queries import clock
from console.training import activation, compare, labels, paths, tables

ACTIVE = ("validating", "training", "evaluating")
NICE = 10
LOG_LINES = 40
STARTED = re.compile(r"(?:Starting to train|Restored) component '([^']+)'")
ANSI = re.compile(r"\x1b\[[0-9;]*m")
FINISHED = re.compile(r"(?:Finished training|Restored) component '([^']+)'")


class JobFailed(RuntimeError):
    """A step failed; the message (Chinese) is the job's last log line."""


def queue(engine: Engine, user: str) -> int:
    with engine.begin() as conn:
        return conn.execute(tables.jobs.insert().values(
            requested_by=user, requested_at=time.time(), state="queued",
            config=str(paths.train_config()), log="")).inserted_primary_key[0]


def job(engine: Engine, job_id: int) -> Optional[Any]:
    with engine.connect() as conn:
        return conn.execute(sa.select(tables.jobs).where(tables.jobs.c.id == job_id)).first()


def recent(engine: Engine, limit: int = 20) -> List[Any]:
    with engine.connect() as conn:
        return conn.execute(sa.select(tables.jobs).order_by(tables.jobs.c.id.desc()).limit(limit)).fetchall()


def _lock_path() -> Path:
    paths.candidates_dir().mkdir(parents=True, exist_ok=True)
    return paths.candidates_dir() / ".training.lock"


@contextmanager
def exclusive() -> Iterator[bool]:
    """True while this process holds the training lock; False if another job holds it."""
    with open(_lock_path(), "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True


class Run:
    """One job being run: keeps its row current."""

    def __init__(self, engine: Engine, job_id: int) -> None:
        self.engine, self.id = engine, job_id
        self.lines: List[str] = []
        self.saved_at = 0.0

    def update(self, force: bool = True, **values: Any) -> None:
        if not force and time.monotonic() - self.saved_at < 1.0:
            return
        self.saved_at = time.monotonic()
        with self.engine.begin() as conn:
            conn.execute(tables.jobs.update().where(tables.jobs.c.id == self.id)
                         .values(log="\n".join(self.lines[-LOG_LINES:]), **values))

    def say(self, line: str, force: bool = True, **values: Any) -> None:
        plain = ANSI.sub("", line).rstrip()
        self.lines.append(clock(time.time(), "%H:%M:%S ") + mask_text(plain)[:300])
        self.update(force, **values)


def validate(root: Path) -> List[str]:
    """Problems that make training pointless: too few examples, intents the domain lacks, unreadable
    YAML. Plain YAML reads (a second or less); `rasa train` checks the markup itself."""
    problems = [f"意图 {i} 只有 {n} 个训练例句，至少需要 {labels.MIN_EXAMPLES} 个"
                for i, n in sorted(labels.too_few(root).items())]
    try:
        intents = set(labels.domain_intents(root))
        for path in sorted((root / "data").rglob("*.yml")):
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
            for block in data.get("nlu") or []:
                intent = str(block.get("intent", "")).split("/")[0] if isinstance(block, dict) else ""
                if intent and intent not in intents:
                    problems.append(f"{path.relative_to(root)}：意图 {intent} 不在 domain.yml 的 intents 里")
    except (OSError, yaml.YAMLError) as broken:
        problems.append(f"训练数据无法读取：{broken}")
    return problems


def _components(config: Path) -> int:
    data = yaml.safe_load(config.read_text(encoding="utf-8"))
    return len(data.get("pipeline") or []) + len(data.get("policies") or [])


def train(run: Run, root: Path, config: Path) -> Path:
    name = f"candidate-{run.id}-{secrets.token_hex(3)}"
    out = paths.candidates_dir()
    command = [str(Path(sys.executable).parent / "rasa"), "train", "--config", str(config),
               "--domain", str(root / "domain.yml"), "--data", str(root / "data"),
               "--out", str(out), "--fixed-model-name", name]
    total, done = _components(config), 0
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True, env={**os.environ, "TQDM_DISABLE": "1"})
    assert process.stdout is not None
    for line in process.stdout:
        finished = FINISHED.search(line)
        done += bool(finished)
        if STARTED.search(line) or finished or "Your Rasa model" in line:
            run.say(line.split(" - ", 1)[-1], force=False, progress=min(done / total, 0.99))
    if process.wait() != 0:
        raise JobFailed(f"rasa train 失败（退出码 {process.returncode}）")
    return out / f"{name}.tar.gz"


def run_job(engine: Engine, job_id: int) -> None:
    """Run a queued job to the end, if no other job runs; the row says what happened."""
    with exclusive() as mine:
        row = job(engine, job_id)
        if mine and row is not None and row.state == "queued":
            run_locked(engine, job_id)
        # else another process runs a job (perhaps this one): the row stays as that one says


def train_now(engine: Engine, user: str) -> Optional[int]:
    """The command line's job: queued and run at once under the lock; None if a job is running."""
    with exclusive() as mine:
        if not mine:
            return None
        job_id = queue(engine, user)
        run_locked(engine, job_id)
        return job_id


def run_locked(engine: Engine, job_id: int) -> None:
    """Validate, train, score (the caller holds the lock)."""
    os.nice(NICE)
    run = Run(engine, job_id)
    root, config = paths.training_root(), paths.train_config()
    started = time.time()
    try:
        run.say(f"校验训练数据：{root}", state="validating", started_at=started, progress=0.0)
        problems = validate(root)
        if problems:
            raise JobFailed("；".join(problems))
        run.say(f"开始训练（配置 {config.name}，nice {NICE}）", state="training")
        model = train(run, root, config)
        seconds = time.time() - started
        baseline = activation.serving()
        run.say(f"训练完成，用时 {seconds:.0f} 秒；在留出集上与在用模型 {baseline.name} 比较",
                state="evaluating", progress=1.0)
        report = compare.evaluate(baseline, model, paths.heldout_sets())
        with engine.begin() as conn:
            model_id = conn.execute(tables.models.insert().values(
                path=str(model), trained_by=run_owner(engine, job_id), trained_at=time.time(),
                train_seconds=seconds, baseline=str(baseline),
                report=json.dumps(report, ensure_ascii=False))).inserted_primary_key[0]
        run.say(f"完成：候选模型 {model.name}", state="done", finished_at=time.time(), model_id=model_id)
    except Exception as failed:
        run.say(f"失败：{failed}", state="failed", finished_at=time.time())
        if not isinstance(failed, JobFailed):
            raise


def run_owner(engine: Engine, job_id: int) -> str:
    row = job(engine, job_id)
    return row.requested_by if row else "?"


class Starter:
    """The console's side: start the oldest queued job when none runs, fail jobs whose process died."""

    def __init__(self) -> None:
        self.child: Optional[subprocess.Popen] = None

    def tick(self, engine: Engine) -> Optional[int]:
        if self.child is not None and self.child.poll() is None:
            return None  # started by us and still running (perhaps not holding the lock yet)
        c = tables.jobs.c
        with exclusive() as free:
            if not free:
                return None  # a job started elsewhere (the CLI) runs
            with engine.begin() as conn:
                conn.execute(tables.jobs.update().where(c.state.in_(ACTIVE)).values(
                    state="failed", finished_at=time.time(), log=c.log + "\n训练进程意外退出"))
                queued = conn.execute(sa.select(c.id).where(c.state == "queued").order_by(c.id)).first()
        if queued is None:
            return None
        self.child = subprocess.Popen([sys.executable, "-m", "tools.trainer", "run-job", str(queued.id)],
                                      cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                      start_new_session=True)
        return queued.id
