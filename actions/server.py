"""The action server, bound to 127.0.0.1 and refusing callers without the shared secret.

`python -m rasa_sdk` listens on 0.0.0.0 and runs any action for anyone who can
reach it: a forged tracker could pay a fine or cancel an appointment with no
dialogue at all. This entry point serves the same rasa_sdk app on loopback
(`--host` to change it) and answers every route but `/health` with 401 unless
the request carries `Authorization: Bearer <action_secret>`, which the bot
sends (endpoints.yml, `CITYLINK_ACTION_SECRET`; common/secrets.py).

    python -m actions.server --port 5055
"""
from __future__ import annotations

import argparse
import hmac
import logging
from typing import Optional

from rasa_sdk import utils
from rasa_sdk.endpoint import create_app
from sanic import Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse

from actions import event_sync
from common import logsafe
from common.secrets import secret

# Routes anyone on the machine may call: the stack's health check.
OPEN_PATHS = frozenset({"/health"})


def authorised(header: Optional[str], expected: str) -> bool:
    """Whether an Authorization header carries the shared secret (constant-time)."""
    scheme, _, value = (header or "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(value.strip().encode(),
                                                              expected.encode())


def require_secret(app: Sanic, expected: str) -> None:
    """Refuse every request without the shared secret, before rasa_sdk sees it."""

    @app.middleware("request")
    async def check(request: Request) -> Optional[HTTPResponse]:
        if request.path in OPEN_PATHS or authorised(request.headers.get("Authorization"),
                                                     expected):
            return None
        return response.json({"error": "unauthorised"}, status=401)


def build_app(expected_secret: str) -> Sanic:
    """rasa_sdk's app for the `actions` package, without CORS, behind the secret,
    taking calls that carry only the new events (actions/event_sync.py)."""
    app = create_app("actions", cors_origins=None)
    require_secret(app, expected_secret)
    event_sync.install(app)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5055)
    args = parser.parse_args()
    utils.configure_colored_logging(logging.INFO)
    logsafe.configure("actions")  # personal data masked in every record
    utils.update_sanic_log_level()
    app = build_app(secret("action_secret"))
    app.run(args.host, args.port, workers=utils.number_of_sanic_workers(), access_log=False)


if __name__ == "__main__":
    main()
