"""dupes --then acts on every name of a duplicate's content, hard links included.

Generated trees (hypothesis, derandomized): files of a few contents, each with 1-3 names
(hard links within and across directories). Oracle, independent of sdjobs: a content
manifest by inode. After --then hardlink, each content has exactly one inode and every
name is still there; after --then delete, each content keeps exactly one inode with at
least one name, and nothing unique is lost.
"""

from __future__ import annotations

import hashlib
import os

from dupes_helpers import run_inline
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

CONTENTS = [b"alpha" * 500, b"beta" * 700, b"gamma" * 900, b"unique-%d"]

# a file: (content index, extra names as (dir, name) pairs)
files = st.lists(
    st.tuples(st.integers(0, 3), st.lists(st.tuples(st.sampled_from("abc"), st.integers(0, 99)), max_size=2)),
    min_size=2, max_size=12)


def build(root, spec) -> dict[str, bytes]:
    for d in "abc":
        os.makedirs(os.path.join(root, d), exist_ok=True)
    names: dict[str, bytes] = {}
    for n, (content, extra) in enumerate(spec):
        data = CONTENTS[content] % n if content == 3 else CONTENTS[content]
        first = os.path.join(root, "abc"[n % 3], f"f{n}")
        with open(first, "wb") as f:
            f.write(data)
        names[first] = data
        for d, k in extra:
            other = os.path.join(root, d, f"l{n}-{k}")
            if other not in names:
                os.link(first, other)
                names[other] = data
    return names


def manifest(root) -> dict[bytes, set[int]]:
    """content digest -> the inodes holding it"""
    out: dict[bytes, set[int]] = {}
    for top, _, fs in os.walk(root):
        for name in fs:
            p = os.path.join(top, name)
            st_ = os.lstat(p)
            with open(p, "rb") as f:
                out.setdefault(hashlib.sha256(f.read()).digest(), set()).add(st_.st_ino)
    return out


def run(store, lib, root, then):
    rec = run_inline(store, "dupes", {"paths": [str(root)], "then": then, "yes": True, "library": str(lib)})
    assert rec.status == "completed", (rec.status, rec.error)
    return rec


@settings(max_examples=12, derandomize=True, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(spec=files)
def test_hardlink_leaves_one_inode_per_content(store, lib, tmp_path_factory, spec):
    root = tmp_path_factory.mktemp("tree")
    names = build(root, spec)
    contents = {hashlib.sha256(d).digest() for d in names.values()}
    run(store, lib, root, "hardlink")
    after = manifest(root)
    assert set(after) == contents, "a content was lost or changed"
    assert all(len(inodes) == 1 for inodes in after.values()), f"duplicates left: {spec}"
    for p, data in names.items():  # every name is still there, with its content
        with open(p, "rb") as f:
            assert f.read() == data, p


@settings(max_examples=10, derandomize=True, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(spec=files)
def test_delete_leaves_one_copy_per_content(store, lib, tmp_path_factory, spec):
    root = tmp_path_factory.mktemp("tree")
    names = build(root, spec)
    contents = {hashlib.sha256(d).digest() for d in names.values()}
    run(store, lib, root, "delete")
    after = manifest(root)
    assert set(after) == contents, "a content was lost or changed"
    assert all(len(inodes) == 1 for inodes in after.values()), f"duplicates left: {spec}"
