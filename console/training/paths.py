"""Where training data, candidate models and the active-model record live.

The console, the CLI (`python -m tools.trainer`) and the bot's model watcher
(`bot/model_watch.py`) read the same variables, so they agree without talking
to each other:

* `CITYLINK_TRAINING_ROOT`: the checkout whose `data/`, `domain.yml`,
  `config.yml` and `tests/nlu/` the trainers edit (default: this checkout).
* `CITYLINK_MODELS_DIR`: models in service and candidates (default `models/`).
* `CITYLINK_ACTIVE_MODEL`: the active-model record every bot worker follows
  (default `<models>/active.json`; on several machines, shared storage).
* `CITYLINK_TRAIN_CONFIG`: the pipeline to train candidates with (default the
  root's `config.yml`; CI points it at `configs/small.yml`).
* `CITYLINK_HELDOUT`: the held-out sets candidates are scored on (default all three).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import List

from common.secrets import ROOT


def training_root() -> Path:
    return Path(os.environ.get("CITYLINK_TRAINING_ROOT", ROOT)).resolve()


def models_dir() -> Path:
    return Path(os.environ.get("CITYLINK_MODELS_DIR", ROOT / "models")).resolve()


def base_model() -> Path:
    """The model `make run` starts the bot with, in service until another is activated."""
    return models_dir() / "citylink.tar.gz"


def candidates_dir() -> Path:
    return models_dir() / "candidates"


def active_record() -> Path:
    return Path(os.environ.get("CITYLINK_ACTIVE_MODEL", models_dir() / "active.json")).resolve()


def train_config() -> Path:
    return Path(os.environ.get("CITYLINK_TRAIN_CONFIG", training_root() / "config.yml")).resolve()


def heldout_sets() -> List[Path]:
    """The held-out sets a candidate is scored on, each a file or a directory of files:
    `CITYLINK_HELDOUT` (paths relative to the training root, separated by `:`), else all three."""
    root = training_root()
    chosen = os.environ.get("CITYLINK_HELDOUT", "tests/nlu/heldout.yml:tests/nlu/short_colloquial.yml:"
                                                "tests/nlu/independent")
    return [root / p for p in chosen.split(os.pathsep) if p and (root / p).exists()]
