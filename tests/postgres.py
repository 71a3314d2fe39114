"""A throwaway PostgreSQL server for tests (Debian's postgresql package; make test installs it).

The tracker store is PostgreSQL in production deployments, so the store is
tested against the real server, not only SQLite. The cluster lives in a
temporary directory, listens on 127.0.0.1 with trust authentication, and is
removed afterwards. PostgreSQL refuses to run as root: as root it runs as the
package's `postgres` user.
"""
from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, List


def _bindir() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"))
    if not found:
        raise RuntimeError("没有找到 PostgreSQL：请用 make test 运行（它会安装 postgresql）")
    return Path(found[-1]).parent


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def server() -> Iterator[str]:
    """A running server; yields the URL of its `postgres` database."""
    bindir = _bindir()
    as_user: List[str] = []
    directory = Path(tempfile.mkdtemp(prefix="citylink-pg-"))
    if os.geteuid() == 0:
        owner = pwd.getpwnam("postgres")
        os.chown(directory, owner.pw_uid, owner.pw_gid)
        as_user = ["runuser", "-u", "postgres", "--"]
    data, port = directory / "data", _free_port()

    def run(*command: str) -> None:
        subprocess.run([*as_user, *command], check=True, capture_output=True, cwd=directory)

    try:
        run(str(bindir / "initdb"), "-D", str(data), "-U", "citylink", "-A", "trust", "-E", "UTF8")
        run(str(bindir / "pg_ctl"), "-D", str(data), "-l", str(directory / "log"), "-w", "-o",
            f"-p {port} -k {directory} -c listen_addresses=127.0.0.1 -c fsync=off", "start")
        yield f"postgresql://citylink@127.0.0.1:{port}/postgres"
    finally:
        if (data / "postmaster.pid").exists():
            run(str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop")
        shutil.rmtree(directory, ignore_errors=True)


def new_database(server_url: str) -> str:
    """URL of a new, empty database on the server."""
    import psycopg2

    name = f"t_{uuid.uuid4().hex[:12]}"
    connection = psycopg2.connect(server_url)
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE DATABASE {name}")
    connection.close()
    return server_url.rsplit("/", 1)[0] + f"/{name}"
