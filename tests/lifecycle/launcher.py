"""A launcher like `make run`'s (tools/stack.py main), over stand-in services
(tests/lifecycle/child.py): `python -m tests.lifecycle.launcher LOG_DIR PORT...`."""
from __future__ import annotations

import sys
from pathlib import Path

from tools.lifecycle import stop_on_signals
from tools.stack import Service, Stack, stack_environment


def main() -> None:
    stop_on_signals()
    with Stack(env=stack_environment(), log_dir=Path(sys.argv[1])) as stack:
        for port in map(int, sys.argv[2:]):
            stack.start(Service(f"child-{port}", [sys.executable, "-m", "tests.lifecycle.child",
                                                  str(port)],
                                f"http://127.0.0.1:{port}/health", port), timeout=30)
        print("READY", flush=True)
        stack.supervise()


if __name__ == "__main__":
    main()
