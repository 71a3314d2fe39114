"""common/logsafe.py: every log record masked, files rotated and owner-only."""
from __future__ import annotations

import io
import os
import logging
import stat
import subprocess
import sys
from pathlib import Path
from typing import Iterator

import pytest

from common import logsafe

ID = "44030119900101123X"
PHONE = "13812345678"


@pytest.fixture
def configured(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    """configure() in this process, undone afterwards (it patches logging globally)."""
    monkeypatch.setattr(logging.Logger, "makeRecord", logging.Logger.makeRecord)
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)
    monkeypatch.setattr(logsafe, "_state", {})
    monkeypatch.setenv("CITYLINK_LOG_MAX_BYTES", "2000")
    monkeypatch.setenv("CITYLINK_LOG_BACKUPS", "2")
    root = logging.getLogger()
    before = list(root.handlers)
    path = logsafe.configure("testproc", tmp_path / "logs")
    assert path is not None
    yield path
    for handler in root.handlers[:]:
        if handler not in before:
            root.removeHandler(handler)
            handler.close()


def test_message_args_extra_and_exception_are_masked(configured: Path) -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(message)s %(request)s"))
    logger = logging.getLogger("citylink.test.logsafe")
    logger.addHandler(handler)
    try:
        logger.warning("GET /hospital/appointments?id_number=%s", ID, extra={"request": f"phone={PHONE}"})
        try:
            raise ValueError(f"bad plate 粤B12345 for {PHONE}")
        except ValueError:
            logger.exception("查询失败", extra={"request": "-"})
    finally:
        logger.removeHandler(handler)
    output = stream.getvalue() + configured.read_text(encoding="utf-8")
    for raw in (ID, PHONE, "粤B12345"):
        assert raw not in output
    assert "id_number=4403**********123X" in output and "phone=138****5678" in output
    assert "ValueError: bad plate 粤B***45" in output  # the traceback is still there, masked


def test_structlog_json_escapes_are_decoded_then_masked() -> None:
    assert logsafe.safe('{"text": "\\u7ca4B12345 \\u6211"}') == '{"text": "粤B***45 我"}'


def test_files_rotate_by_size_and_are_owner_only(configured: Path) -> None:
    logger = logging.getLogger("citylink.test.rotation")
    for n in range(200):
        logger.warning("第%s行 一些填充文字以便轮转", n)
    files = sorted(configured.parent.glob("testproc.log*"))
    assert [f.name for f in files] == ["testproc.log", "testproc.log.1", "testproc.log.2"]
    assert all(f.stat().st_size <= 2000 for f in files)
    assert all(stat.S_IMODE(f.stat().st_mode) == 0o600 for f in files)
    assert stat.S_IMODE(configured.parent.stat().st_mode) == 0o700


def test_a_child_process_output_reaches_its_file_masked(tmp_path: Path) -> None:
    """What tools/stack.py does with each service: even a crash before logging is set up."""
    sink = logsafe.LogSink(tmp_path / "log" / "child.log")
    child = subprocess.Popen(
        [sys.executable, "-c", f"print('手机 {PHONE}', flush=True); raise SystemExit('身份证 {ID}')"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    sink.drain(child.stdout)  # type: ignore[arg-type]
    child.wait(timeout=30)
    sink.close()
    text = sink.path.read_text(encoding="utf-8")
    assert "手机 138****5678" in text and "身份证 4403**********123X" in text
    assert PHONE not in text and ID not in text
    assert stat.S_IMODE(sink.path.stat().st_mode) == 0o600


def test_uncaught_exception_is_logged_masked_not_raw(tmp_path: Path) -> None:
    script = ("from common import logsafe; logsafe.configure('crash'); "
              f"raise RuntimeError('account 3012345678 phone {PHONE}')")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            cwd=Path(__file__).resolve().parents[2], timeout=60)
    assert result.returncode != 0
    assert "RuntimeError: account ******5678 phone 138****5678" in result.stderr
    assert PHONE not in result.stderr and "3012345678" not in result.stderr


def test_the_launchers_background_jobs_log_masked_like_services(tmp_path: Path) -> None:
    from tools.stack import Stack

    with Stack(env=dict(os.environ), log_dir=tmp_path / "log") as stack:
        stack.start_job("job", [sys.executable, "-c", f"print('户号 3012345678 手机 {PHONE}')"])
        stack.processes[-1].wait(timeout=30)
    text = (tmp_path / "log" / "job.log").read_text(encoding="utf-8")
    assert text.strip() == "户号 ******5678 手机 138****5678"
