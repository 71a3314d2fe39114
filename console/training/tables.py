"""The trainers' tables, beside the console's own in the tracker database (`console_` prefix).

* `console_inbox_decisions`: what a trainer decided for a group of messages
  (keyed by the normalised masked text, so the same words never come back).
* `console_training_jobs`: one row per training job: state, log tail, who.
* `console_models`: the model history: who trained, who activated, when, scores.
"""
from __future__ import annotations

import sqlalchemy as sa

from console.db import metadata

decisions = sa.Table(
    "console_inbox_decisions", metadata,
    sa.Column("key", sa.String(255), primary_key=True),  # normalised masked text
    sa.Column("text", sa.Text, nullable=False),  # masked, as labelled (entities in Rasa markup)
    sa.Column("action", sa.String(16), nullable=False),  # train, heldout, discard
    sa.Column("intent", sa.String(96)),
    sa.Column("predicted", sa.String(96)),
    sa.Column("decided_by", sa.String(64), nullable=False),
    sa.Column("decided_at", sa.Float, nullable=False),
    sa.Column("written_at", sa.Float),  # when the writer put it into the YAML files
    sa.Column("commit", sa.String(64)),
)

jobs = sa.Table(
    "console_training_jobs", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("requested_by", sa.String(64), nullable=False),
    sa.Column("requested_at", sa.Float, nullable=False),
    sa.Column("started_at", sa.Float),
    sa.Column("finished_at", sa.Float),
    # queued, validating, training, evaluating, done, failed
    sa.Column("state", sa.String(16), nullable=False, default="queued"),
    sa.Column("progress", sa.Float, nullable=False, default=0.0),  # 0..1, components trained
    sa.Column("config", sa.Text, nullable=False, default=""),
    sa.Column("log", sa.Text, nullable=False, default=""),  # the last lines, masked
    sa.Column("model_id", sa.Integer),
)

models = sa.Table(
    "console_models", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("path", sa.Text, nullable=False),
    sa.Column("trained_by", sa.String(64), nullable=False),
    sa.Column("trained_at", sa.Float, nullable=False),
    sa.Column("train_seconds", sa.Float),
    sa.Column("baseline", sa.Text),  # the model in service it was compared with
    sa.Column("report", sa.Text),  # JSON: the comparison (console/training/compare.py)
    sa.Column("activated_by", sa.String(64)),
    sa.Column("activated_at", sa.Float),
    sa.Column("override_reason", sa.Text),
)

activations = sa.Table(
    "console_model_activations", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("at", sa.Float, nullable=False),
    sa.Column("user_name", sa.String(64), nullable=False),
    sa.Column("path", sa.Text, nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),  # activate, rollback
    sa.Column("reason", sa.Text, nullable=False, default=""),
)
