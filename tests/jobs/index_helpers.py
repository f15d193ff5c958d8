"""Shared pieces of the index tests: a tree with every awkward case, and readers."""

from __future__ import annotations

import os
import sqlite3
import stat
import tempfile

RAW_NAME = b"caf\xe9-\xff.txt"  # not valid UTF-8


def make_tree(root) -> None:
    """Files of several sizes (empty, small, > 100 KiB), nested dirs, symlinks
    (to a dir: never followed), a non-UTF-8 name, and things the default rules
    skip: .git, .DS_Store, a .gitignore'd file and directory."""
    root = os.fspath(root)
    for d in ("docs/deep/deeper", "src/pkg", "node_modules/lib", ".hidden", ".git/objects", "logs", "build"):
        os.makedirs(os.path.join(root, d), exist_ok=True)
    files = {
        "docs/a.txt": b"hello\n", "docs/empty": b"", "docs/deep/b.md": b"# b\n" * 10,
        "docs/deep/deeper/big.bin": bytes(range(256)) * 600,  # 153,600 bytes: the sampled cas id
        "src/pkg/mod.py": b"print(1)\n", "src/pkg/mod.pyc": b"\x00compiled",
        "node_modules/lib/index.js": b"x", ".hidden/secret": b"s", ".dotfile": b"d",
        ".git/HEAD": b"ref", ".git/objects/o": b"o", ".DS_Store": b"junk", "logs/run.log": b"log",
        "logs/keep.txt": b"keep", "build/out.o": b"obj", ".gitignore": b"*.log\n/build/\n",
    }
    for rel, data in files.items():
        with open(os.path.join(root, rel), "wb") as f:
            f.write(data)
    with open(os.path.join(os.fsencode(root), b"docs", RAW_NAME), "wb") as f:
        f.write(b"raw")
    os.symlink("docs", os.path.join(root, "link-to-docs"))
    os.symlink("/nonexistent/target", os.path.join(root, "dangling"))


def expected(root, *, skip_hidden=False, skip_deps=False, gitignore=True, skip_git=True) -> set[str]:
    """What a plain os.walk sees with the rules the tree above needs."""
    root = os.fspath(root)
    out = set()
    for dirpath, dirs, files in os.walk(root):
        rel_dir = os.path.relpath(dirpath, root)
        keep_dirs = []
        for name in sorted(dirs):
            rel = os.path.normpath(os.path.join(rel_dir, name))
            if (skip_git and name == ".git") or (skip_hidden and name.startswith(".")) \
                    or (skip_deps and name == "node_modules") or (gitignore and rel == "build"):
                continue
            keep_dirs.append(name)
            out.add(rel)
        dirs[:] = keep_dirs
        for name in files:
            rel = os.path.normpath(os.path.join(rel_dir, name))
            if name == ".DS_Store" or (skip_hidden and name.startswith(".")) \
                    or (gitignore and name.endswith(".log")):
                continue
            out.add(rel)
        # os.walk lists symlinks to directories among dirs; they are entries, never followed
        for name in list(dirs):
            if os.path.islink(os.path.join(dirpath, name)):
                dirs.remove(name)
    return out


def entries(lib, root) -> dict[str, tuple]:
    """relative path -> (kind, size, cas_id, full_hash, subtree_size, subtree_files), from the library."""
    root = os.path.realpath(os.fspath(root))
    db = sqlite3.connect(lib)
    try:
        rows = db.execute("SELECT e.path, e.kind, e.size, e.cas_id, e.full_hash, e.subtree_size, e.subtree_files"
                          " FROM entry e JOIN location l ON l.id = e.location_id WHERE l.path = ?",
                          (os.fsencode(root),)).fetchall()
    finally:
        db.close()
    return {os.path.relpath(os.fsdecode(p), root): tuple(r) for p, *r in rows}


def location(lib, root) -> dict | None:
    db = sqlite3.connect(lib)
    db.row_factory = sqlite3.Row
    try:
        row = db.execute("SELECT * FROM location WHERE path = ?",
                         (os.fsencode(os.path.realpath(os.fspath(root))),)).fetchone()
    finally:
        db.close()
    return dict(row) if row else None


def subtree_sums(root, rels: set[str]) -> dict[str, tuple[int, int]]:
    """(bytes, files) of the regular files below each directory, over the given entries."""
    root = os.fspath(root)
    sums: dict[str, list[int]] = {}
    kinds = {rel: os.lstat(os.path.join(root, rel)).st_mode for rel in rels}
    for rel, mode in kinds.items():
        if stat.S_ISREG(mode):
            size = os.lstat(os.path.join(root, rel)).st_size
            d = os.path.dirname(rel)
            while d:
                acc = sums.setdefault(d, [0, 0])
                acc[0] += size
                acc[1] += 1
                d = os.path.dirname(d)
    return {rel: tuple(sums.get(rel, (0, 0))) for rel, mode in kinds.items() if stat.S_ISDIR(mode)}


def reads_everything() -> bool:
    """True when permission bits do not stop this process (root, CAP_DAC_OVERRIDE)."""
    with tempfile.TemporaryDirectory() as d:
        closed = os.path.join(d, "closed")
        os.mkdir(closed, 0)
        try:
            os.listdir(closed)
            return True
        except PermissionError:
            return False
        finally:
            os.chmod(closed, 0o700)
