"""copy's walk ahead: the same entries in the same order as the plain walk, with totals and errors."""

from __future__ import annotations

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
