"""Root runs copy, move, delete and dupes --then on a tree another user can write, while that
user plants symlinks at predictable names or swaps directories for symlinks to an outside
folder in a tight loop. Whatever the exit code, the outside folder must not change (a manifest
of modes, owners and contents before and after), and no file sdjobs writes may be a link."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest

from .conftest import Attacker, manifest, swapper

MIN_SWAPS = 200
MIN_RUNS = 3  # the attacker swaps thousands of times a run; more runs give more interleavings
PATIENCE = 25.0  # seconds of operations per test before giving up on reaching MIN_SWAPS


def give(path: Path, uid: int, gid: int) -> None:
    """Hand a tree to the attacker: owned by it, folders 0777 (copied as such by cp -a rules)."""
    for dirpath, _dirnames, filenames in os.walk(path):
        os.chown(dirpath, uid, gid)
        os.chmod(dirpath, 0o777)
        for f in filenames:
            os.chown(os.path.join(dirpath, f), uid, gid)


def tree(root: Path, dirs=("a", "b"), files=30, content=lambda d, i: f"{d}/{i}\n".encode()) -> None:
    for d in dirs:
        for sub in ("", "x"):
            folder = root / d / sub
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(files):
                (folder / f"f{i}").write_bytes(content(d, i))


def under_attack(cli, attacker, arena: Path, prepare, argv, names, target=None) -> None:
    """Run ``argv`` (after ``prepare()``) as root while the attacker swaps ``names`` in dst,
    at least MIN_RUNS times and until the attacker made MIN_SWAPS swaps while the commands ran
    (from just before each start to its end); outside must not change."""
    uid, gid = attacker
    outside = arena / "outside"
    before = manifest(outside)
    swaps = runs = 0
    started = time.monotonic()
    while (swaps < MIN_SWAPS or runs < MIN_RUNS) and time.monotonic() - started < PATIENCE:
        prepare()
        att = Attacker(uid, gid, swapper(arena / "dst", names, target or outside))
        try:
            time.sleep(0.05)
            proc = cli(*argv, timeout=120)
        finally:
            swaps += att.stop()
        runs += 1
        assert "Traceback" not in proc.stderr, proc.stderr
        assert manifest(outside) == before, (f"run {runs} ({swaps} swaps so far) changed {outside}:"
                                             f" exit {proc.returncode}, {proc.stderr[-2000:]}")
    assert swaps >= MIN_SWAPS, f"only {swaps} swaps in {runs} runs"
    label = " ".join(str(a) for a in argv if a == argv[0] or str(a) in ("--move", "delete", "hardlink"))
    print(f"{label}: {swaps} swaps in {runs} runs, outside unchanged")


def clear(folder: Path) -> None:
    for p in folder.iterdir():
        if p.is_dir() and not p.is_symlink():
            shutil.rmtree(p)
        else:
            p.unlink()


def test_copy_with_directories_swapped_for_symlinks(cli, attacker, arena):
    uid, gid = attacker
    src, dst = arena / "src", arena / "dst"
    tree(src)
    give(src, uid, gid)

    under_attack(cli, attacker, arena, lambda: clear(dst),
                 ["copy", src / "a", src / "b", dst, "--on-conflict", "overwrite"],
                 ["a", "b", "a/x", "b/x"])


def test_move_with_directories_swapped_for_symlinks(cli, attacker, arena):
    uid, gid = attacker
    src, dst = arena / "src", arena / "dst"

    def prepare():
        clear(dst)
        clear(src)
        tree(src)
        give(src, uid, gid)

    under_attack(cli, attacker, arena, prepare,
                 ["copy", "--move", src / "a", src / "b", dst, "--on-conflict", "overwrite"],
                 ["a", "b", "a/x", "b/x"])


def test_delete_with_directories_swapped_for_symlinks(cli, attacker, arena):
    uid, gid = attacker
    dst = arena / "dst"

    def prepare():
        clear(dst)
        tree(dst / "victim", dirs=("s0", "s1", "s2"))
        give(dst / "victim", uid, gid)

    under_attack(cli, attacker, arena, prepare,
                 ["delete", dst / "victim", "--mode", "permanent", "--yes"],
                 ["victim/s0", "victim/s1", "victim/s2", "victim/s0/x", "victim/s1/x"])


@pytest.mark.parametrize("then", ["delete", "hardlink"])
def test_dupes_then_with_directories_swapped_for_symlinks(cli, attacker, arena, then):
    uid, gid = attacker
    dst = arena / "dst"
    same = (arena / "outside" / "deep" / "f0").read_bytes()  # the outside file has twins in dst

    def prepare():
        clear(dst)
        tree(dst / "d", dirs=("s0", "s1"), files=4, content=lambda d, i: same)
        give(dst / "d", uid, gid)

    under_attack(cli, attacker, arena, prepare,
                 ["dupes", dst / "d", "--then", then, "--yes"],
                 ["d/s0", "d/s1", "d/s0/x", "d/s1/x"], target=arena / "outside" / "deep")


def plant(folder: Path, names: list[str], target: Path, jobs=range(1, 65)) -> None:
    """Symlinks at every temporary name sdjobs ever used for ``names``: the copy's
    ``.NAME.sdjobs-JOB.part`` and dupes' ``.NAME.sdjobs-JOB.link``, for a range of job ids."""
    for name in names:
        for job in jobs:
            for pattern in (f".{name}.sdjobs-{job}.part", f".{name}.sdjobs-{job}.link"):
                os.symlink(target, folder / pattern)


def test_planted_temporary_names_are_never_followed(cli, attacker, arena):
    uid, gid = attacker
    src, dst, outside = arena / "src", arena / "dst", arena / "outside"
    big = os.urandom(9 << 20)  # 8 MiB and more took the other path, without O_EXCL
    (src / "payload.bin").write_bytes(big)
    (src / "small").write_bytes(b"small\n")
    before = manifest(outside)
    pid = os.fork()
    if pid == 0:  # pragma: no cover (the attacker)
        try:
            from .conftest import as_user

            as_user(uid, gid)
            plant(dst, ["payload.bin", "small"], outside / "secret")
        finally:
            os._exit(0)
    assert os.waitpid(pid, 0)[1] == 0
    proc = cli("copy", src / "payload.bin", src / "small", dst)
    assert manifest(outside) == before, proc.stderr
    for name in ("payload.bin", "small"):
        assert not (dst / name).is_symlink()
        assert (dst / name).read_bytes() == (src / name).read_bytes()


def test_planted_link_names_of_dupes_hardlink_are_never_followed(cli, attacker, arena):
    uid, gid = attacker
    dst, outside = arena / "dst", arena / "outside"
    g = dst / "g"
    g.mkdir()
    for name in ("a", "b", "c"):
        (g / name).write_bytes(b"twins\n")
    give(g, uid, gid)
    before = manifest(outside)
    pid = os.fork()
    if pid == 0:  # pragma: no cover (the attacker)
        try:
            from .conftest import as_user

            as_user(uid, gid)
            plant(g, ["a", "b", "c"], outside / "secret")
        finally:
            os._exit(0)
    assert os.waitpid(pid, 0)[1] == 0
    proc = cli("dupes", g, "--then", "hardlink", "--yes")
    assert manifest(outside) == before, proc.stderr
    for name in ("a", "b", "c"):
        assert not (g / name).is_symlink() and (g / name).read_bytes() == b"twins\n"
