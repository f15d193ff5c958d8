"""Judges that do not trust sdjobs: rsync, cp -a, content manifests, the trash spec.

Every oracle returns a list of violations (one line each, empty when the
invariant holds); they read the filesystem with os.lstat and hashlib only.
"""

from __future__ import annotations

import hashlib
import os
import stat
import subprocess
from pathlib import Path
from urllib.parse import unquote_to_bytes

Manifest = dict  # relative path (bytes) -> (kind, digest-or-target, size)


def _digest(path: bytes) -> str:
    h = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def walk(root: str | bytes):
    """(relative path, absolute path, lstat) of everything under root, not following links."""
    broot = os.fsencode(root)
    if not os.path.lexists(broot):
        return
    stack = [b""]
    while stack:
        rel = stack.pop()
        d = os.path.join(broot, rel) if rel else broot
        try:
            names = os.listdir(d)
        except (NotADirectoryError, FileNotFoundError):
            continue
        for name in names:
            r = os.path.join(rel, name) if rel else name
            p = os.path.join(broot, r)
            try:
                st = os.lstat(p)
            except FileNotFoundError:
                continue
            yield r, p, st
            if stat.S_ISDIR(st.st_mode):
                stack.append(r)


def manifest(root: str | bytes) -> Manifest:
    """What a careful user would check: kind, content (or link text), size."""
    out = {}
    for rel, p, st in walk(root):
        if stat.S_ISREG(st.st_mode):
            out[rel] = ("file", _digest(p), st.st_size)
        elif stat.S_ISLNK(st.st_mode):
            out[rel] = ("symlink", os.readlink(p), 0)
        elif stat.S_ISDIR(st.st_mode):
            out[rel] = ("dir", "", 0)
        else:
            out[rel] = ("other", stat.S_IFMT(st.st_mode), 0)
    return out


def snapshot(root: str | bytes) -> dict:
    """Everything cp -a keeps: kind, mode, mtime, content, link text, and hard-link grouping
    (as the sorted list of names sharing an inode)."""
    out, groups = {}, {}
    for rel, p, st in walk(root):
        kind = stat.S_IFMT(st.st_mode)
        item = [kind, stat.S_IMODE(st.st_mode)]
        if not stat.S_ISLNK(st.st_mode):
            item.append(st.st_mtime_ns)
        if stat.S_ISREG(st.st_mode):
            item.append(_digest(p))
            if st.st_nlink > 1:
                groups.setdefault(st.st_ino, []).append(rel)
        elif stat.S_ISLNK(st.st_mode):
            item.append(os.readlink(p))
        out[rel] = item
    for names in groups.values():
        names.sort()
        for n in names:
            out[n].append(tuple(names))
    return out


def _show(rel: bytes) -> str:
    return repr(rel)[2:-1]


def diff_snapshots(got: dict, want: dict, what: str, limit: int = 5) -> list[str]:
    out = []
    for rel in sorted(set(got) | set(want)):
        if got.get(rel) != want.get(rel):
            if rel not in got:
                out.append(f"{what}: {_show(rel)} missing")
            elif rel not in want:
                out.append(f"{what}: {_show(rel)} extra")
            else:
                g, w = got[rel], want[rel]
                fields = ["kind", "mode", "mtime", "content/target", "hard links"]
                bad = [fields[i] if i < len(fields) else str(i) for i in range(max(len(g), len(w)))
                       if (g[i] if i < len(g) else None) != (w[i] if i < len(w) else None)]
                head = "CORRUPTED " if g[0] == w[0] and "content/target" in bad else ""
                out.append(f"{head}{what}: {_show(rel)} differs in {', '.join(bad)}")
    if len(out) > limit:
        out = out[:limit] + [f"{what}: ... {len(out) - limit} more"]
    return out


def rsync_differences(src: str, dst: str) -> list[str]:
    """`rsync -anci --delete SRC/ DST/`: prints nothing when DST is SRC, checksums compared."""
    proc = subprocess.run(["rsync", "-anciH", "--delete", os.fsencode(src) + b"/", os.fsencode(dst) + b"/"],
                          capture_output=True)
    lines = [ln for ln in proc.stdout.decode("utf-8", "backslashreplace").splitlines() if ln.strip()]
    # a file rsync would re-send for its content ("c" in the third column) exists but differs: corrupted;
    # a missing one ("+++++++++") was not copied, which the job's status must then admit
    out = [("CORRUPTED (rsync): " if ln[1:3] == "fc" else "rsync: ") + ln for ln in lines[:5]]
    if len(lines) > 5:
        out.append(f"rsync: ... {len(lines) - 5} more lines")
    if proc.returncode not in (0, 23, 24):
        out.append(f"rsync exited {proc.returncode}: {proc.stderr.decode(errors='replace')[:200]}")
    return out


def leftovers(root: str | bytes) -> list[str]:
    """Temporary files a finished job must not leave: *.part, .sdjobs-*."""
    bad = [rel for rel, _, _ in walk(root)
           if rel.endswith(b".part") or os.path.basename(rel).startswith(b".sdjobs")
           or b".sdjobs-" in os.path.basename(rel)]
    return [f"leftover temporary file {_show(r)}" for r in bad[:5]]


def copy_exact(src: str, dst: str, ref: str) -> list[str]:
    """copy: DST equals SRC by rsync, and equals cp -a's copy (hard links included)."""
    return rsync_differences(src, dst) + diff_snapshots(snapshot(dst), snapshot(ref), "vs cp -a") + leftovers(dst)


def copy_partial(before: Manifest, dst: str) -> list[str]:
    """After a copy that did not complete: whatever is at DST under a final name is complete."""
    out = []
    got = manifest(dst)
    for rel, item in got.items():
        if item[0] == "file" and rel in before and before[rel] != item:
            out.append(f"torn or corrupted file at the destination: {_show(rel)} "
                       f"({item[2]} bytes, source {before[rel][2]})")
    return out[:5]


def move_oracle(before: Manifest, src: str, dst: str, completed: bool) -> list[str]:
    """move: every file exactly once, complete, at its source or its destination."""
    out = []
    at_src, at_dst = manifest(src), manifest(dst)
    lost = corrupt = twice = 0
    for rel, item in before.items():
        if item[0] == "dir":
            continue
        s, d = at_src.get(rel), at_dst.get(rel)
        if s is None and d is None:
            lost += 1
            if lost <= 3:
                out.append(f"LOST: {_show(rel)} is neither at its source nor at its destination")
        for where, got in (("source", s), ("destination", d)):
            if got is not None and got != item:
                corrupt += 1
                if corrupt <= 3:
                    out.append(f"CORRUPTED: {_show(rel)} at the {where} differs from the original "
                               f"({got[2]} bytes, was {item[2]})")
        if completed and s is not None and item[0] == "file":
            twice += 1
            if twice <= 3:
                out.append(f"move completed but {_show(rel)} is still at its source")
    if lost > 3 or corrupt > 3:
        out.append(f"in all: {lost} lost, {corrupt} corrupted")
    return out + leftovers(dst)


def trash_dir(xdg_data_home: str) -> bytes:
    return os.path.join(os.fsencode(xdg_data_home), b"Trash")


def delete_oracle(before: Manifest, root: str, targets: list[bytes], trash: bytes | None,
                  completed: bool) -> list[str]:
    """delete: files outside the targets untouched; each file of a target either still in place,
    or (trash mode) in the trash with a matching .trashinfo; no orphan in the trash."""
    out = []
    broot = os.fsencode(root)
    now = manifest(root)
    for rel, item in before.items():
        inside = any(rel == t or rel.startswith(t + b"/") for t in targets)
        if not inside:
            if now.get(rel) != item:
                out.append(f"DELETE TOUCHED A NON-TARGET: {_show(rel)}")
        elif completed and rel in now:
            out.append(f"delete completed but {_show(rel)} is still in place")
        elif rel in now and now[rel] != item:
            out.append(f"CORRUPTED in place: {_show(rel)}")
    if trash is None:
        return out[:8]
    files_dir, info_dir = os.path.join(trash, b"files"), os.path.join(trash, b"info")
    names = set(os.listdir(files_dir)) if os.path.isdir(files_dir) else set()
    infos = {n[:-len(b".trashinfo")]: n for n in (os.listdir(info_dir) if os.path.isdir(info_dir) else [])
             if n.endswith(b".trashinfo")}
    for n in sorted(names - set(infos))[:5]:
        out.append(f"ORPHAN in the trash: files/{_show(n)} has no .trashinfo")
    if len(names - set(infos)) > 5:
        out.append(f"... {len(names - set(infos))} orphans in all")
    restore: dict[bytes, bytes] = {}  # original absolute path -> trashed name
    for n, info in infos.items():
        body = open(os.path.join(info_dir, info), "rb").read()
        if n not in names:
            out.append(f"ORPHAN .trashinfo without its file: {_show(info)} ({len(body)} bytes)")
            continue
        path = next((unquote_to_bytes(ln[5:]) for ln in body.splitlines() if ln.startswith(b"Path=")), None)
        if not path or not body.startswith(b"[Trash Info]") or b"DeletionDate=" not in body:
            out.append(f"bad .trashinfo {_show(info)}: {body[:80]!r}")
            continue
        restore[path] = n
    # every file of every target: in place, or in the trash under a matching entry, same content
    missing = 0
    for rel, item in before.items():
        if item[0] == "dir" or not any(rel == t or rel.startswith(t + b"/") for t in targets):
            continue
        if rel in now:
            continue
        top = next(t for t in targets if rel == t or rel.startswith(t + b"/"))
        name = restore.get(os.path.join(broot, top))
        found = None
        if name is not None:
            inner = rel[len(top):].lstrip(b"/")
            p = os.path.join(files_dir, name, inner) if inner else os.path.join(files_dir, name)
            found = manifest_one(p)
        if found != item:
            missing += 1
            if missing <= 3:
                out.append(f"LOST: {_show(rel)} is neither in place nor restorable from the trash"
                           + ("" if found is None else " (trashed copy differs)"))
    if missing > 3:
        out.append(f"in all: {missing} files not restorable")
    return out


def manifest_one(p: bytes):
    try:
        st = os.lstat(p)
    except OSError:
        return None
    if stat.S_ISREG(st.st_mode):
        return ("file", _digest(p), st.st_size)
    if stat.S_ISLNK(st.st_mode):
        return ("symlink", os.readlink(p), 0)
    if stat.S_ISDIR(st.st_mode):
        return ("dir", "", 0)
    return ("other", stat.S_IFMT(st.st_mode), 0)


def dupes_oracle(before: Manifest, root: str, then: str, trash: bytes | None) -> list[str]:
    """dupes --then: no duplicate content left among the files (inodes), no unique content lost;
    with hardlink, every name still there with its content."""
    out = []
    now = manifest(root)
    want = {item[1] for item in before.values() if item[0] == "file" and item[2] > 0}
    have = {item[1] for item in now.values() if item[0] == "file"}
    lost = want - have
    if lost:
        out.append(f"LOST: {len(lost)} unique content(s) no longer in the tree")
    inodes: dict[str, set] = {}
    for rel, _p, st in walk(root):
        if stat.S_ISREG(st.st_mode) and st.st_size > 0 and now.get(rel, ("",))[0] == "file":
            inodes.setdefault(now[rel][1], set()).add((st.st_dev, st.st_ino))
    left = {d: len(s) for d, s in inodes.items() if len(s) > 1}
    if left:
        out.append(f"duplicates left: {len(left)} content(s) still in {sum(left.values())} separate files")
    if then == "hardlink":
        gone = [rel for rel, item in before.items() if item[0] == "file" and now.get(rel) != item]
        for rel in gone[:3]:
            out.append(f"hardlink changed or removed the name {_show(rel)}")
    return out


def unchanged(before: Manifest, root: str, what: str) -> list[str]:
    """Read-only operations (index, validate, thumbs) leave the tree as it was."""
    now = manifest(root)
    if now == before:
        return []
    changed = sorted(set(now) ^ set(before)) + sorted(k for k in set(now) & set(before) if now[k] != before[k])
    return [f"{what} changed the tree: {_show(r)}" for r in changed[:5]]


def index_oracle(lib: str, root: str) -> list[str]:
    """The library's entries under root equal a fresh walk (path, kind, size, mtime)."""
    from sdjobs.store.api import Store
    from sdjobs.store.index_store import entries_under
    from sdjobs.store.library import Library

    kinds = {stat.S_IFREG: "file", stat.S_IFDIR: "dir", stat.S_IFLNK: "symlink"}
    broot = os.fsencode(os.path.realpath(root))
    fresh = {}
    for _rel, p, st in walk(broot):
        kind = kinds.get(stat.S_IFMT(st.st_mode), "other")
        fresh[os.fsdecode(p)] = (kind, st.st_size if kind == "file" else None, st.st_mtime_ns)
    store = Store(Library(Path(lib)), create=False)
    try:
        stored = {e.path: (e.kind, e.size if e.kind == "file" else None, e.mtime_ns)
                  for e in entries_under(store, os.fsdecode(broot))}
    finally:
        store.close()
    out = []
    for path in sorted(set(fresh) | set(stored)):
        if fresh.get(path) != stored.get(path):
            out.append(f"index: {path!r} stored {stored.get(path)} but on disk {fresh.get(path)}")
    if len(out) > 5:
        out = out[:5] + [f"index: ... {len(out) - 5} more differences"]
    return out
