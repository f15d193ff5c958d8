"""copy's walk ahead: the same entries in the same order as the plain walk, with totals and errors."""

from __future__ import annotations

import errno
import os
import stat

from test_copy import make_tree, many_small

from sdjobs.jobs.copy.walk import WalkAhead, walk


def test_walk_ahead_yields_what_walk_does_and_counts_it(tmp_path):
    src = tmp_path / "src"
    many_small(src, dirs=3, per_dir=120)
    make_tree(src / "mixed")
    pairs = [(0, str(src), str(tmp_path / "dst")), (1, str(tmp_path / "missing"), str(tmp_path / "dst2"))]
    plain_errors: list = []
    plain = [(e.src, e.dst, e.top) for e in walk(pairs, lambda p, exc: plain_errors.append(p))]
    ahead = WalkAhead(pairs)
    assert [(e.src, e.dst, e.top) for e in ahead] == plain
    assert ahead.done
    regular = [e for e in walk(pairs, lambda p, exc: None) if stat.S_ISREG(os.lstat(e.src).st_mode)]
    others = [e for e in walk(pairs, lambda p, exc: None) if not stat.S_ISDIR(os.lstat(e.src).st_mode)]
    assert ahead.files == len(others)
    assert ahead.size == sum(os.lstat(e.src).st_size for e in regular)
    assert [p for p, _ in ahead.errors] == plain_errors == [str(tmp_path / "missing")]


def test_a_directory_swapped_for_a_symlink_mid_walk_is_not_followed(tmp_path):
    """The walk lists a directory only through an O_NOFOLLOW descriptor: swapping it for a
    symlink to somewhere else between its entry and its listing gives an error, never
    the entries of the place the link points to (the old scandir(path) walk listed them)."""
    src, outside = tmp_path / "src", tmp_path / "outside"
    (src / "a" / "inner").mkdir(parents=True)
    (src / "a" / "inner" / "f").write_text("mine")
    (src / "b").write_text("b")
    outside.mkdir()
    (outside / "secret").write_text("not yours")
    errors: list = []
    seen = []
    for e in walk([(0, str(src), str(tmp_path / "dst"))], lambda p, exc: errors.append((p, exc))):
        seen.append(e.src)
        if e.src == str(src / "a"):
            os.rename(src / "a", tmp_path / "a-moved")
            os.symlink(outside, src / "a")
    assert not any("secret" in p for p in seen), seen
    assert [p for p, _ in errors] == [str(src / "a")]
    assert seen == [str(src), str(src / "a"), str(src / "b")]


def test_a_source_that_becomes_a_symlink_is_not_walked(tmp_path):
    from sdjobs.fs.walker import walk_lstat
    from sdjobs.jobs.copy.walk import EVERYTHING

    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "secret").write_text("x")
    os.symlink(tmp_path / "outside", tmp_path / "src")
    errors: list = []
    got = list(walk_lstat(str(tmp_path / "src"), EVERYTHING, on_error=lambda p, exc: errors.append(exc),
                          follow_root=False))
    assert got == [] and len(errors) == 1 and errors[0].errno in (errno.ELOOP, errno.ENOTDIR)
