"""The state of an index run, kept in ``index_run.state`` (written in the same transaction as
the entries it describes) and resumed from it.

It was a dict of short keys (``ti``, ``dti``, ``pcursor``, ...); it is a dataclass now, with
names that say what they are. A run recorded by an older sdjobs still loads: each renamed
field reads its old key (``metadata={"was": ...}``, see ``core.codec.to_state``), and every
field added later has a default.

Item access with the old keys (``st["ti"]``, ``st.get("estimate")``, ``st.update(...)``, see
``core/keyed_state.py``) still works, for the index modules not yet moved to attributes; new
code uses the attributes.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Literal

from ...core import codec
from ...core.keyed_state import KeyedState

Kind = Literal["fresh", "verify", "targets"]


def _was(old: str) -> dict[str, str]:
    return {"was": old}


@dataclasses.dataclass
class IndexRunState(KeyedState):
    # -- what the run does (set when it starts) --
    kind: Kind = "targets"  # fresh: a first index; verify: the whole location again; targets: some paths in it
    created: bool = False  # the run created its location (a cancel removes it again)
    fresh: bool = False  # nothing is stored under the location yet: entries are written, not diffed
    targets: list[str] = dataclasses.field(default_factory=list)
    rules: dict[str, Any] = dataclasses.field(default_factory=dict)
    max_depth: int | None = None
    recurse: bool = True
    mode: str = "content"
    full_hash: bool = False
    estimate: int | None = None  # entries expected (the location's count of the last run), for progress
    absorbed: list[str] = dataclasses.field(default_factory=list)  # locations inside it that it took over
    # -- discovery: the walk --
    target_index: int = dataclasses.field(default=0, metadata=_was("ti"))  # targets[:i] are walked
    walk_stack: list[Any] | None = dataclasses.field(default=None, metadata=_was("stack"))  # to resume the walk
    found: int = 0  # entries walked
    unreadable: list[str] = dataclasses.field(default_factory=list, metadata=_was("keep"))  # kept as stored
    walk_errors: bool = False  # some directory could not be read: totals come from what is stored
    root_totals: list[Any] | None = dataclasses.field(default=None, metadata=_was("root_total"))  # size, files, digest
    # -- discovery of a verify run: in units over the worker pool --
    units: list[Any] | None = None  # (unit, direct) to walk
    units_done: int = 0
    bases: dict[str, Any] = dataclasses.field(default_factory=dict)  # per unit: what its walk started from
    combined: bool | None = None  # the units' totals were combined
    # -- processing: the diff against what is stored --
    diff_step: str | None = dataclasses.field(default=None, metadata=_was("step"))  # None, chunks, delete, done
    diff_cursor: Any = dataclasses.field(default=None, metadata=_was("pcursor"))  # the last path diffed, or deleted
    done: int = 0  # entries diffed
    delete_scope: int = dataclasses.field(default=0, metadata=_was("dti"))  # scopes[:i] are swept of gone entries
    totals_before: dict[Any, Any] = dataclasses.field(default_factory=dict, metadata=_was("old"))  # by target
    new: int = 0
    modified: int = 0
    moved: int = 0
    deleted: int = 0
    # -- aggregation and content --
    totals: list[Any] | None = None  # size, files, entries of the location
    content_cursor: int = dataclasses.field(default=0, metadata=_was("ccursor"))  # entry ids below it are read
    identified: int = 0
    content_skipped: bool = False  # nothing changed and nothing lacked a content id: not read

    @classmethod
    def load(cls, data: Any) -> IndexRunState:
        """From ``index_run.state`` as unpacked (a dict, of either generation's keys)."""
        return codec.to_state(cls, data)
