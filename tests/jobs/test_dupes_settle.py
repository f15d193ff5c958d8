"""dupes: size groups settled whole in the workers (read, regrouped and rendered
there) give the groups a brute-force comparison gives, in the order the job
itself would give them, for generated trees: small and large files, several
roots, groups too big to be settled by one worker."""

from __future__ import annotations

import os
import random
import shutil
import tempfile

import pytest
from dupes_helpers import brute_force, found, run_inline, write
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sdjobs.jobs.dupes.hashing import HEADS_FROM, WHOLE, hash_batch, staged_group
from sdjobs.jobs.dupes.results import results_of

SIZES = [1, 100, 4095, 4096, 4097, WHOLE, WHOLE + 1, 70_000]


def make(root: str, seed: int, n: int, bulk: int) -> None:
    """``n`` files over a few directories: copies of earlier files of the same size,
    variants differing in one byte (first, middle or last), fresh content; and
    ``bulk`` files of one small size (a group too big to settle in one task)."""
    rng = random.Random(seed)
    made: dict[int, list[bytes]] = {}
    for i in range(n):
        size = rng.choice(SIZES)
        earlier = made.get(size)
        r = rng.random()
        if earlier and r < 0.4:
            data = rng.choice(earlier)
        elif earlier and r < 0.6:
            b = bytearray(rng.choice(earlier))
            b[rng.choice([0, size // 2, size - 1])] ^= 0x5A
            data = bytes(b)
        else:
            data = rng.randbytes(size)
        made.setdefault(size, []).append(data)
        write(os.path.join(root, rng.choice(["a", "b", "a/x", "b/y z"]), f"f{i}"), data)
    pool = [rng.randbytes(200) for _ in range(5)]
    for i in range(bulk):
        write(os.path.join(root, "bulk", f"g{i}"), rng.choice(pool) if rng.random() < 0.5 else rng.randbytes(200))


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(2, 60), bulk=st.sampled_from([0, 0, 90]),
       roots=st.sampled_from([1, 2]))
def test_settled_groups_equal_brute_force_and_the_jobs_own_order(store, lib, seed, n, bulk, roots):
    print(f"replay: seed={seed} n={n} bulk={bulk} roots={roots}")
    top = tempfile.mkdtemp(prefix="settle-")
    try:
        make(top, seed, n, bulk)
        paths = [top] if roots == 1 else [os.path.join(top, "b"), os.path.join(top, "a")]
        paths = [p for p in paths if os.path.isdir(p)]
        expected = brute_force(paths)
        runs = {}
        for label, config in (("rendered by the workers", {"library": str(lib)}),
                              ("groups for the job", {"library": str(lib), "then": "trash"}),  # a dry run
                              ("deep", {"library": str(lib), "mode": "deep"})):
            rec = run_inline(store, "dupes", {"paths": paths, **config})
            assert rec.status == "completed", (label, rec.status, rec.error)
            res = results_of(store, rec.id)
            assert found(res) == expected, label
            runs[label] = [(g["size"], g["hash"] if label != "deep" else None, g["paths"]) for g in res["groups"]]
            assert rec.output["groups"] == len(expected)
        assert runs["rendered by the workers"] == runs["groups for the job"]
    finally:
        shutil.rmtree(top)


@pytest.mark.parametrize("size", [5000, 12000])
def test_a_small_group_reads_on_only_the_files_whose_first_4k_collide(tmp_path, size):
    """Up to HEADS_FROM bytes a file is read whole; above, its first 4 KiB, and the
    rest only if another file starts with the same 4 KiB."""
    same = os.urandom(size)
    names = []
    for i, data in enumerate([same, same, os.urandom(size), b"\0" + same[1:]]):
        write(tmp_path / f"f{i}", data)
        names.append(str(tmp_path / f"f{i}"))
    expected = 4 * size if size <= HEADS_FROM else 2 * size + 2 * 4096  # f2, f3: their first 4 KiB only
    keys, errors, nbytes = staged_group(names + [str(tmp_path / "gone")], size)
    assert nbytes == expected and [p for p, _ in errors] == [4]
    assert keys[0] == keys[1] and keys[0][0] == "F" and len({keys[0], keys[2], keys[3]}) == 3
    digests, errors, staged, settled = hash_batch(("S" * 5, "\0".join(names + [str(tmp_path / "gone")]),
                                                   [size] * 5))
    assert digests == [None] * 5 and staged == expected
    assert settled == [(keys[0][1:], [0, 1])]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 40), held=st.sampled_from([1, 2, 3, 256]),
       size=st.sampled_from([4097, 5000, HEADS_FROM + 1, 12000, WHOLE]))
def test_staged_heads_group_as_the_bytes_do_with_few_descriptors_held(tmp_path_factory, monkeypatch,
                                                                      seed, n, held, size):
    """Files of 4 KiB to WHOLE read on from their first 4 KiB: the groups are the
    groups of equal bytes whatever number of descriptors may stay open (the oldest
    closed and the file read again when a match comes late), files that vanished or
    changed size are errors, and with enough descriptors each file is read at most once."""
    print(f"replay: seed={seed} n={n} held={held} size={size}")
    from sdjobs.jobs.dupes import hashing

    monkeypatch.setattr(hashing, "HELD", held)
    monkeypatch.setattr(hashing, "HEADS_FROM", 4096)  # every size above 4 KiB this way
    rng = random.Random(seed)
    root = tmp_path_factory.mktemp("heads")
    pool = [rng.randbytes(size) for _ in range(3)]
    names, contents = [], {}
    for i in range(n):
        r = rng.random()
        if r < 0.5:
            data = rng.choice(pool)
        elif r < 0.8:  # same first 4 KiB as a pooled one, differing later
            b = bytearray(rng.choice(pool))
            b[rng.randrange(4096, size)] ^= 0x5A
            data = bytes(b)
        elif r < 0.9:
            data = rng.randbytes(size)
        else:  # vanished, or not the size the scan saw
            data = None if rng.random() < 0.5 else rng.choice(pool)[: rng.choice([10, 4096, size - 1])] + (
                b"" if rng.random() < 0.5 else rng.choice(pool) + b"x")
        path = str(root / f"f{i:02d}")
        if data is not None:
            write(path, data)
            contents[i] = data
        names.append(path)
    keys, errors, nbytes = staged_group(names, size)
    bad = {i for i in range(n) if i not in contents or len(contents[i]) != size}
    failed = {p for p, _ in errors}
    assert {i for i in bad if i not in contents or len(contents[i]) < 4096} <= failed <= bad
    expected: dict[bytes, list[int]] = {}
    for i in set(range(n)) - bad:
        expected.setdefault(contents[i], []).append(i)
    want = sorted(g for g in expected.values() if len(g) > 1)
    assert sorted(sorted(members) for _digest, members in hashing.same_content(keys)) == want
    heads = [contents[i][:4096] for i in contents if len(contents[i]) >= 4096]
    read_on = [i for i in contents if heads.count(contents[i][:4096]) > 1]  # the only files read past 4 KiB
    if held >= n:
        assert nbytes <= 4096 * n + (size - 4096) * len(read_on)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 30), size=st.sampled_from([1, 100, 4096, 5000, HEADS_FROM]))
def test_small_files_read_whole_group_as_the_bytes_do(tmp_path_factory, seed, n, size):
    """Files of up to HEADS_FROM bytes, each read whole in one call: equal bytes
    group, and every file that vanished or is not the size the scan saw is an
    error (a longer one too: one byte more is asked for)."""
    print(f"replay: seed={seed} n={n} size={size}")
    rng = random.Random(seed)
    root = tmp_path_factory.mktemp("whole")
    pool = [rng.randbytes(size) for _ in range(2)]
    names, contents = [], {}
    for i in range(n):
        r = rng.random()
        data = (rng.choice(pool) if r < 0.6 else rng.randbytes(size) if r < 0.8 else
                None if r < 0.87 else rng.choice(pool)[:-1] if r < 0.94 else rng.choice(pool) + b"+")
        path = str(root / f"f{i:02d}")
        if data is not None:
            write(path, data)
            contents[i] = data
        names.append(path)
    keys, errors, nbytes = staged_group(names, size)
    good = [i for i in range(n) if len(contents.get(i, b"-" * (size + 1))) == size]
    assert sorted(p for p, _ in errors) == sorted(set(range(n)) - set(good))
    assert nbytes == size * len(good)
    expected: dict[bytes, list[int]] = {}
    for i in good:
        expected.setdefault(contents[i], []).append(i)
    want = sorted(g for g in expected.values() if len(g) > 1)
    from sdjobs.jobs.dupes.hashing import same_content

    assert sorted(members for _digest, members in same_content(keys)) == want
