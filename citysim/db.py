"""The simulator's SQLite database: created and seeded once, on first start.

Seeding is a pure function of the gazetteer (every random choice comes from
a generator seeded by service and city), so two fresh databases are
identical and tests can rely on the same plates, accounts and citizens.
"""
from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Union

from citysim import hospital, hotline, identity, social, utility, violation
from citysim.core import CITIES, IDEMPOTENCY_SCHEMA

SCHEMAS = (IDEMPOTENCY_SCHEMA, identity.SCHEMA, violation.SCHEMA, utility.SCHEMA, hospital.SCHEMA, social.SCHEMA,
           hotline.SCHEMA)
SEEDERS = (violation.seed, utility.seed, hospital.seed, social.seed)
META_SCHEMA = "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
SCHEMA_VERSION = "2"  # 2: the identity check shared by services


def _connect(path: Path) -> sqlite3.Connection:
    # One event loop owns the connection, but it may be created on another thread.
    conn = sqlite3.connect(path, check_same_thread=False)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA foreign_keys = ON")
    return conn


def _build(path: Path) -> None:
    """Build into a scratch file and rename it, so a crash never leaves half a database."""
    scratch = path.with_name(path.name + ".building")
    scratch.unlink(missing_ok=True)
    conn = _connect(scratch)
    try:
        conn.executescript(META_SCHEMA + "".join(SCHEMAS))
        with conn:
            for city in CITIES.values():
                for seed in SEEDERS:
                    seed(conn, city)
            conn.execute("INSERT INTO meta VALUES ('schema_version', ?)", (SCHEMA_VERSION,))
    finally:
        conn.close()
    os.replace(scratch, path)


def _version(path: Path) -> str:
    conn = _connect(path)
    try:
        return conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0]
    except (sqlite3.Error, TypeError):
        return ""
    finally:
        conn.close()


def open_db(path: Union[str, Path]) -> sqlite3.Connection:
    """The simulated city's data; a database of an older schema is built anew (it is only seed data)."""
    path = Path(path)
    if not path.exists() or _version(path) != SCHEMA_VERSION:
        path.parent.mkdir(parents=True, exist_ok=True)
        _build(path)
    return _connect(path)
