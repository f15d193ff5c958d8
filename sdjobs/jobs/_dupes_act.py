"""Acting on duplicates: a child delete job (trash or delete), or hard links.

The files to act on are written to a list beside the results; the delete
job re-checks each one (size and mtime, and that the kept copy is still
there, unchanged) just before it goes. Hard links are made here with the
same checks: link the kept copy to a temporary name in the duplicate's
directory, then rename it over the duplicate (atomic: the name never
disappears).
"""

from __future__ import annotations

import os
import stat

from ._dupes_results import act_rows, read_results, write_results

VERBS = {"trash": "trash", "delete": "delete", "hardlink": "hard-link"}


def planned(groups: list[dict]) -> dict:
    files = sum(len(g["act"]) for g in groups)
    nbytes = sum(len(g["act"]) * g["size"] for g in groups)
    return {"files": files, "bytes": nbytes}


def describe(a: dict) -> str:
    from ..core.humanize import human_bytes as _size

    what = f"{a['files']:,} files ({_size(a['bytes'])}), keeping the {a['keep']} of each group"
    if not a.get("applied"):
        return f"dry run: would {VERBS[a['then']]} {what}"
    if a["then"] == "hardlink":
        text = f"hard-linked {a.get('done', 0):,} of {what}"
        return text + (f", {a['skipped']:,} left alone (changed)" if a.get("skipped") else "")
    return f"{VERBS[a['then']]} {what}: delete job {a.get('child')} {a.get('child_status') or 'queued'}"


def start(job, groups: list[dict], out: dict) -> dict:
    ctx, c = job.ctx, job.config
    rows = act_rows(groups)
    act_file = write_results(c.library, f"dupes-{ctx.job_id}-act", rows)
    out["action"] = {"then": c.then, "keep": c.keep, "applied": True, **planned(groups)}
    if c.then == "hardlink":
        out["action"].update(done=0, skipped=0, freed=0)
        state = {"stage": "act", "out": out, "act_file": act_file, "i": 0}
        ctx.checkpoint(state, force=True)
        return _link_all(job, state)
    state = {"stage": "spawn", "out": out, "act_file": act_file}
    ctx.checkpoint(state, force=True)
    return _spawn(job, state)


def resume(job, state: dict) -> dict:
    stage = state["stage"]
    if stage == "act":
        return _link_all(job, state)
    if stage == "spawn":
        return _spawn(job, state)
    return _wait(job, state)


def _spawn(job, state: dict) -> dict:
    ctx, c = job.ctx, job.config
    kids = ctx.children()  # spawned before a crash that came ahead of the checkpoint
    if kids:
        child = kids[0][0]
    else:
        mode = "trash" if c.then == "trash" else "permanent"
        child = ctx.spawn_child("delete", {"from_file": state["act_file"], "mode": mode, "yes": True,
                                           "library": c.library})
        ctx.log(f"handed {state['out']['action']['files']:,} duplicates to delete job {child}")
    state["stage"] = "wait"
    state["out"]["action"]["child"] = child
    ctx.checkpoint(state, force=True)
    return _wait(job, state)


def _wait(job, state: dict) -> dict:
    kids = dict(job.ctx.wait_for_children())  # suspends the job until the child is done
    out = state["out"]
    out["action"]["child_status"] = kids.get(out["action"]["child"])
    return out


def _link_all(job, state: dict) -> dict:
    ctx = job.ctx
    rows = read_results(state["act_file"])
    a = state["out"]["action"]
    ctx.phase("hardlink", total=len(rows), unit="files", bytes_total=a["bytes"] or None)
    ctx.progress(done=state["i"], bytes_done=a["freed"])
    for k in range(state["i"], len(rows)):
        ctx.check_interrupt()
        path, size, mtime, keep, ksize, kmtime = rows[k]
        try:
            why = _replace_with_link(path, size, mtime, keep, kmtime, ctx.job_id)
        except OSError as exc:
            ctx.error(path, exc)
            why = None
            a["skipped"] += 1
        else:
            if why:
                ctx.warn(f"left alone: {why}", path)
                a["skipped"] += 1
            else:
                a["done"] += 1
                a["freed"] += size
                ctx.add_items(1)
                ctx.add_bytes(size)
        state["i"] = k + 1
        ctx.progress(done=k + 1, bytes_done=a["freed"], path=path)
        ctx.checkpoint(state)
    return state["out"]


def _replace_with_link(path: str, size: int, mtime: int, keep: str, kmtime: int, job_id: int) -> str | None:
    """Make ``path`` a hard link to ``keep``; the reason it was not done, or None."""
    try:
        st, kst = os.lstat(path), os.lstat(keep)
    except FileNotFoundError as exc:
        return f"{exc.filename} is gone"
    for s, m, what in ((st, mtime, "it"), (kst, kmtime, f"the copy to keep, {keep},")):
        if not stat.S_ISREG(s.st_mode) or s.st_size != size or s.st_mtime_ns != m:
            return f"{what} changed since it was found"
    if (st.st_dev, st.st_ino) == (kst.st_dev, kst.st_ino):
        return "already a hard link to the copy kept"
    if st.st_dev != kst.st_dev:
        return "on another filesystem than the copy kept: cannot hard-link"
    tmp = os.path.join(os.path.dirname(path), f".{os.path.basename(path)}.sdjobs-{job_id}.link")
    if os.path.lexists(tmp):
        os.unlink(tmp)
    os.link(keep, tmp)
    try:
        os.rename(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
    return None
