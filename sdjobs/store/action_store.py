"""The action context as stored: a child job's inheritance from its root (see core/action.py)."""

from __future__ import annotations

from typing import Any

from ..core import codec

# What a child takes from its parent, and so from its root: who and what started the work.
INHERITED = ("user", "host", "cwd", "initiator", "schedule", "action")


def inherit(store, parent_id: int | None, context: dict | None, action: str | None) -> tuple[dict, str | None]:
    """The context and action a job is stored with: a child's initiator and action are its
    root's (its parent's, which had them from theirs), whatever the process that spawned it says."""
    context = dict(context or {})
    if parent_id is None:
        return context, action
    row = store._sql("SELECT action, context, parent_id FROM job WHERE id=?", (parent_id,)).fetchone()
    if row is None:
        return context, action
    parent_action, packed, grand = row
    try:
        parent: Any = codec.unpack(packed) or {}
    except (ValueError, TypeError):  # msgpack's errors: a record this code cannot read
        parent = {}
    if isinstance(parent, dict):
        for key in INHERITED:
            if parent.get(key) is not None:
                context[key] = parent[key]
        context["root"] = parent.get("root") or (parent_id if grand is None else grand)
    return context, parent_action or action


def contexts_since(store, since: float) -> list[tuple[int, dict]]:
    """(id, context) of the jobs created at or after ``since``, oldest first."""
    out = []
    for job_id, packed in store._sql("SELECT id, context FROM job WHERE created_at >= ? ORDER BY id", (since,)):
        try:
            context = codec.unpack(packed) or {}
        except (ValueError, TypeError):  # msgpack's errors: a record this code cannot read
            context = {}
        out.append((job_id, context if isinstance(context, dict) else {}))
    return out
