"""The library's settings (``sdjobs config``): their names, defaults and how a value is read.

A setting's value is text, normalized when it is set (``30 d`` -> ``30d``); an unset
setting has its default. Unknown names and bad values are BadInput (exit 2).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable

from .errors import BadInput

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
OFF = "off"


def parse_age(text: str) -> float:
    """``30d``, ``12h``, ``90m``, ``2w``, ``45s`` in seconds."""
    m = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([smhdw])", str(text).strip().lower())
    if not m or float(m.group(1)) <= 0:
        raise BadInput(f"bad age {text!r}: use a number and a unit, e.g. 30d, 12h, 90m")
    return float(m.group(1)) * _UNITS[m.group(2)]


def _age_or_off(text: str) -> str:
    t = str(text).strip().lower()
    if t in ("off", "never", "none", "0"):
        return OFF
    parse_age(t)
    return re.sub(r"\s+", "", t)


@dataclasses.dataclass(frozen=True)
class Setting:
    name: str
    default: str
    help: str
    normalize: Callable[[str], str]


SETTINGS = {s.name: s for s in (
    Setting("retention", OFF,
            "Finished jobs older than this are pruned with their result files, by the runner at"
            " start and daily: an age such as 30d, 12h, 2w, or off.", _age_or_off),
    Setting("retention-failed", "",
            "Failed jobs are kept this long instead (longer, to look into them): an age, or off"
            " to keep them; unset: as retention.", _age_or_off),
)}


def setting(name: str) -> Setting:
    if name not in SETTINGS:
        raise BadInput(f"unknown setting {name!r} (known: {', '.join(SETTINGS)})")
    return SETTINGS[name]


def normalize(name: str, value: str) -> str:
    """The value as stored, or BadInput naming the setting."""
    s = setting(name)
    try:
        return s.normalize(value)
    except BadInput as exc:
        raise BadInput(f"{name}: {exc}") from None


def age(value: str | None) -> float | None:
    """Seconds of an age setting's value; None for off (or unset, no default)."""
    if not value or value == OFF:
        return None
    return parse_age(value)
