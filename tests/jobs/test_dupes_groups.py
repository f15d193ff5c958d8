"""dupes' grouping (jobs/dupes/groups.py) against brute force, on generated columns:
size groups with hard links collapsed (inode numbers that repeat across devices too),
and ``runs`` with None keys, in the order the job relies on (groups by key, members
by position)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from sdjobs.jobs.dupes.groups import runs, size_groups
from sdjobs.jobs.dupes.scan import Files


def brute_runs(keys, items):
    by: dict = {}
    for k, i in zip(keys, items, strict=True):
        if k is not None:
            by.setdefault(k, []).append(i)
    return [by[k] for k in sorted(by) if len(by[k]) > 1]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.none(), st.integers(0, 6)), max_size=40))
def test_runs_are_the_brute_force_groups_in_key_order(keys):
    items = [f"i{n}" for n in range(len(keys))]
    assert runs(keys, items) == brute_runs(keys, items)
    texts = [None if k is None else f"F{k:02x}" for k in keys]  # regroup's keys: digests
    assert runs(texts, range(len(texts))) == brute_runs(texts, range(len(texts)))


file = st.tuples(st.integers(1, 4), st.integers(1, 6), st.integers(0, 1))  # size, inode, device


@settings(max_examples=200, deadline=None)
@given(st.lists(file, max_size=30), st.booleans())
def test_size_groups_collapse_hard_links_to_the_first_path(rows, hardlinks):
    files = Files()
    for n, (size, ino, dev) in enumerate(rows):
        # one inode has one size: a link repeats its inode's size
        size = next((s for s, i, d in rows if (i, d) == (ino, dev)), size)
        files.add(f"/t/p{n:03d}", size, ino, dev, 0, 0)
    groups, links = size_groups(files, hardlinks, by_name=False)
    by_inode: dict = {}
    for n in range(len(files)):
        by_inode.setdefault((files.devs[n], files.inos[n]), []).append(n)
    first = {n: ns[0] for ns in by_inode.values() for n in ns}  # paths are in order: the first wins
    expected_groups = [sorted(g) for g in brute_runs(files.sizes, range(len(files)))]
    expected_groups = [sorted({first[n] for n in g}) for g in expected_groups]
    assert [sorted(g) for g in groups] == [g for g in expected_groups if len(g) > 1]
    grouped = {n for g in groups for n in g}
    expected_links = {ns[0]: ns[1:] for ns in by_inode.values()
                      if len(ns) > 1 and (hardlinks or ns[0] in grouped)}
    assert links == expected_links


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(0, 1 << 22), min_size=0, max_size=3000), st.integers(0, 3000), st.integers(1, 2000))
def test_batches_cover_the_pass_in_order_never_split_a_glued_group_and_shrink_at_the_end(cost, start, group):
    from sdjobs.jobs.dupes.groups import BATCH_FILES, bounds

    start = min(start, len(cost))
    glue = [(i + 1) % group != 0 for i in range(len(cost))]
    out = bounds(cost, start, glue)
    assert [a for a, _ in out] == ([start, *[b for _, b in out[:-1]]] if out else [])
    assert (out[-1][1] if out else start) == len(cost)
    assert all(not glue[b - 1] or b == len(cost) for _, b in out)  # cuts only between groups
    assert group > 1 or all(b - a <= BATCH_FILES for a, b in out)


def test_batches_of_equal_files_shrink_towards_the_end():
    from sdjobs.jobs.dupes.groups import bounds

    sizes = [b - a for a, b in bounds([4096] * 200_000, 0)]
    assert sizes == sorted(sizes, reverse=True) and sizes[-2] * 4 <= sizes[0]
