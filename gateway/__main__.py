"""python -m gateway --host 127.0.0.1 --port 5000 --upstream http://127.0.0.1:5005"""
from __future__ import annotations

import argparse
import logging
import os

from aiohttp import web

from gateway.app import GatewaySettings, create_app


def main() -> None:
    parser = argparse.ArgumentParser(description="CityLink public gateway (citizen channels only)")
    parser.add_argument("--host", default=os.environ.get("CITYLINK_PUBLIC_HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int,
                        default=int(os.environ.get("CITYLINK_PUBLIC_PORT", "5000")))
    parser.add_argument("--upstream", default="http://127.0.0.1:5005", help="the bot's address")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO)
    settings = GatewaySettings.from_environment(args.upstream)
    # No access log: web chat URLs carry nothing personal, but WeChat's carry OpenIDs.
    web.run_app(create_app(settings), host=args.host, port=args.port, access_log=None)


if __name__ == "__main__":
    main()
