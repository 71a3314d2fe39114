"""python -m citysim --host 127.0.0.1 --port 5080 --db var/citysim.sqlite"""
from __future__ import annotations

import argparse

from aiohttp import web

from citysim.app import create_app
from common import logsafe


def main() -> None:
    parser = argparse.ArgumentParser(description="CityLink simulated city open platforms")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5080)
    parser.add_argument("--db", default="var/citysim.sqlite", help="SQLite file, created and seeded if missing")
    args = parser.parse_args()
    logsafe.configure("citysim")
    web.run_app(create_app(args.db), host=args.host, port=args.port)


if __name__ == "__main__":
    main()
