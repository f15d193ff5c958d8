"""Is an indexed tree still what the index says? Directory by directory, in the workers.

A directory's digest is the sum of a 64-bit hash of each direct child's
(name, size, inode, device, mode, mtime), computed here exactly as the
indexer does (``fs.walker.child_key``, the one definition both use). A
directory whose digest equals the stored one has all its direct children as
stored; one that differs (or could not be listed) has its children compared
with their stored rows one by one (``_compare_children``).

The walk is the walker's lean form (``fs.scan.lean_dirs``) in ``_lean``: a
listing and one lstat per entry, no per-entry objects, no paths built for
files, ``.gitignore`` files inside the unit applied as the indexer applies
them. A unit below a ``.gitignore`` it cannot see (one in a directory above
it, down from the location's root) takes the full walker from the location's
root instead (``_walked``).

A worker's result: the number of files that pass the size filters, the
*fresh* files (on disk, not as stored: real path, size, inode, device,
mtime_ns), the *untrusted* stored paths (files) and trees (directories gone),
and the errors met.
"""

from __future__ import annotations

import os

from ...fs.rules import WalkRules
from ...fs.scan import ignored, lean_dirs
from ...fs.walker import child_key, walk

DIGEST_MASK = (1 << 63) - 1
_S_IFMT, _S_IFDIR, _S_IFREG = 0o170000, 0o040000, 0o100000
UNITS_PER_WORKER = 6    # directories wanted per worker before whole subtrees are handed out


def new_result() -> dict:
    return {"files": 0, "fresh": [], "untrusted": [], "untrusted_trees": [], "errors": []}


def merge(into: dict, res: dict) -> None:
    into["files"] += res["files"]
    for k in ("fresh", "untrusted", "untrusted_trees", "errors"):
        into[k] += res[k]


# -- units --------------------------------------------------------------------------------
def units(p, workers: int) -> tuple[list[tuple[str, bool]], bool]:
    """(directory, its direct children only) units covering the searched
    directory: its first levels one directory at a time, then whole subtrees;
    and whether the lean walk can do them (no ``.gitignore`` on the way)."""
    rules = WalkRules.from_dict(p.rules)
    nf = rules.compile()
    lean = not (rules.gitignore and _gitignore_above(p.loc_root, p.real))
    want = workers * UNITS_PER_WORKER
    out: list[tuple[str, bool]] = []
    frontier = [p.real]
    for _level in range(3):
        subtrees: list[str] = []
        for d in frontier:
            try:
                with os.scandir(d) as it:
                    found = {e.name: e for e in it}
            except OSError:
                found = {}  # the worker reports it
            if rules.gitignore and ".gitignore" in found:
                lean = False
            for name in nf.filter_names(list(found)):
                if name not in nf.dir_names and found[name].is_dir(follow_symlinks=False):
                    subtrees.append(found[name].path)
        out += [(d, True) for d in frontier]
        frontier = sorted(subtrees)
        if len(frontier) + len(out) >= want or not frontier:
            break
    return out + [(d, False) for d in frontier], lean


def _gitignore_above(loc_root: str, real: str) -> bool:
    """A ``.gitignore`` in the location's root or a directory down to ``real`` (excluded)."""
    d = real
    while d != loc_root and d.startswith(loc_root):
        d = os.path.dirname(d)
        if os.path.lexists(os.path.join(d, ".gitignore")):
            return True
    return False


def verify_units(p, todo: list[tuple[str, bool]], lean: bool) -> dict:
    """Worker: verify a list of units (see the module's doc for the result)."""
    out = new_result()
    index = p.reader  # the index's worker-side reads (one connection per process)
    for unit, direct in todo:
        res = new_result()
        if lean:
            _lean(p, index, unit, direct, res)
        else:
            _walked(p, index, unit, direct, res)
        merge(out, res)
    return out


# -- the lean walk --------------------------------------------------------------------------
def _lean(p, index, unit: str, direct_only: bool, out: dict) -> None:
    """The walker's lean form (``fs.scan.lean_dirs``, .gitignore files included),
    with the digest summed in this loop (see fs/scan.py for why the loop is here)."""
    rules = WalkRules.from_dict(p.rules)
    dir_names = rules.compile().dir_names
    lo, hi = p.min_size, p.max_size
    lstat, enc, key, mask = os.lstat, str.encode, child_key, DIGEST_MASK
    errors = out["errors"]
    files = 0
    seen: set[tuple[int, int]] = set()

    def on_error(path: str, exc: BaseException) -> None:
        errors.append((path, getattr(exc, "strerror", None) or str(exc)))

    for d in lean_dirs(unit, rules, on_error=on_error):
        names, fd, prefix, ignores = d.names, d.fd, d.prefix, d.ignores
        if names is None:  # unreadable, or a cycle: nothing stored below it is vouched for
            _compare_children(index, p, d.path, [], out)
            continue
        if d.key in seen:  # a bind mount: nothing stored below it is vouched for
            errors.append((d.path, "directory met twice (a cycle or a bind mount)"))
            _compare_children(index, p, d.path, [], out)
            continue
        seen.add(d.key)
        digest = 0
        for name in names:
            try:
                st = lstat(name, dir_fd=fd)
            except OSError as exc:
                errors.append((prefix + name, exc.strerror or str(exc)))
                continue
            mode = st.st_mode
            fmt = mode & _S_IFMT
            if ignores and ignored(ignores, name, fmt == _S_IFDIR):
                continue
            if fmt == _S_IFDIR:
                if name in dir_names:
                    continue
                if not direct_only:
                    d.subdirs.append(name)
            elif fmt == _S_IFREG:
                size = st.st_size
                if size >= lo and (hi is None or size <= hi):
                    files += 1
            digest += key(enc(name, "utf-8", "surrogateescape"), st.st_size, st.st_ino, st.st_dev, mode,
                          st.st_mtime_ns)
        stored = index.dir_digest(p.location_id, os.fsencode(d.path), d.path == p.loc_root)
        if stored is None or stored != digest & mask:
            # (a walk of d alone cannot see the .gitignore files above it: d.ignores holds them)
            entries = [e for e in walk(d.path, rules, recurse=False)
                       if not (ignores and ignored(ignores, e.name, e.kind == "dir"))]
            _compare_children(index, p, d.path, entries, out)
    out["files"] += files


# -- the full walker (with .gitignore files) ---------------------------------------------------
def _depth(root: str, path: str) -> int:
    """Walker depth of ``path`` below ``root`` (the root's children: 0; the root: -1)."""
    return -1 if path == root else os.path.relpath(path, root).count("/")


def _walked(p, index, unit: str, direct_only: bool, out: dict) -> None:
    """The walk from the location's root (so that every ``.gitignore`` above
    applies), resumed at ``unit``, as ``index.verify`` does it."""
    limit = _depth(p.loc_root, unit) + 1 if direct_only else None
    unreadable: set[str] = set()

    def on_error(path: str, exc: BaseException) -> None:
        out["errors"].append((path, getattr(exc, "strerror", None) or str(exc)))
        unreadable.add(path)

    lo, hi = p.min_size, p.max_size
    enc, mask = str.encode, DIGEST_MASK

    def close(frame: list) -> None:
        path, digest, entries = frame
        stored = None if path in unreadable else \
            index.dir_digest(p.location_id, os.fsencode(path), path == p.loc_root)
        if stored is None or stored != digest:
            _compare_children(index, p, path, entries, out)

    walker = walk(p.loc_root, WalkRules.from_dict(p.rules), max_depth=limit,
                  start_after=None if unit == p.loc_root else unit, on_error=on_error)
    stack: list[list] = [[unit, 0, []]]
    top = stack[0]
    top_path = unit
    files = 0
    for e in walker:
        parent = e[2]
        if parent != top_path:
            while len(stack) > 1 and stack[-1][0] != parent:
                close(stack.pop())
            top = stack[-1]
            top_path = top[0]
            if top_path != parent:
                break  # out of the unit
        top[1] = (top[1] + child_key(enc(e[1], "utf-8", "surrogateescape"), e[4], e[5], e[6], e[7], e[8])) & mask
        top[2].append(e)
        kind = e[3]
        if kind == "file":
            if e[4] >= lo and (hi is None or e[4] <= hi):
                files += 1
        elif kind == "dir" and not direct_only:
            top = [e[0], 0, []]
            top_path = e[0]
            stack.append(top)
    while stack:
        close(stack.pop())
    out["files"] += files


# -- a directory that changed ----------------------------------------------------------------
def _compare_children(index, p, path: str, entries: list, out: dict) -> None:
    """The walker's ``entries`` directly in ``path`` against their stored rows."""
    stored = {r[0]: r for r in index.children(p.location_id, os.fsencode(path))}
    lo, hi = p.min_size, p.max_size
    fse = os.fsencode
    seen_dirs: set[bytes] = set()
    for e in entries:
        path_b = fse(e[0])
        kind = e[3]
        if kind == "dir":
            row = stored.get(path_b)
            if row is not None and row[1] == "dir" and (row[3], row[4]) == (e[5], e[6]):
                seen_dirs.add(path_b)  # still there: its own digest vouches for what is below
            continue
        if kind != "file":
            continue
        row = stored.pop(path_b, None)
        if e[4] < lo or (hi is not None and e[4] > hi):
            if row is not None and row[1] == "file":
                out["untrusted"].append(path_b)
            continue
        if row is not None and row[1] == "file" and row[6] is not None and \
                (row[2], row[3], row[4], row[5]) == (e[4], e[5], e[6], e[8]):
            continue  # unchanged: the stored hash stands
        if row is not None:
            out["untrusted"].append(path_b)
        out["fresh"].append((e[0], e[4], e[5], e[6], e[8]))
    for path_b, row in stored.items():  # stored, but not (or not as such) on disk
        if row[1] == "file":
            out["untrusted"].append(path_b)
        elif row[1] == "dir" and path_b not in seen_dirs:
            out["untrusted_trees"].append(path_b)
