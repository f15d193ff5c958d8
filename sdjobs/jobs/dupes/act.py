"""Acting on duplicates: a child delete job (trash or delete), or hard links.

The files to act on are written to a list beside the results; the delete
job re-checks each one (size and mtime, and that the kept copy is still
there, unchanged) just before it goes. A duplicate with other hard links is
not gone until every one of its names is: the list holds every name of each
such file found under the scanned paths (the groups name one per file).

Hard links are made here with the same checks, through descriptors of the
two directories opened with O_NOFOLLOW (a directory swapped for a symlink
fails that file): link the kept copy to a temporary name in the duplicate's
directory (exclusive, like O_EXCL; unpredictable, from a secret kept in the
job's state, so a resumed run finds and drops its own leftover), re-check
both files, then rename it over the duplicate (atomic: the name never
disappears).
"""

from __future__ import annotations

import os
import secrets
import stat

from ...fs.dirfd import lexists_at, open_real_dir
from ...fs.rules import WalkRules
from ...fs.walker import walk
from .results import act_rows, read_results, write_results

VERBS = {"trash": "trash", "delete": "delete", "hardlink": "hard-link"}


def planned(groups: list[dict]) -> dict:
    """Names to act on and the bytes freed once they are all gone (one per file)."""
    files = sum(len(g["act"]) for g in groups)
    nbytes = sum(g.get("wasted", len(g["act"]) * g["size"]) for g in groups)
    return {"files": files, "bytes": nbytes}


def describe(a: dict) -> str:
    from ...core.humanize import human_bytes as _size
    from ...core.humanize import plural

    what = f"{plural(a['files'], 'file')} ({_size(a['bytes'])}), keeping the {a['keep']} of each group"
    if not a.get("applied"):
        return f"dry run: would {VERBS[a['then']]} {what}"
    if a["then"] == "hardlink":
        text = f"hard-linked {a.get('done', 0):,} of {what}"
        return text + (f", {a['skipped']:,} left alone (changed)" if a.get("skipped") else "")
    return f"{VERBS[a['then']]} {what}: delete job {a.get('child')} {a.get('child_status') or 'queued'}"


def start(job, groups: list[dict], out: dict) -> dict:
    ctx, c = job.ctx, job.config
    rows = with_other_names(act_rows(groups), c.paths, WalkRules.from_dict(c.rules), ctx.check_interrupt)
    resolve = _resolver(c.paths)
    rows = [[resolve(r[0]), *r[1:3], resolve(r[3]), *r[4:]] for r in rows]
    act_file = write_results(ctx.library.data_dir, f"dupes-{ctx.job_id}-act", rows)
    out["action"] = {"then": c.then, "keep": c.keep, "applied": True, **planned(groups), "files": len(rows)}
    if c.then == "hardlink":
        out["action"].update(done=0, skipped=0, freed=0)
        state = {"stage": "act", "out": out, "act_file": act_file, "i": 0, "secret": secrets.token_hex(12)}
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
        child = ctx.spawn_child("delete", {"from_file": state["act_file"], "mode": mode, "yes": True})
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


def with_other_names(rows: list[list], roots: list[str], rules: WalkRules, check) -> list[list]:
    """``rows`` plus a row for every other name, under ``roots``, of a file to act
    on that has several hard links (same size, mtime and copy to keep)."""
    linked: dict[tuple[int, int], list] = {}
    kept: set[tuple[int, int]] = set()
    for row in rows:
        try:
            st, kst = os.lstat(row[0]), os.lstat(row[3])
        except OSError:
            continue  # the re-check before acting says why
        kept.add((kst.st_dev, kst.st_ino))
        if st.st_nlink > 1:
            linked.setdefault((st.st_dev, st.st_ino), row)
    for ident in kept:  # never a name of a kept file (a group of one file's names, with --hardlinks)
        linked.pop(ident, None)
    if not linked:
        return rows
    have = {row[0] for row in rows}
    extra = []
    for root in roots:
        for n, e in enumerate(walk(root, rules)):
            row = linked.get((e.device, e.inode)) if e.kind == "file" else None
            if row is not None and e.path not in have:
                have.add(e.path)
                extra.append([e.path, *row[1:]])
            if n % 4096 == 0:
                check()
    return rows + extra


def _resolver(roots: list[str]):
    """Paths found under ``roots`` with each root resolved (the user named it, symlinks
    and all) and nothing below it: the walk never followed a symlink there, so none may
    be met there when acting. The action reaches each directory with O_NOFOLLOW at every
    step, so a directory swapped for a symlink (by someone who can write the tree)
    fails that file instead of leading it elsewhere."""
    real = sorted(((os.path.abspath(r).rstrip("/") or "/", os.path.realpath(r)) for r in roots),
                  key=lambda pair: -len(pair[0]))

    def resolve(path: str) -> str:
        for given, resolved in real:
            if path == given or path.startswith(given.rstrip("/") + "/"):
                return resolved + path[len(given):] if given != "/" else path
        return os.path.abspath(path)  # not found under a root (a plan file): taken as it is
    return resolve


def _link_all(job, state: dict) -> dict:
    ctx = job.ctx
    rows = read_results(state["act_file"])
    a = state["out"]["action"]
    secret = state.setdefault("secret", secrets.token_hex(12))
    ctx.phase("hardlink", total=len(rows), unit="files", bytes_total=a["bytes"] or None)
    ctx.progress(done=state["i"], bytes_done=a["freed"])
    for k in range(state["i"], len(rows)):
        ctx.check_interrupt()
        path, size, mtime, keep, ksize, kmtime = rows[k]
        try:
            why, freed = replace_with_link(path, size, mtime, keep, kmtime, f".sdjobs-{secret}-{k}.link")
        except OSError as exc:
            ctx.error(exc, path=path)
            why, freed = None, 0
            a["skipped"] += 1
        else:
            if why:
                ctx.warn(f"left alone: {why}", path=path)
                a["skipped"] += 1
            else:
                a["done"] += 1
                a["freed"] += freed
                ctx.add_items(1)
                ctx.add_bytes(freed)
        state["i"] = k + 1
        ctx.progress(done=k + 1, bytes_done=a["freed"], path=path)
        ctx.checkpoint(state)
    return state["out"]


def replace_with_link(path: str, size: int, mtime: int, keep: str, kmtime: int,
                      tmp: str) -> tuple[str | None, int]:
    """Make ``path`` a hard link to ``keep`` (both with resolved directories, reached
    without following any symlink), through a temporary name ``tmp`` in its
    directory: (the reason it was not done or None, the bytes this freed: the size
    when ``path`` was the last name of its file)."""
    pfd = open_real_dir(os.path.dirname(path))
    try:
        kfd = open_real_dir(os.path.dirname(keep))
        try:
            return _replace_at(pfd, os.path.basename(path), size, mtime, kfd, os.path.basename(keep), kmtime,
                               tmp, keep)
        finally:
            os.close(kfd)
    finally:
        os.close(pfd)


def _replace_at(pfd: int, name: str, size: int, mtime: int, kfd: int, kname: str, kmtime: int,
                tmp: str, keep: str) -> tuple[str | None, int]:
    why = _changed(pfd, name, size, mtime, "it") or _changed(kfd, kname, size, kmtime, f"the copy to keep, {keep},")
    if why:
        return why, 0
    st, kst = _lstat_at(pfd, name), _lstat_at(kfd, kname)
    if (st.st_dev, st.st_ino) == (kst.st_dev, kst.st_ino):
        _drop_own_leftover(pfd, tmp, kst)
        return None, 0  # already a name of the kept file (a resumed run, or --hardlinks)
    if st.st_dev != kst.st_dev:
        return "on another filesystem than the copy kept: cannot hard-link", 0
    _drop_own_leftover(pfd, tmp, kst)
    os.link(kname, tmp, src_dir_fd=kfd, dst_dir_fd=pfd, follow_symlinks=False)  # EEXIST: never reused
    try:
        linked = _lstat_at(pfd, tmp)
        now = _lstat_at(pfd, name)
        if (linked.st_dev, linked.st_ino) != (kst.st_dev, kst.st_ino):
            raise OSError(f"the copy to keep, {keep}, was replaced meanwhile")
        if (now.st_ino, now.st_size, now.st_mtime_ns) != (st.st_ino, size, mtime) or not stat.S_ISREG(now.st_mode):
            os.unlink(tmp, dir_fd=pfd)
            return "it changed since it was found", 0
        os.rename(tmp, name, src_dir_fd=pfd, dst_dir_fd=pfd)
    except BaseException:
        if lexists_at(pfd, tmp):
            os.unlink(tmp, dir_fd=pfd)
        raise
    return None, size if now.st_nlink == 1 else 0


def _lstat_at(dir_fd: int, name: str) -> os.stat_result:
    return os.stat(name, dir_fd=dir_fd, follow_symlinks=False)


def _changed(dir_fd: int, name: str, size: int, mtime: int, what: str) -> str | None:
    try:
        st = _lstat_at(dir_fd, name)
    except FileNotFoundError:
        return f"{what} is gone"
    if not stat.S_ISREG(st.st_mode) or st.st_size != size or st.st_mtime_ns != mtime:
        return f"{what} changed since it was found"
    return None


def _drop_own_leftover(dir_fd: int, tmp: str, kst: os.stat_result) -> None:
    """A run killed between its link and its rename left ``tmp``, a name of the kept file."""
    try:
        st = _lstat_at(dir_fd, tmp)
    except FileNotFoundError:
        return
    if (st.st_dev, st.st_ino) == (kst.st_dev, kst.st_ino):
        os.unlink(tmp, dir_fd=dir_fd)
