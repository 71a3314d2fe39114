"""A throwaway Redis server for tests (Debian's redis-server; make test installs it).

Like tests/postgres.py: loopback only, a free port, no persistence, removed
afterwards.
"""
from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from tools.lifecycle import free_port


@contextmanager
def server() -> Iterator[str]:
    """A running server; yields its URL (database 0)."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("没有找到 redis-server：请用 make test 运行（它会安装 redis-server）")
    directory = Path(tempfile.mkdtemp(prefix="citylink-redis-"))
    port = free_port()
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", str(directory), "--daemonize", "no"],
        stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        import redis

        client = redis.StrictRedis(port=port)
        for _ in range(100):
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if process.poll() is not None:
                    raise RuntimeError(f"redis-server exited with {process.returncode}") from None
                time.sleep(0.1)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait(timeout=10)
        shutil.rmtree(directory, ignore_errors=True)
