"""python -m actions --port 5055: rasa_sdk's action server, its logs masked (common/logsafe.py)."""
from __future__ import annotations

from rasa_sdk.__main__ import main as sdk_main

from common import logsafe


def main() -> None:
    logsafe.configure("actions")
    sdk_main()


if __name__ == "__main__":
    main()
