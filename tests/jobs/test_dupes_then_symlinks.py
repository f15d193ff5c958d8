"""dupes --then and the delete job it hands over to, against a directory of the tree
swapped for a symlink after the scan (by someone who can write the tree): nothing
outside the tree may change. Once before the action, then in a tight swap loop."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest
from dupes_helpers import run_inline, write

from sdjobs.core import codec


def _resolved(path: str) -> str:
    return os.path.join(os.path.realpath(os.path.dirname(path)), os.path.basename(path))


def outside_manifest(root) -> dict:
    out = {}
    for d, _, names in os.walk(root):
        for n in names:
            p = os.path.join(d, n)
            st = os.lstat(p)
            out[p] = (st.st_ino, st.st_nlink, st.st_mode, open(p, "rb").read())
    return out


@pytest.fixture
def planted(tmp_path):
    """tree/keep and tree/mid/sub/dup are copies; outside/sub/dup has the same size and mtime."""
    tree, outside = tmp_path / "tree", tmp_path / "outside"
    blob = b"same bytes" * 100
    write(tree / "keep", blob, mtime_ns=10**18)
    write(tree / "mid" / "sub" / "dup", blob, mtime_ns=10**18)
    write(outside / "sub" / "dup", b"precious!!" * 100, mtime_ns=10**18)
    return tree, outside


def swap(tree, outside) -> None:
    """Not the file's own directory (O_NOFOLLOW on the last step guards that), one above."""
    os.rename(tree / "mid", tree / "mid.away")
    os.symlink(outside, tree / "mid")


def test_hardlink_refuses_a_directory_swapped_after_the_scan(planted):
    tree, outside = planted
    row = [_resolved(str(tree / "mid" / "sub" / "dup")), 1000, 10**18, _resolved(str(tree / "keep")), 1000, 10**18]
    from sdjobs.jobs.dupes.act import replace_with_link

    before = outside_manifest(outside)
    swap(tree, outside)
    with pytest.raises(OSError):
        replace_with_link(row[0], row[1], row[2], row[3], row[5], ".sdjobs-x-0.link")
    assert outside_manifest(outside) == before


@pytest.mark.parametrize("mode", ["trash", "permanent", "secure"])
def test_the_delete_job_refuses_a_listed_directory_swapped_after_the_listing(store, lib, tmp_path, planted, mode):
    tree, outside = planted
    listed = tmp_path / "list.msgpack"
    listed.write_bytes(codec.pack([[_resolved(str(tree / "mid" / "sub" / "dup")), 1000, 10**18,
                                    _resolved(str(tree / "keep")), 1000, 10**18]]))
    before = outside_manifest(outside)
    swap(tree, outside)
    rec = run_inline(store, "delete", {"from_file": str(listed), "mode": mode, "yes": True, "library": str(lib)})
    assert rec.status in ("completed", "completed-with-errors")
    assert outside_manifest(outside) == before
    assert os.path.exists(tree / "keep")


ATTACKER = """
import os, signal, sys
tree, outside = sys.argv[1:]
swaps = 0
def done(*_):
    print(swaps)
    sys.exit(0)
signal.signal(signal.SIGTERM, done)
print("ready", flush=True)
while True:
    d = os.path.join(tree, "s%d" % (swaps % 40))
    try:
        os.rename(d, d + ".away")
        os.symlink(outside, d)
        os.unlink(d)
        os.rename(d + ".away", d)
    except OSError:
        pass
    swaps += 1
    if swaps == 300:
        done()
"""


@pytest.mark.parametrize("then", ["hardlink", "trash", "delete"])
def test_a_tight_swap_loop_never_reaches_outside(store, lib, tmp_path, then):
    """A process swaps tree/sN between its directory and a symlink to outside/ as fast
    as it can while dupes --then runs; outside/ holds same-named files of equal size
    and mtime (the re-checks cannot tell them apart): none may change."""
    tree, outside = tmp_path / "tree", tmp_path / "outside"
    blob = os.urandom(3000)
    write(tree / "keep", blob, mtime_ns=10**18)
    for i in range(40):
        write(tree / f"s{i}" / "sub" / "dup", blob, mtime_ns=10**18)
    write(outside / "sub" / "dup", os.urandom(3000), mtime_ns=10**18)
    before = outside_manifest(outside)
    attacker = subprocess.Popen([sys.executable, "-c", ATTACKER, str(tree), str(outside)], stdout=subprocess.PIPE)
    try:
        assert attacker.stdout.readline() == b"ready\n"
        while attacker.poll() is None:  # runs until the attacker has made its swaps, duplicates made again
            for i in range(40):
                dup = tree / f"s{i}" / "sub" / "dup"
                try:  # O_EXCL: through a swapped-in symlink it meets outside/sub/dup and fails
                    fd = os.open(dup, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW)
                except OSError:
                    continue
                os.write(fd, blob)
                os.utime(fd, ns=(10**18, 10**18))
                os.close(fd)
            rec = run_inline(store, "dupes", {"paths": [str(tree)], "then": then, "yes": True, "library": str(lib)})
            assert rec.status in ("completed", "completed-with-errors")
    finally:
        attacker.send_signal(signal.SIGTERM)
        swaps = int(attacker.communicate(timeout=30)[0] or 0)
        for i in range(40):  # as the attacker may have left it
            d = tree / f"s{i}"
            if os.path.islink(d):
                os.unlink(d)
                os.rename(f"{d}.away", d)
    print("swaps", swaps)
    assert swaps >= 300
    assert outside_manifest(outside) == before
    assert (tree / "keep").read_bytes() == blob
