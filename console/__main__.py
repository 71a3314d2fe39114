"""`python -m console`: the staff console on 127.0.0.1:5090 (CONSOLE_HOST / CONSOLE_PORT)."""
from __future__ import annotations

import argparse
import os

import uvicorn

from common import logsafe
from console.app import create_app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default=os.environ.get("CONSOLE_HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("CONSOLE_PORT", "5090")))
    args = parser.parse_args()
    logsafe.configure("console")  # every record masked, like the other processes
    # Access logs would carry query strings (search words); the console logs warnings and errors
    # only, through the root logger logsafe configured (log_config=None: no uvicorn handlers).
    uvicorn.run(create_app(), host=args.host, port=args.port, access_log=False, log_config=None,
                log_level="warning", proxy_headers=False,
                ws="none")  # no websockets (and Rasa pins an old websockets package)


if __name__ == "__main__":
    main()
