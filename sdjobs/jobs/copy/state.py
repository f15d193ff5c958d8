"""The checkpointed state of a copy job.

It was a dict; a checkpoint written as one still loads (``ctx.load_state(CopyState)``: its
keys are the fields' names, and a field it lacks takes its default). Item access by key
(``state["walked"]``, ``state.get("current")``) still works for code not yet moved to the
attributes (see ``core/keyed_state.py``).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from ...core.keyed_state import KeyedState


def _no_counts() -> dict[str, Any]:
    return {"files": 0, "bytes": 0, "dirs": 0, "links": 0, "skipped": 0, "renamed": 0}


@dataclasses.dataclass
class CopyState(KeyedState):
    planned: bool = False  # the plan was made (and checkpointed): a run from here is a resume
    token: str = ""  # in the names of its temporary files: .sdjobs-<token><random>.part
    out: dict[str, Any] = dataclasses.field(default_factory=_no_counts)  # counts of every attempt
    links: dict[str, list[Any]] = dataclasses.field(default_factory=dict)  # "dev:ino" of a source: [top, its copy]
    dirmeta: dict[str, list[Any]] = dataclasses.field(default_factory=dict)  # --move: a directory's source stat
    renamed_tops: list[int] = dataclasses.field(default_factory=list)  # --move: tops moved by a rename
    fresh: bool | None = None  # its first run found no destination in the way (None: not planned yet)
    walked: list[Any] | None = None  # [top, src] of the entry the walk's counts reached
    current: dict[str, Any] | None = None  # the large file being copied: dst, offset, tmp
    # "top:path under its source" of each file that was counted ahead (``Copy._count_ahead``) and
    # then not copied (an error, a full destination): the run that copies it counts it again
    uncounted: dict[str, int] = dataclasses.field(default_factory=dict)
    # --move: [top, src, dst, dev, ino] of each source this job's thread moved, to be removed once
    # a checkpoint holds its count (copy/removals.py)
    removing: list[list[Any]] = dataclasses.field(default_factory=list)
