"""The torture tier of CI: fixed seeds, every operation, every interruption, judged by oracles
that do not trust sdjobs (see run.py). A failure prints its seed and the command that replays it.

Select with ``-m torture``; run the long version with ``bench/soak.py --minutes N``.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from torture import oracles as O
from torture import trees
from torture.run import run_trial

pytestmark = [pytest.mark.torture, pytest.mark.timeout(400)]

# (seed, operation, fault): each operation once without a fault, each fault once on an operation it hits
CASES = [
    (1001, "copy", "none"),
    (1002, "copy_verify", "none"),
    (1003, "conflict_fail", "none"),
    (1014, "conflict_skip", "none"),
    (1015, "conflict_overwrite", "none"),
    (1016, "conflict_rename", "none"),
    (1004, "move_same", "none"),
    (1005, "move_cross", "none"),
    (1006, "delete_trash", "none"),
    (1007, "delete_permanent", "none"),
    (1008, "dupes_trash", "none"),
    (1009, "dupes_delete", "none"),
    (1010, "dupes_hardlink", "none"),
    (1011, "index", "none"),
    (1012, "validate", "none"),
    (1013, "thumbs", "none"),
    (2001, "copy", "pause_resume"),
    (2002, "copy_verify", "cancel_retry"),
    (2003, "copy_verify", "kill_job"),
    (2004, "copy", "kill_worker"),
    (2005, "delete_trash", "kill_runner"),
    (2006, "move_cross", "kill_all"),
    (2007, "copy", "sigterm_runner"),
    (2008, "copy", "sighup_runner"),
    (2009, "move_same", "skewed_clock"),
    (2010, "copy_verify", "full_dest"),
    (2011, "index", "full_library"),
    (2012, "index", "truncate_library"),
    (2013, "copy", "remove_library"),
    (2014, "copy", "source_change"),
    (2015, "copy", "stop_cont"),
]


def _judge(res) -> None:
    if res.skipped:
        pytest.skip(res.skipped)
    print(res.report())
    assert not res.violations, "\n" + res.report()


@pytest.mark.parametrize("seed,op,fault", CASES, ids=[f"{op}-{fault}-{seed}" for seed, op, fault in CASES])
def test_trial(seed, op, fault, tmp_path):
    _judge(run_trial(seed, op, fault, base_dir=str(tmp_path)))


@settings(max_examples=2, derandomize=True, deadline=None, database=None, phases=[Phase.generate],
          suppress_health_check=list(HealthCheck))
@given(st.integers(0, 2**31 - 1), st.sampled_from(["copy", "copy_verify", "move_cross", "delete_trash"]))
def test_generated_trees_survive_a_crash(seed, op):
    """Hypothesis picks the seed (so the tree) and the operation; the job process is killed once."""
    import tempfile

    with tempfile.TemporaryDirectory() as base:
        _judge(run_trial(seed, op, "kill_job", base_dir=base))


@settings(max_examples=15, derandomize=True, deadline=None, database=None,
          suppress_health_check=list(HealthCheck))
@given(trees.tree_strategy())
def test_cp_a_copies_every_generated_tree_exactly(tmp_path_factory, tree):
    """The reference itself: cp -a of any generated tree satisfies the copy oracles (so a failure
    of sdjobs' copy is sdjobs', not the tree's)."""
    import subprocess

    base = tmp_path_factory.mktemp("tree")
    trees.build(tree, base / "src")
    subprocess.run(["cp", "-a", base / "src", base / "ref"], check=True)
    assert O.rsync_differences(str(base / "src"), str(base / "ref")) == []
    assert O.snapshot(base / "ref") == O.snapshot(base / "src")


def test_the_oracles_see_damage(tmp_path):
    """Each oracle catches what it exists for: a flipped byte, a broken hard link, a leftover part
    file, a lost file of a move, an orphan in the trash."""
    import random
    import shutil
    import subprocess

    src, ref = tmp_path / "src", tmp_path / "ref"
    trees.build(trees.random_tree(random.Random(5)), src)
    os.makedirs(src / "h")
    (src / "h" / "a").write_bytes(b"x" * 5000)
    os.link(src / "h" / "a", src / "h" / "b")
    (src / "h" / "c").write_bytes(b"y" * 5000)
    subprocess.run(["cp", "-a", src, ref], check=True)
    dst = tmp_path / "dst"
    subprocess.run(["cp", "-a", src, dst], check=True)
    assert O.copy_exact(str(src), str(dst), str(ref)) == []
    data = bytearray((dst / "h" / "a").read_bytes())
    data[100] ^= 1
    os.unlink(dst / "h" / "b")
    (dst / "h" / "b").write_bytes(data)  # a torn hard link, with one byte changed
    with open(dst / "h" / "c", "r+b") as f:  # a flipped byte, same size, same mtime
        f.seek(4000)
        f.write(b"z")
    os.utime(dst / "h" / "c", ns=(0, os.lstat(src / "h" / "c").st_mtime_ns))
    (dst / ".x.sdjobs-1.part").write_bytes(b"")
    found = O.copy_exact(str(src), str(dst), str(ref))
    assert any(v.startswith("CORRUPTED (rsync)") for v in found)
    assert any("hard links" in v and v.startswith("CORRUPTED vs cp -a") for v in found)
    assert any("leftover" in v for v in found)

    before = O.manifest(src)
    moved = tmp_path / "moved"
    shutil.move(src / "h", moved)
    os.unlink(moved / "a")
    assert any(v.startswith("LOST") for v in O.move_oracle(before, str(src), str(tmp_path / "nowhere"), False))

    trash = tmp_path / "Trash"
    (trash / "files").mkdir(parents=True)
    (trash / "info").mkdir()
    (trash / "files" / "orphan").write_bytes(b"1")
    assert any("ORPHAN" in v for v in O.delete_oracle({}, str(src), [], os.fsencode(trash), False))


# The engine's faults on a PostgreSQL library (issue 18): the same trials and oracles, the
# library a fresh database. (Faults on the library's own file have no PostgreSQL form.)
PG_CASES = [
    (3001, "copy", "kill_runner"),
    (3002, "copy_verify", "kill_job"),
    (3003, "move_cross", "kill_all"),
    (3004, "copy", "stop_cont"),
    (3005, "delete_trash", "pause_resume"),
    (3006, "dupes_hardlink", "sigterm_runner"),
]


@pytest.mark.parametrize("seed,op,fault", PG_CASES, ids=[f"{op}-{fault}-{seed}" for seed, op, fault in PG_CASES])
def test_trial_on_postgresql(seed, op, fault, tmp_path, postgres_url):
    _judge(run_trial(seed, op, fault, base_dir=str(tmp_path), url=postgres_url))
