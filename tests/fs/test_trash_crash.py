"""The trash keeps its restore information through kills and through two movers of one list.

Oracle (independent of sdjobs): every original file is either still in place, or in
Trash/files with a complete .trashinfo whose Path= is its original path; no info without a
file, no file without an info, no empty info.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from urllib.parse import unquote_to_bytes

import pytest

MOVER = """
import sys
from sdjobs.fs.trash import trash_path
for line in open(sys.argv[1], 'rb').read().split(b'\\0'):
    if line:
        try:
            trash_path(line.decode('utf-8', 'surrogateescape'))
        except FileNotFoundError:
            pass
"""


def _make(tmp_path, n: int) -> tuple[list[str], str]:
    src = tmp_path / "src"
    src.mkdir()
    paths = []
    for i in range(n):
        p = src / f"d{i % 7}"
        p.mkdir(exist_ok=True)
        f = p / ("same.txt" if i % 4 == 0 else f"f{i}.txt")
        if f.exists():
            f = p / f"g{i}.txt"
        f.write_bytes(os.fsencode(str(f)))  # its content names it
        paths.append(str(f))
    listing = tmp_path / "list"
    listing.write_bytes(b"\0".join(os.fsencode(p) for p in paths))
    return paths, str(listing)


def _mover(listing: str, env: dict) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", MOVER, listing], env=env)


def check_trash(trash: str, originals: list[str]) -> None:
    files, info = os.path.join(trash, "files"), os.path.join(trash, "info")
    names = set(os.listdir(files)) if os.path.isdir(files) else set()
    infos = {n[:-len(".trashinfo")]: n for n in os.listdir(info) if n.endswith(".trashinfo")} \
        if os.path.isdir(info) else {}
    assert names == set(infos), (f"files without info: {sorted(names - set(infos))[:5]};"
                                 f" info without file: {sorted(set(infos) - names)[:5]}")
    restored: dict[str, str] = {}
    for name, info_name in infos.items():
        body = open(os.path.join(info, info_name), "rb").read()
        assert body.startswith(b"[Trash Info]\n") and b"\nDeletionDate=" in body, (info_name, body)
        path = next(l for l in body.split(b"\n") if l.startswith(b"Path="))[5:]
        original = os.fsdecode(unquote_to_bytes(path))
        assert original not in restored, f"{original} trashed twice"
        restored[original] = name
    for p in originals:
        in_place, trashed = os.path.lexists(p), p in restored
        assert in_place != trashed, f"{p}: in place {in_place}, in the trash {trashed}"
    for original, name in restored.items():
        assert original in originals
        assert open(os.path.join(files, name), "rb").read() == os.fsencode(original), original


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_a_mover_killed_at_random_points_then_resumed_loses_no_restore_information(tmp_path, seed):
    print(f"seed {seed}")
    rnd = random.Random(seed)
    paths, listing = _make(tmp_path, 600)
    env = dict(os.environ, XDG_DATA_HOME=str(tmp_path / "data"))
    for _ in range(4):  # killed four times at random points ...
        proc = _mover(listing, env)
        time.sleep(rnd.uniform(0.05, 0.4))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    proc = _mover(listing, env)  # ... then run to its end
    assert proc.wait(60) == 0
    check_trash(str(tmp_path / "data" / "Trash"), paths)
    assert not any(os.path.lexists(p) for p in paths)


def test_two_movers_of_one_list_keep_every_info(tmp_path):
    """What a job run twice at once did: each file trashed once, each with its info."""
    paths, listing = _make(tmp_path, 1500)
    env = dict(os.environ, XDG_DATA_HOME=str(tmp_path / "data"))
    movers = [_mover(listing, env) for _ in range(3)]
    assert [m.wait(120) for m in movers] == [0, 0, 0]
    check_trash(str(tmp_path / "data" / "Trash"), paths)


def test_an_empty_info_left_by_a_kill_is_taken_over(tmp_path, monkeypatch):
    from sdjobs.fs.trash import trash_path

    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    info = tmp_path / "data" / "Trash" / "info"
    info.mkdir(parents=True)
    (tmp_path / "data" / "Trash" / "files").mkdir()
    (info / "f1.txt.trashinfo").write_bytes(b"")  # created, never written: killed in between
    old = time.time() - 3600
    os.utime(info / "f1.txt.trashinfo", (old, old))
    f = tmp_path / "f1.txt"
    f.write_bytes(os.fsencode(str(f)))
    item = trash_path(str(f))
    assert item.info_path == str(info / "f1.txt.trashinfo")
    check_trash(str(tmp_path / "data" / "Trash"), [str(f)])
