"""The trash under SIGKILL and under two movers of the same paths at once (what a
resumed delete meets while the process of the first run still lives): nothing
orphaned, every original at its place or in the trash once, with its info."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time

import pytest
from trash_oracle import trash_problems

from sdjobs.fs.trash import trash_path

MOVER = """
import sys
from sdjobs.fs.trash import trash_path
for path in open(sys.argv[1]).read().split("\\0"):
    try:
        trash_path(path)
    except FileNotFoundError:
        pass  # gone: moved by the other mover, or by the run before a kill
"""


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    return str(tmp_path / "data" / "Trash")


def make_files(root, n: int, rng: random.Random) -> dict[str, bytes]:
    originals = {}
    for i in range(n):
        d = os.path.join(root, f"d{i % 7}")
        os.makedirs(d, exist_ok=True)
        path = os.path.join(d, f"same-name-{i % 40}" if i % 3 else f"f{i}")
        if path in originals:
            path += f".{i}"
        originals[path] = rng.randbytes(rng.randrange(0, 300))
        with open(path, "wb") as f:
            f.write(originals[path])
    return originals


def mover(list_file: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", MOVER, list_file])


def write_list(tmp_path, paths) -> str:
    list_file = str(tmp_path / "paths")
    with open(list_file, "w", errors="surrogateescape") as f:
        f.write("\0".join(paths))
    return list_file


def count_trashed(home: str) -> int:
    try:
        return len(os.listdir(os.path.join(home, "files")))
    except FileNotFoundError:
        return 0


@pytest.mark.parametrize("seed", [101, 102, 103])
def test_two_movers_of_the_same_paths_leave_nothing_orphaned(tmp_path, home, seed):
    print("seed", seed)
    rng = random.Random(seed)
    originals = make_files(str(tmp_path / "src"), 400, rng)
    list_file = write_list(tmp_path, originals)
    first = mover(list_file)
    while count_trashed(home) < rng.randrange(0, 60) and first.poll() is None:
        time.sleep(0.001)
    second = mover(list_file)  # starts behind the first and catches up with it
    assert first.wait(60) == 0 and second.wait(60) == 0
    assert trash_problems(home, originals) == [], f"seed {seed}"


@pytest.mark.parametrize("seed", [201, 202, 203])
def test_kills_at_random_points_then_resume(tmp_path, home, seed):
    """Each trial kills the mover (SIGKILL) at a random point, up to three times,
    then lets a run finish; the result must be as if nothing had happened."""
    print("seed", seed)
    rng = random.Random(seed)
    originals = make_files(str(tmp_path / "src"), 300, rng)
    list_file = write_list(tmp_path, originals)
    for _ in range(3):
        proc = mover(list_file)
        goal = count_trashed(home) + rng.randrange(1, 120)
        while count_trashed(home) < goal and proc.poll() is None:
            time.sleep(rng.random() * 0.002)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert mover(list_file).wait(60) == 0
    assert trash_problems(home, originals) == [], f"seed {seed}"


def test_a_stale_empty_info_is_taken_over(tmp_path, home):
    """An older sdjobs killed between creating an info and writing it left it empty:
    once it is old, the next move of that name reuses it instead of keeping an orphan."""
    info = os.path.join(home, "info")
    os.makedirs(info)
    os.makedirs(os.path.join(home, "files"))
    empty = os.path.join(info, "x.trashinfo")
    open(empty, "wb").close()
    fresh = os.path.join(info, "y.trashinfo")
    open(fresh, "wb").close()
    os.utime(empty, (time.time() - 3600, time.time() - 3600))
    originals = {}
    for name in ("x", "y"):
        originals[str(tmp_path / name)] = name.encode()
        (tmp_path / name).write_bytes(name.encode())
    assert trash_path(str(tmp_path / "x")).trashed_path == os.path.join(home, "files", "x")
    assert trash_path(str(tmp_path / "y")).trashed_path == os.path.join(home, "files", "y.2")  # may be in use
    os.unlink(fresh)
    assert trash_problems(home, originals) == []


def test_a_parent_swapped_for_a_symlink_fails_the_move(tmp_path, home):
    """The parent is opened component by component with O_NOFOLLOW: a directory
    replaced by a symlink (here, before the call) is refused, nothing moves."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "victim").write_text("keep me")
    (tmp_path / "real").mkdir()
    from sdjobs.fs import dirfd as trash

    fd = trash.open_real_dir(str(tmp_path / "real"))
    os.close(fd)
    os.rmdir(tmp_path / "real")
    os.symlink(outside, tmp_path / "real")
    with pytest.raises(OSError):
        trash.open_real_dir(str(tmp_path / "real"))
    assert (outside / "victim").read_text() == "keep me"


def test_a_mount_trash_swapped_for_a_symlink_is_not_entered(tmp_path):
    """`.Trash-$uid` on a mount is checked, then reached from the mount's top with
    O_NOFOLLOW: a symlink swapped in after the check fails the move."""
    from sdjobs.fs.trash import _trash_fds

    top = tmp_path / "mount"
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / "files").mkdir(parents=True)
    (elsewhere / "info").mkdir()
    top.mkdir()
    os.symlink(elsewhere, top / f".Trash-{os.getuid()}")
    with pytest.raises(OSError):
        with _trash_fds(str(top / f".Trash-{os.getuid()}"), str(top)):
            pass
