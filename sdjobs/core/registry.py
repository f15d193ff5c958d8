"""Job type registry: the built-in job modules (``sdjobs.jobs.BUILTIN``), plus the
``sdjobs.jobs`` entry points.

Built-in modules and plugins are imported lazily, the first time a type is looked
up, so that commands that never run a job (such as ``sdjobs jobs ls``) start fast.
"""

from __future__ import annotations

import importlib
import os
import re
import sys
import time
from typing import TYPE_CHECKING

from .errors import JobTypeError

if TYPE_CHECKING:
    from .job import Job

ENTRY_POINT_GROUP = "sdjobs.jobs"
_MODULE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")

_types: dict[str, type[Job]] = {}
_loaded = False
plugin_errors: list[str] = []


def register(cls: type[Job]) -> None:
    name = cls.__dict__["name"]
    if not isinstance(name, str) or not name:
        raise JobTypeError(f"{cls.__qualname__}: job name must be a non-empty string")
    old = _types.get(name)
    if old is not None and (old.__module__, old.__qualname__) != (cls.__module__, cls.__qualname__):
        raise JobTypeError(
            f"job type {name!r} is defined twice: {old.__module__}.{old.__qualname__} "
            f"and {cls.__module__}.{cls.__qualname__}"
        )
    _types[name] = cls


def load_all() -> None:
    """Import every built-in job module and every installed plugin, once."""
    global _loaded
    if _loaded:
        return
    _loaded = True
    from ..jobs import BUILTIN

    for module in BUILTIN.values():
        importlib.import_module(module)
    _load_plugins()


def _load_plugins() -> None:
    for module in filter(None, (m.strip() for m in os.environ.get("SDJOBS_PLUGINS", "").split(","))):
        importlib.import_module(module)  # extra job modules, e.g. while developing one
    from importlib.metadata import entry_points

    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.value in _tried:
            continue
        _tried.add(ep.value)
        try:
            ep.load()
        except JobTypeError:
            raise
        except Exception as exc:  # noqa: BLE001 - a broken plugin must not break the tool
            plugin_errors.append(f"plugin {ep.name!r} ({ep.value}) failed to load: {exc}")
            print(f"sdjobs: warning: {plugin_errors[-1]}", file=sys.stderr)


_tried: set[str] = set()  # entry points loaded (or failed) already
RESCAN_EVERY = 1.0
_rescanned_at = (0, 0.0)  # (pid, time.monotonic()) of the last rescan


def rescan() -> None:
    """Look for plugins again: one installed (or named in $SDJOBS_PLUGINS) after this process
    first looked, as a long-lived runner meets the jobs of a plugin installed since it started.
    At most once every RESCAN_EVERY seconds (a dashboard looks types up at each refresh)."""
    global _rescanned_at
    now = (os.getpid(), time.monotonic())  # a forked job process looks for itself
    if now[0] == _rescanned_at[0] and now[1] - _rescanned_at[1] < RESCAN_EVERY:
        return
    _rescanned_at = now
    importlib.invalidate_caches()  # the path finders cache directory listings
    load_all()
    _load_plugins()


def plugin_module(cls: type[Job]) -> str | None:
    """The module to import for ``cls`` in a process that does not know its type: the one
    it came from, unless that is a built-in module or an installed entry point's."""
    module = cls.__module__
    if module.startswith("sdjobs.") or any(v.split(":")[0] == module for v in _tried):
        return None
    return module


def _load_own_module(name: str) -> None:
    """A built-in type: import just its module first."""
    from ..jobs import BUILTIN

    if name in BUILTIN:
        importlib.import_module(BUILTIN[name])


def get(name: str, plugin: str | None = None) -> type[Job]:
    """The job type ``name``; ``plugin`` is the module its job was submitted with, when that
    came from the submitting command's $SDJOBS_PLUGINS (see plugin_module)."""
    if name not in _types:
        _load_own_module(name)
    if name not in _types:
        load_all()
    if name not in _types:
        rescan()
    if name not in _types and plugin and _MODULE_NAME.fullmatch(plugin):
        try:
            importlib.import_module(plugin)
        except ImportError:
            pass
    try:
        return _types[name]
    except KeyError:
        raise JobTypeError(f"unknown job type {name!r} (known: {', '.join(sorted(_types))})") from None


def find(name: str) -> type[Job] | None:
    """Like ``get`` but returns None for a type that is not installed here."""
    try:
        return get(name)
    except JobTypeError:
        return None


def all_types() -> dict[str, type[Job]]:
    load_all()
    return dict(sorted(_types.items()))
