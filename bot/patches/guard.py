"""Start-up check: the Rasa and Sanic versions, and every name a patch replaces.

A patch of a private name is only right for the code it was written against.
Each patch module lists its `TARGETS` (dotted path and the parameter names the
patch relies on), and may define `precondition()` for anything else; before anything is installed every target must exist with
those parameters, and the versions must be the tested ones. Otherwise the bot
refuses to start with a message naming what differs.
"""

from __future__ import annotations

import importlib
import inspect
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Iterable, List, Optional, Tuple

RASA_VERSIONS = ("3.6.21",)
SANIC_VERSIONS = ("21.12.2",)


class PatchError(RuntimeError):
    """The running Rasa is not the one the patches were written for."""


@dataclass(frozen=True)
class Target:
    """`module:attribute.path` and the parameters the patch expects (None: not callable)."""

    path: str
    parameters: Optional[Tuple[str, ...]] = None


def resolve(path: str) -> Any:
    """The object at `module:attr.attr` (raises AttributeError/ImportError)."""
    module_name, _, attributes = path.partition(":")
    value: Any = importlib.import_module(module_name)
    for attribute in attributes.split(".") if attributes else []:
        value = inspect.getattr_static(value, attribute)
        if isinstance(value, (staticmethod, classmethod)):
            value = value.__func__
    return value


def problems(target: Target) -> List[str]:
    """What is wrong with `target` in the installed Rasa (empty: nothing)."""
    try:
        value = resolve(target.path)
    except (ImportError, AttributeError) as missing:
        return [f"{target.path} 不存在（{missing}）"]
    if target.parameters is None:
        return []
    try:
        found = tuple(inspect.signature(value).parameters)
    except (TypeError, ValueError):
        return [f"{target.path} 不是函数"]
    if found != target.parameters:
        return [
            f"{target.path} 的参数是 ({', '.join(found)})，补丁按 "
            f"({', '.join(target.parameters)}) 写的"
        ]
    return []


def versions() -> Tuple[str, str]:
    import rasa
    import sanic

    return rasa.__version__, sanic.__version__


def check(patches: Iterable[ModuleType]) -> None:
    """Raise PatchError listing every mismatch; return quietly when all fit."""
    patches = list(patches)
    if not patches:
        return
    rasa_version, sanic_version = versions()
    found: List[str] = []
    if rasa_version not in RASA_VERSIONS:
        found.append(f"Rasa {rasa_version}（补丁针对 {', '.join(RASA_VERSIONS)}）")
    if sanic_version not in SANIC_VERSIONS:
        found.append(f"Sanic {sanic_version}（补丁针对 {', '.join(SANIC_VERSIONS)}）")
    for patch in patches:
        name = patch.__name__.rsplit(".", 1)[1]
        for target in patch.TARGETS:
            found += [f"[{name}] {p}" for p in problems(target)]
        # A patch may need more than names, e.g. no copy method of Rasa's own.
        precondition = getattr(patch, "precondition", None)
        reason = precondition() if precondition else None
        if reason:
            found.append(f"[{name}] {reason}")
    if found:
        raise PatchError(
            "Rasa 补丁与安装的版本不符，拒绝启动：\n  "
            + "\n  ".join(found)
            + "\n（升级后请逐个核对 bot/patches/，或用 CITYLINK_PATCHES_OFF 关闭对应补丁）"
        )
