"""Simulated open platforms of the served cities (violations, traffic, transit,
utilities, hospitals, weather, social insurance, 12345), so the bot can be
developed and tested end to end without any real government backend.

`create_app(db_path)` builds the aiohttp application; `python -m citysim`
serves it.
"""
from citysim.app import create_app

__all__ = ["create_app"]
