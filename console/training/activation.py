"""Which model answers citizens: the active-model record, activation, roll-back, history.

Activation writes `paths.active_record()` atomically (a temporary file renamed
over it); every bot worker follows it within seconds (`bot/model_watch.py`).
The record keeps the model it replaced, so rolling back is one step and needs
no history lookup; both are recorded in `console_model_activations` and the
audit log.
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from console import acts
from console.training import paths, tables

MIN_REASON = 4


class ActivationError(ValueError):
    """A refused activation; the message is shown to the trainer (Chinese)."""


def record() -> Dict[str, Any]:
    try:
        return json.loads(paths.active_record().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def serving() -> Path:
    """The model in service: the recorded one, else the one the bot was started with."""
    model = record().get("model")
    return Path(model) if model and Path(model).is_file() else paths.base_model()


def _write(model: Path, previous: Path, user: str) -> None:
    target = paths.active_record()
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}")
    tmp.write_text(json.dumps({"model": str(model), "previous": str(previous), "by": user,
                               "at": time.time()}, ensure_ascii=False), encoding="utf-8")
    os.replace(tmp, target)


def model_row(engine: Engine, model_id: int) -> Optional[Any]:
    with engine.connect() as conn:
        return conn.execute(sa.select(tables.models).where(tables.models.c.id == model_id)).first()


def blocked(row: Any) -> bool:
    return bool(row.report and json.loads(row.report).get("worse"))


def activate(engine: Engine, user: str, role_admin: bool, model_id: int, reason: str = "") -> Path:
    row = model_row(engine, model_id)
    if row is None or not Path(row.path).is_file():
        raise ActivationError("没有这个模型，或模型文件已不存在")
    reason = reason.strip()
    if blocked(row) and not (role_admin and len(reason) >= MIN_REASON):
        raise ActivationError("候选模型比在用模型差，超过阈值：只有管理员填写理由（至少 4 个字）后才能启用")
    _write(Path(row.path), serving(), user)
    now = time.time()
    with engine.begin() as conn:
        conn.execute(tables.models.update().where(tables.models.c.id == model_id).values(
            activated_by=user, activated_at=now, override_reason=reason if blocked(row) else None))
        conn.execute(tables.activations.insert().values(at=now, user_name=user, path=row.path,
                                                        kind="activate", reason=reason))
    acts.write_audit(engine, user, "model_activate", None,
                     f"{Path(row.path).name}" + (f"；越过阈值，理由：{reason}" if blocked(row) else ""))
    return Path(row.path)


def rollback(engine: Engine, user: str) -> Path:
    """Back to the model the last activation replaced."""
    previous = record().get("previous")
    if not previous or not Path(previous).is_file():
        raise ActivationError("没有可以回退的上一个模型")
    _write(Path(previous), serving(), user)
    with engine.begin() as conn:
        conn.execute(tables.activations.insert().values(at=time.time(), user_name=user, path=previous,
                                                        kind="rollback", reason=""))
    acts.write_audit(engine, user, "model_rollback", None, Path(previous).name)
    return Path(previous)


def history(engine: Engine, limit: int = 50) -> Dict[str, List[Any]]:
    m, a = tables.models.c, tables.activations.c
    with engine.connect() as conn:
        return {"models": conn.execute(sa.select(tables.models).order_by(m.id.desc()).limit(limit)).fetchall(),
                "activations": conn.execute(sa.select(tables.activations).order_by(a.id.desc())
                                            .limit(limit)).fetchall()}
