"""Console accounts: roles, argon2 password hashes, sign-in throttling.

Roles are the contract's: `staff` (review, tags, handoff), `trainer` (staff +
inbox, training), `admin` (everything + users, audit log). A higher role may do
whatever a lower one may, so a page states the lowest role it needs.
"""
from __future__ import annotations

import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass
from typing import Deque, Dict, Optional, Tuple

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.engine import Engine

from console import db

ROLES = ("staff", "trainer", "admin")
MIN_PASSWORD = 10
_hasher = PasswordHasher()
# A hash to verify against when the name is unknown, so both cases take as long.
_DUMMY_HASH = _hasher.hash("citylink-no-such-user")


@dataclass(frozen=True)
class User:
    id: int
    name: str
    role: str

    def can(self, role: str) -> bool:
        """Whether this user has `role` or a higher one."""
        return ROLES.index(self.role) >= ROLES.index(role)


class AccountError(ValueError):
    """A refused account change; the message is shown to the operator (Chinese)."""


def create_user(engine: Engine, name: str, role: str, password: str) -> User:
    name = name.strip()
    if not name or len(name) > 64 or any(c.isspace() for c in name):
        raise AccountError("用户名不能为空、不能含空格，最长 64 个字符")
    if role not in ROLES:
        raise AccountError(f"角色只能是 {'、'.join(ROLES)}")
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"密码至少 {MIN_PASSWORD} 个字符")
    with engine.begin() as conn:
        if conn.execute(sa.select(db.users.c.id).where(db.users.c.name == name)).first():
            raise AccountError(f"用户 {name} 已存在")
        result = conn.execute(db.users.insert().values(
            name=name, role=role, password_hash=_hasher.hash(password),
            created_at=time.time(), disabled=False))
    return User(result.inserted_primary_key[0], name, role)


def authenticate(engine: Engine, name: str, password: str) -> Optional[User]:
    with engine.connect() as conn:
        row = conn.execute(sa.select(db.users).where(db.users.c.name == name)).first()
    try:
        _hasher.verify(row.password_hash if row else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return None
    if row is None or row.disabled:
        return None
    if _hasher.check_needs_rehash(row.password_hash):
        with engine.begin() as conn:
            conn.execute(db.users.update().where(db.users.c.id == row.id)
                         .values(password_hash=_hasher.hash(password)))
    return User(row.id, row.name, row.role)


def load_user(engine: Engine, user_id: int) -> Optional[User]:
    """The signed-in user, re-read each request so a disabled account stops at once."""
    with engine.connect() as conn:
        row = conn.execute(sa.select(db.users).where(db.users.c.id == user_id)).first()
    return None if row is None or row.disabled else User(row.id, row.name, row.role)


def set_disabled(engine: Engine, user_id: int, disabled: bool) -> None:
    with engine.begin() as conn:
        conn.execute(db.users.update().where(db.users.c.id == user_id).values(disabled=disabled))


def list_users(engine: Engine) -> list:
    with engine.connect() as conn:
        return conn.execute(sa.select(db.users.c.id, db.users.c.name, db.users.c.role,
                                      db.users.c.created_at, db.users.c.disabled)
                            .order_by(db.users.c.name)).fetchall()


class Throttle:
    """Failed sign-ins: at most `per_name` per user name and `per_address` per client in `window_s`.

    Kept in memory: the console is one process, and a restart forgetting the
    count costs an attacker a restart of our process, which they cannot cause.
    The per-address limit is higher because colleagues share an office address.
    """

    def __init__(self, per_name: int = 5, per_address: int = 30, window_s: float = 900) -> None:
        self.limits = {"name": per_name, "addr": per_address}
        self.window_s = window_s
        self._failures: Dict[Tuple[str, str], Deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def _recent(self, key: Tuple[str, str], now: float) -> Deque[float]:
        times = self._failures[key]
        while times and times[0] < now - self.window_s:
            times.popleft()
        return times

    def blocked(self, name: str, address: str) -> bool:
        now = time.monotonic()
        with self._lock:
            return any(len(self._recent(key, now)) >= self.limits[key[0]]
                       for key in (("name", name), ("addr", address)))

    def failed(self, name: str, address: str) -> None:
        now = time.monotonic()
        with self._lock:
            for key in (("name", name), ("addr", address)):
                self._recent(key, now).append(now)

    def succeeded(self, name: str) -> None:
        with self._lock:
            self._failures.pop(("name", name), None)
