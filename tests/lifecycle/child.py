"""A stand-in service for the launcher tests: like Sanic, a parent that forks a
worker; /health answers with both pids so the test can look for survivors."""
from __future__ import annotations

import json
import os
import sys
import time
from http.server import BaseHTTPRequestHandler, HTTPServer


def main() -> None:
    port = int(sys.argv[1])
    worker = os.fork()
    if worker == 0:  # the "worker": lives until killed, like a Sanic worker
        while True:
            time.sleep(1)
    pids = {"parent": os.getpid(), "worker": worker}

    class Health(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            body = json.dumps(pids).encode()
            self.send_response(200)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    HTTPServer(("127.0.0.1", port), Health).serve_forever()


if __name__ == "__main__":
    main()
