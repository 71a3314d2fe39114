"""What the trainers' tests start from: a copy of the training data as a git checkout, citizens' messages."""
from __future__ import annotations

import shutil
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any, Dict

from rasa.shared.core.events import UserUttered
from sqlalchemy.engine import Engine

from console import seed
from tools.stack import ROOT


def training_root(tmp: Path) -> Path:
    """data/, domain.yml, config.yml and tests/nlu/ copied into a fresh git repository."""
    root = tmp / "checkout"
    shutil.copytree(ROOT / "data", root / "data")
    shutil.copytree(ROOT / "tests" / "nlu", root / "tests" / "nlu",
                    ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    for name in ("domain.yml", "config.yml"):
        shutil.copy(ROOT / name, root / name)
    git = ["git", "-C", str(root), "-c", "user.name=setup", "-c", "user.email=setup@example.org"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "training data"], check=True)
    return root


def say(engine: Engine, sender_id: str, text: str, parse: Dict[str, Any]) -> None:
    """One citizen's message as the bot stored it, with what the model made of it."""
    parse = {**parse, "text": text, "message_id": uuid.uuid4().hex}
    event = UserUttered(text, intent=parse["intent"], parse_data=parse, entities=parse.get("entities", []),
                        timestamp=time.time(), message_id=parse["message_id"])
    seed.write(engine, sender_id, [event.as_dict()])
