"""Deployment secrets: from the environment, or generated once into `var/secrets/`.

Every process (bot, action server, console, tools, tests) asks here, so there is
one rule: `CITYLINK_<NAME>` in the environment wins; otherwise the file
`var/secrets/<name>` (owner-only, mode 0600) is read, and created with a fresh
random value the first time. There are no default passwords anywhere.

Names in use: `api_token` (Rasa HTTP API `--auth-token`), `jwt_secret` (Rasa HTTP
API `--jwt-secret`, HS256, what the console signs its calls with),
`action_secret` (bot -> action server), `data_key` (personal data at rest),
`console_session` (console cookie signing).
"""
from __future__ import annotations

import os
import secrets as _random
import time
from pathlib import Path
from typing import Any, Dict, Optional

ROOT = Path(__file__).resolve().parents[1]


def secrets_dir() -> Path:
    """`CITYLINK_SECRETS_DIR`, or `var/secrets` of the checkout."""
    return Path(os.environ.get("CITYLINK_SECRETS_DIR", ROOT / "var" / "secrets"))


def secret_path(name: str) -> Path:
    return secrets_dir() / name


def secret(name: str) -> str:
    """The secret `name`: environment first, then its file, generated if missing."""
    from_env = os.environ.get(f"CITYLINK_{name.upper()}")
    if from_env:
        return from_env
    path = secret_path(name)
    try:
        return path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(path.parent, 0o700)
    value = _random.token_urlsafe(32)
    try:
        # O_EXCL: when two processes start together, exactly one writes the file.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _read_when_written(path)
    with os.fdopen(fd, "w", encoding="ascii") as out:
        out.write(value + "\n")
    return value


def _read_when_written(path: Path) -> str:
    """Another process created the file a moment ago; wait for its content."""
    for _ in range(100):
        value = path.read_text(encoding="ascii").strip()
        if value:
            return value
        time.sleep(0.01)
    raise RuntimeError(f"密钥文件为空：{path}")


def rasa_api_jwt(username: str, role: str = "admin", ttl_s: int = 300,
                 extra: Optional[Dict[str, Any]] = None) -> str:
    """A short-lived HS256 JWT the Rasa HTTP API accepts (`--jwt-secret`).

    Rasa checks `user.role == "admin"` (or `user.username == sender_id`).
    """
    import jwt  # PyJWT, installed with Rasa (sanic-jwt)

    now = int(time.time())
    payload: Dict[str, Any] = {"user": {"username": username, "role": role},
                               "iat": now, "exp": now + ttl_s, **(extra or {})}
    return jwt.encode(payload, secret("jwt_secret"), algorithm="HS256")
