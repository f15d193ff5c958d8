"""An oracle for the trash that trusts nothing sdjobs says: every original is at its
place or in Trash/files once, with a complete .trashinfo naming it; nothing orphaned."""

from __future__ import annotations

import os
from urllib.parse import unquote_to_bytes


def parse_info(raw: bytes) -> str | None:
    """The original path of a complete, parseable .trashinfo, else None."""
    lines = raw.split(b"\n")
    if len(lines) != 4 or lines[0] != b"[Trash Info]" or lines[3] != b"":
        return None
    if not lines[1].startswith(b"Path=") or not lines[2].startswith(b"DeletionDate="):
        return None
    return os.fsdecode(unquote_to_bytes(lines[1][5:].decode("ascii")))


def trash_problems(trash: str, originals: dict[str, bytes]) -> list[str]:
    """What is wrong, given ``originals`` (path -> content); [] when all is well."""
    problems: list[str] = []
    files_dir, info_dir = os.path.join(trash, "files"), os.path.join(trash, "info")
    files = set(os.listdir(files_dir)) if os.path.isdir(files_dir) else set()
    infos = set(os.listdir(info_dir)) if os.path.isdir(info_dir) else set()
    leftovers = sorted(n for n in infos if not n.endswith(".trashinfo"))
    if leftovers:
        problems.append(f"temporary files left in info/: {leftovers[:5]}")
    trashed: dict[str, list[str]] = {}
    for info in sorted(n for n in infos if n.endswith(".trashinfo")):
        name = info[:-len(".trashinfo")]
        with open(os.path.join(info_dir, info), "rb") as f:
            original = parse_info(f.read())
        if original is None:
            problems.append(f"incomplete or unparseable info {info}")
        if name not in files:
            problems.append(f"orphan info {info} (for {original})")
            continue
        if original is not None:
            trashed.setdefault(original, []).append(name)
    for name in sorted(files - {i[:-len(".trashinfo")] for i in infos}):
        problems.append(f"orphan file {name} in Trash/files: no .trashinfo")
    for path, content in originals.items():
        where = trashed.pop(path, [])
        here = os.path.lexists(path)
        if here + len(where) != 1:
            problems.append(f"{path}: at its place {here}, in the trash {len(where)} times")
            continue
        got = open(path if here else os.path.join(files_dir, where[0]), "rb").read()
        if got != content:
            problems.append(f"{path}: content changed")
    problems += [f"info names {p}, which was never there" for p in trashed]
    return problems
